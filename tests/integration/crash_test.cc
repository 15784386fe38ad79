// Crash safety on the real testbed ([docker]; needs `scripts/testbed up`), issue 4 items 2, 3, 7.
//
// The kill test SIGKILLs `rollgate apply` right after it reports each step boundary of a
// three-host rollout in turn (every engine call, the end of the baseline phase, every gate
// decision), then runs `rollgate resume`, and checks with tools independent of rollgate (curl
// on the engines' unix sockets and on the app's port) that the fleet converged: every host on
// the new revision (or, for a rollout that must roll back, every host on the old one), one
// running app container per host, no orphan, and never two hosts down at once while a
// background poller watched the fleet (batch size 1: only the host in flight may be down).
// Each run has its own journal (a temp state dir) and starts from an empty fleet.
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "tests/integration/rollgate_runner.h"
#include "tests/integration/testbed.h"

using nlohmann::json;
using rgtest::PipedProcess;
using rgtest::ProcResult;
using rgtest::run_rollgate;
using rgtest::ServePoller;
using rgtest::TempManifest;
using rgtest::Testbed;
using rgtest::fleet::StateDir;
using namespace std::chrono_literals;

namespace {

const std::string kApp = "ctest";

std::string manifest_yaml(const Testbed& tb, const std::string& image_ref) {
  return rgtest::fleet::manifest_yaml(tb, kApp, image_ref);
}

using rgtest::fleet::deploy_ok;
using rgtest::fleet::fresh_fleet;
using rgtest::fleet::image;
using rgtest::fleet::rollgate_args;
using rgtest::fleet::summary;

// A kill point: right after a step event (an engine call), after the last host's baseline
// (the end of the baseline phase), or after a gate decision.
class Boundaries {
 public:
  explicit Boundaries(size_t hosts) : hosts_(hosts) {}
  // True when `e` ends a boundary.
  bool at_boundary(const json& e) {
    const std::string type = e.value("type", "");
    if (type == "baseline") {
      return ++baselines_ == hosts_;
    }
    return type == "step" || type == "decision";
  }

