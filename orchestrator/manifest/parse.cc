// Manifest loading: text -> JSON document -> validated Manifest.
//
// Both formats become one nlohmann::ordered_json document first, then a single validator walks
// it. The validator never stops at the first problem: each field is checked on its own and every
// error is kept. Errors come out in a stable order: known keys in the order of manifest.h, and
// unknown keys, list items and map entries in the order the user wrote them (hence ordered_json).
#include "orchestrator/manifest/parse.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <span>
#include <sstream>
#include <string_view>
#include <variant>
#include <vector>

#include "orchestrator/docker/image_ref.h"

namespace orch::manifest {

std::string FieldError::to_string() const { return path.empty() ? message : path + ": " + message; }

namespace {

using Json = nlohmann::ordered_json;

// Manifests are shallow (four levels at most); anything deeper is a mistake or an attack
// (e.g. a recursive YAML alias), and refusing it keeps every recursive walk bounded.
constexpr int kMaxDepth = 64;
// Bounds YAML alias expansion ("billion laughs"): a real manifest has a few hundred values.
constexpr size_t kMaxValues = 100000;
// Values quoted in error messages are cut to this many characters.
constexpr size_t kMaxShown = 60;

constexpr std::array<std::string_view, 10> kTopKeys = {
    "app",    "image",      "hosts", "container",     "strategy",
    "health", "on_failure", "keep",  "registry_auth", "router"};
constexpr std::array<std::string_view, 1> kRegistryAuthKeys = {"env"};
constexpr std::array<std::string_view, 5> kHostKeys = {"name", "engine", "address", "insecure",
                                                       "tls"};
constexpr std::array<std::string_view, 4> kTlsKeys = {"ca", "cert", "key", "cert_path"};
constexpr std::array<std::string_view, 6> kContainerKeys = {"ports",   "env",     "labels",
                                                            "command", "restart", "stop_timeout"};
constexpr std::array<std::string_view, 4> kStrategyKeys = {"type", "batch_size", "order", "ports"};
constexpr std::array<std::string_view, 2> kColourKeys = {"blue", "green"};
constexpr std::array<std::string_view, 4> kRouterKeys = {"haproxy", "command", "drain_timeout",
                                                         "timeout"};
constexpr std::array<std::string_view, 6> kHaproxyKeys = {"runtime_api", "map",     "map_key",
                                                          "backends",    "backend", "persist_map"};
constexpr std::array<std::string_view, 13> kHealthKeys = {"http",
                                                          "tcp",
                                                          "exec",
                                                          "docker_health",
                                                          "interval",
                                                          "timeout",
                                                          "healthy_threshold",
                                                          "unhealthy_threshold",
                                                          "healthy_deadline",
                                                          "min_healthy_time",
                                                          "max_failure_ratio",
                                                          "progress_deadline",
                                                          "bake"};
constexpr std::array<std::string_view, 7> kHttpKeys = {
    "port", "path", "expect_status", "scheme", "body_contains", "max_latency", "tls_skip_verify"};
constexpr std::array<std::string_view, 1> kTcpKeys = {"port"};
constexpr std::array<std::string_view, 1> kExecKeys = {"command"};

constexpr std::string_view kReservedLabelPrefix = "rollgate.";
constexpr const char* kDurationExpected = "a duration like \"500ms\", \"2s\", \"1m\" or \"1m30s\"";
constexpr const char* kAppExpected =
    "a name of 1-63 characters: lowercase letters, digits, '_', '.', '-', starting with a letter "
    "or digit";
constexpr const char* kHostNameExpected =
    "a name of letters, digits, '_', '.', '-', starting with a letter or digit";
constexpr const char* kEngineExpected = "unix:///path/to/docker.sock or tcp://host:port";
constexpr const char* kPortExpected = "a port number 1-65535";

// ---------------------------------------------------------------------------------------------
// Paths and value descriptions.

bool is_simple_key(std::string_view key) {
  return !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

// Never throws, even on invalid UTF-8 (which strict dump() would).
std::string safe_dump(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string quote(std::string_view s) { return safe_dump(Json(std::string(s))); }

// "health" + "interval" -> "health.interval"; keys with dots or spaces use brackets:
// "container.labels" + "com.example.team" -> container.labels["com.example.team"].
std::string key_path(const std::string& parent, std::string_view key) {
  if (is_simple_key(key)) {
    return parent.empty() ? std::string(key) : parent + "." + std::string(key);
  }
  return parent + "[" + quote(key) + "]";
}

std::string index_path(const std::string& parent, size_t i) {
  return parent + "[" + std::to_string(i) + "]";
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

// `got "two" (string)`, `got 3.5 (number)`, `got null`. Long values are cut short. Dumping
// recurses, which is safe because both parsers refuse documents nested deeper than kMaxDepth.
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

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Digits only, no sign, at most 9 of them so that the value fits an int.
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
  bool object(const std::string& path, const Json& v, std::span<const std::string_view> known) {
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

  std::optional<std::string> string(const std::string& path, const Json& v,
                                    const std::string& expected) {
    if (!v.is_string()) {
      fail(path, v, expected);
      return std::nullopt;
    }
    return v.get<std::string>();
  }

  std::optional<bool> boolean(const std::string& path, const Json& v) {
    if (!v.is_boolean()) {
      fail(path, v, "true or false");
      return std::nullopt;
    }
    return v.get<bool>();
  }

  // An integer within [min, max]; JSON floats such as 2.0 are not integers.
  std::optional<int> integer(const std::string& path, const Json& v, long long min, long long max,
                             const std::string& expected) {
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

  std::optional<Millis> duration(const std::string& path, const Json& v) {
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

  // Strings as they are; numbers and booleans as their text, because YAML users write
  // `PORT: 8080` and `DEBUG: true` and mean the text. Null, lists and maps are errors.
  std::optional<std::string> text(const std::string& path, const Json& v) {
    if (v.is_string()) {
      return v.get<std::string>();
    }
    if (v.is_number() || v.is_boolean()) {
      return safe_dump(v);
    }
    fail(path, v, "a string (numbers and booleans are taken as their text)");
    return std::nullopt;
  }

 private:
  static void append_list(std::string& out, std::span<const std::string_view> items) {
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) {
        out += ", ";
      }
      out += items[i];
    }
  }

  std::vector<FieldError> errors_;
};

const Json* find(const Json& obj, std::string_view key) {
  auto it = obj.find(std::string(key));
  return it == obj.end() ? nullptr : &*it;
}

bool valid_app_name(std::string_view s) {
  if (s.empty() || s.size() > 63) {
    return false;
  }
  auto lower = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!lower(s.front())) {
    return false;
  }
  return std::all_of(s.begin(), s.end(),
                     [&](char c) { return lower(c) || c == '_' || c == '.' || c == '-'; });
}

bool valid_host_name(std::string_view s) {
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  return !s.empty() && alnum(s.front()) && std::all_of(s.begin(), s.end(), [&](char c) {
    return alnum(c) || c == '_' || c == '.' || c == '-';
  });
}

struct Engine {
  bool unix_socket = false;
  std::string host;  // tcp only, without IPv6 brackets
};

// Parses unix:///abs/path or tcp://host:port (host may be [ipv6]). Returns the reason on error.
std::variant<Engine, std::string> parse_engine(std::string_view e) {
  constexpr std::string_view kUnix = "unix://";
  constexpr std::string_view kTcp = "tcp://";
  if (e.substr(0, kUnix.size()) == kUnix) {
    std::string_view path = e.substr(kUnix.size());
    if (path.size() < 2 || path.front() != '/') {
      return std::string("the socket path must be absolute, as in unix:///var/run/docker.sock");
    }
    return Engine{true, ""};
  }
  if (e.substr(0, kTcp.size()) != kTcp) {
    return std::string("the scheme must be unix:// or tcp://");
  }
  std::string_view rest = e.substr(kTcp.size());
  std::string_view host;
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) {
      return std::string("the IPv6 address is missing its closing ']'");
    }
    host = rest.substr(1, close - 1);
    std::string_view after = rest.substr(close + 1);
    if (after.empty() || after.front() != ':') {
      return std::string("the port is missing");
    }
    port = after.substr(1);
    bool ok = !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
      return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
    });
    if (!ok) {
      return std::string("the IPv6 address is not valid");
    }
  } else {
    size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos) {
      return std::string("the port is missing");
    }
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (host.empty()) {
      return std::string("the host is empty");
    }
    bool ok = std::all_of(host.begin(), host.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
    });
    if (!ok) {
      return std::string("the host may contain only letters, digits, '.', '-', '_'");
    }
  }
  if (!port_number(port)) {
    return "the port " + quote(port) + " is not a number 1-65535";
  }
  return Engine{false, std::string(host)};
}

