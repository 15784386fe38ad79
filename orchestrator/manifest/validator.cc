// The validator's typed accessors and the helpers that describe paths and values in errors.
#include "orchestrator/manifest/validator.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>

namespace orch::manifest {
namespace {

// Values quoted in error messages are cut to this many characters.
constexpr size_t kMaxShown = 60;
constexpr const char* kDurationExpected = "a duration like \"500ms\", \"2s\", \"1m\" or \"1m30s\"";

bool is_simple_key(std::string_view key) {
  return !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

const char* type_name(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return "boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "integer";
    case Json::value_t::number_float:
      return "number";
    case Json::value_t::string:
      return "string";
    case Json::value_t::array:
      return "list";
    case Json::value_t::object:
      return "map";
    default:
      return "value";
  }
}

// Optimal string alignment distance: edits, plus swapping two adjacent characters ("intreval").
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) {
    d[i][0] = i;
  }
  for (size_t j = 0; j <= b.size(); ++j) {
    d[0][j] = j;
  }
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace

std::string safe_dump(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string quote(std::string_view s) { return safe_dump(Json(std::string(s))); }

std::string key_path(const std::string& parent, std::string_view key) {
  if (is_simple_key(key)) {
    return parent.empty() ? std::string(key) : parent + "." + std::string(key);
  }
  return parent + "[" + quote(key) + "]";
}

std::string index_path(const std::string& parent, size_t i) {
  return parent + "[" + std::to_string(i) + "]";
}

// Dumping recurses, which is safe because both parsers refuse documents nested deeper than
// kMaxDepth.
std::string got(const Json& j) {
  if (j.is_null()) {
    return "got null";
  }
  std::string shown = safe_dump(j);
  if (shown.size() > kMaxShown) {
    shown = shown.substr(0, kMaxShown - 3) + "...";
  }
  return "got " + shown + " (" + type_name(j) + ")";
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::optional<int> small_uint(std::string_view s) {
  if (!all_digits(s) || s.size() > 9) {
    return std::nullopt;
  }
  int v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

std::optional<int> port_number(std::string_view s) {
  auto v = small_uint(s);
  if (!v || *v < 1 || *v > 65535) {
    return std::nullopt;
  }
  return v;
}

const Json* find(const Json& obj, std::string_view key) {
  auto it = obj.find(std::string(key));
  return it == obj.end() ? nullptr : &*it;
}

bool Validator::object(const std::string& path, const Json& v,
                       std::span<const std::string_view> known) {
  if (!v.is_object()) {
    std::string expected = "a map with keys ";
    append_list(expected, known);
    fail(path, v, expected);
    return false;
  }
  for (const auto& [key, unused] : v.items()) {
    if (std::find(known.begin(), known.end(), key) != known.end()) {
      continue;
    }
    std::string message = "unknown key " + quote(key);
    std::string_view best;
    size_t best_distance = 3;
    for (std::string_view k : known) {
      size_t d = edit_distance(key, k);
      if (d < best_distance) {
        best_distance = d;
        best = k;
      }
    }
    if (!best.empty()) {
      message += " (did you mean " + quote(best) + "?)";
    }
    message += "; expected one of: ";
    append_list(message, known);
    add(key_path(path, key), message);
  }
  return true;
}

std::optional<std::string> Validator::string(const std::string& path, const Json& v,
                                             const std::string& expected) {
  if (!v.is_string()) {
    fail(path, v, expected);
    return std::nullopt;
  }
  return v.get<std::string>();
}

std::optional<bool> Validator::boolean(const std::string& path, const Json& v) {
  if (!v.is_boolean()) {
    fail(path, v, "true or false");
    return std::nullopt;
  }
  return v.get<bool>();
}

std::optional<int> Validator::integer(const std::string& path, const Json& v, long long min,
                                      long long max, const std::string& expected) {
  if (!v.is_number_integer()) {
    fail(path, v, expected);
    return std::nullopt;
  }
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(max)) {
    fail(path, v, expected);
    return std::nullopt;
  }
  long long n = v.get<long long>();
  if (n < min || n > max) {
    fail(path, v, expected);
    return std::nullopt;
  }
  return static_cast<int>(n);
}

std::optional<Millis> Validator::duration(const std::string& path, const Json& v) {
  if (v.is_number()) {
    // A bare number has no unit; guessing seconds or milliseconds would be wrong half the time.
    std::string example = v.is_number_integer() ? quote(safe_dump(v) + "s") : "\"2s\"";
    fail(path, v,
         std::string("a duration with a unit, e.g. ") + example +
             " (a bare number is ambiguous; units: ms, s, m, h)");
    return std::nullopt;
  }
  if (!v.is_string()) {
    fail(path, v, kDurationExpected);
    return std::nullopt;
  }
  auto d = parse_duration(v.get<std::string>());
  if (!d) {
    fail(path, v, kDurationExpected);
  }
  return d;
}

std::optional<std::string> Validator::text(const std::string& path, const Json& v) {
  if (v.is_string()) {
    return v.get<std::string>();
  }
  if (v.is_number() || v.is_boolean()) {
    return safe_dump(v);
  }
  fail(path, v, "a string (numbers and booleans are taken as their text)");
  return std::nullopt;
}

void Validator::append_list(std::string& out, std::span<const std::string_view> items) {
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) {
      out += ", ";
    }
    out += items[i];
  }
}

}  // namespace orch::manifest
