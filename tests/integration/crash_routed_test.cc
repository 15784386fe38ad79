// kill -9 of a routed rollout at its step boundaries, under continuous load through HAProxy,
// then `rollgate resume` ([docker]; needs `scripts/testbed up`). Blue-green (bg: start the new
// colour beside, gate, switch, bake, retire) and rolling start-first (sf: next slot, gate,
// enable, drain, stop, archive, rename).
//
// A boundary is any event that follows a finished step: an engine call or router step ("step"),
// a gate decision, the switch and its confirmation, the start of the bake, and the end of the
// baseline. For each one the test starts from a fresh fleet on v1, runs rollgate-load through
// the app's HAProxy frontend (retries 0, so a routing mistake fails a request), applies v2,
// SIGKILLs rollgate right after that boundary's event, runs `rollgate resume`, and stops the
// load. Each run must converge (every host serves v2 from one running container, HAProxy routes
// to it, no orphan), with 0 failed requests across the kill and the resume. A resumed blue-green
// never switches to a colour that has not passed its gate in the resuming process: any switch
// the resume makes is preceded, in its own events, by a passing gate of that colour.
//
// The unit matrix (tests/orchestrator/rollout/resume_strategies_test.cc) kills after every
// engine and router call of every host; here, start-first is killed at every boundary of the
// first host's swap and at the batch boundary after it (the later hosts repeat the same steps),
// which keeps this suite within CI's budget.
#include <signal.h>

#include <catch2/catch.hpp>
#include <regex>
#include <set>

#include "tests/integration/haproxy_fleet.h"

using namespace std::chrono_literals;
using nlohmann::json;
using rgtest::PipedProcess;
using rgtest::ProcResult;
using rgtest::TempManifest;
using rgtest::Testbed;
using rgtest::fleet::StateDir;
using namespace rgtest::routed;

namespace {

bool boundary(const json& e, size_t hosts, size_t& baselines) {
  const std::string type = e.value("type", "");
  if (type == "baseline") {
    return ++baselines == hosts;
  }
  return type == "step" || type == "decision" || type == "switch" || type == "switched" ||
         type == "bake";
}

struct KillRun {
  int boundary = 0;
  std::string at;  // the event killed after, as text
  ProcResult apply;
  ProcResult resume;
  json load;
};

std::string describe(const KillRun& r) {
  return "kill after boundary " + std::to_string(r.boundary) + ": " + r.at +
         "\n--- killed apply [exit " + std::to_string(r.apply.exit_code) + "] ---\n" +
         rgtest::fleet::summary(r.apply.out) + "stderr: " + r.apply.err + "\n--- resume [exit " +
         std::to_string(r.resume.exit_code) + "] ---\n" + rgtest::fleet::summary(r.resume.out) +
         "stderr: " + r.resume.err + "\n--- load ---\n" + r.load.dump() + "\n";
}

// The boundaries of a clean v1 -> v2 run, as "type host message" lines.
std::vector<std::string> clean_boundaries(const Testbed& tb, const TempManifest& m) {
  rgtest::fleet::fresh_fleet();
  StateDir state;
  rgtest::fleet::deploy_ok(tb, m, state, "v1");
  auto args = rgtest::fleet::rollgate_args("apply", m, state);
  args.insert(args.end(), {"--image", rgtest::fleet::image(tb, "v2")});
  auto r = rgtest::run_rollgate(args);
  INFO(rgtest::describe(r));
  REQUIRE(r.exit_code == 0);
  std::vector<std::string> out;
  size_t baselines = 0;
  for (const auto& e : rgtest::json_lines(r.out)) {
    if (boundary(e, tb.hosts().size(), baselines)) {
      out.push_back(e.value("type", "") + " " + e.value("host", "-") + " " +
                    e.value("message", ""));
    }
  }
  return out;
}

// From a fresh fleet on v1, under load on `url_key`: apply v2, SIGKILL right after boundary n,
// resume.
KillRun kill_and_resume(const Testbed& tb, const TempManifest& m, const std::string& url_key,
                        int n) {
  rgtest::fleet::fresh_fleet();
  StateDir state;
  rgtest::fleet::deploy_ok(tb, m, state, "v1");
  KillRun run;
  run.boundary = n;
  Load load(tb.get(url_key));
  {
    auto args = rgtest::fleet::rollgate_args("apply", m, state);
    args.insert(args.begin(), ROLLGATE_BIN);
    args.insert(args.end(), {"--image", rgtest::fleet::image(tb, "v2")});
    PipedProcess apply(args);
    size_t baselines = 0;
    int seen = 0;
    while (auto e = apply.next_event(60s)) {
      if (boundary(*e, tb.hosts().size(), baselines) && ++seen == n) {
        apply.signal(SIGKILL);
        run.at = e->value("type", "") + " " + e->value("host", "-") + " " + e->value("message", "");
        break;
      }
    }
    run.apply = apply.wait(60s);
  }
  run.resume = rgtest::run_rollgate(rgtest::fleet::rollgate_args("resume", m, state));
  std::this_thread::sleep_for(500ms);
  run.load = load.stop();
  return run;
}

void check_no_failed_request(const KillRun& r) {
  CHECK(number(r.load, "requests") > 50);
  CHECK(number(r.load, "failed") == 0);
  CHECK(last_seen(r.load, "demo v2") >= last_seen(r.load, "demo v1"));
}

// Only the app's own names, and exactly one running container per host.
void check_names(const Testbed& tb, const std::string& app, const std::string& live) {
  const std::regex allowed("^" + app + "(-blue|-green)?$|^" + app + "-r[0-9]+(-failed)?$");
  for (const auto& h : tb.hosts()) {
    INFO("host " << h);
    int running = 0;
    for (const auto& [name, c] : rgtest::fleet::containers(tb, h)) {
      INFO("container " << name << " " << c.state);
      CHECK(std::regex_match(name, allowed));
      running += c.state == "running";
    }
    CHECK(running == 1);
    CHECK(container_on(tb, h, live) == "running v2");
  }
}

// Every switch in `events` comes after a passing gate of the colour it switches to.
std::string unproven_switch(const std::vector<json>& events) {
  std::set<std::string> passed;
  for (const auto& e : events) {
    const std::string type = e.value("type", "");
    if (type == "decision" && e.value("action", "") == "continue") {
      passed.insert(e.value("gate", ""));
    }
    if (type == "switch" && !passed.count(e.value("to", ""))) {
      return "switched to " + e.value("to", "") + " with no passing gate of it in this run";
    }
  }
  return "";
}

}  // namespace

