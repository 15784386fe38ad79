// No client request fails while rollgate moves traffic through a real HAProxy ([docker]; needs
// `scripts/testbed up`): blue-green switch, failed gate before the switch, bake failure with
// automatic switch-back, manual switch-back, rolling with drain, start-first rolling, and a
// command router.
//
// Each test deploys its starting state without load, then runs rollgate-load (4 keep-alive
// connections, no retries) against the app's HAProxy frontend while one rollgate command runs,
// and stops it 0.5 s after the command returned. HAProxy runs with `retries 0`, so a request
// routed to a container that is not listening yet, or no longer, fails at the client: failed == 0
// means no routing mistake happened. Two negative controls show that such mistakes are counted,
// so a zero is meaningful: a container stopped behind HAProxy's back, and the rolling update of
// the drain test run without a router.
//
// Where traffic went is checked from the client's side (which bodies it saw, and which one
// last), from HAProxy's runtime API (show map, show stat) and from the engines (container names,
// states and the demo image's rollgate.demo.version label), not only from rollgate's own events.
//
// Apps (docs/testbed.md, "HAProxy"): bg (blue-green; host ports 8180 blue, 8181 green; map entry
// bg -> bg_blue|bg_green), roll (rolling, stop-first; 8280; backend roll, servers hN) and sf
// (rolling, start-first; 8380/8381; backend sf, servers hN-blue and hN-green).
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/haproxy_fleet.h"
#include "tests/integration/rollgate_runner.h"
#include "tests/integration/testbed.h"
#include "tests/support/scoped_env.h"
#include "tests/support/temp_dir.h"

using namespace std::chrono_literals;
using nlohmann::json;
using orch::testing::ScopedEnv;
using rgtest::events_of;
using rgtest::ProcResult;
using rgtest::TempManifest;
using rgtest::Testbed;
using rgtest::fleet::StateDir;

namespace {

using orch::testing::TempDir;

// Manifests, rollgate-load, and HAProxy as seen without rollgate: haproxy_fleet.h.
using namespace rgtest::routed;

// Index in `events` of the first step on `host` whose call contains `text`; -1 when none.
long step_index(const std::vector<json>& events, const std::string& host, const std::string& text) {
  for (size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    if (e.value("type", "") == "step" && e.value("host", "") == host &&
        e.value("call", "").find(text) != std::string::npos) {
      return static_cast<long>(i);
    }
  }
  return -1;
}

// "" when `host` has a step whose call contains each of `calls`, in this order (the first such
// step of each); else what is missing or out of order.
std::string steps_out_of_order(const std::vector<json>& events, const std::string& host,
                               const std::vector<std::string>& calls) {
  long previous = -1;
  for (size_t k = 0; k < calls.size(); ++k) {
    const long i = step_index(events, host, calls[k]);
    if (i < 0) {
      return "no step on " + host + " whose call contains \"" + calls[k] + "\"";
    }
    if (i <= previous) {
      return "\"" + calls[k] + "\" came before \"" + calls[k - 1] + "\"";
    }
    previous = i;
  }
  return "";
}

// The revision the run's plan event announces.
int planned_revision(const std::vector<json>& events) {
  auto plans = events_of(events, "plan");
  REQUIRE(plans.size() == 1);
  return plans.front().at("revision").get<int>();
}

int exit_code_event(const std::vector<json>& events) {
  for (const auto& e : events_of(events, "rollout")) {
    if (e.value("phase", "") == "done") {
      return e.at("exit_code").get<int>();
    }
  }
  return -1;
}

// `rollgate status --output json`: one entry per testbed host.
std::map<std::string, json> status_by_host(const Testbed& tb, const TempManifest& m,
                                           const StateDir& s) {
  auto r = rgtest::run_rollgate(rgtest::fleet::rollgate_args("status", m, s));
  INFO(rgtest::describe(r));
  REQUIRE(r.exit_code == 0);
  auto j = json::parse(r.out, nullptr, false);
  REQUIRE(j.is_array());
  std::map<std::string, json> out;
  for (const auto& h : j) {
    out[h.at("host").get<std::string>()] = h;
  }
  INFO(r.out);
  REQUIRE(out.size() == tb.hosts().size());
  return out;
}

// The status entry of container `name` in one host's status; null when not listed.
json status_container(const json& host_status, const std::string& name) {
  for (const auto& c : host_status.at("containers")) {
    if (c.value("container", "") == name) {
      return c;
    }
  }
  return nullptr;
}

// The v1 -> v2 setup of the blue-green tests: v1 goes to green (the map says blue is live),
// then, with `and_v2`, v2 to blue. No load.
void deploy_bg(const Testbed& tb, const TempManifest& m, const StateDir& s, bool and_v2) {
  rgtest::fleet::deploy_ok(tb, m, s, "v1");
  REQUIRE(bg_backend(tb) == "bg_green");
  if (and_v2) {
    rgtest::fleet::deploy_ok(tb, m, s, "v2");
    REQUIRE(bg_backend(tb) == "bg_blue");
  }
}

}  // namespace

