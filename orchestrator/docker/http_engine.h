// HttpEngine: docker::Engine over the Engine HTTP API, with Boost.Beast.
//
// Transport: "unix:///path" or "tcp://host:port" (TLS slots into the same stream variant in a
// later change). One connection per call, closed afterwards: engines are few per process and
// calls are seconds apart, so keep-alive would buy little and cost reconnection logic.
// API version: ping() reads the daemon's API-Version; calls are pinned to /v1.41, and an engine
// older than 1.41 is refused with a clear error.
// Deadlines: every call has one (Options); a pull has its own, longer deadline. A stop allows
// the container's stop timeout plus a margin.
// Beast and Asio stay in http_engine.cc; this header only forward-declares io_context.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "orchestrator/core/status.h"
#include "orchestrator/docker/engine.h"
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
};

// Parses "unix:///path" or "tcp://host:port". kInvalidArgument names what was wrong.
Result<Endpoint> parse_endpoint(const std::string& text);

std::unique_ptr<Engine> make_http_engine(boost::asio::io_context& io, std::string host_name,
                                         Endpoint endpoint, HttpEngineOptions options = {});

}  // namespace orch::docker
