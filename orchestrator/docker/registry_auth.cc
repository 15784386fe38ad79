// Registry credentials: config.json and environment parsing, and the X-Registry-Auth encoding.
//
// Every error message here is built from names (file, variable, registry key) and expected
// shapes only. nlohmann's parse_error text quotes the bytes it choked on, so it is dropped.
#include "orchestrator/docker/registry_auth.h"

#include <openssl/evp.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "orchestrator/docker/image_ref.h"

namespace orch::docker {
namespace {

using Json = nlohmann::json;

std::string base64_encode(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// Standard base64 (with padding, as the Docker CLI writes `auth`). nullopt when malformed.
std::optional<std::string> base64_decode(std::string_view in) {
  if (in.empty() || in.size() % 4 != 0) {
    return std::nullopt;
  }
  std::string out(in.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  if (n < 0) {
    return std::nullopt;
  }
  // EVP_DecodeBlock counts the padding as zero bytes; drop them.
  size_t len = static_cast<size_t>(n);
  for (size_t i = in.size(); i > 0 && in[i - 1] == '='; --i) {
    --len;
  }
  out.resize(len);
  return out;
}

Status bad_config(std::string_view origin, const std::string& why) {
  return Status(Code::kInvalidArgument,
                "registry credentials in " + std::string(origin) + ": " + why);
}

}  // namespace

void RegistryAuth::set(std::string registry, RegistryCredential credential) {
  by_registry_[normalize_registry(registry)] = std::move(credential);
}

bool RegistryAuth::has(std::string_view registry) const {
  return by_registry_.find(normalize_registry(registry)) != by_registry_.end();
}

std::optional<std::string> RegistryAuth::header_for(std::string_view registry) const {
  const std::string key = normalize_registry(registry);
  auto it = by_registry_.find(key);
  if (it == by_registry_.end()) {
    return std::nullopt;
  }
  const Json body = {
      {"username", it->second.username}, {"password", it->second.password}, {"serveraddress", key}};
  // base64url (RFC 4648 section 5), padded, as the engine decodes it.
  std::string encoded = base64_encode(body.dump(-1, ' ', false, Json::error_handler_t::replace));
  for (char& c : encoded) {
    if (c == '+') {
      c = '-';
    } else if (c == '/') {
      c = '_';
    }
  }
  return encoded;
}

std::string normalize_registry(std::string_view key) {
  if (const size_t scheme = key.find("://"); scheme != std::string_view::npos) {
    key.remove_prefix(scheme + 3);
  }
  key = key.substr(0, key.find('/'));
  std::string out(key);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (out == "index.docker.io" || out == "registry-1.docker.io") {
    return "docker.io";
  }
  return out;
}

std::string registry_of(std::string_view image) {
  auto ref = parse_image_ref(image);
  if (!ref) {
    return "";
  }
  const std::string& repo = ref->repository;
  const size_t slash = repo.find('/');
  if (slash == std::string::npos) {
    return "docker.io";
  }
  const std::string first = repo.substr(0, slash);
  if (first.find('.') != std::string::npos || first.find(':') != std::string::npos ||
      first == "localhost") {
    return normalize_registry(first);
  }
  return "docker.io";
}

Result<RegistryAuth> parse_docker_config(std::string_view text, std::string_view origin) {
  const Json doc = Json::parse(text.begin(), text.end(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return bad_config(origin, "not a JSON object (expected {\"auths\": {...}})");
  }
  RegistryAuth auth;
  auto auths = doc.find("auths");
  if (auths == doc.end()) {
    return auth;
  }
  if (!auths->is_object()) {
    return bad_config(origin, "\"auths\" is not a map of registry to credentials");
  }
  for (const auto& [key, entry] : auths->items()) {
    const std::string where = "auths[\"" + key + "\"]";
    if (!entry.is_object()) {
      return bad_config(origin, where + " is not a map");
    }
    auto field = [&](const char* name) -> std::string {
      auto it = entry.find(name);
      return it != entry.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    RegistryCredential cred;
    if (const std::string encoded = field("auth"); !encoded.empty()) {
      std::optional<std::string> decoded = base64_decode(encoded);
      const size_t colon = decoded ? decoded->find(':') : std::string::npos;
      if (!decoded || colon == std::string::npos) {
        return bad_config(origin, where + ".auth is not base64 of \"user:password\"");
      }
      cred.username = decoded->substr(0, colon);
      cred.password = decoded->substr(colon + 1);
    } else {
      cred.username = field("username");
      cred.password = field("password");
    }
    if (cred.username.empty() && cred.password.empty()) {
      // An entry a credential store manages: `docker login` leaves it empty here.
      continue;
    }
    auth.set(key, std::move(cred));
  }
  return auth;
}

Result<RegistryAuth> load_docker_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return RegistryAuth{};
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return bad_config(path, "cannot be read");
  }
  return parse_docker_config(text.str(), path);
}

std::string default_docker_config_path() {
  if (const char* dir = std::getenv("DOCKER_CONFIG"); dir != nullptr && *dir != '\0') {
    return std::string(dir) + "/config.json";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return std::string(home) + "/.docker/config.json";
  }
  return "";
}

Result<RegistryCredential> parse_env_credential(std::string_view env_name, std::string_view value) {
  const std::string where = "environment variable " + std::string(env_name);
  constexpr const char* kExpected =
      " must hold \"user:password\" or JSON {\"username\": \"...\", \"password\": \"...\"}";
  RegistryCredential cred;
  if (!value.empty() && value.front() == '{') {
    const Json doc = Json::parse(value.begin(), value.end(), nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
      return Status(Code::kInvalidArgument, where + kExpected + " (it is not valid JSON)");
    }
    auto u = doc.find("username");
    auto p = doc.find("password");
    if (u == doc.end() || !u->is_string() || p == doc.end() || !p->is_string()) {
      return Status(Code::kInvalidArgument,
                    where + kExpected + " (the JSON lacks a string username or password)");
    }
    cred.username = u->get<std::string>();
    cred.password = p->get<std::string>();
  } else {
    const size_t colon = value.find(':');
    if (colon == std::string_view::npos) {
      return Status(Code::kInvalidArgument, where + kExpected + " (there is no ':')");
    }
    cred.username = std::string(value.substr(0, colon));
    cred.password = std::string(value.substr(colon + 1));
  }
  if (cred.username.empty()) {
    return Status(Code::kInvalidArgument, where + kExpected + " (the user name is empty)");
  }
  return cred;
}

Result<RegistryAuth> load_registry_auth(std::string_view image, const std::string& env_name) {
  RegistryAuth auth;
  if (const std::string path = default_docker_config_path(); !path.empty()) {
    Result<RegistryAuth> loaded = load_docker_config(path);
    if (!loaded) {
      return loaded.status();
    }
    auth = std::move(*loaded);
  }
  if (!env_name.empty()) {
    const char* value = std::getenv(env_name.c_str());
    if (value == nullptr) {
      return Status(Code::kInvalidArgument,
                    "registry_auth.env: environment variable " + env_name +
                        " is not set (it should hold the registry's \"user:password\")");
    }
    Result<RegistryCredential> cred = parse_env_credential(env_name, value);
    if (!cred) {
      return cred.status().with_context("registry_auth.env");
    }
    const std::string registry = registry_of(image);
    if (registry.empty()) {
      return Status(Code::kInvalidArgument, "registry_auth: the image reference is not valid");
    }
    auth.set(registry, std::move(*cred));
  }
  return auth;
}

}  // namespace orch::docker