TEST_CASE("blue-green through HAProxy: v1 -> v2 switches the whole fleet and no request fails",
          "[docker][integration][bluegreen]") {
  Testbed tb = rgtest::fleet::fresh_fleet();
  StateDir state;
  TempManifest m(bg_manifest(tb, "2s"));
  deploy_bg(tb, m, state, /*and_v2=*/false);

  auto u = apply_under_load(tb, "RG_TESTBED_URL_BG", m, state, "v2");
  INFO(describe(u));
  check_updated_to_v2(u);
  CHECK(bodies(u.load) == "demo v1, demo v2");

  auto switches = events_of(u.events, "switch");
  REQUIRE(switches.size() == 1);
  CHECK(switches[0].value("to", "") == "blue");
  CHECK(events_of(u.events, "switched").size() == 1);

  CHECK(bg_backend(tb) == "bg_blue");
  auto status = status_by_host(tb, m, state);
  for (const auto& h : tb.hosts()) {
    INFO("host " << h << ": " << status.at(h).dump());
    CHECK(status.at(h).value("live_colour", "") == "blue");
    const json blue = status_container(status.at(h), "bg-blue");
    const json green = status_container(status.at(h), "bg-green");
    REQUIRE(blue.is_object());
    REQUIRE(green.is_object());
    CHECK(blue.value("live", false));
    CHECK(blue.value("state", "") == "running");
    CHECK(blue.value("port", 0) == 8180);
    CHECK(green.value("state", "") == "exited");  // stopped, kept for switch-back
    CHECK(container_on(tb, h, "bg-blue") == "running v2");
    CHECK(container_on(tb, h, "bg-green") == "exited v1");
  }
}

TEST_CASE("blue-green through HAProxy: a new colour failing its gate is removed unrouted",
          "[docker][integration][bluegreen]") {
  Testbed tb = rgtest::fleet::fresh_fleet();
  StateDir state;
  TempManifest m(bg_manifest(tb, "2s"));
  deploy_bg(tb, m, state, /*and_v2=*/false);
  const std::string before = bg_backend(tb);

  auto u = apply_under_load(tb, "RG_TESTBED_URL_BG", m, state, "unhealthy");
  INFO(describe(u));
  REQUIRE(u.run.exit_code == 3);
  CHECK(exit_code_event(u.events) == 3);
  check_no_request_failed(u);
  CHECK(bodies(u.load) == "demo v1");  // no request reached the unhealthy colour
  CHECK(events_of(u.events, "switch").empty());

  CHECK(bg_backend(tb) == before);
  for (const auto& h : tb.hosts()) {
    INFO("host " << h);
    CHECK(containers_of_version(tb, h, "unhealthy") == "");  // removed, not just stopped
    CHECK(container_on(tb, h, "bg-green") == "running v1");
    CHECK(container_on(tb, h, "bg-blue") == "(absent)");
  }
}

