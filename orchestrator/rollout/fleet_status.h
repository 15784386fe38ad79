// rollout::fleet_status: what `rollgate status` (and later GET /status) reports about an app,
// per host: its containers (revision, digest, state), which one serves, that one's health, and
// for blue-green the live colour: the router's answer, else what running_colour() (plan.h)
// finds on the engines. Reads only: lists, inspects and probes; changes nothing, prints nothing.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "healthcheck/observation.h"
#include "healthcheck/probe.h"
#include "orchestrator/core/clock.h"
#include "orchestrator/core/status.h"
#include "orchestrator/docker/types.h"
#include "orchestrator/manifest/manifest.h"
#include "orchestrator/rollout/controller.h"
#include "orchestrator/rollout/plan.h"
#include "orchestrator/router/router.h"

namespace orch::rollout {

struct HostStatus {
  std::string host;
  Status error;  // the engine could not list the app's containers; nothing else is set
  // The app's containers on the host: the live one first, then the others as the engine
  // listed them.
  std::vector<AppContainer> containers;
  std::string live_name;   // the container serving the app here; "" when none can be told
  uint16_t live_port = 0;  // its slot's host port (two-slot strategies), else 0
  // Blue-green and start-first: the colour this host runs, from running_colour() over this host
  // alone; nullopt when it runs both colours or neither.
  std::optional<manifest::Colour> running_colour;
  std::optional<docker::ContainerInfo> live;  // the live container, inspected
  std::vector<health::ProbeResult> probes;    // the manifest's probes against it

  // The live container runs (not restarting) and every probe passed.
  bool healthy() const;
};

struct FleetStatus {
  bool blue_green = false;
  // Blue-green with a router: what it says. routed is nullopt when the router cannot tell
  // (router_error says why when it could not be asked).
  bool router_asked = false;
  std::string router_kind;
  std::optional<manifest::Colour> routed;
  Status router_error;
  // Two-slot strategies: the colour every reachable host runs (running_colour() over the fleet),
  // or why the hosts do not tell one colour (colour_error).
  std::optional<manifest::Colour> running_colour;
  Status colour_error;
  std::vector<HostStatus> hosts;  // in binding order

  // The live colour: the router's answer, else the engines'.
  std::optional<manifest::Colour> live_colour() const { return routed ? routed : running_colour; }
};

// Engines and router are borrowed and must outlive the call; probes run concurrently for
// every host. Never fails as a whole: a host that cannot be listed has its error set.
Task<FleetStatus> fleet_status(const manifest::Manifest& m,
                               const std::vector<HostBinding>& bindings, router::Router* router,
                               const std::vector<std::unique_ptr<health::Probe>>& probes);

}  // namespace orch::rollout
