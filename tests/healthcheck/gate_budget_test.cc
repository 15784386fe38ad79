// max_failure_ratio: the gate's failure budget, table-driven.
#include <catch2/catch.hpp>

#include "healthcheck/gate.h"

namespace health {
namespace {

using Action = Decision::Action;

HostInput host(const std::string& name, Baseline b, Verdict v) {
  return HostInput{name, b, v, std::string(to_string(v)) + ": exited with code 1 after 2s"};
}

TEST_CASE("the failure budget absorbs worse-than-baseline hosts together or not at all",
          "[gate][budget]") {
  struct Case {
    const char* name;
    int budget;
    int so_far;
    std::vector<HostInput> hosts;
    Action action;
    const char* rule;
    std::vector<std::string> reverted;
  };
  const auto H = Baseline::kHealthy;
  auto c = GENERATE_COPY(values<Case>({
      {"no budget: roll back",
       0,
       0,
       {host("h1", H, Verdict::kFailing)},
       Action::kRollback,
       "worse-than-baseline",
       {}},
      {"one failure within a budget of one",
       1,
       0,
       {host("h1", H, Verdict::kFailing), host("h2", H, Verdict::kHealthy)},
       Action::kContinue,
       "within-failure-budget",
       {"h1"}},
      {"the budget is already spent",
       1,
       1,
       {host("h1", H, Verdict::kFailing)},
       Action::kRollback,
       "worse-than-baseline",
       {}},
      {"two failures do not fit a budget of one",
       1,
       0,
       {host("h1", H, Verdict::kFailing), host("h2", H, Verdict::kFailing)},
       Action::kRollback,
       "worse-than-baseline",
       {}},
      {"two failures fit a budget of three with one spent",
       3,
       1,
       {host("h1", H, Verdict::kFailing), host("h2", H, Verdict::kFailing)},
       Action::kContinue,
       "within-failure-budget",
       {"h1", "h2"}},
      {"absorbed, but another host still pending: wait, revert nothing yet",
       1,
       0,
       {host("h1", H, Verdict::kFailing), host("h2", H, Verdict::kPending)},
       Action::kWait,
       "pending",
       {}},
      {"absorbed, but another host unobservable: pause",
       1,
       0,
       {host("h1", H, Verdict::kFailing), host("h2", H, Verdict::kUnknown)},
       Action::kPause,
       "unobservable",
       {}},
      {"the budget never absorbs a host that was unhealthy before",
       5,
       0,
       {host("h1", Baseline::kUnhealthy, Verdict::kFailing)},
       Action::kPause,
       "not-worse-than-baseline",
       {}},
  }));
  CAPTURE(c.name);
  GatePolicy policy;
  policy.failure_budget = c.budget;
  policy.failures_so_far = c.so_far;
  auto d = decide(policy, c.hosts, Millis(1000));
  CHECK(d.action == c.action);
  CHECK(d.rule == c.rule);
  CHECK(d.revert_hosts == c.reverted);
  if (c.action == Action::kContinue) {
    CHECK(d.reason.find("within the failure budget") != std::string::npos);
  }
}

}  // namespace
}  // namespace health
