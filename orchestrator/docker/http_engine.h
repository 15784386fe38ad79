// HttpEngine: docker::Engine over the Engine HTTP API, with Boost.Beast.
//
// Transport (transport.h, shared with the HAProxy runtime client): "unix:///path",
// "tcp://host:port", or "tcp://host:port" with mutual TLS when the Endpoint carries TlsFiles:
// TLS 1.2 or newer, the engine's certificate verified against TlsFiles::ca and its name (SNI +
// host-name check against the endpoint's host or address), and rollgate's client certificate
// and key presented. The files are read on the first call; a missing or unreadable file is
// kInvalidArgument naming the file and the manifest field, a failed handshake kUnavailable
// with OpenSSL's reason and a hint (see docs/tls.md).
// Connections are kept alive and reused between calls to the same engine (connection_pool.h:
// at most HttpEngineOptions::max_idle idle, each for idle_timeout; a call on a connection the
// engine had closed is retried once when that is safe). Pull streams and attached execs get a
// connection of their own. With TLS, a new connection resumes the last session.
// API version: ping() reads the daemon's API-Version; calls are pinned to /v1.41, and an engine
// older than 1.41 is refused with a clear error.
// Deadlines: every call has one (Options), measured on the injected Clock; a pull has its own,
// longer deadline. A stop allows the container's stop timeout plus a margin. exec() waits for
// the exit code with Clock::sleep_for.
// Beast and Asio stay in the docker/*.cc files; this header only forward-declares io_context.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "orchestrator/core/clock.h"
#include "orchestrator/core/status.h"
#include "orchestrator/docker/engine.h"
#include "orchestrator/docker/registry_auth.h"
#include "orchestrator/docker/types.h"

namespace boost::asio {
class io_context;
}

namespace orch::docker {

struct HttpEngineOptions {
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds call_timeout{30000};   // ordinary calls
  std::chrono::milliseconds pull_timeout{600000};  // a whole pull stream
  std::chrono::milliseconds stop_margin{15000};    // added to a stop's own timeout
  // Credentials sent as X-Registry-Auth on distribution() and pull(); null: anonymous.
  std::shared_ptr<const RegistryAuth> registry_auth;
  // Keep-alive: idle connections kept per engine (0: a new connection per call), and how
  // long one may sit idle before it is closed instead of reused.
  size_t max_idle = 4;
  std::chrono::milliseconds idle_timeout{30000};
};

// The TLS files a host uses, in order: `ca`, `cert`, `key` when given; else ca.pem, cert.pem
// and key.pem in `cert_path`; else in $DOCKER_CERT_PATH; else in ~/.docker (the Docker CLI's
// layout and fallbacks). Paths are used as written (relative ones from the working directory).
TlsFiles resolve_tls_files(const std::string& ca, const std::string& cert, const std::string& key,
                           const std::string& cert_path);

// Parses "unix:///path" or "tcp://host:port" (host a name or IPv4 address of letters, digits,
// '.', '-', '_', or an IPv6 address in brackets; one trailing '/' is allowed). This is the only
// endpoint parser: the manifest validates hosts[].engine and router.haproxy.runtime_api with it.
// Errors: kInvalidArgument, message `engine endpoint "TEXT": REASON`, REASON naming what was
// wrong and what was expected.
Result<Endpoint> parse_endpoint(const std::string& text);

// The Clock is borrowed and must outlive the engine.
std::unique_ptr<Engine> make_http_engine(boost::asio::io_context& io, Clock& clock,
                                         std::string host_name, Endpoint endpoint,
                                         HttpEngineOptions options = {});

// What an engine made by make_http_engine did with its connections so far; nullopt for any
// other Engine (a fake, a wrapper).
std::optional<ConnectionStats> connection_stats(const Engine& engine);

}  // namespace orch::docker