TEST_CASE("blue-green through HAProxy: a bake failure switches back to v1 and no request fails",
          "[docker][integration][bluegreen]") {
  Testbed tb = rgtest::fleet::fresh_fleet();
  StateDir state;
  // degrades answers /health for 6 s after its start, then 404: it passes the gate and fails
  // during the 12 s bake, while GET / keeps answering.
  TempManifest m(bg_manifest(tb, "12s"));
  deploy_bg(tb, m, state, /*and_v2=*/false);

  auto u = apply_under_load(tb, "RG_TESTBED_URL_BG", m, state, "degrades");
  INFO(describe(u));
  REQUIRE(u.run.exit_code == 3);
  CHECK(exit_code_event(u.events) == 3);
  check_no_request_failed(u);
  CHECK(saw(u.load, "demo degrades"));                                       // the switch happened
  CHECK(last_seen(u.load, "demo v1") > last_seen(u.load, "demo degrades"));  // and was undone

  auto switches = events_of(u.events, "switch");
  REQUIRE(switches.size() == 2);
  CHECK(switches[0].value("to", "") == "blue");
  CHECK(switches[0].value("ok", false));
  CHECK(switches[1].value("to", "") == "green");
  CHECK(switches[1].value("ok", false));
  bool bake_rollback = false;
  for (const auto& d : events_of(u.events, "decision")) {
    bake_rollback =
        bake_rollback || (d.value("gate", "") == "bake" && d.value("action", "") == "rollback");
  }
  CHECK(bake_rollback);

  CHECK(bg_backend(tb) == "bg_green");
  const std::string failed = "bg-r" + std::to_string(planned_revision(u.events)) + "-failed";
  for (const auto& h : tb.hosts()) {
    INFO("host " << h);
    CHECK(container_on(tb, h, failed) == "exited degrades");
    CHECK(container_on(tb, h, "bg-green") == "running v1");
    CHECK(container_on(tb, h, "bg-blue") == "(absent)");
    CHECK(containers_of_version(tb, h, "degrades") == failed + "(exited)");
  }
}

TEST_CASE("blue-green through HAProxy: SIGINT during the bake, then apply again finishes it",
          "[docker][integration][bluegreen]") {
  Testbed tb = rgtest::fleet::fresh_fleet();
  StateDir state;
  TempManifest m(bg_manifest(tb, "30s"));
  deploy_bg(tb, m, state, /*and_v2=*/false);  // v1 live on green

  Load load(tb.get("RG_TESTBED_URL_BG"));
  auto args = rgtest::fleet::rollgate_args("apply", m, state);
  args.insert(args.begin(), ROLLGATE_BIN);
  args.insert(args.end(), {"--image", rgtest::fleet::image(tb, "v2")});
  ProcResult interrupted;
  {
    rgtest::PipedProcess apply(args);
    bool baking = false;
    while (auto e = apply.next_event(60s)) {
      if (e->value("type", "") == "bake") {
        baking = true;
        break;
      }
    }
    REQUIRE(baking);
    std::this_thread::sleep_for(1s);
    apply.signal(SIGINT);
    interrupted = apply.wait(60s);
  }
  INFO("interrupted apply: " << rgtest::describe(interrupted));
  REQUIRE(interrupted.exit_code == 4);
  CHECK(bg_backend(tb) == "bg_blue");  // v2 is live, v1 still runs
  for (const auto& h : tb.hosts()) {
    INFO("host " << h);
    CHECK(container_on(tb, h, "bg-green") == "running v1");
  }

  // The bake is not restarted from scratch in this test: 2s is enough to see it finish.
  TempManifest short_bake(bg_manifest(tb, "2s"));
  auto again_args = rgtest::fleet::rollgate_args("apply", short_bake, state);
  again_args.insert(again_args.end(), {"--image", rgtest::fleet::image(tb, "v2")});
  auto again = rgtest::run_rollgate(again_args);
  std::this_thread::sleep_for(500ms);
  json report = load.stop();
  INFO("apply again: " << rgtest::describe(again) << "\nload: " << report.dump());
  REQUIRE(again.exit_code == 0);
  CHECK_THAT(again.out, Catch::Contains("finished the interrupted bake"));
  CHECK(number(report, "requests") > 100);
  CHECK(number(report, "failed") == 0);
  CHECK(bg_backend(tb) == "bg_blue");
  for (const auto& h : tb.hosts()) {
    INFO("host " << h);
    CHECK(container_on(tb, h, "bg-blue") == "running v2");
    CHECK(container_on(tb, h, "bg-green") == "exited v1");
  }
}

