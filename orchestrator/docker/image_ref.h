// Image references as users write them: "reg:5000/team/app:1.2", "app", "app@sha256:...".
//
// rollgate resolves a tag to a digest once and then pins every host to "repo@digest", so
// the same bytes run everywhere (DESIGN.md, problem 3).
#pragma once

#include <string>
#include <string_view>

#include "orchestrator/core/status.h"

namespace orch::docker {

struct ImageRef {
  // Everything before the tag/digest, exactly as written, e.g. "10.0.0.1:5000/team/app".
  // The first component counts as a registry when it contains '.' or ':' or is "localhost".
  std::string repository;
  std::string tag;     // "" when absent; see effective_tag()
  std::string digest;  // "sha256:<64 hex>" or ""

  bool has_digest() const { return !digest.empty(); }
  // The tag Docker would use: the written tag, or "latest" when neither tag nor digest is given.
  std::string effective_tag() const;
  // "repo:tag", "repo@digest" or "repo:tag@digest", as written (normalised with effective_tag
  // only when there is no digest).
  std::string to_string() const;
  // "repo@digest" with the given digest: what every host pulls and runs.
  std::string pinned(std::string_view digest) const;
};

// Validates like the Docker reference grammar (lowercase path components separated by '/',
// with '.', '_', '__' or '-' separators; tag [A-Za-z0-9_][A-Za-z0-9_.-]{0,127};
// digest "sha256:" + 64 lowercase hex). Errors are kInvalidArgument and say what was wrong.
Result<ImageRef> parse_image_ref(std::string_view text);

// True for "sha256:" followed by 64 lowercase hex digits.
bool is_digest(std::string_view text);

}  // namespace orch::docker
