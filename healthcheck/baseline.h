// health::baseline_from: a host's state before the rollout touched it, from one Observation of
// the current (old) container. Pure.
#pragma once

#include "healthcheck/observation.h"

namespace health {

// - the container exists == false                          -> kAbsent (first deploy)
// - the round passes (probes pass, container running)      -> kHealthy
// - the round fails (a probe failed, or not running)       -> kUnhealthy
// - otherwise nothing failed but something was unobservable
//   (e.g. engine unreachable and every probe unobservable) -> kUnknown
// An absent container is reported by the orchestrator as ContainerStatus{exists = false}.
// require_docker_healthy: Policy::require_docker_healthy; when set, a container whose Docker
// HEALTHCHECK is not "healthy" fails the round (so the baseline is Unhealthy).
Baseline baseline_from(const Observation& obs, bool require_docker_healthy = false);

}  // namespace health
