#include "orchestrator/docker/api_paths.h"

#include <charconv>
#include <nlohmann/json.hpp>

namespace orch::docker {
namespace {

bool is_unreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

void append_escaped(std::string& out, char c) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  const auto byte = static_cast<unsigned char>(c);
  out += '%';
  out += kHex[byte >> 4];
  out += kHex[byte & 0x0f];
}

// Strips a ":tag" from a repository, where the tag is after the last '/'.
std::pair<std::string_view, std::string_view> split_tag(std::string_view repo) {
  const size_t slash = repo.rfind('/');
  const size_t colon = repo.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    return {repo.substr(0, colon), repo.substr(colon + 1)};
  }
  return {repo, {}};
}

}  // namespace

PullRef split_pull_ref(std::string_view ref) {
  const size_t at = ref.find('@');
  if (at != std::string_view::npos) {
    // "repo:tag@sha256:..." pins by digest; the tag is informational and would confuse fromImage.
    return PullRef{std::string(split_tag(ref.substr(0, at)).first),
                   std::string(ref.substr(at + 1))};
  }
  const auto [repo, tag] = split_tag(ref);
  return PullRef{std::string(repo), tag.empty() ? std::string("latest") : std::string(tag)};
}

std::string percent_encode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (is_unreserved(c)) {
      out += c;
    } else {
      append_escaped(out, c);
    }
  }
  return out;
}

std::string encode_ref_path(std::string_view ref) {
  std::string out;
  out.reserve(ref.size());
  for (const char c : ref) {
    if (is_unreserved(c) || c == '/' || c == ':' || c == '@') {
      out += c;
    } else {
      append_escaped(out, c);
    }
  }
  return out;
}

std::string pull_target(std::string_view ref) {
  const PullRef split = split_pull_ref(ref);
  return "/images/create?fromImage=" + percent_encode(split.from_image) +
         "&tag=" + percent_encode(split.tag);
}

std::string list_containers_target(const std::vector<std::string>& label_filters) {
  std::string target = "/containers/json?all=1";
  if (!label_filters.empty()) {
    const nlohmann::json filters = {{"label", label_filters}};
    target += "&filters=" + percent_encode(filters.dump());
  }
  return target;
}

std::optional<ApiVersion> parse_api_version(std::string_view text) {
  const size_t dot = text.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == text.size()) {
    return std::nullopt;
  }
  ApiVersion v;
  const char* begin = text.data();
  const char* mid = begin + dot;
  const char* end = begin + text.size();
  const auto [p1, e1] = std::from_chars(begin, mid, v.major);
  const auto [p2, e2] = std::from_chars(mid + 1, end, v.minor);
  if (e1 != std::errc() || p1 != mid || e2 != std::errc() || p2 != end) {
    return std::nullopt;
  }
  return v;
}

bool api_version_supported(std::string_view text) {
  const auto v = parse_api_version(text);
  if (!v) {
    return false;
  }
  return v->major > kApiMajor || (v->major == kApiMajor && v->minor >= kApiMinor);
}

std::string create_target(std::string_view name) {
  return "/containers/create?name=" + percent_encode(name);
}

std::string start_target(std::string_view id) {
  return "/containers/" + encode_ref_path(id) + "/start";
}

std::string stop_target(std::string_view id, std::optional<int> timeout_s) {
  std::string target = "/containers/" + encode_ref_path(id) + "/stop";
  if (timeout_s && *timeout_s >= 0) {
    target += "?t=" + std::to_string(*timeout_s);
  }
  return target;
}

std::string rename_target(std::string_view id, std::string_view new_name) {
  return "/containers/" + encode_ref_path(id) + "/rename?name=" + percent_encode(new_name);
}

std::string remove_target(std::string_view id, bool force) {
  return "/containers/" + encode_ref_path(id) + (force ? "?force=1" : "");
}

}  // namespace orch::docker
