#include "orchestrator/docker/json_codec.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

namespace orch::docker {
namespace {

using nlohmann::json;

// Reads fields from engine JSON without throwing, remembering the first problem.
// Every accessor tolerates an absent or null field unless `required`.
class Reader {
 public:
  bool ok() const { return error_.empty(); }
  Status status() const { return Status(Code::kInternal, "unexpected response: " + error_); }

  // Returns the object at `key` (or null json when absent and optional).
  const json* object(const json& j, const char* key, const std::string& path, bool required) {
    const json* v = find(j, key, path, required);
    if (v != nullptr && !v->is_object()) {
      fail(path + key + " is not an object");
      return nullptr;
    }
    return v;
  }

  std::string string(const json& j, const char* key, const std::string& path, bool required) {
    const json* v = find(j, key, path, required);
    if (v == nullptr) {
      return {};
    }
    if (!v->is_string()) {
      fail(path + key + " is not a string");
      return {};
    }
    return v->get<std::string>();
  }

  int64_t integer(const json& j, const char* key, const std::string& path, bool required) {
    const json* v = find(j, key, path, required);
    if (v == nullptr) {
      return 0;
    }
    if (!v->is_number_integer()) {
      fail(path + key + " is not an integer");
      return 0;
    }
    return v->get<int64_t>();
  }

  bool boolean(const json& j, const char* key, const std::string& path, bool required) {
    const json* v = find(j, key, path, required);
    if (v == nullptr) {
      return false;
    }
    if (!v->is_boolean()) {
      fail(path + key + " is not a boolean");
      return false;
    }
    return v->get<bool>();
  }

  std::vector<std::string> strings(const json& j, const char* key, const std::string& path) {
    std::vector<std::string> out;
    const json* v = find(j, key, path, false);
    if (v == nullptr) {
      return out;
    }
    if (!v->is_array()) {
      fail(path + key + " is not an array");
      return out;
    }
    for (const json& item : *v) {
      if (!item.is_string()) {
        fail(path + key + " holds a non-string");
        return {};
      }
      out.push_back(item.get<std::string>());
    }
    return out;
  }

  Labels labels(const json& j, const char* key, const std::string& path) {
    Labels out;
    const json* v = object(j, key, path, false);
    if (v == nullptr) {
      return out;
    }
    for (const auto& [k, value] : v->items()) {
      if (!value.is_string()) {
        fail(path + key + "." + k + " is not a string");
        return {};
      }
      out.emplace(k, value.get<std::string>());
    }
    return out;
  }

 private:
  const json* find(const json& j, const char* key, const std::string& path, bool required) {
    const auto it = j.find(key);
    if (it == j.end() || it->is_null()) {
      if (required) {
        fail("missing " + path + key);
      }
      return nullptr;
    }
    return &*it;
  }

  void fail(const std::string& what) {
    if (error_.empty()) {
      error_ = what;
    }
  }

  std::string error_;
};

// Parses a body that must be a JSON object.
Result<json> parse_object(std::string_view body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return Status(Code::kInternal, "unexpected response: body is not valid JSON");
  }
  if (!j.is_object()) {
    return Status(Code::kInternal, "unexpected response: body is not a JSON object");
  }
  return j;
}

std::string strip_slash(std::string name) {
  if (!name.empty() && name.front() == '/') {
    name.erase(0, 1);
  }
  return name;
}

int to_int(int64_t v) { return static_cast<int>(v); }

}  // namespace

Result<VersionInfo> decode_version(std::string_view body) {
  Result<json> parsed = parse_object(body);
  if (!parsed) {
    return parsed.status();
  }
  const json& j = *parsed;
  Reader r;
  VersionInfo v;
  v.version = r.string(j, "Version", "", true);
  v.api_version = r.string(j, "ApiVersion", "", true);
  v.min_api_version = r.string(j, "MinAPIVersion", "", false);
  v.os = r.string(j, "Os", "", false);
  v.arch = r.string(j, "Arch", "", false);
  v.kernel_version = r.string(j, "KernelVersion", "", false);
  if (!r.ok()) {
    return r.status();
  }
  return v;
}

Result<DistributionInfo> decode_distribution(std::string_view body) {
  Result<json> parsed = parse_object(body);
  if (!parsed) {
    return parsed.status();
  }
  Reader r;
  const json* desc = r.object(*parsed, "Descriptor", "", true);
  if (desc == nullptr) {
    return r.status();
  }
  DistributionInfo d;
  d.digest = r.string(*desc, "digest", "Descriptor.", true);
  d.media_type = r.string(*desc, "mediaType", "Descriptor.", false);
  d.size = r.integer(*desc, "size", "Descriptor.", false);
  if (!r.ok()) {
    return r.status();
  }
  if (d.digest.empty()) {
    return Status(Code::kInternal, "unexpected response: empty Descriptor.digest");
  }
  return d;
}

Result<ImageInfo> decode_image(std::string_view body) {
  Result<json> parsed = parse_object(body);
  if (!parsed) {
    return parsed.status();
  }
  const json& j = *parsed;
  Reader r;
  ImageInfo img;
  img.id = r.string(j, "Id", "", true);
  img.repo_tags = r.strings(j, "RepoTags", "");
  img.repo_digests = r.strings(j, "RepoDigests", "");
  if (!r.ok()) {
    return r.status();
  }
  return img;
}

