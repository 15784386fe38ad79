// health::decide: the gate. A pure function from (policy, per-host baseline and verdict, now)
// to a Decision with the rule that fired and a reason a person understands.
//
// The decision table (DESIGN.md), applied to the hosts of the batch in flight:
//   new Healthy                              -> that host is done
//   new Failing, baseline Healthy            -> the new version is worse: on_failure
//                                               (rollback or pause)
//   new Failing, baseline Unhealthy/Absent   -> pause: not worse than before, and the previous
//                                               revision is no rollback target
//   new Unknown                              -> pause: never roll back on missing data
//   new Pending                              -> wait, unless the batch is past
//                                               progress_deadline: then on_failure
//   (new Failing, baseline Unknown          -> pause, rule "baseline-unknown": rollgate cannot
//                                               tell whether the new version is worse)
//   new Failing, baseline Healthy, within   -> that host is reverted and counts against the
//     the failure budget                       budget (rule "within-failure-budget"); the batch
//                                               continues when every other host is healthy
// The budget absorbs a batch's worse-than-baseline hosts only all together: if they do not all
// fit, none is absorbed and on_failure applies.
// Precedence when hosts disagree: rollback > pause > wait > continue. Continue only when every
// host of the batch is Healthy (an empty batch continues). When several rules give the same
// action, the rule reported is the first of: worse-than-baseline, progress-deadline,
// not-worse-than-baseline, baseline-unknown, unobservable, pending, all-healthy. The reason
// names every host that contributed to a pause or rollback (or, for wait, every pending host).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "healthcheck/observation.h"

namespace health {

enum class FailureAction { kRollback, kPause };

struct GatePolicy {
  FailureAction on_failure = FailureAction::kRollback;
  std::optional<Millis> progress_deadline;  // measured by the caller's `elapsed`; nullopt: none
  // The failure budget (max_failure_ratio x hosts of the rollout, rounded down): how many hosts
  // may fail worse-than-baseline over the whole rollout without triggering on_failure. Those
  // hosts are listed in Decision::revert_hosts and the batch continues once every other host is
  // healthy. `failures_so_far` counts hosts already absorbed by earlier batches.
  int failure_budget = 0;
  int failures_so_far = 0;
};

struct HostInput {
  std::string host;
  Baseline baseline = Baseline::kAbsent;
  Verdict verdict = Verdict::kPending;
  std::string reason;  // the tracker's reason line for this host
};

struct Decision {
  enum class Action { kContinue, kWait, kPause, kRollback };
  Action action = Action::kWait;
  std::string rule;  // stable id of the rule that fired: "all-healthy", "worse-than-baseline",
                     // "not-worse-than-baseline", "baseline-unknown", "unobservable",
                     // "progress-deadline", "pending"
  // One line, starting with the action: "rolled back: h2's new container exited with code 1
  // after 2s; h2 was healthy before the rollout". A host's tracker reason is quoted with its
  // leading "<verdict>: " (e.g. "unknown: ") removed.
  std::string reason;
  std::vector<HostInput> hosts;  // the inputs, for the event
  // Hosts whose failure the budget absorbed (rule "within-failure-budget"): the caller puts
  // them back on their previous container and counts them against the budget.
  std::vector<std::string> revert_hosts;
};

// "continue", "wait", "pause", "rollback".
const char* to_string(Decision::Action a);
const char* to_string(FailureAction a);

// elapsed: the time progress_deadline is measured against (the controller passes the time since
// the rollout started; elapsed >= progress_deadline counts as past it). Pure.
Decision decide(const GatePolicy& policy, const std::vector<HostInput>& hosts,
                Millis batch_elapsed);

}  // namespace health