TEST_CASE("crash: kill -9 of a blue-green rollout at every boundary, then resume, 0 failed",
          "[docker][crash][bluegreen]") {
  Testbed tb = rgtest::fleet::fresh_fleet();
  TempManifest m(bg_manifest(tb, "2s"));
  const auto boundaries = clean_boundaries(tb, m);
  // create, start and a gate decision per host; switch, switched, bake, its decision; a stop
  // of the old colour per host.
  REQUIRE(boundaries.size() >= 3 * tb.hosts().size() + 4);
  for (int n = 1; n <= static_cast<int>(boundaries.size()); ++n) {
    const KillRun run = kill_and_resume(tb, m, "RG_TESTBED_URL_BG", n);
    INFO(describe(run));
    CHECK(run.apply.exit_code == 128 + SIGKILL);
    CHECK(run.resume.exit_code == 0);
    check_no_failed_request(run);
    CHECK(unproven_switch(rgtest::json_lines_so_far(run.resume.out)) == "");
    CHECK(bg_backend(tb) == "bg_blue");
    check_names(tb, "bg", "bg-blue");
    for (const auto& h : tb.hosts()) {
      INFO("host " << h);
      CHECK(container_on(tb, h, "bg-green") == "exited v1");  // kept for switch-back
    }
  }
}

TEST_CASE("crash: kill -9 of a start-first rollout at every boundary of a host, then resume",
          "[docker][crash][bluegreen]") {
  Testbed tb = rgtest::fleet::fresh_fleet();
  TempManifest m(sf_manifest(tb));
  const auto boundaries = clean_boundaries(tb, m);
  const std::string first = tb.hosts().front();
  // Every boundary up to and including the first one on another host: the first host's whole
  // swap (8 steps and its gate), and the batch boundary after it.
  int last = 0;
  for (size_t i = 0; i < boundaries.size(); ++i) {
    last = static_cast<int>(i) + 1;
    const bool step = boundaries[i].rfind("step ", 0) == 0;
    if (step && boundaries[i].rfind("step " + first + " ", 0) != 0) {
      break;
    }
  }
  REQUIRE(last >= 10);
  for (int n = 1; n <= last; ++n) {
    const KillRun run = kill_and_resume(tb, m, "RG_TESTBED_URL_SF", n);
    INFO(describe(run));
    CHECK(run.apply.exit_code == 128 + SIGKILL);
    CHECK(run.resume.exit_code == 0);
    check_no_failed_request(run);
    check_names(tb, "sf", "sf");
    const auto servers = server_status("sf");
    for (const auto& h : tb.hosts()) {
      INFO("host " << h);
      CHECK(container_on(tb, h, "sf-r1") == "exited v1");
      CHECK(status_of(servers, h + "-green") == "no check");
      CHECK_THAT(status_of(servers, h + "-blue"),
                 Catch::Matchers::Equals("DRAIN") || Catch::Matchers::Equals("MAINT"));
    }
  }
}
