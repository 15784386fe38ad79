#include "orchestrator/rollout/resume.h"

#include <algorithm>

namespace orch::rollout {

bool resumable(const journal::RolloutRecord& r) {
  return r.start && (!r.end || r.end->result == journal::EndResult::kPaused);
}

void prepare_resume(const journal::RolloutRecord& r, ApplyOptions& options) {
  options.image = r.start->pinned;
  options.rollout_id = r.rollout;
  options.resume = ResumeOf{r.rollout, r.start->revision};
  options.baselines.clear();
  options.acted_on.clear();
  for (const auto& h : r.hosts) {
    if (h.baseline) {
      options.baselines[h.host] = *h.baseline;
    }
    if (h.last_intent) {
      options.acted_on.push_back(h.host);
    }
  }
  // A rollback that was decided is finished, never turned back into a rollout: once any
  // decision said rollback (the gates that verify restored hosts decide "continue" after it),
  // the rollout's direction is back. An incomplete rollback ends paused, so it lands here too.
  options.rollback_only =
      std::any_of(r.decisions.begin(), r.decisions.end(),
                  [](const journal::DecisionRecord& d) { return d.action == "rollback"; });
}

}  // namespace orch::rollout
