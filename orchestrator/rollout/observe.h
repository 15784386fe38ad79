// rollout::list_app: what every engine reports about the app, read concurrently. Shared by the
// read-only APIs the CLI and the server call (fleet status, rollback-revision selection).
#pragma once

#include <string>
#include <vector>

#include "orchestrator/core/clock.h"
#include "orchestrator/core/status.h"
#include "orchestrator/docker/types.h"
#include "orchestrator/rollout/controller.h"

namespace orch::rollout {

// Per binding, in binding order: the containers labelled rollgate.app=<app>, or that engine's
// error (with the host named). Engines are borrowed from `bindings` and must outlive the call.
Task<std::vector<Result<std::vector<docker::ContainerSummary>>>> list_app(
    const std::vector<HostBinding>& bindings, std::string app);

}  // namespace orch::rollout
