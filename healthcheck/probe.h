// Probes: async checks of one container, run on the caller's io_context.
//
// Probe::run never fails as an error: every outcome is a ProbeResult. Each probe enforces its
// own timeout. ContainerFacts and ContainerExec are how container state and `exec` reach this
// module without depending on orchestrator/: the orchestrator implements them with its Docker
// client (orchestrator/rollout/engine_exec.h).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "healthcheck/observation.h"

namespace health {

struct Target {
  std::string host;          // for messages
  std::string address;       // where to connect
  std::string container_id;  // for container-level probes
  // Non-zero: connect to this port instead of the configured one (the second of two containers
  // side by side on a host publishes the same service on another host port).
  uint16_t port = 0;
  uint16_t port_or(uint16_t configured) const { return port != 0 ? port : configured; }
};

class Probe {
 public:
  virtual ~Probe() = default;
  // REQUIRES: the probe outlives the returned awaitable.
  virtual boost::asio::awaitable<ProbeResult> run(Target target) = 0;
};

// Supplies container status; nullopt when the engine cannot be reached.
class ContainerFacts {
 public:
  virtual ~ContainerFacts() = default;
  virtual boost::asio::awaitable<std::optional<ContainerStatus>> status(Target target) = 0;
};

// Runs a command inside a container. Implemented by the orchestrator over the Docker API.
struct ExecOutcome {
  enum class Kind {
    kExited,       // the command ran to its end; exit_code is set
    kTimedOut,     // it did not finish within the timeout
    kFailed,       // the engine refused (container not running, no such container, ...)
    kUnreachable,  // the engine could not be reached at all
  };
  Kind kind = Kind::kFailed;
  int exit_code = -1;
  std::string output;  // first bytes of stdout+stderr (kExited), for details
  std::string error;   // what went wrong (kTimedOut, kFailed, kUnreachable)
};

class ContainerExec {
 public:
  virtual ~ContainerExec() = default;
  // Runs `cmd` in target.container_id on target.host's engine and waits for it to exit, at most
  // `timeout`. Never throws; every outcome is an ExecOutcome.
  virtual boost::asio::awaitable<ExecOutcome> exec(Target target, std::vector<std::string> cmd,
                                                   Millis timeout) = 0;
};

struct HttpProbeConfig {
  uint16_t port = 0;
  std::string path = "/";
  std::vector<int> expect_status{200};
  Millis timeout{2000};
  std::string scheme = "http";               // "http" or "https"
  std::optional<std::string> body_contains;  // the body must contain this substring
  std::optional<Millis> max_latency;         // slower answers fail
  bool tls_skip_verify = false;              // https: accept any certificate
  bool keep_alive = false;  // reuse a connection per address:port while it stays open
};

// GET http(s)://address:port/path (Host header "address:port", "Connection: close"); passes when
// the status is in expect_status. A refused, reset or timed-out connection and an unexpected
// status are kFail; "no route to host", "network unreachable" and an address that does not
// resolve are kUnobservable. `timeout` bounds the whole exchange (connect, send, response
// headers; for an unexpected status also up to 64 KiB of body, quoted in the detail). Details:
// "HTTP 200 in 3ms", "HTTP 503 (expected 200) in 2ms: busy", "connect 10.0.0.1:8080:
// Connection refused", "timed out after 2s (waiting for the response)". latency is measured
// from the start of the probe to the response headers (or to the failure).
// Target.address is an IP literal or a name (names are resolved without a deadline).
//
// With body_contains, a response with an expected status must also carry the substring within
// the first 64 KiB of its body ("HTTP 200 in 3ms but the body does not contain \"ok\"");
// the body is then read within the same timeout. With max_latency, an otherwise passing
// answer slower than it fails: "HTTP 200 in 850ms exceeds max_latency 500ms".
// scheme "https" does a TLS handshake (SNI set to the address when it is a name) and, unless
// tls_skip_verify, verifies the certificate against the system CAs and the address (host name
// or IP); a failed handshake or verification is kFail ("TLS handshake with 10.0.0.1:8443:
// certificate verify failed").
// keep_alive (off by default): the request omits "Connection: close"; a connection whose
// answer was read to its end and allows reuse is kept, at most two per address:port, and the
// next probe of that address:port is sent on it if the app has not closed it meanwhile (a
// non-blocking peek). A kept connection the app closes while the probe is sent counts for
// nothing: the probe goes again on a new connection, within the same timeout. So a container
// that died still fails with "Connection refused"; what a reused connection cannot show is the
// cost of a new one (a full accept queue, a slow handshake).
// The returned probe holds its config, a TLS context and, with keep_alive, its idle
// connections; run() may be called concurrently on one thread.
std::unique_ptr<Probe> make_http_probe(HttpProbeConfig config);

struct TcpProbeConfig {
  uint16_t port = 0;
  Millis timeout{2000};
};

// Passes when a TCP connection to address:port is established within timeout, then closes it.
// Failure classification and details as for the HTTP probe ("TCP connect 10.0.0.1:5432 in
// 1ms" on success).
std::unique_ptr<Probe> make_tcp_probe(TcpProbeConfig config);

struct ExecProbeConfig {
  std::vector<std::string> command;  // argv, run without a shell unless it names one
  Millis timeout{2000};
};

// Runs `command` in the target's container through `exec`; exit code 0 passes. A non-zero exit
// code or timeout is kFail ("exec exited with code 1 in 12ms: <first output line>", "exec timed
// out after 2s"), and so is an engine refusal such as a stopped container; an unreachable
// engine is kUnobservable. REQUIRES: `exec` outlives the probe.
std::unique_ptr<Probe> make_exec_probe(ExecProbeConfig config, ContainerExec& exec);

}  // namespace health