 private:
  size_t hosts_;
  size_t baselines_ = 0;
};

// Every host serves `tag` from exactly one running container, the app's, at `revision`; every
// container is the app's live one or an archive (APP, APP-rN, APP-rN-failed): no orphan, no
// lock left behind.
void check_converged(const Testbed& tb, const std::string& tag, int revision) {
  const std::regex allowed("^" + kApp + "(-r[0-9]+(-failed)?)?$");
  const auto snap = rgtest::fleet::snapshot(tb);
  INFO("engines:\n" << rgtest::fleet::describe(snap));
  for (const auto& h : tb.hosts()) {
    INFO("host " << h);
    CHECK(rgtest::fleet::served(tb, h) == "demo " + tag + "\n");
    int running = 0;
    for (const auto& [name, c] : snap.at(h)) {
      INFO("container " << name);
      CHECK(std::regex_match(name, allowed));
      if (c.state == "running") {
        ++running;
        CHECK(name == kApp);
      }
    }
    CHECK(running == 1);
    auto live = snap.at(h).find(kApp);
    REQUIRE(live != snap.at(h).end());
    CHECK(live->second.labels.value("rollgate.revision", "") == std::to_string(revision));
  }
}

struct KillRun {
  int boundary = 0;
  bool killed = false;  // false: the apply ended before reaching the boundary
  ProcResult apply;
  ProcResult resume;
  std::string outages;  // overlapping_outages() of the whole run
};

// From a fresh fleet on v1 (its own journal): apply `to_tag` with JSON output, SIGKILL it right
// after boundary number `n`, then `rollgate resume`. The poller watches both.
KillRun kill_and_resume(const Testbed& tb, const TempManifest& m, const std::string& to_tag,
                        int n) {
  fresh_fleet();
  StateDir state;
  deploy_ok(tb, m, state, "v1");
  KillRun run;
  run.boundary = n;
  ServePoller poller(rgtest::fleet::app_urls(tb));
  {
    auto args = rollgate_args("apply", m, state);
    args.insert(args.begin(), ROLLGATE_BIN);
    args.insert(args.end(), {"--image", image(tb, to_tag)});
    PipedProcess apply(args);
    Boundaries b(tb.hosts().size());
    int seen = 0;
    while (auto e = apply.next_event(60s)) {
      if (b.at_boundary(*e) && ++seen == n) {
        apply.signal(SIGKILL);
        run.killed = true;
        break;
      }
    }
    run.apply = apply.wait(60s);
  }
  run.resume = run_rollgate(rollgate_args("resume", m, state));
  run.outages = rgtest::fleet::overlapping_outages(poller.stop(), 1);
  return run;
}

std::string describe(const KillRun& r) {
  return "kill after boundary " + std::to_string(r.boundary) +
         (r.killed ? "" : " (apply ended before it)") + "\n--- killed apply [exit " +
         std::to_string(r.apply.exit_code) + "] ---\n" + summary(r.apply.out) +
         "stderr: " + r.apply.err + "\n--- resume [exit " + std::to_string(r.resume.exit_code) +
         "] ---\n" + summary(r.resume.out) + "stderr: " + r.resume.err;
}

// The boundaries of a clean run of v1 -> `to_tag`, with the index (1-based) of the boundary
// that is the first rollback decision (0 when none).
struct CleanRun {
  int boundaries = 0;
  int rollback_decision = 0;
  ProcResult result;
};

CleanRun clean_run(const Testbed& tb, const TempManifest& m, const std::string& to_tag) {
  fresh_fleet();
  StateDir state;
  deploy_ok(tb, m, state, "v1");
  auto args = rollgate_args("apply", m, state);
  args.insert(args.end(), {"--image", image(tb, to_tag)});
  CleanRun c;
  c.result = run_rollgate(args);
  Boundaries b(tb.hosts().size());
  for (const auto& e : rgtest::json_lines(c.result.out)) {
    if (b.at_boundary(e)) {
      ++c.boundaries;
      if (c.rollback_decision == 0 && e.value("type", "") == "decision" &&
          e.value("action", "") == "rollback") {
        c.rollback_decision = c.boundaries;
      }
    }
  }
  return c;
}

// The result of revision `revision`'s rollout in `history --output json` rows; "" when absent.
std::string result_of(const json& rows, int revision) {
  for (const auto& row : rows) {
    if (row.value("revision", 0) == revision) {
      return row.value("result", "");
    }
  }
  return "";
}

}  // namespace

TEST_CASE("crash: kill -9 of apply v1 -> v2 at every step boundary, then resume finishes it",
          "[docker][crash]") {
  Testbed tb = rgtest::load_testbed();
  const size_t hosts = tb.hosts().size();
  TempManifest m(manifest_yaml(tb, image(tb, "v1")));

  const CleanRun clean = clean_run(tb, m, "v2");
  INFO(rgtest::describe(clean.result));
  REQUIRE(clean.result.exit_code == 0);
  const auto steps = rgtest::events_of(rgtest::json_lines(clean.result.out), "step");
  // v1 -> v2 on each host: stop, rename to APP-r1, create, start.
  CHECK(steps.size() == 4 * hosts);
  // Every step, the end of the baseline phase, one decision per host.
  REQUIRE(clean.boundaries == static_cast<int>(steps.size() + 1 + hosts));

  for (int n = 1; n <= clean.boundaries; ++n) {
    const KillRun run = kill_and_resume(tb, m, "v2", n);
    INFO(describe(run));
    CHECK(run.killed);
    CHECK(run.apply.exit_code == 128 + SIGKILL);
    CHECK(run.resume.exit_code == 0);
    CHECK(run.outages == "");
    check_converged(tb, "v2", 2);
  }
}