// "8080:80", "8080:80/tcp" or "5353:53/udp".
std::optional<PortMapping> parse_port_mapping(std::string_view s) {
  PortMapping m;
  size_t slash = s.find('/');
  if (slash != std::string_view::npos) {
    std::string_view proto = s.substr(slash + 1);
    if (proto != "tcp" && proto != "udp") {
      return std::nullopt;
    }
    m.protocol = std::string(proto);
    s = s.substr(0, slash);
  }
  size_t colon = s.find(':');
  if (colon == std::string_view::npos) {
    return std::nullopt;
  }
  auto host = port_number(s.substr(0, colon));
  auto container = port_number(s.substr(colon + 1));
  if (!host || !container) {
    return std::nullopt;
  }
  m.host_port = static_cast<uint16_t>(*host);
  m.container_port = static_cast<uint16_t>(*container);
  return m;
}

bool valid_restart(std::string_view s) {
  if (s == "no" || s == "always" || s == "unless-stopped" || s == "on-failure") {
    return true;
  }
  constexpr std::string_view kOnFailure = "on-failure:";
  if (s.substr(0, kOnFailure.size()) != kOnFailure) {
    return false;
  }
  auto n = small_uint(s.substr(kOnFailure.size()));
  return n && *n >= 1;
}

// ---------------------------------------------------------------------------------------------
// Sections. Each reads one part of the document into `out`, reporting what is wrong.

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

  std::optional<Engine> engine;
  if (const Json* e = find(j, "engine")) {
    std::string p = key_path(path, "engine");
    if (auto s = v.string(p, *e, kEngineExpected)) {
      auto parsed = parse_engine(*s);
      if (auto* reason = std::get_if<std::string>(&parsed)) {
        v.fail(p, *e, std::string(kEngineExpected) + "; " + *reason);
      } else {
        engine = std::get<Engine>(parsed);
        out.engine = *s;
      }
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
    out.address = engine->unix_socket ? "127.0.0.1" : engine->host;
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
  if (engine && !engine->unix_socket && !out.insecure && insecure_valid && !find(j, "tls") &&
      !is_loopback(engine->host)) {
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
    if (engine && engine->unix_socket) {
      v.add(p, "TLS applies only to tcp:// engines; " + key_path(path, "engine") + " is " +
                   quote(out.engine));
    }
    out.tls = tls;
  }
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

// router: {haproxy: {...}} or {command: ...}, plus drain_timeout and timeout.
void read_router(Validator& v, const Json& j, Manifest& m) {
  if (!v.object("router", j, kRouterKeys)) {
    return;
  }
  Router r;
  const Json* h = find(j, "haproxy");
  const Json* c = find(j, "command");
  if ((h == nullptr) == (c == nullptr)) {
    v.fail("router", j, "exactly one of router.haproxy and router.command");
  }
  if (h != nullptr && v.object("router.haproxy", *h, kHaproxyKeys)) {
    HaproxyRouter hp;
    constexpr const char* kApiExpected =
        "unix:///path/to/admin.sock or tcp://host:port (HAProxy's Runtime API, level admin)";
    if (const Json* api = find(*h, "runtime_api")) {
      if (auto s = v.string("router.haproxy.runtime_api", *api, kApiExpected)) {
        auto e = parse_engine(*s);
        if (std::holds_alternative<std::string>(e)) {
          v.fail("router.haproxy.runtime_api", *api,
                 std::string(kApiExpected) + "; " + std::get<std::string>(e));
        } else {
          hp.runtime_api = *s;
        }
      }
    } else {
      v.missing("router.haproxy.runtime_api", kApiExpected);
    }
    // HAProxy names: no spaces or control characters (they would split a runtime command).
    auto name = [&](const std::string& path, const Json& value, const std::string& expected,
                    std::string& out) {
      if (auto s = v.string(path, value, expected)) {
        bool ok = !s->empty() && std::all_of(s->begin(), s->end(), [](char ch) {
          return static_cast<unsigned char>(ch) > 0x20 && ch != 0x7f && ch != ';';
        });
        if (ok) {
          out = *s;
        } else {
          v.fail(path, value, expected + " (no spaces, ';' or control characters)");
        }
      }
    };
    if (const Json* map = find(*h, "map")) {
      name("router.haproxy.map", *map, "the map file's path as haproxy.cfg names it", hp.map);
    }
    if (const Json* key = find(*h, "map_key")) {
      name("router.haproxy.map_key", *key, "the map key whose value is the live backend",
           hp.map_key);
    }
    if (const Json* b = find(*h, "backends")) {
      if (v.object("router.haproxy.backends", *b, kColourKeys)) {
        for (Colour col : {Colour::kBlue, Colour::kGreen}) {
          const std::string path = std::string("router.haproxy.backends.") + to_string(col);
          if (const Json* n = find(*b, to_string(col))) {
            name(path, *n, "a backend name",
                 col == Colour::kBlue ? hp.blue_backend : hp.green_backend);
          } else {
            v.missing(path, "the backend whose servers are the hosts' " +
                                std::string(to_string(col)) + " ports");
          }
        }
      }
    }
    if (const Json* p = find(*h, "persist_map")) {
      if (auto b = v.boolean("router.haproxy.persist_map", *p)) {
        hp.persist_map = *b;
      }
    }
    if (const Json* b = find(*h, "backend")) {
      name("router.haproxy.backend", *b, "a backend name", hp.backend);
    }
    r.haproxy = std::move(hp);
  }
  if (c != nullptr) {
    constexpr const char* kExpected =
        "a list of arguments, or one non-empty string (run as /bin/sh -c \"...\")";
    CommandRouter cmd;
    if (c->is_string() && !c->get<std::string>().empty()) {
      cmd.run = {"/bin/sh", "-c", c->get<std::string>()};
    } else if (c->is_array() && !c->empty()) {
      for (size_t i = 0; i < c->size(); ++i) {
        if (auto s = v.text(index_path("router.command", i), (*c)[i])) {
          cmd.run.push_back(*s);
        }
      }
    } else {
      v.fail("router.command", *c, kExpected);
    }
    r.command = std::move(cmd);
  }
  if (const Json* d = find(j, "drain_timeout")) {
    if (auto ms = v.duration("router.drain_timeout", *d)) {
      r.drain_timeout = *ms;
    }
  }
  if (const Json* t = find(j, "timeout")) {
    if (auto ms = v.duration("router.timeout", *t)) {
      if (ms->count() > 0) {
        r.timeout = *ms;
      } else {
        v.fail("router.timeout", *t, "a duration above zero");
      }
    }
  }
  m.router = std::move(r);
}

// Rules that span sections: what blue-green and start-first need from the container, health
// and router sections. Runs only when every section parsed, so the fields are meaningful.
void check_strategy(Validator& v, const Json& doc, Manifest& m) {
  const Strategy& s = m.strategy;
  const std::string mode = s.blue_green() ? "blue-green" : "order: start-first";
  if (s.two_slots()) {
    if (!s.ports) {
      v.missing("strategy.ports",
                "{blue: PORT, green: PORT}: the host ports of the two containers " + mode +
                    " runs side by side");
    }
    if (m.container.ports.size() != 1) {
      v.add("container.ports",
            fmt::format("got {} port mapping(s): {} needs exactly one, the port the router sends "
                        "traffic to (two containers cannot publish the same other host ports)",
                        m.container.ports.size(), mode));
    } else if (s.ports && m.container.ports[0].host_port != s.ports->blue) {
      v.add("strategy.ports.blue",
            fmt::format("got {}: expected {}, the host port of container.ports[0] (blue is that "
                        "port, green the alternate)",
                        s.ports->blue, m.container.ports[0].host_port));
    }
    if (s.ports) {
      if (m.health.http && m.health.http->port != s.ports->blue) {
        v.add("health.http.port",
              fmt::format("got {}: expected {} (strategy.ports.blue); with {} each colour is "
                          "probed on its own port",
                          m.health.http->port, s.ports->blue, mode));
      }
      if (m.health.tcp && m.health.tcp->port != s.ports->blue) {
        v.add("health.tcp.port",
              fmt::format("got {}: expected {} (strategy.ports.blue); with {} each colour is "
                          "probed on its own port",
                          m.health.tcp->port, s.ports->blue, mode));
      }
    }
    if (!m.router) {
      v.missing("router", "a router section: " + mode + " moves traffic between two containers");
    }
    if (m.keep < 2) {
      v.add("keep", fmt::format("got {}: expected at least 2 with {} (the live container and the "
                                "other colour)",
                                m.keep, mode));
    }
  } else if (s.ports) {
    v.add("strategy.ports",
          "only used by strategy.type blue-green and strategy.order start-first; remove it");
  }
  if (s.blue_green() && find(doc["strategy"], "batch_size") != nullptr) {
    v.add("strategy.batch_size", "not used by blue-green, which switches the whole fleet at once");
  }
  if (s.blue_green() && find(doc["strategy"], "order") != nullptr) {
    v.add("strategy.order", "not used by blue-green (green always starts beside blue)");
  }
  if (!m.router || !m.router->haproxy) {
    return;
  }
  HaproxyRouter& hp = *m.router->haproxy;
  if (hp.persist_map && !s.blue_green()) {
    v.add("router.haproxy.persist_map", "only used by strategy.type blue-green; remove it");
  } else if (hp.persist_map && !hp.map.empty() && hp.map.front() != '/') {
    v.add("router.haproxy.persist_map",
          "got true with map " + quote(hp.map) +
              ": expected an absolute map path, the file rollgate rewrites after each switch");
  }
  if (s.blue_green()) {
    if (hp.map.empty()) {
      v.missing("router.haproxy.map",
                "with blue-green, the map whose entry names the live backend");
    }
    if (hp.blue_backend.empty() || hp.green_backend.empty()) {
      v.missing("router.haproxy.backends", "with blue-green, {blue: BACKEND, green: BACKEND}");
    }
    if (hp.map_key.empty()) {
      hp.map_key = m.app;
    }
  } else if (hp.backend.empty()) {
    v.missing("router.haproxy.backend",
              "with a rolling update, the backend whose servers are the hosts (named after them)");
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

void read_string_map(Validator& v, const std::string& path, const Json& j,
                     std::map<std::string, std::string>& out, bool labels) {
  if (!j.is_object()) {
    v.fail(path, j, "a map of names to strings");
    return;
  }
  for (const auto& [key, value] : j.items()) {
    std::string p = key_path(path, key);
    if (key.empty()) {
      v.add(p, "the name is empty");
      continue;
    }
    if (!labels && key.find('=') != std::string::npos) {
      v.add(p, "got " + quote(key) + ": an environment variable name cannot contain '='");
      continue;
    }
    if (labels &&
        std::string_view(key).substr(0, kReservedLabelPrefix.size()) == kReservedLabelPrefix) {
      v.add(p, "got " + quote(key) +
                   ": the \"rollgate.\" prefix is reserved for the labels rollgate sets itself");
      continue;
    }
    if (auto s = v.text(p, value)) {
      out[key] = *s;
    }
  }
}

void read_container(Validator& v, const Json& j, Container& out) {
  if (!v.object("container", j, kContainerKeys)) {
    return;
  }
  if (const Json* ports = find(j, "ports")) {
    constexpr const char* kExpected =
        "\"host:container\" or \"host:container/udp\" with ports 1-65535, e.g. \"8080:80\"";
    if (!ports->is_array()) {
      v.fail("container.ports", *ports, std::string("a list of ") + kExpected);
    } else {
      std::map<std::pair<uint16_t, std::string>, size_t> used;
      for (size_t i = 0; i < ports->size(); ++i) {
        std::string p = index_path("container.ports", i);
        const Json& item = (*ports)[i];
        auto s = v.string(p, item, kExpected);
        if (!s) {
          continue;
        }
        auto m = parse_port_mapping(*s);
        if (!m) {
          v.fail(p, item, kExpected);
          continue;
        }
        auto [it, inserted] = used.emplace(std::make_pair(m->host_port, m->protocol), i);
        if (!inserted) {
          v.fail(p, item,
                 "a host port not used twice; " + std::to_string(m->host_port) + "/" + m->protocol +
                     " is already published by " + index_path("container.ports", it->second));
          continue;
        }
        out.ports.push_back(*m);
      }
    }
  }
  if (const Json* env = find(j, "env")) {
    read_string_map(v, "container.env", *env, out.env, false);
  }
  if (const Json* labels = find(j, "labels")) {
    read_string_map(v, "container.labels", *labels, out.labels, true);
  }
  if (const Json* cmd = find(j, "command")) {
    constexpr const char* kExpected =
        "a list of arguments, or one non-empty string (run as /bin/sh -c \"...\")";
    if (cmd->is_string()) {
      // One string is a shell command line, as in a Dockerfile's shell form: we do not split
      // it ourselves, the shell does, so quoting and pipes behave as the user expects.
      if (cmd->get<std::string>().empty()) {
        v.fail("container.command", *cmd, kExpected);
      } else {
        out.command = {"/bin/sh", "-c", cmd->get<std::string>()};
      }
    } else if (cmd->is_array()) {
      for (size_t i = 0; i < cmd->size(); ++i) {
        if (auto s = v.text(index_path("container.command", i), (*cmd)[i])) {
          out.command.push_back(*s);
        }
      }
    } else {
      v.fail("container.command", *cmd, kExpected);
    }
  }
  if (const Json* r = find(j, "restart")) {
    constexpr const char* kExpected = "one of no, always, unless-stopped, on-failure, on-failure:N";
    if (auto s = v.string("container.restart", *r, kExpected)) {
      if (valid_restart(*s)) {
        out.restart = *s;
      } else {
        v.fail("container.restart", *r, kExpected);
      }
    }
  }
  if (const Json* t = find(j, "stop_timeout")) {
    if (auto d = v.duration("container.stop_timeout", *t)) {
      out.stop_timeout = *d;
    }
  }
}

void read_strategy(Validator& v, const Json& j, Strategy& out) {
  if (!v.object("strategy", j, kStrategyKeys)) {
    return;
  }
  if (const Json* t = find(j, "type")) {
    constexpr const char* kExpected = "\"rolling\" or \"blue-green\"";
    if (auto s = v.string("strategy.type", *t, kExpected)) {
      if (*s == "rolling" || *s == "blue-green") {
        out.type = *s;
      } else {
        v.fail("strategy.type", *t, kExpected);
      }
    }
  }
  if (const Json* o = find(j, "order")) {
    constexpr const char* kExpected = "\"stop-first\" or \"start-first\"";
    if (auto s = v.string("strategy.order", *o, kExpected)) {
      if (*s == "stop-first") {
        out.order = Order::kStopFirst;
      } else if (*s == "start-first") {
        out.order = Order::kStartFirst;
      } else {
        v.fail("strategy.order", *o, kExpected);
      }
    }
  }
  if (const Json* p = find(j, "ports")) {
    if (v.object("strategy.ports", *p, kColourKeys)) {
      ColourPorts ports;
      bool ok = true;
      for (Colour c : {Colour::kBlue, Colour::kGreen}) {
        const std::string path = std::string("strategy.ports.") + to_string(c);
        const Json* n = find(*p, to_string(c));
        if (n == nullptr) {
          v.missing(path, kPortExpected);
          ok = false;
        } else if (auto port = v.integer(path, *n, 1, 65535, kPortExpected)) {
          (c == Colour::kBlue ? ports.blue : ports.green) = static_cast<uint16_t>(*port);
        } else {
          ok = false;
        }
      }
      if (ok && ports.blue == ports.green) {
        v.fail("strategy.ports.green", *find(*p, "green"),
               "a port different from strategy.ports.blue: both colours run at once");
        ok = false;
      }
      if (ok) {
        out.ports = ports;
      }
    }
  }
  if (const Json* b = find(j, "batch_size")) {
    constexpr const char* kExpected =
        "a positive number of hosts, or a percentage of the fleet like \"25%\" (1%-100%)";
    if (b->is_string()) {
      std::string s = b->get<std::string>();
      auto n = s.size() > 1 && s.back() == '%'
                   ? small_uint(std::string_view(s).substr(0, s.size() - 1))
                   : std::nullopt;
      if (n && *n >= 1 && *n <= 100) {
        out.batch_size = BatchSize{*n, true};
      } else {
        v.fail("strategy.batch_size", *b, kExpected);
      }
    } else if (auto n = v.integer("strategy.batch_size", *b, 1, std::numeric_limits<int>::max(),
                                  kExpected)) {
      out.batch_size = BatchSize{*n, false};
    }
  }
}

void read_http(Validator& v, const Json& j, HttpCheck& out) {
  if (!v.object("health.http", j, kHttpKeys)) {
    return;
  }
  if (const Json* port = find(j, "port")) {
    if (auto n = v.integer("health.http.port", *port, 1, 65535, kPortExpected)) {
      out.port = static_cast<uint16_t>(*n);
    }
  } else {
    v.missing("health.http.port", kPortExpected);
  }
  if (const Json* path = find(j, "path")) {
    constexpr const char* kExpected = "a URL path starting with '/', e.g. \"/healthz\"";
    if (auto s = v.string("health.http.path", *path, kExpected)) {
      bool ok = !s->empty() && s->front() == '/' && std::none_of(s->begin(), s->end(), [](char c) {
        return std::isspace(static_cast<unsigned char>(c)) ||
               std::iscntrl(static_cast<unsigned char>(c));
      });
      if (ok) {
        out.path = *s;
      } else {
        v.fail("health.http.path", *path, kExpected);
      }
    }
  }
  if (const Json* expect = find(j, "expect_status")) {
    constexpr const char* kExpected = "an HTTP status 100-599, or a non-empty list of them";
    if (expect->is_array()) {
      if (expect->empty()) {
        v.fail("health.http.expect_status", *expect, kExpected);
      } else {
        out.expect_status.clear();
        for (size_t i = 0; i < expect->size(); ++i) {
          if (auto n = v.integer(index_path("health.http.expect_status", i), (*expect)[i], 100, 599,
                                 "an HTTP status 100-599")) {
            out.expect_status.push_back(*n);
          }
        }
      }
    } else if (auto n = v.integer("health.http.expect_status", *expect, 100, 599, kExpected)) {
      out.expect_status = {*n};
    }
  }
  if (const Json* scheme = find(j, "scheme")) {
    constexpr const char* kExpected = "\"http\" or \"https\"";
    if (auto s = v.string("health.http.scheme", *scheme, kExpected)) {
      if (*s == "http" || *s == "https") {
        out.scheme = *s;
      } else {
        v.fail("health.http.scheme", *scheme, kExpected);
      }
    }
  }
  if (const Json* text = find(j, "body_contains")) {
    constexpr const char* kExpected = "a non-empty string the response body must contain";
    if (auto s = v.string("health.http.body_contains", *text, kExpected)) {
      if (s->empty()) {
        v.fail("health.http.body_contains", *text, kExpected);
      } else {
        out.body_contains = *s;
      }
    }
  }
  if (const Json* latency = find(j, "max_latency")) {
    // Checked against health.timeout by read_health, once that is known.
    if (auto d = v.duration("health.http.max_latency", *latency)) {
      if (d->count() <= 0) {
        v.fail("health.http.max_latency", *latency, "a duration greater than 0, e.g. \"500ms\"");
      } else {
        out.max_latency = *d;
      }
    }
  }
  if (const Json* skip = find(j, "tls_skip_verify")) {
    if (auto b = v.boolean("health.http.tls_skip_verify", *skip)) {
      // Skipping verification on plain HTTP means nothing; saying so catches a forgotten scheme.
      if (*b && out.scheme != "https") {
        v.fail("health.http.tls_skip_verify", *skip,
               "false or absent unless health.http.scheme is \"https\"");
      } else {
        out.tls_skip_verify = *b;
      }
    }
  }
}

void read_tcp(Validator& v, const Json& j, TcpCheck& out) {
  if (!v.object("health.tcp", j, kTcpKeys)) {
    return;
  }
  if (const Json* port = find(j, "port")) {
    if (auto n = v.integer("health.tcp.port", *port, 1, 65535, kPortExpected)) {
      out.port = static_cast<uint16_t>(*n);
    }
  } else {
    v.missing("health.tcp.port", kPortExpected);
  }
}

void read_exec(Validator& v, const Json& j, ExecCheck& out) {
  if (!v.object("health.exec", j, kExecKeys)) {
    return;
  }
  constexpr const char* kExpected =
      "a non-empty list of arguments, or one non-empty string (run as /bin/sh -c \"...\")";
  const Json* cmd = find(j, "command");
  if (!cmd) {
    v.missing("health.exec.command", kExpected);
    return;
  }
  if (cmd->is_string()) {
    // As for container.command: the shell splits a string, so quoting and pipes work.
    if (cmd->get<std::string>().empty()) {
      v.fail("health.exec.command", *cmd, kExpected);
    } else {
      out.command = {"/bin/sh", "-c", cmd->get<std::string>()};
    }
  } else if (cmd->is_array() && !cmd->empty()) {
    for (size_t i = 0; i < cmd->size(); ++i) {
      if (auto s = v.text(index_path("health.exec.command", i), (*cmd)[i])) {
        out.command.push_back(*s);
      }
    }
    // The first argument is the program: an empty one cannot be run.
    if (!out.command.empty() && out.command.front().empty() && (*cmd)[0].is_string()) {
      v.fail(index_path("health.exec.command", 0), (*cmd)[0], "a program name or path");
    }
  } else {
    v.fail("health.exec.command", *cmd, kExpected);
  }
}

void read_health(Validator& v, const Json& j, Health& out) {
  if (!v.object("health", j, kHealthKeys)) {
    return;
  }
  if (const Json* http = find(j, "http")) {
    HttpCheck check;
    read_http(v, *http, check);
    out.http = check;
  }
  if (const Json* tcp = find(j, "tcp")) {
    TcpCheck check;
    read_tcp(v, *tcp, check);
    out.tcp = check;
  }
  if (const Json* exec = find(j, "exec")) {
    ExecCheck check;
    read_exec(v, *exec, check);
    out.exec = check;
  }
  if (const Json* d = find(j, "docker_health")) {
    if (auto b = v.boolean("health.docker_health", *d)) {
      out.docker_health = *b;
    }
  }
  struct DurationField {
    std::string_view key;
    Millis* target;
    bool positive;
  };
  const DurationField durations[] = {
      {"interval", &out.interval, true},
      {"timeout", &out.timeout, true},
      {"healthy_deadline", &out.healthy_deadline, true},
      {"min_healthy_time", &out.min_healthy_time, false},
  };
  bool deadline_ok = true;
  bool timeout_ok = true;
  bool min_time_given = false;
  for (const auto& f : durations) {
    const Json* value = find(j, f.key);
    if (!value) {
      continue;
    }
    std::string p = key_path("health", f.key);
    auto d = v.duration(p, *value);
    if (!d) {
      deadline_ok = deadline_ok && f.key != "healthy_deadline";
      timeout_ok = timeout_ok && f.key != "timeout";
      continue;
    }
    if (f.positive && d->count() <= 0) {
      v.fail(p, *value, "a duration greater than 0, e.g. \"2s\"");
      deadline_ok = deadline_ok && f.key != "healthy_deadline";
      timeout_ok = timeout_ok && f.key != "timeout";
      continue;
    }
    *f.target = *d;
    min_time_given = min_time_given || f.key == "min_healthy_time";
  }
  // A container must stay passing for min_healthy_time before it counts as healthy, and it must
  // be healthy within healthy_deadline, so a min_healthy_time that is not shorter than the
  // deadline can never be met.
  if (min_time_given && deadline_ok && out.min_healthy_time >= out.healthy_deadline) {
    v.fail("health.min_healthy_time", j.at("min_healthy_time"),
           "a duration shorter than health.healthy_deadline (" +
               format_duration(out.healthy_deadline) + ")");
  }
  if (const Json* t = find(j, "healthy_threshold")) {
    if (auto n = v.integer("health.healthy_threshold", *t, 1, std::numeric_limits<int>::max(),
                           "an integer >= 1")) {
      out.healthy_threshold = *n;
    }
  }
  if (const Json* t = find(j, "unhealthy_threshold")) {
    if (auto n = v.integer("health.unhealthy_threshold", *t, 1, std::numeric_limits<int>::max(),
                           "an integer >= 1")) {
      out.unhealthy_threshold = *n;
    }
  }
  // Each probe gives up at health.timeout, so a max_latency at or past it could never fire.
  if (out.http && out.http->max_latency && timeout_ok && *out.http->max_latency >= out.timeout) {
    v.fail("health.http.max_latency", j.at("http").at("max_latency"),
           "a duration shorter than health.timeout (" + format_duration(out.timeout) + ")");
    out.http->max_latency.reset();
  }
  if (const Json* r = find(j, "max_failure_ratio")) {
    constexpr const char* kExpected =
        "a number from 0 to 1: the fraction of hosts that may fail, e.g. 0.25";
    // YAML floats reach us as their text (resolve_plain_scalar keeps them), JSON ones as numbers.
    std::optional<double> ratio;
    if (r->is_number()) {
      ratio = r->get<double>();
    } else if (r->is_string()) {
      const std::string& text = r->get_ref<const std::string&>();
      double d = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
      if (!text.empty() && ec == std::errc() && end == text.data() + text.size()) {
        ratio = d;
      }
    }
    // The comparisons are false for NaN, so it is refused too.
    if (ratio && *ratio >= 0.0 && *ratio <= 1.0) {
      out.max_failure_ratio = *ratio;
    } else {
      v.fail("health.max_failure_ratio", *r, kExpected);
    }
  }
  if (const Json* d = find(j, "progress_deadline")) {
    if (auto ms = v.duration("health.progress_deadline", *d)) {
      if (ms->count() <= 0) {
        v.fail("health.progress_deadline", *d, "a duration greater than 0, e.g. \"10m\"");
      } else {
        out.progress_deadline = *ms;
      }
    }
  }
  if (const Json* d = find(j, "bake")) {
    if (auto ms = v.duration("health.bake", *d)) {
      out.bake = *ms;
    }
  }
}

LoadResult validate(const Json& doc) {
  Validator v;
  Manifest m;
  if (doc.is_null()) {
    v.add("", "the manifest is empty: expected a map with at least app, image and hosts");
    return {std::nullopt, std::move(v.errors())};
  }
  if (!v.object("", doc, kTopKeys)) {
    return {std::nullopt, std::move(v.errors())};
  }

  if (const Json* app = find(doc, "app")) {
    if (auto s = v.string("app", *app, kAppExpected)) {
      if (valid_app_name(*s)) {
        m.app = *s;
      } else {
        v.fail("app", *app, kAppExpected);
      }
    }
  } else {
    v.missing("app", kAppExpected);
  }

  constexpr const char* kImageExpected =
      "an image reference like \"registry:5000/team/app:1.2\" or \"app@sha256:<64 hex>\"";
  if (const Json* image = find(doc, "image")) {
    if (auto s = v.string("image", *image, kImageExpected)) {
      auto ref = docker::parse_image_ref(*s);
      if (ref.is_ok()) {
        m.image = *s;
      } else {
        v.fail("image", *image, std::string(kImageExpected) + "; " + ref.status().message());
      }
    }
  } else {
    v.missing("image", kImageExpected);
  }

  if (const Json* hosts = find(doc, "hosts")) {
    read_hosts(v, *hosts, m.hosts);
  } else {
    v.missing("hosts", "a non-empty list of hosts, each a map with name and engine");
  }
  if (const Json* c = find(doc, "container")) {
    read_container(v, *c, m.container);
  }
  if (const Json* s = find(doc, "strategy")) {
    read_strategy(v, *s, m.strategy);
  }
  if (const Json* h = find(doc, "health")) {
    read_health(v, *h, m.health);
  }
  if (const Json* f = find(doc, "on_failure")) {
    constexpr const char* kExpected = "\"rollback\" or \"pause\"";
    if (auto s = v.string("on_failure", *f, kExpected)) {
      if (*s == "rollback") {
        m.on_failure = OnFailure::kRollback;
      } else if (*s == "pause") {
        m.on_failure = OnFailure::kPause;
      } else {
        v.fail("on_failure", *f, kExpected);
      }
    }
  }
  if (const Json* k = find(doc, "keep")) {
    if (auto n = v.integer("keep", *k, 1, std::numeric_limits<int>::max(), "an integer >= 1")) {
      m.keep = *n;
    }
  }
  if (const Json* r = find(doc, "registry_auth")) {
    read_registry_auth(v, *r, m);
  }
  if (const Json* r = find(doc, "router")) {
    read_router(v, *r, m);
  }
  if (v.errors().empty()) {
    check_strategy(v, doc, m);
  }

  if (!v.errors().empty()) {
    return {std::nullopt, std::move(v.errors())};
  }
  return {std::move(m), {}};
}

// ---------------------------------------------------------------------------------------------
// YAML -> JSON.

// Resolves an untagged plain YAML scalar the way the YAML 1.2 core schema does, narrowed to
// what JSON can say without loss: null, true/false, and decimal integers without leading zeros
// become JSON values; everything else (floats, "yes", "0755", "8080:80", huge numbers) stays
// the text the user wrote, so that `VERSION: 1.10` does not become 1.1.
Json resolve_plain_scalar(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") {
    return nullptr;
  }
  if (s == "true" || s == "True" || s == "TRUE") {
    return true;
  }
  if (s == "false" || s == "False" || s == "FALSE") {
    return false;
  }
  std::string_view digits = s;
  if (!digits.empty() && digits.front() == '-') {
    digits.remove_prefix(1);
  }
  if (all_digits(digits) && (digits.size() == 1 || digits.front() != '0')) {
    long long n = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec == std::errc() && end == s.data() + s.size()) {
      return n;
    }
  }
  return s;
}

// True when `s` is well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
// JSON, and so the engine's API, carries only UTF-8: a YAML scalar that is not must be refused
// here, with its path, instead of failing later when the create body is serialised.
bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    int extra = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= s.size()) {
      return false;  // truncated sequence
    }
    for (int k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) {
        return false;
      }
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

class YamlToJson {
 public:
  explicit YamlToJson(std::vector<FieldError>& errors) : errors_(errors) {}

  Json convert(const YAML::Node& node, const std::string& path, int depth) {
    if (stopped_) {
      return nullptr;
    }
    if (depth > kMaxDepth) {
      // The path would be as deep as the problem; name where the nesting starts instead.
      errors_.push_back({"", "the document is nested deeper than " + std::to_string(kMaxDepth) +
                                 " levels (a recursive YAML alias?)"});
      stopped_ = true;
      return nullptr;
    }
    if (++values_ > kMaxValues) {
      errors_.push_back({"", "the document has more than " + std::to_string(kMaxValues) +
                                 " values (runaway YAML aliases?)"});
      stopped_ = true;
      return nullptr;
    }
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        return nullptr;
      case YAML::NodeType::Scalar: {
        if (!valid_utf8(node.Scalar())) {
          errors_.push_back(
              {path, "not valid UTF-8 (line " + std::to_string(node.Mark().line + 1) + ")"});
          return nullptr;
        }
        // "!" marks quoted and block scalars; !!str is an explicit string. Both stay strings.
        const std::string& tag = node.Tag();
        if (tag == "!" || tag == "tag:yaml.org,2002:str") {
          return node.Scalar();
        }
        return resolve_plain_scalar(node.Scalar());
      }
      case YAML::NodeType::Sequence: {
        Json out = Json::array();
        size_t i = 0;
        for (const auto& item : node) {
          out.push_back(convert(item, index_path(path, i++), depth + 1));
        }
        return out;
      }
      case YAML::NodeType::Map: {
        Json out = Json::object();
        for (const auto& kv : node) {
          if (!kv.first.IsScalar()) {
            errors_.push_back({path, "a map key is not a plain string (line " +
                                         std::to_string(kv.first.Mark().line + 1) + ")"});
            continue;
          }
          const std::string& key = kv.first.Scalar();
          if (!valid_utf8(key)) {
            errors_.push_back({path, "a map key is not valid UTF-8 (line " +
                                         std::to_string(kv.first.Mark().line + 1) + ")"});
            continue;
          }
          std::string p = key_path(path, key);
          if (out.contains(key)) {
            errors_.push_back({p, "duplicate key " + quote(key) + " (line " +
                                      std::to_string(kv.first.Mark().line + 1) + ")"});
            continue;
          }
          out[key] = convert(kv.second, p, depth + 1);
        }
        return out;
      }
    }
    return nullptr;
  }

 private:
  std::vector<FieldError>& errors_;
  size_t values_ = 0;
  bool stopped_ = false;
};

