// Registry credentials for pulls: where they come from and how they travel.
//
// Sources, in order of precedence for the manifest image's registry:
//  1. the environment variable named by the manifest's `registry_auth: {env: NAME}`, holding
//     "user:password" or JSON {"username": "...", "password": "..."};
//  2. the `auths` section of the Docker client config ($DOCKER_CONFIG/config.json, else
//     ~/.docker/config.json): per registry key, base64 "user:password" in `auth`, or
//     `username` + `password`. Keys are matched by registry host[:port]; a scheme or path in
//     the key ("https://reg:5000/v2/") is ignored. `credsStore`/`credHelpers` are not used.
// They travel only as the X-Registry-Auth header (base64url of {"username", "password",
// "serveraddress"}) on GET /distribution and POST /images/create.
//
// Secrecy: a credential never appears in a Status message, a log, an event or the journal.
// Errors name the variable or file and say what shape was expected, never the value (and never
// pass on a JSON parser's message, which quotes the input). RegistryCredential has no
// to_string on purpose.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "orchestrator/core/status.h"

namespace orch::docker {

struct RegistryCredential {
  std::string username;
  std::string password;
};

// Credentials by registry ("host[:port]", e.g. "10.0.0.1:5000" or "docker.io").
// Plain value; copy freely. Thread-safety: const methods only after set-up.
class RegistryAuth {
 public:
  void set(std::string registry, RegistryCredential credential);
  bool empty() const { return by_registry_.empty(); }
  bool has(std::string_view registry) const;

  // The X-Registry-Auth value for `registry`, or nullopt when rollgate has no credential for
  // it (the engine then pulls anonymously).
  std::optional<std::string> header_for(std::string_view registry) const;

 private:
  std::map<std::string, RegistryCredential, std::less<>> by_registry_;
};

// The registry an image reference pulls from: its first path component when that contains
// '.' or ':' or is "localhost", else "docker.io". REQUIRES: `image` parses as an image ref;
// an unparsable one yields "".
std::string registry_of(std::string_view image);

// "https://reg:5000/v2/" -> "reg:5000"; "index.docker.io" and "registry-1.docker.io" ->
// "docker.io". How config.json keys and registries are compared.
std::string normalize_registry(std::string_view key);

// Parses the text of a Docker client config.json. `origin` (a path) is used in messages.
// kInvalidArgument when the text is not JSON or an `auths` entry is malformed.
Result<RegistryAuth> parse_docker_config(std::string_view text, std::string_view origin);

// Reads and parses `path`. A missing file is not an error (no credentials).
Result<RegistryAuth> load_docker_config(const std::string& path);

// $DOCKER_CONFIG/config.json when DOCKER_CONFIG is set, else $HOME/.docker/config.json,
// else "" (no home).
std::string default_docker_config_path();

// Parses an environment variable's value: "user:password" (split at the first ':') or JSON
// {"username": "...", "password": "..."}. Messages name `env_name`, never the value.
Result<RegistryCredential> parse_env_credential(std::string_view env_name, std::string_view value);

// What the CLI uses: config.json at default_docker_config_path(), then, when `env_name` is not
// empty, that variable (which must be set) as the credential for `image`'s registry.
Result<RegistryAuth> load_registry_auth(std::string_view image, const std::string& env_name);

}  // namespace orch::docker
