// Probes and tracker policy for a manifest's health section.
//
// make_probes builds, in this order, the probes a manifest configures: HTTP(S) (`http`), TCP
// (`tcp`) and exec (`exec`). The controller runs all of them each round and a round passes only
// when every one passes (AND). Container state and the Docker HEALTHCHECK are not probes: the
// controller reads them with each round's inspect, and the tracker judges them (to_policy
// carries `docker_health` as Policy::require_docker_healthy).
#pragma once

#include <memory>
#include <vector>

#include "healthcheck/probe.h"
#include "healthcheck/tracker.h"
#include "orchestrator/manifest/manifest.h"

namespace orch::rollout {

// Every probe uses health.timeout as its own timeout.
// REQUIRES: `exec` is non-null when health.exec is set (std::invalid_argument otherwise, a
// wiring bug); it is borrowed and must outlive the returned probes.
std::vector<std::unique_ptr<health::Probe>> make_probes(const manifest::Health& health,
                                                        health::ContainerExec* exec);

// The tracker policy, plus the rollout-level settings (max_failure_ratio, progress_deadline,
// bake) that health::Policy carries for the controller.
health::Policy to_policy(const manifest::Health& health);

}  // namespace orch::rollout
