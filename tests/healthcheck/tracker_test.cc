#include "healthcheck/tracker.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "healthcheck/baseline.h"
#include "healthcheck/format.h"

namespace health {
namespace {

using Outcome = ProbeResult::Outcome;

TimePoint at(int ms) { return TimePoint{} + Millis{ms}; }

ContainerStatus running(int restart_count = 0) {
  ContainerStatus c;
  c.status = "running";
  c.running = true;
  c.restart_count = restart_count;
  return c;
}

ContainerStatus exited(int code) {
  ContainerStatus c;
  c.status = "exited";
  c.exit_code = code;
  return c;
}

// An HTTP probe result; it reached the app when it got an answer (passed, or failed with a
// status), not when the connection itself failed.
ProbeResult http(Outcome o, std::string detail, bool reached = true) {
  ProbeResult p;
  p.probe = "http";
  p.outcome = o;
  p.detail = std::move(detail);
  p.reached = reached && o != Outcome::kUnobservable;
  return p;
}

const char* const kOk = "HTTP 200 in 2ms";
const char* const kBusy = "HTTP 503 (expected 200) in 2ms";
const char* const kRefused = "connect 127.0.0.1:8080: Connection refused";
const char* const kNoRoute = "connect 127.0.0.1:8080: No route to host";

Observation obs(int ms, std::optional<ContainerStatus> c, std::vector<ProbeResult> probes) {
  Observation o;
  o.at = at(ms);
  o.container = std::move(c);
  o.probes = std::move(probes);
  return o;
}

// The usual rounds: the app answers 200 / 503 / refuses, the container runs.
Observation up(int ms) { return obs(ms, running(), {http(Outcome::kPass, kOk)}); }
Observation busy(int ms) { return obs(ms, running(), {http(Outcome::kFail, kBusy)}); }
Observation refused(int ms) { return obs(ms, running(), {http(Outcome::kFail, kRefused)}); }
// Nothing observable: engine unreachable, probe has no route.
Observation blind(int ms) {
  return obs(ms, std::nullopt, {http(Outcome::kUnobservable, kNoRoute)});
}
Observation with(int ms, ContainerStatus c, Outcome o = Outcome::kPass) {
  return obs(ms, c, {http(o, o == Outcome::kPass ? kOk : kBusy)});
}

Policy policy(int healthy_threshold = 1, int unhealthy_threshold = 3, int deadline_ms = 10000,
              int min_healthy_ms = 0) {
  Policy p;
  p.healthy_threshold = healthy_threshold;
  p.unhealthy_threshold = unhealthy_threshold;
  p.healthy_deadline = Millis{deadline_ms};
  p.min_healthy_time = Millis{min_healthy_ms};
  return p;
}

std::vector<Observation> every_second(Observation (*make)(int), int from_s, int to_s) {
  std::vector<Observation> out;
  for (int s = from_s; s <= to_s; ++s) {
    out.push_back(make(s * 1000));
  }
  return out;
}

std::vector<Observation> concat(std::vector<Observation> a, const std::vector<Observation>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

struct Case {
  std::string name;
  Policy policy;
  std::vector<Observation> rounds;
  int now_ms;
  Verdict want;
  std::string reason_has;
};

TEST_CASE("Tracker verdicts over observation sequences", "[tracker]") {
  ContainerStatus oom = exited(137);
  oom.oom_killed = true;
  ContainerStatus restarting = running(0);
  restarting.running = false;
  restarting.restarting = true;
  restarting.status = "restarting";
  ContainerStatus unhealthy = running();
  unhealthy.health_status = "unhealthy";
  unhealthy.failing_streak = 3;
  ContainerStatus gone;
  gone.exists = false;
  ContainerStatus dead = exited(2);
  dead.status = "dead";
  ContainerStatus created;
  created.status = "created";

  const std::vector<Case> cases = {
      {"healthy on first pass with threshold 1",
       policy(),
       {up(0)},
       0,
       Verdict::kHealthy,
       "healthy: 1 consecutive pass, HTTP 200 in 2ms"},
      {"no observation yet is pending",
       policy(),
       {},
       5000,
       Verdict::kPending,
       "pending: 0/1 passes (last: no observation yet)"},
      {"no observation by the deadline is unknown, not failing",
       policy(),
       {},
       10000,
       Verdict::kUnknown,
       "unknown: no observation within healthy_deadline 10s"},
      {"threshold 3: two passes are pending",
       policy(3),
       {up(0), up(1000)},
       1000,
       Verdict::kPending,
       "pending: 2/3 passes (last: HTTP 200 in 2ms)"},
      {"threshold 3: three passes are healthy",
       policy(3),
       {up(0), up(1000), up(2000)},
       2000,
       Verdict::kHealthy,
       "healthy: 3 consecutive passes"},
      {"threshold 3: a failure restarts the count",
       policy(3),
       {up(0), up(1000), busy(2000), up(3000), up(4000)},
       4000,
       Verdict::kPending,
       "pending: 2/3 passes"},
      {"min_healthy_time: just below is pending", policy(1, 3, 60000, 5000), every_second(up, 0, 4),
       4999, Verdict::kPending, "pending: passing for 4.999s of min_healthy_time 5s"},
      {"min_healthy_time: exactly at is healthy", policy(1, 3, 60000, 5000), every_second(up, 0, 4),
       5000, Verdict::kHealthy, "healthy: 5 consecutive passes"},
      {"min_healthy_time counts from the first round of the passing streak",
       policy(1, 3, 60000, 5000), concat({busy(0)}, every_second(up, 1, 5)), 5999,
       Verdict::kPending, "passing for 4.999s"},
      {"min_healthy_time counts from the first round of the passing streak (at)",
       policy(1, 3, 60000, 5000), concat({busy(0)}, every_second(up, 1, 5)), 6000,
       Verdict::kHealthy, "healthy"},
      {"slow start: refusals before the deadline are pending", policy(),
       every_second(refused, 0, 8), 9000, Verdict::kPending,
       std::string("pending: 0/1 passes (last: ") + kRefused + ")"},
      {"slow start within the deadline passes", policy(),
       concat(every_second(refused, 0, 8), {up(9000)}), 9000, Verdict::kHealthy, "healthy"},
      {"failures before ever passing do not count against unhealthy_threshold", policy(1, 1, 60000),
       every_second(busy, 0, 5), 5000, Verdict::kPending, "pending: 0/1 passes"},
      {"past the deadline fails, naming the last probe", policy(), every_second(refused, 0, 9),
       10000, Verdict::kFailing,
       std::string("was not healthy within healthy_deadline 10s (last probe: ") + kRefused + ")"},
      {"just before the deadline is still pending", policy(), every_second(refused, 0, 9), 9999,
       Verdict::kPending, "pending"},
      {"a first pass exactly at the deadline is too late", policy(),
       concat(every_second(refused, 0, 9), {up(10000)}), 10000, Verdict::kFailing,
       "not healthy within healthy_deadline 10s"},
      {"a pass 1ms before the deadline is in time", policy(),
       concat(every_second(refused, 0, 9), {up(9999)}), 10000, Verdict::kHealthy, "healthy"},
      {"min_healthy_time ending after the deadline fails", policy(1, 3, 10000, 5000),
       concat(every_second(refused, 0, 5), every_second(up, 6, 9)), 10000, Verdict::kFailing,
       "not healthy within healthy_deadline 10s"},
      {"...and stays failing when min_healthy_time has elapsed later", policy(1, 3, 10000, 5000),
       concat(every_second(refused, 0, 5), every_second(up, 6, 12)), 12000, Verdict::kFailing,
       "not healthy within healthy_deadline 10s"},
      {"healthy before the deadline, flaky after it: judged by streaks, not the deadline",
       policy(1, 3, 3000),
       {up(0), up(1000), busy(4000)},
       4000,
       Verdict::kPending,
       "1/3 failures after passing"},
      {"passes then exits within min_healthy_time",
       policy(1, 3, 60000, 10000),
       {up(0), up(1000), with(2000, exited(1))},
       2000,
       Verdict::kFailing,
       "exited with code 1 after 2s"},
      {"a dead container fails",
       policy(),
       {with(1500, dead)},
       1500,
       Verdict::kFailing,
       "is dead (exit code 2) after 1.5s"},
      {"flaky failure that recovers stays healthy",
       policy(1, 3),
       {up(0), busy(1000), busy(2000), up(3000)},
       3000,
       Verdict::kHealthy,
       "healthy: 1 consecutive pass"},
      {"flaky failures below unhealthy_threshold are pending",
       policy(1, 3),
       {up(0), busy(1000), busy(2000)},
       2000,
       Verdict::kPending,
       "pending: 0/1 passes, 2/3 failures after passing (last: HTTP 503"},
      {"unhealthy_threshold consecutive failures after passing fail",
       policy(1, 3),
       {up(0), busy(1000), busy(2000), busy(3000)},
       3000,
       Verdict::kFailing,
       "failed 3 consecutive probes after passing: HTTP 503 (expected 200) in 2ms"},
      {"unhealthy_threshold counts consecutive failures only",
       policy(1, 3),
       {up(0), busy(1000), busy(2000), up(3000), busy(4000), busy(5000)},
       5000,
       Verdict::kPending,
       "2/3 failures after passing"},
      {"crash loop: restart count rises while HTTP passes",
       policy(),
       {with(0, running(0)), with(1000, running(0)), with(2000, running(2))},
       2000,
       Verdict::kFailing,
       "restarted 2 times (crash loop)"},
      {"a restart count already there at the first observation is no crash loop",
       policy(),
       {with(0, running(3)), with(1000, running(3))},
       1000,
       Verdict::kHealthy,
       "healthy"},
      {"the restarting state alone is a crash loop",
       policy(),
       {up(0), with(1000, restarting)},
       1000,
       Verdict::kFailing,
       "is restarting (crash loop"},
      {"OOM-killed",
       policy(),
       {up(0), with(3000, oom)},
       3000,
       Verdict::kFailing,
       "was OOM-killed after 3s"},
      {"Docker HEALTHCHECK unhealthy fails even while HTTP passes",
       policy(),
       {up(0), with(1000, unhealthy)},
       1000,
       Verdict::kFailing,
       "Docker HEALTHCHECK reports unhealthy (failing streak 3)"},
      {"the container disappeared",
       policy(),
       {up(0), with(1000, gone)},
       1000,
       Verdict::kFailing,
       "no longer exists"},
      {"a created, not yet running container is a failing round, not an immediate failure",
       policy(),
       {with(0, created, Outcome::kFail)},
       0,
       Verdict::kPending,
       "pending"},
      {"blind latest observation is unknown",
       policy(),
       {up(0), blind(1000)},
       1000,
       Verdict::kUnknown,
       std::string("unknown: engine unreachable and probes unobservable: ") + kNoRoute},
      {"blind with no probes configured is unknown",
       policy(),
       {obs(0, std::nullopt, {})},
       0,
       Verdict::kUnknown,
       "unknown: engine unreachable and no probes configured"},
      {"blind rounds do not reset the pass streak",
       policy(3),
       {up(0), blind(1000), up(2000), up(3000)},
       3000,
       Verdict::kHealthy,
       "healthy: 3 consecutive passes"},
      {"blind past the deadline is unknown, never failing", policy(),
       concat(every_second(refused, 0, 8), {blind(9000)}), 12000, Verdict::kUnknown, "unknown"},
      // The cut came before the deadline, but the first blind round lands after it (a round
      // waits out the engine's connect timeout): still missing data, not a failure.
      {"the first blind round lands past the deadline: unknown", policy(),
       concat(every_second(refused, 0, 8), {blind(11000)}), 12000, Verdict::kUnknown, "unknown"},
      {"observable again past the deadline: failing", policy(),
       concat(every_second(refused, 0, 8), {blind(9000), refused(12000)}), 12000, Verdict::kFailing,
       "not healthy within healthy_deadline 10s"},
      {"sticky: unknown after failing stays failing",
       policy(),
       {up(0), with(1000, exited(1)), blind(2000)},
       2000,
       Verdict::kFailing,
       "exited with code 1 after 1s"},
      {"sticky: passing after failing stays failing",
       policy(),
       {up(0), with(1000, exited(1)), up(2000), up(3000)},
       3000,
       Verdict::kFailing,
       "exited with code 1 after 1s"},
      // Nobody read a verdict between 9s and the blind round: the deadline passing while the
      // host went dark is missing data, not a failure (see the read-latch test below).
      {"a blind round just past the deadline, unread before, is unknown", policy(),
       concat(every_second(refused, 0, 9), {blind(10500)}), 10500, Verdict::kUnknown, "unknown"},
      {"container-only checks: no probes and running passes",
       policy(),
       {obs(0, running(), {})},
       0,
       Verdict::kHealthy,
       "healthy: 1 consecutive pass, container running"},
      {"probes pass without container status: passes",
       policy(),
       {obs(0, std::nullopt, {http(Outcome::kPass, kOk)})},
       0,
       Verdict::kHealthy,
       "healthy"},
  };

  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.name) {
      Tracker t(c.policy, at(0));
      for (const auto& o : c.rounds) {
        t.observe(o);
      }
      CHECK(to_string(t.verdict(at(c.now_ms))) == std::string(to_string(c.want)));
      CHECK_THAT(t.reason(at(c.now_ms)), Catch::Matchers::Contains(c.reason_has));
    }
  }
}

TEST_CASE("A deadline failure someone has read does not flip when a blind round arrives",
          "[tracker]") {
  Tracker t(policy(), at(0));
  for (const auto& o : every_second(refused, 0, 9)) {
    t.observe(o);
  }
  REQUIRE(t.verdict(at(10200)) == Verdict::kFailing);  // read, and maybe acted on
  t.observe(blind(10500));
  CHECK(t.verdict(at(10500)) == Verdict::kFailing);
}

TEST_CASE("A deadline failure someone has read does not flip when a pass arrives", "[tracker]") {
  Tracker t(policy(), at(0));
  for (const auto& o : every_second(refused, 0, 9)) {
    t.observe(o);
  }
  REQUIRE(t.verdict(at(10000)) == Verdict::kFailing);
  t.observe(up(11000));
  CHECK(t.verdict(at(11000)) == Verdict::kFailing);
  CHECK_THAT(t.reason(at(11000)), Catch::Matchers::Contains(kRefused));
  CHECK(t.last()->at == at(11000));
  CHECK(t.failed_at() == at(10000));  // latched when it was read
}

TEST_CASE("Tracker exposes streak counters", "[tracker]") {
  Tracker t(policy(3, 3, 60000), at(0));
  t.observe(up(0));
  t.observe(up(1000));
  CHECK(t.consecutive_passes() == 2);
  CHECK(t.consecutive_failures() == 0);
  t.observe(busy(2000));
  CHECK(t.consecutive_passes() == 0);
  CHECK(t.consecutive_failures() == 1);
  CHECK_FALSE(t.last()->probes.empty());
  CHECK_FALSE(t.failed_at().has_value());
}

TEST_CASE("classify_round, is_blind and baseline_from", "[tracker][baseline]") {
  ContainerStatus gone;
  gone.exists = false;
  const ProbeResult pass = http(Outcome::kPass, kOk);
  const ProbeResult fail = http(Outcome::kFail, kBusy);
  const ProbeResult dark = http(Outcome::kUnobservable, kNoRoute);
  const ProbeResult cut = http(Outcome::kFail, "timed out after 2s (connect)", false);
  struct Row {
    std::string name;
    Observation o;
    RoundOutcome round;
    bool blind;
    Baseline baseline;
  };
  const std::vector<Row> rows = {
      {"running, probe passes", obs(0, running(), {pass}), RoundOutcome::kPass, false,
       Baseline::kHealthy},
      {"running, probe fails", obs(0, running(), {pass, fail}), RoundOutcome::kFail, false,
       Baseline::kUnhealthy},
      {"exited, probe passes", obs(0, exited(0), {pass}), RoundOutcome::kFail, false,
       Baseline::kUnhealthy},
      {"absent container", obs(0, gone, {dark}), RoundOutcome::kFail, false, Baseline::kAbsent},
      {"engine unreachable, probes unobservable", obs(0, std::nullopt, {dark}),
       RoundOutcome::kUnobservable, true, Baseline::kUnknown},
      {"engine unreachable, no probes", obs(0, std::nullopt, {}), RoundOutcome::kUnobservable, true,
       Baseline::kUnknown},
      {"engine unreachable, probe passes", obs(0, std::nullopt, {pass}), RoundOutcome::kPass, false,
       Baseline::kHealthy},
      {"engine unreachable, probe fails", obs(0, std::nullopt, {fail}), RoundOutcome::kFail, false,
       Baseline::kUnhealthy},
      // A host cut off from rollgate: neither the engine nor the app answers. Missing data.
      {"engine unreachable, probe cannot connect", obs(0, std::nullopt, {cut}),
       RoundOutcome::kUnobservable, true, Baseline::kUnknown},
      {"engine reachable, probe cannot connect", obs(0, running(), {cut}), RoundOutcome::kFail,
       false, Baseline::kUnhealthy},
      {"engine unreachable, one passes one unobservable", obs(0, std::nullopt, {pass, dark}),
       RoundOutcome::kUnobservable, false, Baseline::kUnknown},
      {"running, probe unobservable", obs(0, running(), {dark}), RoundOutcome::kUnobservable, false,
       Baseline::kUnknown},
      {"running, no probes", obs(0, running(), {}), RoundOutcome::kPass, false, Baseline::kHealthy},
  };
  for (const auto& r : rows) {
    DYNAMIC_SECTION(r.name) {
      CHECK(std::string(to_string(classify_round(r.o))) == to_string(r.round));
      CHECK(is_blind(r.o) == r.blind);
      CHECK(std::string(to_string(baseline_from(r.o))) == to_string(r.baseline));
    }
  }
}

ContainerStatus docker_health(std::string status, int failing_streak = 0) {
  ContainerStatus c = running();
  c.health_status = std::move(status);
  c.failing_streak = failing_streak;
  return c;
}

TEST_CASE("docker_health: how the HEALTHCHECK status classifies a round", "[tracker][docker]") {
  const ProbeResult pass = http(Outcome::kPass, kOk);
  struct Row {
    std::string health;
    std::vector<ProbeResult> probes;
    RoundOutcome required;      // require_docker_healthy = true
    RoundOutcome not_required;  // require_docker_healthy = false
    Baseline baseline_required;
  };
  const std::vector<Row> rows = {
      {"healthy", {}, RoundOutcome::kPass, RoundOutcome::kPass, Baseline::kHealthy},
      {"healthy", {pass}, RoundOutcome::kPass, RoundOutcome::kPass, Baseline::kHealthy},
      {"starting", {}, RoundOutcome::kFail, RoundOutcome::kPass, Baseline::kUnhealthy},
      {"starting", {pass}, RoundOutcome::kFail, RoundOutcome::kPass, Baseline::kUnhealthy},
      {"unhealthy", {pass}, RoundOutcome::kFail, RoundOutcome::kPass, Baseline::kUnhealthy},
      {"", {}, RoundOutcome::kFail, RoundOutcome::kPass, Baseline::kUnhealthy},
  };
  for (const auto& r : rows) {
    DYNAMIC_SECTION("health \"" << r.health << "\" with " << r.probes.size() << " probes") {
      Observation o = obs(0, docker_health(r.health), r.probes);
      CHECK(std::string(to_string(classify_round(o, true))) == to_string(r.required));
      CHECK(std::string(to_string(classify_round(o, false))) == to_string(r.not_required));
      CHECK(std::string(to_string(classify_round(o))) == to_string(r.not_required));
      CHECK(std::string(to_string(baseline_from(o, true))) == to_string(r.baseline_required));
    }
  }
  // Without container status the HEALTHCHECK cannot be asked: probes decide as before.
  CHECK(classify_round(obs(0, std::nullopt, {pass}), true) == RoundOutcome::kPass);
}

TEST_CASE("docker_health: starting is not yet passing, healthy passes", "[tracker][docker]") {
  Policy p = policy(/*healthy_threshold=*/2, 3, /*deadline_ms=*/10000);
  p.require_docker_healthy = true;
  Tracker t(p, at(0));
  t.observe(obs(0, docker_health("starting"), {}));
  CHECK(t.verdict(at(0)) == Verdict::kPending);
  CHECK(t.reason(at(0)) == "pending: 0/2 passes (last: Docker HEALTHCHECK starting)");
  t.observe(obs(1000, docker_health("starting"), {}));
  t.observe(obs(2000, docker_health("healthy"), {}));
  CHECK(t.verdict(at(2000)) == Verdict::kPending);
  t.observe(obs(3000, docker_health("healthy"), {}));
  CHECK(t.verdict(at(3000)) == Verdict::kHealthy);
  CHECK(t.reason(at(3000)) == "healthy: 2 consecutive passes, container running");
}

TEST_CASE("docker_health: starting past healthy_deadline fails", "[tracker][docker]") {
  Policy p = policy(1, 3, /*deadline_ms=*/5000);
  p.require_docker_healthy = true;
  Tracker t(p, at(0));
  for (int s = 0; s <= 4; ++s) {
    t.observe(obs(s * 1000, docker_health("starting"), {http(Outcome::kPass, kOk)}));
  }
  CHECK(t.verdict(at(4999)) == Verdict::kPending);
  CHECK(t.verdict(at(5000)) == Verdict::kFailing);
  CHECK(t.reason(at(5000)) ==
        "was not healthy within healthy_deadline 5s (last probe: Docker HEALTHCHECK starting)");
  // Without the switch, the same rounds pass on the HTTP probe alone.
  Tracker plain(policy(1, 3, 5000), at(0));
  plain.observe(obs(0, docker_health("starting"), {http(Outcome::kPass, kOk)}));
  CHECK(plain.verdict(at(0)) == Verdict::kHealthy);
}

TEST_CASE("docker_health: an image without a HEALTHCHECK never passes", "[tracker][docker]") {
  Policy p = policy(1, 3, /*deadline_ms=*/2000);
  p.require_docker_healthy = true;
  Tracker t(p, at(0));
  t.observe(obs(0, docker_health(""), {}));
  t.observe(obs(1000, docker_health(""), {}));
  CHECK(t.verdict(at(1000)) == Verdict::kPending);
  CHECK(t.verdict(at(2000)) == Verdict::kFailing);
  CHECK(t.reason(at(2000)) ==
        "was not healthy within healthy_deadline 2s (last probe: no Docker HEALTHCHECK in the "
        "image (health.docker_health requires one))");
}

TEST_CASE("docker_health: healthy then unhealthy fails at once", "[tracker][docker]") {
  Policy p = policy(1, 3, 10000);
  p.require_docker_healthy = true;
  Tracker t(p, at(0));
  t.observe(obs(0, docker_health("healthy"), {}));
  CHECK(t.verdict(at(0)) == Verdict::kHealthy);
  t.observe(obs(1000, docker_health("unhealthy", 3), {}));
  CHECK(t.verdict(at(1000)) == Verdict::kFailing);
  CHECK(t.reason(at(1000)) ==
        "is unhealthy: Docker HEALTHCHECK reports unhealthy (failing streak 3)");
  CHECK(t.failed_at() == at(1000));
}

TEST_CASE("format_millis spells durations compactly", "[format]") {
  const std::vector<std::pair<int64_t, std::string>> rows = {
      {0, "0s"},       {1, "1ms"},         {250, "250ms"},    {999, "999ms"},
      {1000, "1s"},    {1500, "1.5s"},     {1250, "1.25s"},   {1001, "1.001s"},
      {2000, "2s"},    {60000, "1m"},      {90000, "1m30s"},  {90500, "1m30.5s"},
      {3600000, "1h"}, {5400000, "1h30m"}, {3605000, "1h5s"}, {-1500, "-1.5s"},
  };
  for (const auto& [ms, text] : rows) {
    INFO(ms);
    CHECK(format_millis(Millis{ms}) == text);
  }
}

}  // namespace
}  // namespace health
