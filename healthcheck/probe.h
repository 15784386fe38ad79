// Probes: async checks of one container, run on the caller's io_context.
//
// Probe::run never fails as an error: every outcome is a ProbeResult. Each probe enforces its
// own timeout. ContainerFacts is how container state reaches this module without depending on
// orchestrator/: the orchestrator implements it with its Docker client.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

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

// GET http://address:port/path; passes when the status is in expect_status. A refused or
// timed-out connection is kFail; "no route to host"/"network unreachable" is kUnobservable.
std::unique_ptr<Probe> make_http_probe(HttpProbeConfig config);

}  // namespace health
