// The hosts section (each host's name, engine, address, insecure and tls), registry_auth, and
// read_endpoint, which checks engine-style addresses with docker::parse_endpoint.
#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>

#include "orchestrator/docker/http_engine.h"
#include "orchestrator/manifest/sections.h"

namespace orch::manifest {
namespace {

constexpr std::array<std::string_view, 1> kRegistryAuthKeys = {"env"};
constexpr std::array<std::string_view, 5> kHostKeys = {"name", "engine", "address", "insecure",
                                                       "tls"};
constexpr std::array<std::string_view, 4> kTlsKeys = {"ca", "cert", "key", "cert_path"};

constexpr const char* kHostNameExpected =
    "a name of letters, digits, '_', '.', '-', starting with a letter or digit";
constexpr const char* kEngineExpected = "unix:///path/to/docker.sock or tcp://host:port";

bool valid_host_name(std::string_view s) {
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  return !s.empty() && alnum(s.front()) && std::all_of(s.begin(), s.end(), [&](char c) {
    return alnum(c) || c == '_' || c == '.' || c == '-';
  });
}

void read_tls(Validator& v, const std::string& path, const Json& j, Tls& out) {
  if (!v.object(path, j, kTlsKeys)) {
    return;
  }
  std::string* fields[] = {&out.ca, &out.cert, &out.key, &out.cert_path};
  for (size_t i = 0; i < kTlsKeys.size(); ++i) {
    if (const Json* f = find(j, kTlsKeys[i])) {
      std::string p = key_path(path, kTlsKeys[i]);
      if (auto s = v.string(p, *f, "a file path")) {
        if (s->empty()) {
          v.fail(p, *f, "a non-empty file path");
        }
        *fields[i] = *s;
      }
    }
  }
  // An empty map means the Docker CLI's default: $DOCKER_CERT_PATH, else ~/.docker.
  bool has_files = find(j, "ca") || find(j, "cert") || find(j, "key");
  bool all_files = find(j, "ca") && find(j, "cert") && find(j, "key");
  bool has_dir = find(j, "cert_path") != nullptr;
  if ((has_dir && has_files) || (has_files && !all_files)) {
    v.fail(path, j,
           "either all of ca, cert and key, or cert_path alone (a directory holding ca.pem, "
           "cert.pem, key.pem), or {} for $DOCKER_CERT_PATH");
  }
}

// 127.0.0.0/8, ::1 (also as ::ffff:127.x.y.z) and "localhost": plain tcp:// there stays on
// this machine.
bool is_loopback(const std::string& host) {
  std::string lower = host;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "localhost" || lower == "localhost.") {
    return true;
  }
  unsigned char v4[4];
  if (inet_pton(AF_INET, host.c_str(), v4) == 1) {
    return v4[0] == 127;
  }
  unsigned char v6[16];
  if (inet_pton(AF_INET6, host.c_str(), v6) == 1) {
    static constexpr unsigned char kLoop[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return std::memcmp(v6, kLoop, 16) == 0 || (std::memcmp(v6, kMapped, 12) == 0 && v6[12] == 127);
  }
  return false;
}

// `first_use` maps each host name seen so far to its index, to report duplicates.
void read_host(Validator& v, const std::string& path, const Json& j, size_t index,
               std::map<std::string, size_t>& first_use, Host& out) {
  if (!v.object(path, j, kHostKeys)) {
    return;
  }
  if (const Json* name = find(j, "name")) {
    std::string p = key_path(path, "name");
    if (auto s = v.string(p, *name, kHostNameExpected)) {
      if (!valid_host_name(*s)) {
        v.fail(p, *name, kHostNameExpected);
      } else if (auto [it, inserted] = first_use.emplace(*s, index); !inserted) {
        v.fail(p, *name,
               "a unique host name; " + index_path("hosts", it->second) + " already uses it");
      } else {
        out.name = *s;
      }
    }
  } else {
    v.missing(key_path(path, "name"), kHostNameExpected);
  }

  std::optional<docker::Endpoint> engine;
  if (const Json* e = find(j, "engine")) {
    engine = read_endpoint(v, key_path(path, "engine"), *e, kEngineExpected);
    if (engine) {
      out.engine = e->get<std::string>();
    }
  } else {
    v.missing(key_path(path, "engine"), kEngineExpected);
  }

  if (const Json* a = find(j, "address")) {
    std::string p = key_path(path, "address");
    constexpr const char* kExpected = "a host name or IP address, without scheme or port";
    if (auto s = v.string(p, *a, kExpected)) {
      bool chars_ok = !s->empty() && std::all_of(s->begin(), s->end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' ||
               c == ':';
      });
      // Exactly one ':' is host:port; IPv6 addresses have at least two.
      bool host_port = std::count(s->begin(), s->end(), ':') == 1;
      if (!chars_ok || host_port) {
        v.fail(p, *a, kExpected);
      } else {
        out.address = *s;
      }
    }
  } else if (engine) {
    out.address = engine->kind == docker::Endpoint::Kind::kUnix ? "127.0.0.1" : engine->host;
  }

