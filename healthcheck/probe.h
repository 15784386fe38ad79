// Probes: async checks of one container, run on the caller's io_context.
//
// Probe::run never fails as an error: every outcome is a ProbeResult. Each probe enforces its
// own timeout. ContainerFacts is how container state reaches this module without depending on
// orchestrator/: the orchestrator implements it with its Docker client.
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

struct HttpProbeConfig {
  uint16_t port = 0;
  std::string path = "/";
  std::vector<int> expect_status{200};
  Millis timeout{2000};
};

// GET http://address:port/path (Host header "address:port", "Connection: close"); passes when
// the status is in expect_status. A refused, reset or timed-out connection and an unexpected
// status are kFail; "no route to host", "network unreachable" and an address that does not
// resolve are kUnobservable. `timeout` bounds the whole exchange (connect, send, response
// headers; for an unexpected status also up to 64 KiB of body, quoted in the detail). Details:
// "HTTP 200 in 3ms", "HTTP 503 (expected 200) in 2ms: busy", "connect 10.0.0.1:8080:
// Connection refused", "timed out after 2s (waiting for the response)". latency is measured
// from the start of the probe to the response headers (or to the failure).
// Target.address is an IP literal or a name (names are resolved without a deadline).
// The returned probe holds only its config; run() may be called concurrently.
std::unique_ptr<Probe> make_http_probe(HttpProbeConfig config);

struct TcpProbeConfig {
  uint16_t port = 0;
  Millis timeout{2000};
};

// Passes when a TCP connection to address:port is established within timeout, then closes it.
// Failure classification and details as for the HTTP probe ("TCP connect 10.0.0.1:5432 in
// 1ms" on success).
std::unique_ptr<Probe> make_tcp_probe(TcpProbeConfig config);

}  // namespace health
