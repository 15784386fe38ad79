#include "healthcheck/gate.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "healthcheck/tracker.h"

namespace health {
namespace {

using Action = Decision::Action;

HostInput host(std::string name, Baseline b, Verdict v, std::string reason) {
  return HostInput{std::move(name), b, v, std::move(reason)};
}

HostInput healthy(std::string name, Baseline b = Baseline::kHealthy) {
  return host(std::move(name), b, Verdict::kHealthy,
              "healthy: 1 consecutive pass, HTTP 200 in 2ms");
}
HostInput exited(std::string name, Baseline b) {
  return host(std::move(name), b, Verdict::kFailing, "exited with code 1 after 2s");
}
HostInput busy(std::string name, Baseline b) {
  return host(std::move(name), b, Verdict::kFailing,
              "failed 3 consecutive probes after passing: HTTP 503 (expected 200) in 2ms");
}
HostInput dark(std::string name, Baseline b = Baseline::kHealthy) {
  return host(std::move(name), b, Verdict::kUnknown,
              "unknown: engine unreachable and probes unobservable: connect 10.0.0.3:8080: No "
              "route to host");
}
HostInput pending(std::string name, Baseline b = Baseline::kHealthy) {
  return host(std::move(name), b, Verdict::kPending, "pending: 0/2 passes (last: HTTP 503)");
}

GatePolicy rollback_policy(std::optional<int> deadline_ms = std::nullopt) {
  GatePolicy p;
  p.on_failure = FailureAction::kRollback;
  if (deadline_ms) {
    p.progress_deadline = Millis{*deadline_ms};
  }
  return p;
}
GatePolicy pause_policy(std::optional<int> deadline_ms = std::nullopt) {
  GatePolicy p = rollback_policy(deadline_ms);
  p.on_failure = FailureAction::kPause;
  return p;
}

struct Case {
  std::string name;
  GatePolicy policy;
  std::vector<HostInput> hosts;
  int elapsed_ms;
  Action action;
  std::string rule;
  std::vector<std::string> reason_has;
};

TEST_CASE("Gate decisions follow the decision table and precedence", "[gate]") {
  const std::vector<Case> cases = {
      // Row 1: new Healthy -> continue, whatever the baseline.
      {"one healthy host",
       rollback_policy(),
       {healthy("h1")},
       0,
       Action::kContinue,
       "all-healthy",
       {"continuing: every host of the batch is healthy (h1)"}},
      {"healthy over every kind of baseline",
       rollback_policy(),
       {healthy("h1", Baseline::kHealthy), healthy("h2", Baseline::kUnhealthy),
        healthy("h3", Baseline::kAbsent), healthy("h4", Baseline::kUnknown)},
       0,
       Action::kContinue,
       "all-healthy",
       {"(h1, h2, h3, h4)"}},
      {"empty batch continues",
       rollback_policy(),
       {},
       0,
       Action::kContinue,
       "all-healthy",
       {"no hosts"}},
      // Row 2: new Failing, baseline Healthy -> on_failure.
      {"worse than baseline rolls back",
       rollback_policy(),
       {exited("h2", Baseline::kHealthy)},
       0,
       Action::kRollback,
       "worse-than-baseline",
       {"rolled back: h2's new container exited with code 1 after 2s; h2 was healthy before "
        "the rollout"}},
      {"worse than baseline pauses under a pause policy",
       pause_policy(),
       {exited("h2", Baseline::kHealthy)},
       0,
       Action::kPause,
       "worse-than-baseline",
       {"paused: h2's new container exited with code 1 after 2s"}},
      // Row 3: new Failing, baseline Unhealthy/Absent -> pause.
      {"failing but already unhealthy before: pause, no rollback target",
       rollback_policy(),
       {busy("h1", Baseline::kUnhealthy)},
       0,
       Action::kPause,
       "not-worse-than-baseline",
       {"paused: h1's new container failing (failed 3 consecutive probes after passing: HTTP "
        "503 (expected 200) in 2ms), but h1 was already unhealthy before the rollout, so the "
        "previous revision is no rollback target"}},
      {"failing on a first deploy: pause",
       rollback_policy(),
       {exited("h1", Baseline::kAbsent)},
       0,
       Action::kPause,
       "not-worse-than-baseline",
       {"h1 had no app container before the rollout"}},
      {"failing with an unknown baseline: cannot tell if worse, pause",
       rollback_policy(),
       {exited("h1", Baseline::kUnknown)},
       0,
       Action::kPause,
       "baseline-unknown",
       {"paused: h1's new container failing (exited with code 1 after 2s)",
        "cannot tell whether the new version is worse"}},
      // Row 4: new Unknown -> pause, never roll back.
      {"unknown pauses, never rolls back",
       rollback_policy(),
       {dark("h3")},
       0,
       Action::kPause,
       "unobservable",
       {"paused: cannot observe h3 (engine unreachable and probes unobservable: connect "
        "10.0.0.3:8080: No route to host); never rolling back on missing data"}},
      // Row 5: Pending -> wait; past progress_deadline -> on_failure.
      {"pending waits",
       rollback_policy(60000),
       {healthy("h1"), pending("h2")},
       10000,
       Action::kWait,
       "pending",
       {"waiting: not healthy yet: h2 (0/2 passes (last: HTTP 503))"}},
      {"pending without a progress_deadline waits forever",
       rollback_policy(),
       {pending("h2")},
       100000000,
       Action::kWait,
       "pending",
       {"h2"}},
      {"pending just below progress_deadline waits",
       rollback_policy(60000),
       {pending("h2")},
       59999,
       Action::kWait,
       "pending",
       {"h2"}},
      {"pending at progress_deadline rolls back",
       rollback_policy(60000),
       {pending("h2")},
       60000,
       Action::kRollback,
       "progress-deadline",
       {"rolled back: h2's new container still not healthy after progress_deadline 1m (0/2 "
        "passes"}},
      {"pending past progress_deadline pauses under a pause policy",
       pause_policy(60000),
       {pending("h2")},
       61000,
       Action::kPause,
       "progress-deadline",
       {"paused: h2's new container still not healthy after progress_deadline 1m"}},
      // Precedence: rollback > pause > wait > continue.
      {"rollback beats pause, and both hosts are named",
       rollback_policy(),
       {dark("h1"), exited("h2", Baseline::kHealthy)},
       0,
       Action::kRollback,
       "worse-than-baseline",
       {"rolled back: h2's new container exited", "; cannot observe h1 ("}},
      {"rollback beats wait and continue",
       rollback_policy(60000),
       {healthy("h1"), pending("h2"), busy("h3", Baseline::kHealthy)},
       0,
       Action::kRollback,
       "worse-than-baseline",
       {"h3's new container failed 3 consecutive probes"}},
      {"pause beats wait",
       rollback_policy(60000),
       {pending("h1"), dark("h2")},
       0,
       Action::kPause,
       "unobservable",
       {"cannot observe h2"}},
      {"pause beats continue",
       rollback_policy(),
       {healthy("h1"), busy("h2", Baseline::kAbsent)},
       0,
       Action::kPause,
       "not-worse-than-baseline",
       {"h2's new container failing"}},
      {"wait beats continue",
       rollback_policy(),
       {healthy("h1"), pending("h2")},
       0,
       Action::kWait,
       "pending",
       {"h2"}},
      {"several failing hosts are all named",
       rollback_policy(),
       {exited("h1", Baseline::kHealthy), healthy("h2"), busy("h3", Baseline::kHealthy)},
       0,
       Action::kRollback,
       "worse-than-baseline",
       {"h1's new container exited with code 1 after 2s; h1 was healthy before the rollout; "
        "h3's new container failed 3 consecutive probes"}},
      {"several pending hosts are all named",
       rollback_policy(),
       {pending("h1"), pending("h2")},
       0,
       Action::kWait,
       "pending",
       {"h1 (", ", h2 ("}},
      {"pause policy: worse-than-baseline outranks other pause rules",
       pause_policy(),
       {dark("h1"), busy("h2", Baseline::kUnhealthy), exited("h3", Baseline::kHealthy)},
       0,
       Action::kPause,
       "worse-than-baseline",
       {"h1", "h2", "h3"}},
      {"progress-deadline outranks not-worse-than-baseline under a pause policy",
       pause_policy(1000),
       {busy("h1", Baseline::kAbsent), pending("h2")},
       1000,
       Action::kPause,
       "progress-deadline",
       {"h1", "h2"}},
      {"progress-deadline rollback beats an unobservable pause",
       rollback_policy(1000),
       {dark("h1"), pending("h2")},
       1000,
       Action::kRollback,
       "progress-deadline",
       {"rolled back: h2's new container still not healthy", "cannot observe h1"}},
      {"not-worse outranks baseline-unknown, which outranks unobservable",
       rollback_policy(),
       {dark("h1"), exited("h2", Baseline::kUnknown), busy("h3", Baseline::kUnhealthy)},
       0,
       Action::kPause,
       "not-worse-than-baseline",
       {"h1", "h2", "h3"}},
      {"baseline-unknown outranks unobservable",
       rollback_policy(),
       {dark("h1"), exited("h2", Baseline::kUnknown)},
       0,
       Action::kPause,
       "baseline-unknown",
       {"h1", "h2"}},
  };

  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.name) {
      Decision d = decide(c.policy, c.hosts, Millis{c.elapsed_ms});
      INFO(d.reason);
      CHECK(std::string(to_string(d.action)) == to_string(c.action));
      CHECK(d.rule == c.rule);
      for (const auto& s : c.reason_has) {
        CHECK_THAT(d.reason, Catch::Matchers::Contains(s));
      }
      REQUIRE(d.hosts.size() == c.hosts.size());
      for (size_t i = 0; i < c.hosts.size(); ++i) {
        CHECK(d.hosts[i].host == c.hosts[i].host);
      }
    }
  }
}

