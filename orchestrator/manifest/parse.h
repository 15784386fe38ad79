// Loading and validating manifests (YAML or JSON, one schema).
//
// YAML is converted to JSON first, so both formats go through one validator. Validation
// collects every error, each with its field path ("hosts[1].engine", "health.interval"), the
// offending value and what was expected. Unknown keys are errors: a typo must never be
// silently ignored. Nothing here throws; the JSON/YAML libraries are wrapped at this edge.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "orchestrator/core/status.h"
#include "orchestrator/manifest/manifest.h"

namespace orch::manifest {

struct FieldError {
  std::string path;     // "" for whole-document errors (syntax)
  std::string message;  // "got \"2x\": expected a duration like 500ms, 2s, 1m"

  std::string to_string() const;  // "health.interval: got ..."
};

struct LoadResult {
  std::optional<Manifest> manifest;  // set iff errors is empty
  std::vector<FieldError> errors;
  bool ok() const { return errors.empty(); }
};

enum class Format { kAuto, kYaml, kJson };

// Parses text. kAuto: JSON when the first non-space character is '{', else YAML.
LoadResult parse_manifest(const std::string& text, Format format = Format::kAuto);

// Reads and parses a file; ".json" means JSON, anything else goes through kAuto.
LoadResult load_manifest(const std::string& path);

}  // namespace orch::manifest