TEST_CASE("blue-green through HAProxy: switch-back returns to v1 and no request fails",
          "[docker][integration][bluegreen]") {
  Testbed tb = rgtest::fleet::fresh_fleet();
  StateDir state;
  TempManifest m(bg_manifest(tb, "0s"));
  deploy_bg(tb, m, state, /*and_v2=*/true);
  for (const auto& h : tb.hosts()) {
    REQUIRE(container_on(tb, h, "bg-green") == "exited v1");
  }

  auto u = under_load(tb.get("RG_TESTBED_URL_BG"),
                      rgtest::fleet::rollgate_args("switch-back", m, state));
  INFO(describe(u));
  REQUIRE(u.run.exit_code == 0);
  check_no_request_failed(u);
  CHECK(saw(u.load, "demo v2"));
  CHECK(last_seen(u.load, "demo v1") > last_seen(u.load, "demo v2"));  // v1 serves at the end

  auto switches = events_of(u.events, "switch");
  REQUIRE(switches.size() == 1);
  CHECK(switches[0].value("to", "") == "green");

  CHECK(bg_backend(tb) == "bg_green");
  auto status = status_by_host(tb, m, state);
  for (const auto& h : tb.hosts()) {
    INFO("host " << h << ": " << status.at(h).dump());
    CHECK(status.at(h).value("live_colour", "") == "green");
    CHECK(container_on(tb, h, "bg-green") == "running v1");
    CHECK(container_on(tb, h, "bg-blue") == "exited v2");
  }
}

TEST_CASE("rolling through HAProxy: each host drains before its stop, is enabled after its gate",
          "[docker][integration][bluegreen]") {
  Testbed tb = rgtest::fleet::fresh_fleet();
  StateDir state;
  TempManifest m(roll_manifest(tb));
  rgtest::fleet::deploy_ok(tb, m, state, "v1");

  auto u = apply_under_load(tb, "RG_TESTBED_URL_ROLL", m, state, "v2");
  INFO(describe(u));
  check_updated_to_v2(u);

  const auto servers = server_status("roll");
  for (const auto& h : tb.hosts()) {
    INFO("host " << h);
    const std::string drain = "set server roll/" + h + " state drain";
    CHECK(steps_out_of_order(u.events, h,
                             {drain, "/containers/roll/stop", "/containers/roll/start",
                              "set server roll/" + h + " state ready"}) == "");
    if (const long i = step_index(u.events, h, drain); i >= 0) {
      // In-flight requests ended before the stop (not the drain timeout).
      CHECK(u.events[static_cast<size_t>(i)].value("idle", false));
    }
    CHECK(status_of(servers, h) == "no check");  // taking traffic again
    CHECK(container_on(tb, h, "roll") == "running v2");
    CHECK(container_on(tb, h, "roll-r1") == "exited v1");
  }
}

TEST_CASE("start-first rolling through HAProxy: the green slot serves before blue stops",
          "[docker][integration][bluegreen]") {
  Testbed tb = rgtest::fleet::fresh_fleet();
  StateDir state;
  TempManifest m(sf_manifest(tb));
  rgtest::fleet::deploy_ok(tb, m, state, "v1");

  auto u = apply_under_load(tb, "RG_TESTBED_URL_SF", m, state, "v2");
  INFO(describe(u));
  check_updated_to_v2(u);

  const auto servers = server_status("sf");
  auto status = status_by_host(tb, m, state);
  for (const auto& h : tb.hosts()) {
    INFO("host " << h << ": " << status.at(h).dump());
    CHECK(steps_out_of_order(
              u.events, h,
              {"/containers/sf-next/start", "set server sf/" + h + "-green state ready",
               "set server sf/" + h + "-blue state drain", "/containers/sf/stop",
               "/containers/sf-next/rename?name=sf"}) == "");

    const json live = status_container(status.at(h), "sf");
    REQUIRE(live.is_object());
    CHECK(live.value("colour", "") == "green");
    CHECK(live.value("port", 0) == 8381);
    CHECK(live.value("state", "") == "running");
    const json archived = status_container(status.at(h), "sf-r1");
    REQUIRE(archived.is_object());
    CHECK(archived.value("state", "") == "exited");
    CHECK(container_on(tb, h, "sf") == "running v2");
    CHECK(container_on(tb, h, "sf-r1") == "exited v1");
    CHECK(status_of(servers, h + "-green") == "no check");
    // The stopped blue slot gets no traffic.
    CHECK_THAT(status_of(servers, h + "-blue"),
               Catch::Matchers::Equals("DRAIN") || Catch::Matchers::Equals("MAINT"));
  }
}

