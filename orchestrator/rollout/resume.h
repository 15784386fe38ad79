// Resuming from the journal: which rollout can be continued, and the options that continue it.
//
// The journal supplies intent (the rollout id, its revision and pinned digest, the baselines
// measured before anything changed, and whether a rollback had been decided); the engines
// supply the truth about what runs where, which make_plan(..., ResumeOf) reconciles. So a
// resume after kill -9 at any point re-reads every host and takes each one forward (or back)
// from wherever it was left.
#pragma once

#include "orchestrator/journal/replay.h"
#include "orchestrator/rollout/controller.h"

namespace orch::rollout {

// A rollout that started (its plan is journaled) and either has no end record (interrupted) or
// ended paused.
bool resumable(const journal::RolloutRecord& r);

// Fills `options` to continue `r` under its own id and revision: image = its pinned digest,
// baselines from the journal, and rollback_only when a rollback was decided (finished only when the
// rollout ended rolled_back, which is not resumable).
// REQUIRES: resumable(r).
void prepare_resume(const journal::RolloutRecord& r, ApplyOptions& options);

}  // namespace orch::rollout
