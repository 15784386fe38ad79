// Internal to orchestrator/manifest/: included only by its .cc files, never from outside.
//
// YAML text -> one JSON document, so that YAML and JSON manifests go through one validator.
// Plain scalars resolve as YAML 1.2's core schema does, narrowed to what JSON says without loss
// (see resolve_plain_scalar). Refused, with a FieldError each: more than one document, invalid
// UTF-8, non-scalar or duplicate map keys, nesting deeper than kMaxDepth and runaway alias
// expansion. Nothing here throws: yaml-cpp's exceptions become errors.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "orchestrator/manifest/parse.h"
#include "orchestrator/manifest/validator.h"

namespace orch::manifest {

// The document, or nullopt with at least one error appended to `errors`. An empty document is
// JSON null.
std::optional<Json> parse_yaml(const std::string& text, std::vector<FieldError>& errors);

}  // namespace orch::manifest