TEST_CASE("crash: kill -9 of apply v1 -> unhealthy around its rollback, then resume finishes it",
          "[docker][crash]") {
  Testbed tb = rgtest::load_testbed();
  TempManifest m(manifest_yaml(tb, image(tb, "v1")));

  const CleanRun clean = clean_run(tb, m, "unhealthy");
  INFO(rgtest::describe(clean.result));
  REQUIRE(clean.result.exit_code == 3);
  REQUIRE(clean.rollback_decision > 2);

  // From the gate of h1 (after its start step) through every step of the rollback.
  for (int n = clean.rollback_decision - 1; n <= clean.boundaries; ++n) {
    const KillRun run = kill_and_resume(tb, m, "unhealthy", n);
    INFO(describe(run));
    CHECK(run.killed);
    CHECK(run.apply.exit_code == 128 + SIGKILL);
    CHECK(run.resume.exit_code == 3);
    CHECK(run.outages == "");
    check_converged(tb, "v1", 1);
  }
}

TEST_CASE("crash: SIGINT during a gate reverts the host in flight, exits 4, resume finishes",
          "[docker][crash]") {
  Testbed tb = fresh_fleet();
  const auto hosts = tb.hosts();
  TempManifest m(manifest_yaml(tb, image(tb, "v1")));
  StateDir state;
  deploy_ok(tb, m, state, "v1");
  const auto before = rgtest::fleet::snapshot(tb);

  ServePoller poller(rgtest::fleet::app_urls(tb));
  ProcResult applied;
  {
    auto args = rollgate_args("apply", m, state);
    args.insert(args.begin(), ROLLGATE_BIN);
    args.insert(args.end(), {"--image", image(tb, "v2")});
    PipedProcess apply(args);
    // The second host's start call: its gate begins.
    bool sent = false;
    while (auto e = apply.next_event(60s)) {
      if (e->value("type", "") == "step" && e->value("host", "") == hosts[1] &&
          e->value("call", "").find("/start") != std::string::npos) {
        apply.signal(SIGINT);
        sent = true;
        break;
      }
    }
    INFO(apply.out());
    REQUIRE(sent);
    applied = apply.wait(30s);
  }
  INFO(rgtest::describe(applied));
  CHECK(applied.exit_code == 4);
  auto events = rgtest::json_lines(applied.out);
  auto done = rgtest::events_of(events, "rollout");
  REQUIRE(!done.empty());
  CHECK(done.back().value("exit_code", -1) == 4);

  {
    const auto now = rgtest::fleet::snapshot(tb);
    INFO("engines:\n" << rgtest::fleet::describe(now));
    // h1 finished its batch; h2 (in flight) is back on its own v1 container; h3 untouched.
    CHECK(rgtest::fleet::served(tb, hosts[0]) == "demo v2\n");
    CHECK(rgtest::fleet::served(tb, hosts[1]) == "demo v1\n");
    CHECK(now.at(hosts[1]).at(kApp).id == before.at(hosts[1]).at(kApp).id);
    CHECK(now.at(hosts[1]).at(kApp).state == "running");
    for (size_t i = 2; i < hosts.size(); ++i) {
      CHECK(now.at(hosts[i]) == before.at(hosts[i]));
    }
  }

  // The journal says it paused.
  auto hist = run_rollgate(rollgate_args("history", m, state));
  INFO(rgtest::describe(hist));
  REQUIRE(hist.exit_code == 0);
  auto rows = rgtest::json_lines(hist.out);
  REQUIRE(rows.size() == 1);
  REQUIRE(rows[0].is_array());
  CHECK(rows[0].size() == 2);
  CHECK(result_of(rows[0], 2) == "paused");

  auto resumed = run_rollgate(rollgate_args("resume", m, state));
  INFO(rgtest::describe(resumed));
  CHECK(resumed.exit_code == 0);
  const std::string outages = rgtest::fleet::overlapping_outages(poller.stop(), 1);
  CHECK(outages == "");
  check_converged(tb, "v2", 2);

  auto after = run_rollgate(rollgate_args("history", m, state));
  INFO(rgtest::describe(after));
  auto rows_after = rgtest::json_lines(after.out);
  REQUIRE(rows_after.size() == 1);
  CHECK(rows_after[0].size() == 2);  // resume continues the same rollout
  CHECK(result_of(rows_after[0], 2) == "done");
}
