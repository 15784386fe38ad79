// Request targets for the Engine HTTP API, built purely so they can be unit-tested.
//
// Targets returned here carry no API version prefix; HttpEngine prepends "/v1.41".
// Query values are percent-encoded; image references in paths keep '/', ':' and '@' literal,
// as the engine's router expects ("/distribution/reg:5000/team/app:1.2/json").
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace orch::docker {

// The API version rollgate speaks and requires (Docker Engine 20.10).
inline constexpr int kApiMajor = 1;
inline constexpr int kApiMinor = 41;
inline constexpr std::string_view kApiPrefix = "/v1.41";

// What POST /images/create wants: fromImage and tag.
struct PullRef {
  std::string from_image;  // repository, e.g. "10.0.0.1:5000/team/app"
  std::string tag;         // a tag, or a digest "sha256:..."
};

// Splits "repo@sha256:..." into {repo, "sha256:..."} (dropping a tag written before the
// digest), and "repo:tag" at the last ':' after the last '/', so a registry "host:port" is
// never mistaken for a tag. No tag and no digest gives "latest": an empty tag would make the
// engine pull every tag of the repository.
PullRef split_pull_ref(std::string_view ref);

// RFC 3986 percent-encoding of everything but unreserved characters (A-Z a-z 0-9 - . _ ~).
std::string percent_encode(std::string_view text);

// Percent-encodes a path segment that may hold an image reference or container name, keeping
// '/', ':' and '@' literal.
std::string encode_ref_path(std::string_view ref);

// "/images/create?fromImage=...&tag=..."
std::string pull_target(std::string_view ref);
// "/containers/json?all=1[&filters={"label":[...]}]" (filters percent-encoded)
std::string list_containers_target(const std::vector<std::string>& label_filters);

// The container calls a rollout makes. `rollgate plan` prints these same targets (with
// kApiPrefix), so what it shows is byte for byte what HttpEngine sends.
// "/containers/create?name=NAME"
std::string create_target(std::string_view name);
// "/containers/ID/start"
std::string start_target(std::string_view id);
// "/containers/ID/stop", with "?t=N" when timeout_s is set and not negative.
std::string stop_target(std::string_view id, std::optional<int> timeout_s);
// "/containers/ID/rename?name=NEW"
std::string rename_target(std::string_view id, std::string_view new_name);
// "/containers/ID", with "?force=1" when forced.
std::string remove_target(std::string_view id, bool force);

// Parses "1.41" into {1, 41}; nullopt when malformed.
struct ApiVersion {
  int major = 0;
  int minor = 0;
};
std::optional<ApiVersion> parse_api_version(std::string_view text);
// True when `text` parses and is at least kApiMajor.kApiMinor.
bool api_version_supported(std::string_view text);

}  // namespace orch::docker