TEST_CASE("Gate reasons name only the hosts that matter", "[gate]") {
  Decision d =
      decide(rollback_policy(), {healthy("h1"), exited("h2", Baseline::kHealthy)}, Millis{0});
  CHECK_THAT(d.reason, !Catch::Matchers::Contains("h1"));
  d = decide(rollback_policy(), {healthy("h1"), pending("h2")}, Millis{0});
  CHECK_THAT(d.reason, !Catch::Matchers::Contains("h1"));
}

TEST_CASE("A rollback decision does not claim to never roll back", "[gate]") {
  Decision d = decide(rollback_policy(), {dark("h1"), exited("h2", Baseline::kHealthy)}, Millis{0});
  REQUIRE(d.action == Action::kRollback);
  CHECK_THAT(d.reason, !Catch::Matchers::Contains("never rolling back"));
}

// The worked example of docs/health-gating.md, through real trackers and the gate.
TEST_CASE("Worked example from docs/health-gating.md", "[gate][tracker]") {
  Policy policy;
  policy.interval = Millis{2000};
  policy.healthy_threshold = 2;
  policy.unhealthy_threshold = 3;
  policy.healthy_deadline = Millis{60000};
  policy.min_healthy_time = Millis{10000};
  const TimePoint start{};
  Tracker h1(policy, start);
  Tracker h2(policy, start);

  auto round = [](int ms, ProbeResult::Outcome o, const char* detail) {
    ContainerStatus c;
    c.status = "running";
    c.running = true;
    Observation obs;
    obs.at = TimePoint{} + Millis{ms};
    obs.container = c;
    obs.probes.push_back(ProbeResult{"http", o, detail, Millis{2}});
    return obs;
  };
  const auto kPass = ProbeResult::Outcome::kPass;
  const auto kFail = ProbeResult::Outcome::kFail;
  auto gate = [&](int ms) {
    TimePoint now = start + Millis{ms};
    return decide(rollback_policy(),
                  {HostInput{"h1", Baseline::kHealthy, h1.verdict(now), h1.reason(now)},
                   HostInput{"h2", Baseline::kHealthy, h2.verdict(now), h2.reason(now)}},
                  Millis{ms});
  };

  h1.observe(round(0, kFail, "connect 127.0.0.1:8080: Connection refused"));
  h2.observe(round(0, kFail, "connect 127.0.0.1:8080: Connection refused"));
  CHECK(gate(0).rule == "pending");
  CHECK_THAT(h1.reason(start), Catch::Matchers::Contains("pending: 0/2 passes"));
  for (int ms : {2000, 4000}) {
    h1.observe(round(ms, kPass, "HTTP 200 in 2ms"));
    h2.observe(round(ms, kPass, "HTTP 200 in 2ms"));
  }
  CHECK_THAT(h1.reason(start + Millis{4000}),
             Catch::Matchers::Contains("pending: passing for 2s of min_healthy_time 10s"));
  CHECK(gate(4000).action == Action::kWait);
  h1.observe(round(6000, kPass, "HTTP 200 in 2ms"));
  h2.observe(round(6000, kFail, "HTTP 503 (expected 200) in 2ms"));
  CHECK_THAT(h2.reason(start + Millis{6000}),
             Catch::Matchers::Contains("pending: 0/2 passes, 1/3 failures after passing"));
  CHECK(gate(6000).action == Action::kWait);
  h1.observe(round(8000, kPass, "HTTP 200 in 2ms"));
  h2.observe(round(8000, kFail, "HTTP 503 (expected 200) in 2ms"));
  CHECK(gate(8000).action == Action::kWait);
  h1.observe(round(10000, kPass, "HTTP 200 in 2ms"));
  h2.observe(round(10000, kFail, "HTTP 503 (expected 200) in 2ms"));
  Decision d = gate(10000);
  CHECK(d.action == Action::kRollback);
  CHECK(d.rule == "worse-than-baseline");
  CHECK(d.reason ==
        "rolled back: h2's new container failed 3 consecutive probes after passing: HTTP 503 "
        "(expected 200) in 2ms; h2 was healthy before the rollout");
  CHECK(h1.verdict(start + Millis{11999}) == Verdict::kPending);
  CHECK(h1.verdict(start + Millis{12000}) == Verdict::kHealthy);
}

TEST_CASE("Action and FailureAction names", "[gate]") {
  CHECK(std::string(to_string(Action::kContinue)) == "continue");
  CHECK(std::string(to_string(Action::kWait)) == "wait");
  CHECK(std::string(to_string(Action::kPause)) == "pause");
  CHECK(std::string(to_string(Action::kRollback)) == "rollback");
  CHECK(std::string(to_string(FailureAction::kRollback)) == "rollback");
  CHECK(std::string(to_string(FailureAction::kPause)) == "pause");
}

}  // namespace
}  // namespace health
