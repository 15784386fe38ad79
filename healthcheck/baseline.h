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
Baseline baseline_from(const Observation& obs);

}  // namespace health