  bool insecure_valid = true;
  if (const Json* i = find(j, "insecure")) {
    if (auto b = v.boolean(key_path(path, "insecure"), *i)) {
      out.insecure = *b;
    } else {
      insecure_valid = false;
    }
  }
  // Plain TCP carries the Docker API unencrypted and unauthenticated: whoever reaches the port
  // is root on the host. Only loopback, or a host that says so, may use it.
  if (engine && engine->kind == docker::Endpoint::Kind::kTcp && !out.insecure && insecure_valid &&
      !find(j, "tls") && !is_loopback(engine->host)) {
    v.add(key_path(path, "engine"),
          "plain tcp:// to " + quote(engine->host) +
              " is refused: the Docker API would travel unencrypted and unauthenticated. Add "
              "tls (ca, cert and key, or cert_path) to this host, or set insecure: true on it "
              "to accept the risk on a trusted network");
  }

  if (const Json* t = find(j, "tls")) {
    std::string p = key_path(path, "tls");
    Tls tls;
    read_tls(v, p, *t, tls);
    if (engine && engine->kind == docker::Endpoint::Kind::kUnix) {
      v.add(p, "TLS applies only to tcp:// engines; " + key_path(path, "engine") + " is " +
                   quote(out.engine));
    }
    out.tls = tls;
  }
}

}  // namespace

std::optional<docker::Endpoint> read_endpoint(Validator& v, const std::string& path, const Json& j,
                                              const std::string& expected) {
  auto s = v.string(path, j, expected);
  if (!s) {
    return std::nullopt;
  }
  auto endpoint = docker::parse_endpoint(*s);
  if (endpoint.is_ok()) {
    return std::move(endpoint).value();
  }
  // The message reads `engine endpoint "TEXT": REASON` (http_engine.h); the error already shows
  // the value, so only the reason is kept.
  std::string reason = endpoint.status().message();
  const std::string prefix = "engine endpoint \"" + *s + "\": ";
  if (reason.starts_with(prefix)) {
    reason.erase(0, prefix.size());
  }
  v.fail(path, j, expected + "; " + reason);
  return std::nullopt;
}

// registry_auth: {env: NAME}. Only the variable's name is in the manifest; its value (the
// secret) is read when rollgate connects, by docker::load_registry_auth.
void read_registry_auth(Validator& v, const Json& j, Manifest& m) {
  if (!v.object("registry_auth", j, kRegistryAuthKeys)) {
    return;
  }
  constexpr const char* kExpected =
      "the name of an environment variable holding \"user:password\" (letters, digits, '_', "
      "not starting with a digit)";
  const Json* e = find(j, "env");
  if (e == nullptr) {
    v.missing("registry_auth.env", kExpected);
    return;
  }
  if (auto s = v.string("registry_auth.env", *e, kExpected)) {
    bool ok = !s->empty() && !std::isdigit(static_cast<unsigned char>(s->front())) &&
              std::all_of(s->begin(), s->end(), [](char c) {
                return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
              });
    if (ok) {
      m.registry_auth = RegistryAuth{*s};
    } else {
      v.fail("registry_auth.env", *e, kExpected);
    }
  }
}

void read_hosts(Validator& v, const Json& j, std::vector<Host>& out) {
  constexpr const char* kExpected = "a non-empty list of hosts, each a map with name and engine";
  if (!j.is_array() || j.empty()) {
    v.fail("hosts", j, kExpected);
    return;
  }
  std::map<std::string, size_t> first_use;
  for (size_t i = 0; i < j.size(); ++i) {
    std::string p = index_path("hosts", i);
    Host h;
    read_host(v, p, j[i], i, first_use, h);
    out.push_back(std::move(h));
  }
}

}  // namespace orch::manifest
