// Internal to orchestrator/manifest/: included only by its .cc files, never from outside.
//
// The validator's core: Validator, whose typed accessors check one JSON value each, record a
// FieldError (path, offending value, what was expected) on a mismatch and return nullopt, so
// that a section reader checks every field and keeps every error; and the helpers that spell
// paths ("hosts[1].engine", container.labels["com.example.team"]) and values ("got \"2x\"
// (string)") in those errors. The section readers (sections.h) and the YAML and JSON readers
// (yaml_to_json.h, parse.cc) build on these.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "orchestrator/core/duration.h"
#include "orchestrator/manifest/parse.h"

namespace orch::manifest {

using Json = nlohmann::ordered_json;

// Manifests are shallow (four levels at most); anything deeper is a mistake or an attack
// (e.g. a recursive YAML alias), and refusing it keeps every recursive walk bounded.
constexpr int kMaxDepth = 64;

// ---------------------------------------------------------------------------------------------
// Paths and value descriptions.

// Never throws, even on invalid UTF-8 (which strict dump() would).
std::string safe_dump(const Json& j);

// s as a JSON string literal, quotes and escapes included.
std::string quote(std::string_view s);

// "health" + "interval" -> "health.interval"; keys with dots or spaces use brackets:
// "container.labels" + "com.example.team" -> container.labels["com.example.team"].
std::string key_path(const std::string& parent, std::string_view key);

// "hosts" + 1 -> "hosts[1]".
std::string index_path(const std::string& parent, size_t i);

// `got "two" (string)`, `got 3.5 (number)`, `got null`. Long values are cut short.
std::string got(const Json& j);

bool all_digits(std::string_view s);

// Digits only, no sign, at most 9 of them so that the value fits an int.
std::optional<int> small_uint(std::string_view s);

// small_uint within 1-65535.
std::optional<int> port_number(std::string_view s);

// The member `key` of the map obj, or null when absent. REQUIRES: obj is a map.
const Json* find(const Json& obj, std::string_view key);

// ---------------------------------------------------------------------------------------------
// The validator: typed accessors that report and return nullopt on a mismatch.

class Validator {
 public:
  std::vector<FieldError>& errors() { return errors_; }

  void add(std::string path, std::string message) {
    errors_.push_back({std::move(path), std::move(message)});
  }
  void fail(const std::string& path, const Json& v, const std::string& expected) {
    add(path, got(v) + ": expected " + expected);
  }
  void missing(const std::string& path, const std::string& expected) {
    add(path, "missing: expected " + expected);
  }

  // Checks that v is a map and reports every key not in `known`. False when v is not a map.
  bool object(const std::string& path, const Json& v, std::span<const std::string_view> known);

  std::optional<std::string> string(const std::string& path, const Json& v,
                                    const std::string& expected);

  std::optional<bool> boolean(const std::string& path, const Json& v);

  // An integer within [min, max]; JSON floats such as 2.0 are not integers.
  std::optional<int> integer(const std::string& path, const Json& v, long long min, long long max,
                             const std::string& expected);

  // A string duration with a unit ("500ms", "1m30s"); bare numbers are refused.
  std::optional<Millis> duration(const std::string& path, const Json& v);

  // Strings as they are; numbers and booleans as their text, because YAML users write
  // `PORT: 8080` and `DEBUG: true` and mean the text. Null, lists and maps are errors.
  std::optional<std::string> text(const std::string& path, const Json& v);

 private:
  static void append_list(std::string& out, std::span<const std::string_view> items);

  std::vector<FieldError> errors_;
};

}  // namespace orch::manifest
