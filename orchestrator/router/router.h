// router::Router: moves traffic between containers, so that a rollout never sends a request to
// a container that is stopping or not yet proven healthy (docs/blue-green.md).
//
// Two uses, one seam:
//   blue-green  switch_to(colour) sends every new request to that colour's containers on the
//               whole fleet at once; wait_idle(colour) then waits for the requests still in
//               flight on the other colour before rollgate stops it.
//   rolling     drain(host) takes one host's entry out of load balancing and waits for its
//               in-flight requests; enable(host) puts it (back) in. With start-first each host
//               has an entry per colour ("slot"), and the new slot is enabled before the old one
//               is drained.
// Implementations: HAProxy's Runtime API (haproxy.cc) and a user's command (command.cc).
// Every describe_* returns the exact commands the step sends: `plan` prints them, the journal
// records them before they are sent.
//
// Ownership: a Router borrows its Clock. Thread-safety: none; one io_context thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "orchestrator/core/clock.h"
#include "orchestrator/core/status.h"
#include "orchestrator/manifest/manifest.h"

namespace orch::router {

using manifest::Colour;

// Where one host serves one colour: the router's entry for it points here.
struct Endpoint {
  std::string host;     // the manifest host name (HAProxy server names derive from it)
  std::string address;  // the host's probe address
  uint16_t port = 0;
};

// What a drain or idle wait found.
struct Drained {
  bool idle = false;  // true: nothing in flight; false: drain_timeout passed first
  int in_flight = 0;  // requests still in flight when the wait ended
  std::chrono::milliseconds waited{0};
};

class Router {
 public:
  virtual ~Router() = default;

  // "haproxy" or "command", for messages.
  virtual std::string kind() const = 0;

  // Pre-flight: the router answers and is configured for these hosts (HAProxy: the map and
  // backends exist and have a server per host). Changes nothing.
  virtual Task<Status> check(std::vector<std::string> hosts) = 0;

  // Blue-green: the colour that receives traffic now; nullopt when the router cannot tell.
  virtual Task<Result<std::optional<Colour>>> live_colour() = 0;

  // Blue-green: every new request goes to `colour` from now on, on every host at once.
  // `endpoints` are that colour's, one per host.
  virtual Task<Status> switch_to(Colour colour, std::vector<Endpoint> endpoints) = 0;

  // Blue-green: waits until no request is in flight on `colour`, at most drain_timeout.
  virtual Task<Result<Drained>> wait_idle(Colour colour) = 0;

  // Rolling: no new request to this host's entry (its `slot` with start-first, nullopt with
  // stop-first); then waits for its in-flight requests, at most drain_timeout.
  virtual Task<Result<Drained>> drain(Endpoint host, std::optional<Colour> slot) = 0;

  // Rolling: requests go to this host's entry (its `slot`) again, at endpoint's port.
  virtual Task<Status> enable(Endpoint host, std::optional<Colour> slot) = 0;

  virtual std::string describe_switch(Colour colour) const = 0;
  virtual std::string describe_wait_idle(Colour colour) const = 0;
  virtual std::string describe_drain(const std::string& host, std::optional<Colour> slot) const = 0;
  virtual std::string describe_enable(const std::string& host,
                                      std::optional<Colour> slot) const = 0;
};

// The manifest's router. REQUIRES: m.router is set (a validated manifest).
std::unique_ptr<Router> make_router(const manifest::Manifest& m, Clock& clock);

// HAProxy's server name for a host's entry: "<host>" with stop-first, "<host>-<colour>" with
// start-first slots.
std::string server_name(const std::string& host, std::optional<Colour> slot);

}  // namespace orch::router