TEST_CASE("negative control: a container stopped behind HAProxy's back fails counted requests",
          "[docker][integration][bluegreen]") {
  Testbed tb = rgtest::fleet::fresh_fleet();
  StateDir state;
  TempManifest m(roll_manifest(tb));
  rgtest::fleet::deploy_ok(tb, m, state, "v1");
  const std::string host = tb.hosts().at(1);

  Load load(tb.get("RG_TESTBED_URL_ROLL"));
  std::this_thread::sleep_for(300ms);
  // No drain: HAProxy keeps sending this host its share, and with retries 0 each one fails.
  auto stopped = rgtest::http_request("POST", "http://engine/v1.41/containers/roll/stop?t=1",
                                      {"--unix-socket", tb.get("RG_TESTBED_SOCK_" + host)});
  std::this_thread::sleep_for(1s);
  const json report = load.stop();
  INFO("stop " << host << "'s roll: " << stopped.status << " " << stopped.error << stopped.body
               << "\nrollgate-load report: " << report.dump());
  REQUIRE(stopped.status == 204);
  CHECK(number(report, "failed") > 0);
  CHECK(report.at("failures_by_kind").at("status").get<int64_t>() > 0);
  CHECK(report.at("status_counts").value("503", 0) > 0);
  CHECK(number(report, "ok") > 0);  // the other hosts kept serving
  CHECK(container_on(tb, host, "roll") == "exited v1");
}

TEST_CASE("negative control: the same rolling update without a router fails requests",
          "[docker][integration][bluegreen]") {
  // The rolling test's zero comes from the drain, not from a rollout too quick to be hit: the
  // same update with HAProxy left alone sends requests to each stopped container.
  Testbed tb = rgtest::fleet::fresh_fleet();
  StateDir state;
  TempManifest m(roll_manifest(tb, /*router=*/false));
  rgtest::fleet::deploy_ok(tb, m, state, "v1");

  auto u = apply_under_load(tb, "RG_TESTBED_URL_ROLL", m, state, "v2");
  INFO(describe(u));
  REQUIRE(u.run.exit_code == 0);
  CHECK(number(u.load, "failed") > 0);
  CHECK(u.load.at("status_counts").value("503", 0) > 0);
  CHECK(last_seen(u.load, "demo v2") > last_seen(u.load, "demo v1"));
}