std::string at_mark(const YAML::Mark& mark) {
  if (mark.is_null()) {
    return "";
  }
  return " at line " + std::to_string(mark.line + 1) + ", column " +
         std::to_string(mark.column + 1);
}

// Counts the events of one document; nothing else.
struct DocumentCounter final : YAML::EventHandler {
  int events = 0;
  void OnDocumentStart(const YAML::Mark&) override { ++events; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override { ++events; }
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override { ++events; }
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {
    ++events;
  }
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    ++events;
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    ++events;
  }
  void OnMapEnd() override {}
};

std::optional<Json> parse_yaml(const std::string& text, std::vector<FieldError>& errors) {
  try {
    // Count documents with the event parser, stopping at two. yaml-cpp 0.7's LoadAll() loops
    // forever, allocating, on some inputs (e.g. `"",`), so it is never called; a "document"
    // that yields no events is that same malformed input.
    {
      std::istringstream in(text);
      YAML::Parser parser(in);
      DocumentCounter counter;
      int documents = 0;
      while (documents < 2) {
        counter.events = 0;
        if (!parser.HandleNextDocument(counter)) {
          break;
        }
        if (counter.events == 0) {
          errors.push_back({"",
                            "invalid YAML: a document without content (stray quote or "
                            "comma?)"});
          return std::nullopt;
        }
        ++documents;
      }
      if (documents > 1) {
        errors.push_back(
            {"", "expected one YAML document, found 2 or more (remove the extra '---')"});
        return std::nullopt;
      }
      if (documents == 0) {
        return Json(nullptr);
      }
    }
    YamlToJson converter(errors);
    Json doc = converter.convert(YAML::Load(text), "", 0);
    if (!errors.empty()) {
      return std::nullopt;
    }
    return doc;
  } catch (const YAML::DeepRecursion& e) {
    errors.push_back({"", "invalid YAML" + at_mark(e.mark) + ": nested too deeply"});
  } catch (const YAML::Exception& e) {
    errors.push_back({"", "invalid YAML" + at_mark(e.mark) + ": " + e.msg});
  } catch (const std::exception& e) {
    errors.push_back({"", std::string("invalid YAML: ") + e.what()});
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// JSON.

struct TooDeep {};

std::optional<Json> parse_json(const std::string& text, std::vector<FieldError>& errors) {
  // nlohmann keeps the last of duplicate keys silently; this callback tracks where the parser
  // is (the path of the value being read) to report them, and bounds the nesting depth.
  struct Frame {
    bool object;
    std::string key;
    size_t index = 0;
    bool started = false;
    std::set<std::string> keys;
  };
  std::vector<Frame> frames;
  auto path_of = [&frames](size_t n) {
    std::string p;
    for (size_t i = 0; i < n; ++i) {
      p = frames[i].object ? key_path(p, frames[i].key) : index_path(p, frames[i].index);
    }
    return p;
  };
  auto next_item = [&frames] {
    if (!frames.empty() && !frames.back().object) {
      Frame& f = frames.back();
      f.index = f.started ? f.index + 1 : 0;
      f.started = true;
    }
  };
  auto callback = [&](int depth, Json::parse_event_t event, Json& parsed) -> bool {
    if (depth > kMaxDepth) {
      throw TooDeep{};
    }
    switch (event) {
      case Json::parse_event_t::object_start:
      case Json::parse_event_t::array_start:
        next_item();
        frames.push_back({event == Json::parse_event_t::object_start, "", 0, false, {}});
        break;
      case Json::parse_event_t::object_end:
      case Json::parse_event_t::array_end:
        if (!frames.empty()) {
          frames.pop_back();
        }
        break;
      case Json::parse_event_t::key: {
        Frame& f = frames.back();
        f.key = parsed.get<std::string>();
        if (!f.keys.insert(f.key).second) {
          errors.push_back(
              {key_path(path_of(frames.size() - 1), f.key), "duplicate key " + quote(f.key)});
        }
        break;
      }
      case Json::parse_event_t::value:
        next_item();
        break;
    }
    return true;
  };
  try {
    Json doc = Json::parse(text, callback, /*allow_exceptions=*/true, /*ignore_comments=*/false);
    if (!errors.empty()) {
      return std::nullopt;
    }
    return doc;
  } catch (const Json::parse_error& e) {
    // e.byte is the 1-based offset of the character that broke the parse.
    size_t end = std::min<size_t>(e.byte, text.size());
    size_t line = 1;
    size_t column = 1;
    for (size_t i = 0; i + 1 < end; ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    // what() reads "[json.exception.parse_error.101] parse error at line 1, column 5: <detail>".
    std::string what = e.what();
    size_t detail = what.find(": ");
    what = detail == std::string::npos ? what : what.substr(detail + 2);
    errors.push_back({"", "invalid JSON at line " + std::to_string(line) + ", column " +
                              std::to_string(column) + ": " + what});
  } catch (const TooDeep&) {
    errors.push_back(
        {"", "invalid JSON: nested deeper than " + std::to_string(kMaxDepth) + " levels"});
  } catch (const Json::exception& e) {
    // e.g. "[json.exception.out_of_range.406] number overflow parsing '1e999'": drop the id.
    std::string what = e.what();
    size_t id_end = what.find("] ");
    errors.push_back(
        {"", "invalid JSON: " + (id_end == std::string::npos ? what : what.substr(id_end + 2))});
  } catch (const std::exception& e) {
    errors.push_back({"", std::string("invalid JSON: ") + e.what()});
  }
  return std::nullopt;
}

}  // namespace

LoadResult parse_manifest(const std::string& text, Format format) {
  try {
    if (format == Format::kAuto) {
      auto first = std::find_if_not(text.begin(), text.end(), [](char c) {
        return std::isspace(static_cast<unsigned char>(c));
      });
      format = (first != text.end() && *first == '{') ? Format::kJson : Format::kYaml;
    }
    std::vector<FieldError> errors;
    std::optional<Json> doc =
        format == Format::kJson ? parse_json(text, errors) : parse_yaml(text, errors);
    if (!doc) {
      return {std::nullopt, std::move(errors)};
    }
    return validate(*doc);
  } catch (const std::exception& e) {
    // Only reached on a bug or out-of-memory; the promise is still "never throws".
    return {std::nullopt,
            {{"", std::string("internal error while loading the manifest: ") + e.what()}}};
  }
}

LoadResult load_manifest(const std::string& path) {
  auto cannot_read = [&path](int err) {
    return LoadResult{std::nullopt,
                      {{"", "cannot read " + path + ": " + std::string(std::strerror(err))}}};
  };
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return cannot_read(errno);
  }
  std::string text;
  char buf[65536];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    text.append(buf, n);
  }
  int err = std::ferror(f) ? (errno != 0 ? errno : EIO) : 0;
  std::fclose(f);
  if (err != 0) {
    return cannot_read(err);
  }
  bool json = path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0;
  return parse_manifest(text, json ? Format::kJson : Format::kAuto);
}

}  // namespace orch::manifest
