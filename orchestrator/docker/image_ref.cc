#include "orchestrator/docker/image_ref.h"

#include <string>
#include <vector>

namespace orch::docker {
namespace {

constexpr std::string_view kDigestPrefix = "sha256:";
constexpr size_t kDigestHexLength = 64;
constexpr size_t kMaxTagLength = 128;
// Docker limits the repository name (registry included) to 255 characters.
constexpr size_t kMaxRepositoryLength = 255;

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

Status invalid(std::string_view text, const std::string& why) {
  return Status(Code::kInvalidArgument,
                "invalid image reference \"" + std::string(text) + "\": " + why);
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      parts.push_back(s.substr(start));
      return parts;
    }
    parts.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

// Checks one path component against alnum+ (separator alnum+)* where a separator is '.', '_',
// '__' or one or more '-'. Returns "" when valid, otherwise why not.
std::string check_path_component(std::string_view c) {
  if (c.empty()) {
    return "it has an empty path component (check for '//' or a leading/trailing '/')";
  }
  for (char ch : c) {
    if (ch >= 'A' && ch <= 'Z') {
      return "path component \"" + std::string(c) + "\" contains uppercase letters; repository " +
             "names must be lowercase";
    }
  }
  const std::string bad = "path component \"" + std::string(c) + "\" is invalid: ";
  size_t i = 0;
  while (i < c.size()) {
    if (!is_lower_alnum(c[i])) {
      if (c[i] == '.' || c[i] == '_' || c[i] == '-') {
        return bad + "separators ('.', '_', '__', '-') must sit between letters or digits";
      }
      return bad + "character '" + std::string(1, c[i]) +
             "' is not allowed (only a-z, 0-9 and the separators '.', '_', '__', '-')";
    }
    while (i < c.size() && is_lower_alnum(c[i])) {
      ++i;
    }
    if (i == c.size()) {
      break;
    }
    if (c[i] == '.') {
      ++i;
    } else if (c[i] == '_') {
      ++i;
      if (i < c.size() && c[i] == '_') {
        ++i;
      }
    } else if (c[i] == '-') {
      while (i < c.size() && c[i] == '-') {
        ++i;
      }
    } else {
      return bad + "character '" + std::string(1, c[i]) +
             "' is not allowed (only a-z, 0-9 and the separators '.', '_', '__', '-')";
    }
    if (i == c.size() || !is_lower_alnum(c[i])) {
      return bad + "separators ('.', '_', '__', '-') must sit between letters or digits";
    }
  }
  return "";
}

// A registry is host[:port]; host is dot-separated labels of letters, digits and inner '-'.
std::string check_registry(std::string_view r) {
  std::string_view host = r;
  size_t colon = r.find(':');
  if (colon != std::string_view::npos) {
    host = r.substr(0, colon);
    std::string_view port = r.substr(colon + 1);
    if (port.empty() || port.size() > 5) {
      return "registry \"" + std::string(r) + "\" has an invalid port \"" + std::string(port) +
             "\": expected 1-65535";
    }
    int value = 0;
    for (char ch : port) {
      if (!is_digit(ch)) {
        return "registry \"" + std::string(r) + "\" has an invalid port \"" + std::string(port) +
               "\": expected 1-65535";
      }
      value = value * 10 + (ch - '0');
    }
    if (value < 1 || value > 65535) {
      return "registry \"" + std::string(r) + "\" has an invalid port \"" + std::string(port) +
             "\": expected 1-65535";
    }
  }
  if (host.empty()) {
    return "registry \"" + std::string(r) + "\" has an empty host";
  }
  for (std::string_view label : split(host, '.')) {
    bool ok = !label.empty() && is_alnum(label.front()) && is_alnum(label.back());
    for (char ch : label) {
      ok = ok && (is_alnum(ch) || ch == '-');
    }
    if (!ok) {
      return "registry \"" + std::string(r) + "\" is not a valid host name (labels of letters, " +
             "digits and inner '-', separated by '.')";
    }
  }
  return "";
}

bool is_valid_tag(std::string_view t) {
  if (t.empty() || t.size() > kMaxTagLength) {
    return false;
  }
  auto word = [](char c) { return is_alnum(c) || c == '_'; };
  if (!word(t.front())) {
    return false;
  }
  for (char c : t) {
    if (!word(c) && c != '.' && c != '-') {
      return false;
    }
  }
  return true;
}

}  // namespace

bool is_digest(std::string_view text) {
  if (text.size() != kDigestPrefix.size() + kDigestHexLength ||
      text.substr(0, kDigestPrefix.size()) != kDigestPrefix) {
    return false;
  }
  for (char c : text.substr(kDigestPrefix.size())) {
    if (!is_digit(c) && !(c >= 'a' && c <= 'f')) {
      return false;
    }
  }
  return true;
}

std::string ImageRef::effective_tag() const {
  if (!tag.empty()) {
    return tag;
  }
  return digest.empty() ? "latest" : "";
}

std::string ImageRef::to_string() const {
  std::string out = repository;
  std::string t = effective_tag();
  if (!t.empty()) {
    out += ":" + t;
  }
  if (!digest.empty()) {
    out += "@" + digest;
  }
  return out;
}

std::string ImageRef::pinned(std::string_view d) const { return repository + "@" + std::string(d); }

Result<ImageRef> parse_image_ref(std::string_view text) {
  if (text.empty()) {
    return Status(Code::kInvalidArgument, "invalid image reference: it is empty");
  }
  ImageRef ref;
  std::string_view name = text;

  // The digest is everything after the first '@'; neither names nor tags may contain '@'.
  size_t at = text.find('@');
  if (at != std::string_view::npos) {
    std::string_view digest = text.substr(at + 1);
    if (!is_digest(digest)) {
      return invalid(text, "digest \"" + std::string(digest) +
                               "\" is invalid: expected \"sha256:\" followed by 64 lowercase "
                               "hex digits");
    }
    ref.digest = std::string(digest);
    name = text.substr(0, at);
  }

  // A ':' after the last '/' starts the tag; an earlier ':' belongs to a registry port.
  size_t colon = name.rfind(':');
  size_t slash = name.rfind('/');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    std::string_view tag = name.substr(colon + 1);
    if (tag.empty()) {
      return invalid(text, "the tag after ':' is empty");
    }
    if (!is_valid_tag(tag)) {
      return invalid(text, "tag \"" + std::string(tag) +
                               "\" is invalid: it must start with a letter, digit or '_' and "
                               "contain only letters, digits, '_', '.' and '-' (at most 128)");
    }
    ref.tag = std::string(tag);
    name = name.substr(0, colon);
  }

  if (name.empty()) {
    return invalid(text, "the repository name is empty");
  }
  if (name.size() > kMaxRepositoryLength) {
    return invalid(text, "the repository name is longer than 255 characters");
  }

  std::vector<std::string_view> components = split(name, '/');
  size_t first_path = 0;
  if (components.size() > 1) {
    std::string_view first = components.front();
    bool is_registry = first.find('.') != std::string_view::npos ||
                       first.find(':') != std::string_view::npos || first == "localhost";
    if (is_registry) {
      std::string why = check_registry(first);
      if (!why.empty()) {
        return invalid(text, why);
      }
      first_path = 1;
    }
  }
  for (size_t i = first_path; i < components.size(); ++i) {
    std::string why = check_path_component(components[i]);
    if (!why.empty()) {
      return invalid(text, why);
    }
  }
  ref.repository = std::string(name);
  return ref;
}

}  // namespace orch::docker
