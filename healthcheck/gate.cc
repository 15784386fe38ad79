#include "healthcheck/gate.h"

#include <algorithm>
#include <utility>

#include "healthcheck/format.h"

namespace health {

namespace {

using Action = Decision::Action;

// Higher is more severe; the batch takes the most severe action of its hosts.
int severity(Action a) {
  switch (a) {
    case Action::kContinue:
      return 0;
    case Action::kWait:
      return 1;
    case Action::kPause:
      return 2;
    case Action::kRollback:
      return 3;
  }
  return 0;
}

// Among rules that give the same action, the lower rank is reported.
const char* const kRuleOrder[] = {
    "worse-than-baseline", "progress-deadline", "not-worse-than-baseline", "baseline-unknown",
    "unobservable",        "pending",           "within-failure-budget",   "all-healthy"};

int rank(const std::string& rule) {
  for (int i = 0; i < static_cast<int>(std::size(kRuleOrder)); ++i) {
    if (rule == kRuleOrder[i]) {
      return i;
    }
  }
  return static_cast<int>(std::size(kRuleOrder));
}

Action failure_action(const GatePolicy& policy) {
  return policy.on_failure == FailureAction::kRollback ? Action::kRollback : Action::kPause;
}

// The tracker's reason without its "<verdict>: " prefix, so it reads inside a sentence.
std::string quoted(const HostInput& h) {
  std::string prefix = std::string(to_string(h.verdict)) + ": ";
  if (h.reason.rfind(prefix, 0) == 0) {
    return h.reason.substr(prefix.size());
  }
  return h.reason.empty() ? std::string("no reason given") : h.reason;
}

struct Judgement {
  Action action = Action::kContinue;
  std::string rule;
  std::string clause;  // the host's part of the reason
};

bool worse_than_baseline(const HostInput& h) {
  return h.verdict == Verdict::kFailing && h.baseline == Baseline::kHealthy;
}

Judgement judge(const GatePolicy& policy, const HostInput& h, Millis batch_elapsed, bool absorbed) {
  const std::string& n = h.host;
  switch (h.verdict) {
    case Verdict::kHealthy:
      return {Action::kContinue, "all-healthy", n};
    case Verdict::kFailing:
      switch (h.baseline) {
        case Baseline::kHealthy:
          if (absorbed) {
            return {Action::kContinue, "within-failure-budget",
                    n + " is reverted (its new container " + quoted(h) +
                        "), within the failure budget"};
          }
          return {
              failure_action(policy), "worse-than-baseline",
              n + "'s new container " + quoted(h) + "; " + n + " was healthy before the rollout"};
        case Baseline::kUnhealthy:
          return {Action::kPause, "not-worse-than-baseline",
                  n + "'s new container failing (" + quoted(h) + "), but " + n +
                      " was already unhealthy before the rollout, so the previous revision is "
                      "no rollback target"};
        case Baseline::kAbsent:
          return {Action::kPause, "not-worse-than-baseline",
                  n + "'s new container failing (" + quoted(h) + "), but " + n +
                      " had no app container before the rollout, so there is no previous "
                      "revision to roll back to"};
        case Baseline::kUnknown:
          return {Action::kPause, "baseline-unknown",
                  n + "'s new container failing (" + quoted(h) + "), but " + n +
                      "'s state before the rollout is unknown, so rollgate cannot tell whether "
                      "the new version is worse"};
      }
      break;
    case Verdict::kUnknown:
      return {Action::kPause, "unobservable", "cannot observe " + n + " (" + quoted(h) + ")"};
    case Verdict::kPending:
      if (policy.progress_deadline && batch_elapsed >= *policy.progress_deadline) {
        return {failure_action(policy), "progress-deadline",
                n + "'s new container still not healthy after progress_deadline " +
                    format_millis(*policy.progress_deadline) + " (" + quoted(h) + ")"};
      }
      return {Action::kWait, "pending", n + " (" + quoted(h) + ")"};
  }
  return {Action::kPause, "unobservable", "cannot judge " + n};
}

const char* action_prefix(Action a) {
  switch (a) {
    case Action::kContinue:
      return "continuing: ";
    case Action::kWait:
      return "waiting: ";
    case Action::kPause:
      return "paused: ";
    case Action::kRollback:
      return "rolled back: ";
  }
  return "";
}

}  // namespace

const char* to_string(Decision::Action a) {
  switch (a) {
    case Action::kContinue:
      return "continue";
    case Action::kWait:
      return "wait";
    case Action::kPause:
      return "pause";
    case Action::kRollback:
      return "rollback";
  }
  return "?";
}

const char* to_string(FailureAction a) {
  switch (a) {
    case FailureAction::kRollback:
      return "rollback";
    case FailureAction::kPause:
      return "pause";
  }
  return "?";
}

Decision decide(const GatePolicy& policy, const std::vector<HostInput>& hosts,
                Millis batch_elapsed) {
  Decision d;
  d.hosts = hosts;
  std::vector<Judgement> judged;
  judged.reserve(hosts.size());
  d.action = Action::kContinue;
  d.rule = "all-healthy";
  // The budget takes the batch's worse-than-baseline hosts together or not at all.
  const int worse =
      static_cast<int>(std::count_if(hosts.begin(), hosts.end(), worse_than_baseline));
  const bool absorb = worse > 0 && policy.failures_so_far + worse <= policy.failure_budget;
  for (const auto& h : hosts) {
    judged.push_back(judge(policy, h, batch_elapsed, absorb));
    if (absorb && worse_than_baseline(h)) {
      d.revert_hosts.push_back(h.host);
    }
    const Judgement& j = judged.back();
    if (severity(j.action) > severity(d.action) ||
        (j.action == d.action && rank(j.rule) < rank(d.rule))) {
      d.action = j.action;
      d.rule = j.rule;
    }
  }

  // A revert only makes sense when the batch moves on; otherwise the budget is left untouched.
  if (d.action != Action::kContinue) {
    d.revert_hosts.clear();
  }

  // Which hosts the reason names: for a pause or rollback, every host with a problem (most
  // severe first, then in batch order); for wait, the pending hosts; for continue, all.
  std::vector<const Judgement*> named;
  for (const auto& j : judged) {
    bool problem = severity(j.action) >= severity(Action::kPause);
    if ((severity(d.action) >= severity(Action::kPause) && problem) || j.action == d.action) {
      named.push_back(&j);
    }
  }
  std::stable_sort(named.begin(), named.end(), [](const Judgement* a, const Judgement* b) {
    return severity(a->action) > severity(b->action);
  });

  d.reason = action_prefix(d.action);
  if (d.action == Action::kContinue) {
    if (hosts.empty()) {
      d.reason += "no hosts in this batch";
      return d;
    }
    if (!d.revert_hosts.empty()) {
      d.rule = "within-failure-budget";
      std::vector<std::string> healthy;
      for (const auto& j : judged) {
        if (j.rule == "within-failure-budget") {
          d.reason +=
              j.clause + " (" +
              std::to_string(policy.failures_so_far + static_cast<int>(d.revert_hosts.size())) +
              " of " + std::to_string(policy.failure_budget) + " allowed); ";
        } else {
          healthy.push_back(j.clause);
        }
      }
      d.reason += healthy.empty() ? "no other host in the batch" : "every other host is healthy";
      return d;
    }
    d.reason += "every host of the batch is healthy (";
    for (size_t i = 0; i < named.size(); ++i) {
      d.reason += (i > 0 ? ", " : "") + named[i]->clause;
    }
    d.reason += ")";
    return d;
  }
  if (d.action == Action::kWait) {
    d.reason += "not healthy yet: ";
  }
  bool unobservable = false;
  for (size_t i = 0; i < named.size(); ++i) {
    d.reason += (i > 0 ? (d.action == Action::kWait ? ", " : "; ") : "") + named[i]->clause;
    unobservable = unobservable || named[i]->rule == "unobservable";
  }
  // Said only when the batch pauses: under a rollback, other hosts' failures decided it.
  if (unobservable && d.action == Action::kPause) {
    d.reason += "; never rolling back on missing data";
  }
  return d;
}

}  // namespace health
