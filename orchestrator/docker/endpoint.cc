// parse_endpoint and Endpoint::to_string: the two spellings of an engine address rollgate
// accepts, "unix:///absolute/path" and "tcp://host:port" (IPv6 hosts in brackets); and
// resolve_tls_files, which picks a tcp engine's TLS files the way the Docker CLI does.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <string>
#include <string_view>

#include "orchestrator/docker/http_engine.h"
#include "orchestrator/docker/types.h"

namespace orch::docker {
namespace {

constexpr std::string_view kUnixScheme = "unix://";
constexpr std::string_view kTcpScheme = "tcp://";

Status invalid(const std::string& text, const std::string& why) {
  return Status(Code::kInvalidArgument, "engine endpoint \"" + text + "\": " + why);
}

Result<Endpoint> parse_unix(const std::string& text, std::string_view rest) {
  if (rest.empty()) {
    return invalid(text, "empty socket path (expected unix:///path/to/docker.sock)");
  }
  if (rest.front() != '/') {
    return invalid(text, "socket path must be absolute (expected unix:///path/to/docker.sock)");
  }
  if (rest == "/") {
    return invalid(text, "socket path \"/\" is a directory (expected unix:///path/to/docker.sock)");
  }
  Endpoint ep;
  ep.kind = Endpoint::Kind::kUnix;
  ep.path = std::string(rest);
  return ep;
}

Result<Endpoint> parse_tcp(const std::string& text, std::string_view rest) {
  // A single trailing slash ("tcp://h:2375/") is harmless; any other path is a mistake.
  if (!rest.empty() && rest.back() == '/') {
    rest.remove_suffix(1);
  }
  if (rest.find('/') != std::string_view::npos) {
    return invalid(text, "a tcp endpoint takes no path (expected tcp://host:port)");
  }
  std::string_view host;
  std::string_view port_text;
  bool has_port = false;
  const bool bracketed = !rest.empty() && rest.front() == '[';
  if (bracketed) {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) {
      return invalid(text, "unterminated '[' in IPv6 address");
    }
    host = rest.substr(1, close - 1);
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return invalid(text, "unexpected text after ']' (expected tcp://[addr]:port)");
      }
      has_port = true;
      port_text = after.substr(1);
    }
  } else {
    const size_t colon = rest.rfind(':');
    if (colon != std::string_view::npos) {
      if (rest.find(':') != colon) {
        return invalid(text, "IPv6 addresses must be written in brackets, e.g. tcp://[::1]:2375");
      }
      host = rest.substr(0, colon);
      has_port = true;
      port_text = rest.substr(colon + 1);
    } else {
      host = rest;
    }
  }
  if (host.empty()) {
    return invalid(text, "empty host (expected tcp://host:port)");
  }
  // Host names and IPv4 addresses, or an IPv6 address (with an IPv4 tail) in brackets. Anything
  // else, such as a space, "user@" or an IPv6 zone ("%eth0"), would only fail later, when
  // connecting, with a less helpful message.
  const bool host_ok = std::all_of(host.begin(), host.end(), [bracketed](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    if (bracketed) {
      return std::isxdigit(c) || c == ':' || c == '.';
    }
    return std::isalnum(c) || c == '.' || c == '-' || c == '_';
  });
  if (!host_ok && bracketed) {
    return invalid(text, "not an IPv6 address in the brackets (expected tcp://[addr]:port)");
  }
  if (!host_ok) {
    return invalid(text,
                   "the host may contain only letters, digits, '.', '-', '_' (expected "
                   "tcp://host:port)");
  }
  if (!has_port || port_text.empty()) {
    return invalid(
        text, "missing port (expected tcp://host:port, e.g. tcp://" + std::string(host) + ":2375)");
  }
  unsigned port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
      port > 65535) {
    return invalid(text, "bad port \"" + std::string(port_text) + "\" (expected 1-65535)");
  }
  Endpoint ep;
  ep.kind = Endpoint::Kind::kTcp;
  ep.host = std::string(host);
  ep.port = static_cast<uint16_t>(port);
  return ep;
}

}  // namespace

Result<Endpoint> parse_endpoint(const std::string& text) {
  if (text.empty()) {
    return invalid(text, "empty (expected unix:///path or tcp://host:port)");
  }
  std::string_view view = text;
  if (view.starts_with(kUnixScheme)) {
    return parse_unix(text, view.substr(kUnixScheme.size()));
  }
  if (view.starts_with(kTcpScheme)) {
    return parse_tcp(text, view.substr(kTcpScheme.size()));
  }
  const size_t sep = view.find("://");
  if (sep == std::string_view::npos) {
    return invalid(text, "no scheme (expected unix:///path or tcp://host:port)");
  }
  return invalid(
      text, "unknown scheme \"" + std::string(view.substr(0, sep)) + "\" (expected unix or tcp)");
}

TlsFiles resolve_tls_files(const std::string& ca, const std::string& cert, const std::string& key,
                           const std::string& cert_path) {
  if (!ca.empty() || !cert.empty() || !key.empty()) {
    return TlsFiles{ca, cert, key};
  }
  std::string dir = cert_path;
  if (dir.empty()) {
    if (const char* env = std::getenv("DOCKER_CERT_PATH"); env != nullptr && *env != '\0') {
      dir = env;
    } else if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
      dir = std::string(home) + "/.docker";
    } else {
      dir = ".docker";
    }
  }
  if (dir.size() > 1 && dir.back() == '/') {
    dir.pop_back();
  }
  return TlsFiles{dir + "/ca.pem", dir + "/cert.pem", dir + "/key.pem"};
}

std::string Endpoint::to_string() const {
  if (kind == Kind::kUnix) {
    return std::string(kUnixScheme) + path;
  }
  const bool v6 = host.find(':') != std::string::npos;
  return std::string(kTcpScheme) + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace orch::docker
