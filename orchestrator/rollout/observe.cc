#include "orchestrator/rollout/observe.h"

#include "orchestrator/rollout/async.h"
#include "orchestrator/rollout/plan.h"

namespace orch::rollout {

Task<std::vector<Result<std::vector<docker::ContainerSummary>>>> list_app(
    const std::vector<HostBinding>& bindings, std::string app) {
  std::vector<Task<Result<std::vector<docker::ContainerSummary>>>> work;
  for (const auto& b : bindings) {
    work.push_back(b.engine->list_containers({std::string(kLabelApp) + "=" + app}));
  }
  co_return co_await gather(std::move(work));
}

}  // namespace orch::rollout