Result<std::vector<ContainerSummary>> decode_container_list(std::string_view body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return Status(Code::kInternal, "unexpected response: body is not valid JSON");
  }
  if (!j.is_array()) {
    return Status(Code::kInternal, "unexpected response: container list is not a JSON array");
  }
  std::vector<ContainerSummary> out;
  out.reserve(j.size());
  Reader r;
  for (size_t i = 0; i < j.size(); ++i) {
    const json& row = j[i];
    const std::string path = "[" + std::to_string(i) + "].";
    if (!row.is_object()) {
      return Status(Code::kInternal, "unexpected response: " + path + " is not an object");
    }
    ContainerSummary c;
    c.id = r.string(row, "Id", path, true);
    // A container linked from others has extra names ("/other/alias"); the primary name is the
    // one without a second slash.
    const std::vector<std::string> names = r.strings(row, "Names", path);
    for (const std::string& n : names) {
      const std::string bare = strip_slash(n);
      if (bare.find('/') == std::string::npos) {
        c.name = bare;
        break;
      }
    }
    if (c.name.empty() && !names.empty()) {
      c.name = strip_slash(names.front());
    }
    c.image = r.string(row, "Image", path, false);
    c.image_id = r.string(row, "ImageID", path, false);
    c.labels = r.labels(row, "Labels", path);
    c.state = r.string(row, "State", path, true);
    c.status = r.string(row, "Status", path, false);
    if (!r.ok()) {
      return r.status();
    }
    out.push_back(std::move(c));
  }
  return out;
}

Result<ContainerInfo> decode_container(std::string_view body) {
  Result<json> parsed = parse_object(body);
  if (!parsed) {
    return parsed.status();
  }
  const json& j = *parsed;
  Reader r;
  ContainerInfo c;
  c.id = r.string(j, "Id", "", true);
  c.name = strip_slash(r.string(j, "Name", "", true));
  c.image_id = r.string(j, "Image", "", false);
  c.restart_count = to_int(r.integer(j, "RestartCount", "", false));
  if (const json* config = r.object(j, "Config", "", false)) {
    c.image = r.string(*config, "Image", "Config.", false);
    c.labels = r.labels(*config, "Labels", "Config.");
  }
  const json* state = r.object(j, "State", "", true);
  if (state != nullptr) {
    ContainerState& s = c.state;
    s.status = r.string(*state, "Status", "State.", true);
    s.running = r.boolean(*state, "Running", "State.", false);
    s.restarting = r.boolean(*state, "Restarting", "State.", false);
    s.oom_killed = r.boolean(*state, "OOMKilled", "State.", false);
    s.dead = r.boolean(*state, "Dead", "State.", false);
    s.pid = to_int(r.integer(*state, "Pid", "State.", false));
    s.exit_code = to_int(r.integer(*state, "ExitCode", "State.", false));
    s.error = r.string(*state, "Error", "State.", false);
    s.started_at = r.string(*state, "StartedAt", "State.", false);
    s.finished_at = r.string(*state, "FinishedAt", "State.", false);
    if (const json* health = r.object(*state, "Health", "State.", false)) {
      s.health_status = r.string(*health, "Status", "State.Health.", false);
      s.failing_streak = to_int(r.integer(*health, "FailingStreak", "State.Health.", false));
    }
  }
  if (!r.ok()) {
    return r.status();
  }
  return c;
}

Result<std::string> decode_create_response(std::string_view body) {
  Result<json> parsed = parse_object(body);
  if (!parsed) {
    return parsed.status();
  }
  Reader r;
  std::string id = r.string(*parsed, "Id", "", true);
  if (!r.ok()) {
    return r.status();
  }
  if (id.empty()) {
    return Status(Code::kInternal, "unexpected response: empty Id");
  }
  return id;
}

std::string encode_create_body(const ContainerSpec& spec) {
  json body = json::object();
  body["Image"] = spec.image;
  body["Env"] = spec.env;
  if (!spec.cmd.empty()) {
    body["Cmd"] = spec.cmd;
  }
  body["Labels"] = json::object();
  for (const auto& [k, v] : spec.labels) {
    body["Labels"][k] = v;
  }
  json host_config = json::object();
  if (!spec.ports.empty()) {
    json exposed = json::object();
    json bindings = json::object();
    for (const PortBinding& p : spec.ports) {
      const std::string key = std::to_string(p.container_port) + "/" + p.protocol;
      exposed[key] = json::object();
      // HostPort is a string in the API; "" asks for an ephemeral port.
      bindings[key].push_back(
          {{"HostIp", p.host_ip},
           {"HostPort", p.host_port == 0 ? std::string() : std::to_string(p.host_port)}});
    }
    body["ExposedPorts"] = std::move(exposed);
    host_config["PortBindings"] = std::move(bindings);
  }
  if (!spec.restart_policy.empty()) {
    json policy = {{"Name", spec.restart_policy}};
    // The engine rejects a retry count with any policy other than on-failure.
    if (spec.restart_policy == "on-failure") {
      policy["MaximumRetryCount"] = spec.restart_max_retries;
    }
    host_config["RestartPolicy"] = std::move(policy);
  }
  if (!host_config.empty()) {
    body["HostConfig"] = std::move(host_config);
  }
  if (spec.stop_timeout_s) {
    body["StopTimeout"] = *spec.stop_timeout_s;
  }
  return body.dump();
}

std::string engine_error_message(std::string_view body, std::string_view fallback) {
  const json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_discarded() && j.is_object()) {
    const auto it = j.find("message");
    if (it != j.end() && it->is_string() && !it->get_ref<const std::string&>().empty()) {
      return it->get<std::string>();
    }
  }
  constexpr size_t kMaxRaw = 300;
  size_t begin = 0;
  size_t end = body.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(body[begin]))) {
    ++begin;
  }
  while (end > begin && std::isspace(static_cast<unsigned char>(body[end - 1]))) {
    --end;
  }
  if (begin == end) {
    return std::string(fallback);
  }
  std::string raw(body.substr(begin, std::min(end - begin, kMaxRaw)));
  if (end - begin > kMaxRaw) {
    raw += "...";
  }
  return raw;
}

}  // namespace orch::docker