TEST_CASE("blue-green with a command router: the script gets the ROLLGATE_* variables",
          "[docker][integration][bluegreen]") {
  Testbed tb = rgtest::fleet::fresh_fleet();
  StateDir state;
  TempDir dir;
  const std::string log = dir.path() + "/calls.log";
  const std::string script = dir.path() + "/router.sh";
  {
    // Logs each run's ROLLGATE_* environment, then does the action on HAProxy's map through
    // the TCP runtime API (scripts/testbed haproxy-cmd); wait-idle does not wait.
    std::ofstream out(script);
    out << "log='" << log << "'\n"
        << "tb='" << ROLLGATE_SOURCE_DIR << "/scripts/testbed'\n"
        << "map='" << haproxy_map(tb) << "'\n"
        << "{ echo '--- call'; env | grep '^ROLLGATE_' | sort; } >> \"$log\"\n"
        << "case \"$ROLLGATE_ACTION\" in\n"
        << "  check|wait-idle) exit 0 ;;\n"
        << "  live)\n"
        << "    out=$(\"$tb\" haproxy-cmd \"show map $map\") || exit 1\n"
        << "    case \"$out\" in\n"
        << "      *' bg bg_blue'*) echo blue ;;\n"
        << "      *' bg bg_green'*) echo green ;;\n"
        << "    esac\n"
        << "    exit 0 ;;\n"
        << "  switch)\n"
        << "    out=$(\"$tb\" haproxy-cmd \"set map $map bg bg_$ROLLGATE_COLOUR\") || exit 1\n"
        << "    [ -z \"$(printf '%s' \"$out\" | tr -d '[:space:]')\" ] || "
           "{ echo \"set map: $out\"; exit 1; }\n"
        << "    exit 0 ;;\n"
        << "esac\n"
        << "echo \"unexpected ROLLGATE_ACTION=$ROLLGATE_ACTION\"\n"
        << "exit 1\n";
    REQUIRE(out.good());
  }
  TempManifest m(
      bg_manifest(tb, "2s", "{drain_timeout: 5s, command: [\"/bin/sh\", \"" + script + "\"]}"));

  // The run's calls, each the ROLLGATE_* variables it was given.
  auto calls = [&] {
    std::vector<std::map<std::string, std::string>> out;
    std::istringstream in(rgtest::read_text_file(log));
    for (std::string line; std::getline(in, line);) {
      if (line == "--- call") {
        out.emplace_back();
      } else if (!out.empty() && line.find('=') != std::string::npos) {
        out.back()[line.substr(0, line.find('='))] = line.substr(line.find('=') + 1);
      }
    }
    return out;
  };
  auto of_action = [](const std::vector<std::map<std::string, std::string>>& all,
                      const std::string& action) {
    std::vector<std::map<std::string, std::string>> out;
    for (const auto& c : all) {
      if (c.at("ROLLGATE_ACTION") == action) {
        out.push_back(c);
      }
    }
    return out;
  };
  auto endpoints = [&](int port) {
    std::string list;
    for (const auto& h : tb.hosts()) {
      list += (list.empty() ? "" : " ") + h + "=" + tb.addr(h) + ":" + std::to_string(port);
    }
    return list;
  };
  std::string hosts;
  for (const auto& h : tb.hosts()) {
    hosts += (hosts.empty() ? "" : " ") + h;
  }
  using Env = std::map<std::string, std::string>;
  auto show = [](const std::vector<Env>& all) {
    std::string text;
    for (const auto& c : all) {
      text += "---\n";
      for (const auto& [k, v] : c) {
        text += k + "=" + v + "\n";
      }
    }
    return text;
  };

  // v1: the script says blue is live (the map's entry), so v1 goes to green.
  rgtest::fleet::deploy_ok(tb, m, state, "v1");
  {
    const auto first = calls();
    INFO("router calls of apply v1:\n" << show(first));
    CHECK(!of_action(first, "check").empty());
    CHECK(!of_action(first, "live").empty());
    const auto switches = of_action(first, "switch");
    REQUIRE(switches.size() == 1);
    CHECK(switches[0] == Env{{"ROLLGATE_ACTION", "switch"},
                             {"ROLLGATE_APP", "bg"},
                             {"ROLLGATE_COLOUR", "green"},
                             {"ROLLGATE_ENDPOINTS", endpoints(8181)},
                             {"ROLLGATE_HOSTS", hosts},
                             {"ROLLGATE_PORT", "8181"}});
  }
  REQUIRE(bg_backend(tb) == "bg_green");
  REQUIRE(::truncate(log.c_str(), 0) == 0);

  // rollgate's own ROLLGATE_* environment is never inherited by the script: this one must not
  // appear where rollgate sets no ROLLGATE_PORT (wait-idle).
  std::optional<UnderLoad> run;
  {
    ScopedEnv leak("ROLLGATE_PORT", "1");
    run = apply_under_load(tb, "RG_TESTBED_URL_BG", m, state, "v2");
  }
  const UnderLoad& u = *run;
  const auto second = calls();
  INFO(describe(u) << "router calls of apply v2:\n" << show(second));
  check_updated_to_v2(u);

  const auto switches = of_action(second, "switch");
  REQUIRE(switches.size() == 1);
  CHECK(switches[0] == Env{{"ROLLGATE_ACTION", "switch"},
                           {"ROLLGATE_APP", "bg"},
                           {"ROLLGATE_COLOUR", "blue"},
                           {"ROLLGATE_ENDPOINTS", endpoints(8180)},
                           {"ROLLGATE_HOSTS", hosts},
                           {"ROLLGATE_PORT", "8180"}});
  const auto idle = of_action(second, "wait-idle");
  REQUIRE(idle.size() == 1);
  CHECK(idle[0] == Env{{"ROLLGATE_ACTION", "wait-idle"},
                       {"ROLLGATE_APP", "bg"},
                       {"ROLLGATE_COLOUR", "green"},
                       {"ROLLGATE_DRAIN_TIMEOUT_MS", "5000"},
                       {"ROLLGATE_HOSTS", hosts}});
  // The switch came before the wait for the old colour.
  auto first_index = [&](const std::string& action) {
    size_t i = 0;
    while (i < second.size() && second[i].at("ROLLGATE_ACTION") != action) {
      ++i;
    }
    return i;
  };
  CHECK(first_index("switch") < first_index("wait-idle"));

  CHECK(bg_backend(tb) == "bg_blue");  // the script really switched
  for (const auto& h : tb.hosts()) {
    INFO("host " << h);
    CHECK(container_on(tb, h, "bg-blue") == "running v2");
    CHECK(container_on(tb, h, "bg-green") == "exited v1");
  }
}
