#include "orchestrator/rollout/resume.h"

namespace orch::rollout {

bool resumable(const journal::RolloutRecord& r) {
  return r.start && (!r.end || r.end->result == journal::EndResult::kPaused);
}

void prepare_resume(const journal::RolloutRecord& r, ApplyOptions& options) {
  options.image = r.start->pinned;
  options.rollout_id = r.rollout;
  options.resume = ResumeOf{r.rollout, r.start->revision};
  options.baselines.clear();
  for (const auto& h : r.hosts) {
    if (h.baseline) {
      options.baselines[h.host] = *h.baseline;
    }
  }
  // A rollback that was decided but not finished is finished, not turned into a rollout. (A
  // paused end after a rollback decision cannot happen: rollbacks end rolled_back or failed.)
  options.rollback_only = !r.end && !r.decisions.empty() && r.decisions.back().action == "rollback";
}

}  // namespace orch::rollout
