// The health gate end to end on the real testbed ([docker]; needs `scripts/testbed up`).
//
// Each test deploys v1 to every testbed host (app "hgate", published on host port kPort so it
// never collides with other tests' apps on 8080), then rolls out a demo image that misbehaves
// in one way, and checks, with tools independent of rollgate (curl on the app's port and on the
// engines): the exit code, the decision event's action and rule, what every host serves
// afterwards, and the one-line summary a person reads (the last `rollout` event's message,
// which is what text output prints as its last line, `rollgate: exit N: <summary>`).
//
// Only this app's containers are removed between tests (through the engines' unix sockets, so
// it works while a link is down); every run gets its own ROLLGATE_STATE_DIR.
#include <signal.h>
#include <stdlib.h>
#include <sys/types.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/rollgate_runner.h"
#include "tests/integration/testbed.h"
#include "tests/support/scoped_env.h"
#include "tests/support/temp_dir.h"

using nlohmann::json;
using rgtest::Background;
using rgtest::describe;
using rgtest::events_of;
using rgtest::json_lines;
using rgtest::ProcResult;
using rgtest::run_process;
using rgtest::run_rollgate;
using rgtest::TempManifest;
using rgtest::Testbed;
using namespace std::chrono_literals;

namespace {

const std::string kApp = "hgate";
const std::string kPort = "18093";

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string testbed_script() { return std::string(ROLLGATE_SOURCE_DIR) + "/scripts/testbed"; }

// Every container of this app (hgate, hgate-r1, hgate-r2-failed, ...) on every host, removed
// through the unix socket.
void remove_app_containers(const Testbed& tb) {
  for (const auto& h : tb.hosts()) {
    const std::string sock = tb.get("RG_TESTBED_SOCK_" + h);
    REQUIRE(!sock.empty());
    auto list = run_process({"curl", "-sS", "-m", "10", "--unix-socket", sock,
                             "http://engine/v1.41/containers/json?all=1"});
    INFO(describe(list));
    REQUIRE(list.exit_code == 0);
    auto cs = json::parse(list.out, nullptr, false);
    REQUIRE(cs.is_array());
    for (const auto& c : cs) {
      const std::string name = c.at("Names").at(0).get<std::string>().substr(1);
      // hgate, hgate-r1, hgate-r2-failed, ... and rollgate's lock object hgate.rollgate-lock.
      if (name == kApp || name.rfind(kApp + "-", 0) == 0 || name.rfind(kApp + ".", 0) == 0) {
        auto rm = run_process(
            {"curl", "-sS", "-m", "30", "--unix-socket", sock, "-X", "DELETE",
             "http://engine/v1.41/containers/" + c.at("Id").get<std::string>() + "?force=1"});
        INFO(describe(rm));
        REQUIRE(rm.exit_code == 0);
      }
    }
  }
}

// A temp ROLLGATE_STATE_DIR for the life of a test, removed afterwards.
class StateDir {
 public:
  StateDir() : env_("ROLLGATE_STATE_DIR", dir_.path()) {}
  const std::string& path() const { return dir_.path(); }

 private:
  orch::testing::TempDir dir_{"rollgate-hgate-state-", "/tmp"};
  orch::testing::ScopedEnv env_;  // after dir_: restored before the directory goes
};

// The testbed with no container of this app.
Testbed fresh_fleet() {
  Testbed tb = rgtest::load_testbed();
  REQUIRE(tb.hosts().size() >= 3);
  remove_app_containers(tb);
  return tb;
}

using rgtest::fleet::image;

// A manifest for every testbed host. `health` overrides or adds keys under health: (the
// defaults below are fast); `env` is the container's environment.
struct Spec {
  std::string tag = "v1";
  int batch_size = 1;
  std::map<std::string, std::string> env;
  std::map<std::string, std::string> health;
  std::string on_failure = "rollback";
  std::string restart;  // container.restart; "" for the default (unless-stopped)
};

std::string manifest_yaml(const Testbed& tb, const Spec& s) {
  auto y = rgtest::fleet::testbed_manifest(tb, kApp, image(tb, s.tag));
  y.ports = "[\"" + kPort + ":8080\"]";
  y.stop_timeout = "2s";
  y.restart = s.restart;
  y.env = s.env;
  y.strategy = {{"batch_size", std::to_string(s.batch_size)}};
  y.health = {
      {"http", "{port: " + kPort + ", path: /health}"},
      {"interval", "250ms"},
      {"timeout", "1s"},
      {"healthy_threshold", "1"},
      {"healthy_deadline", "6s"},
      {"min_healthy_time", "0s"},
  };
  for (const auto& [k, v] : s.health) {
    y.health[k] = v;
  }
  y.on_failure = s.on_failure;
  return y.text();
}

ProcResult apply_json(const TempManifest& m) {
  return run_rollgate({"apply", "-f", m.path(), "--output", "json"});
}

// What the app answers on GET / at the host's published port.
std::string served(const Testbed& tb, const std::string& host) {
  auto reply = rgtest::http_get("http://" + tb.addr(host) + ":" + kPort + "/");
  return reply.ok && reply.status == 200 ? reply.body : "(" + reply.error + ")";
}

void check_fleet_serves(const Testbed& tb, const std::string& tag) {
  for (const auto& h : tb.hosts()) {
    INFO("host " << h);
    CHECK(served(tb, h) == "demo " + tag + "\n");
  }
}

// Deploys v1 to every host at once (the starting point of most tests).
void deploy_v1(const Testbed& tb) {
  Spec s;
  s.batch_size = 3;
  TempManifest m(manifest_yaml(tb, s));
  auto r = apply_json(m);
  INFO(describe(r));
  REQUIRE(r.exit_code == 0);
  check_fleet_serves(tb, "v1");
}

// "tcp://10.231.7.11:2375" -> "http://10.231.7.11:2375/v1.41".
std::string engine_base(const Testbed& tb, const std::string& host) {
  std::string e = tb.engine(host);
  REQUIRE(e.rfind("tcp://", 0) == 0);
  return "http://" + e.substr(6) + "/v1.41";
}

// The app's live container on `host` as the engine reports it (null when absent).
json inspect_live(const Testbed& tb, const std::string& host) {
  auto reply = rgtest::http_get(engine_base(tb, host) + "/containers/" + kApp + "/json");
  INFO(host << ": " << reply.error << reply.body);
  REQUIRE(reply.ok);
  if (reply.status == 404) {
    return nullptr;
  }
  REQUIRE(reply.status == 200);
  return json::parse(reply.body);
}

// Stops every host's live app container through the engine API (the incident's starting point).
void stop_fleet(const Testbed& tb) {
  for (const auto& h : tb.hosts()) {
    auto reply =
        rgtest::http_request("POST", engine_base(tb, h) + "/containers/" + kApp + "/stop?t=1");
    INFO(h << ": " << reply.error << reply.body);
    REQUIRE(reply.ok);
    REQUIRE((reply.status == 204 || reply.status == 304));
    REQUIRE(inspect_live(tb, h).at("State").at("Running") == false);
    REQUIRE(served(tb, h) != "demo v1\n");
  }
}

// A finished run, parsed.
struct Run {
  ProcResult proc;
  std::vector<json> events;
  json stop;            // the first decision that did not continue (null if none)
  std::string summary;  // the last rollout event's message: text output's last line
};

Run parse_run(ProcResult proc) {
  Run run;
  run.proc = std::move(proc);
  run.events = json_lines(run.proc.out);
  for (const auto& d : events_of(run.events, "decision")) {
    if (d.value("action", "") != "continue") {
      run.stop = d;
      break;
    }
  }
  auto done = events_of(run.events, "rollout");
  if (!done.empty() && done.back().value("phase", "") == "done") {
    run.summary = done.back().value("message", "");
    CHECK(done.back().value("exit_code", -1) == run.proc.exit_code);
  }
  return run;
}

Run run_apply(const TempManifest& m) { return parse_run(apply_json(m)); }

// The decision events, one line each, for failure messages.
std::string decisions(const Run& r) {
  std::string s;
  for (const auto& d : events_of(r.events, "decision")) {
    s += d.value("action", "") + " / " + d.value("rule", "") + ": " + d.value("reason", "") + "\n";
  }
  return s;
}

// The stopping decision must be `action` by `rule`.
void check_stop(const Run& r, const std::string& action, const std::string& rule) {
  INFO(describe(r.proc));
  INFO("decisions:\n" << decisions(r));
  REQUIRE(r.stop.is_object());
  CHECK(r.stop.value("action", "") == action);
  CHECK(r.stop.value("rule", "") == rule);
  CHECK(!r.summary.empty());
}

// The summary is one line that names the host and says what happened.
void check_summary(const Run& r, const std::vector<std::string>& parts) {
  INFO("summary: " << r.summary);
  CHECK(!contains(r.summary, "\n"));
  for (const auto& p : parts) {
    CHECK(contains(r.summary, p));
  }
}

bool any_of_parts(const std::string& text, const std::vector<std::string>& parts) {
  for (const auto& p : parts) {
    if (contains(text, p)) {
      return true;
    }
  }
  return false;
}

// Deploys `s` over v1 and expects exit 3 by worse-than-baseline, the fleet back on v1.
Run expect_rolled_back(const Testbed& tb, const Spec& s) {
  deploy_v1(tb);
  TempManifest m(manifest_yaml(tb, s));
  Run r = run_apply(m);
  INFO(describe(r.proc));
  CHECK(r.proc.exit_code == 3);
  check_stop(r, "rollback", "worse-than-baseline");
  CHECK(!events_of(r.events, "rollback").empty());
  check_fleet_serves(tb, "v1");
  return r;
}

// The JSON events a running rollgate has printed so far.
std::vector<json> events_so_far(const Background& bg) {
  return rgtest::json_lines_so_far(bg.out());
}

bool has_event(const Background& bg, const std::string& type, const std::string& host,
               const std::string& key = "", const json& value = nullptr) {
  for (const auto& e : events_so_far(bg)) {
    if (e.value("type", "") == type && (host.empty() || e.value("host", "") == host) &&
        (key.empty() || (e.contains(key) && e.at(key) == value))) {
      return true;
    }
  }
  return false;
}

std::string bg_state(Background& bg) {
  return "$ " + bg.command() + "\n--- stdout so far ---\n" + bg.out() + "--- stderr so far ---\n" +
         bg.err();
}

Background start_apply(const TempManifest& m, bool own_group = false) {
  return Background({ROLLGATE_BIN, "apply", "-f", m.path(), "--output", "json"}, own_group);
}

// Brings a host's link back up when it goes out of scope, whatever happened.
class LinkGuard {
 public:
  explicit LinkGuard(std::string host) : host_(std::move(host)) {}
  ~LinkGuard() {
    if (down_) {
      run_process({testbed_script(), "link-up", host_});
    }
  }
  LinkGuard(const LinkGuard&) = delete;
  LinkGuard& operator=(const LinkGuard&) = delete;
  void down() {
    down_ = true;
    auto r = run_process({testbed_script(), "link-down", host_});
    INFO(describe(r));
    REQUIRE(r.exit_code == 0);
  }
  void up() {
    auto r = run_process({testbed_script(), "link-up", host_});
    INFO(describe(r));
    REQUIRE(r.exit_code == 0);
    down_ = false;
  }

 private:
  std::string host_;
  bool down_ = false;
};

}  // namespace

TEST_CASE("health gate: a crash at start rolls back (worse than baseline)", "[docker]") {
  StateDir state;
  Testbed tb = fresh_fleet();
  Spec s;
  s.tag = "crash";
  Run r = expect_rolled_back(tb, s);
  INFO(describe(r.proc));
  CHECK(any_of_parts(r.summary, {"exited with code 1", "crash loop"}));
  check_summary(r, {"rolled back", tb.hosts()[0], "healthy before the rollout"});

  // Text output: its last line is the same reason, for a person.
  TempManifest m(manifest_yaml(tb, s));
  auto text = run_rollgate({"apply", "-f", m.path()});
  INFO(describe(text));
  CHECK(text.exit_code == 3);
  std::string out = text.out;
  while (!out.empty() && out.back() == '\n') {
    out.pop_back();
  }
  const std::string last = out.substr(out.rfind('\n') + 1);
  CHECK(last.rfind("rollgate: exit 3: rolled back", 0) == 0);
  CHECK(any_of_parts(last, {"exited with code 1", "crash loop"}));
  check_fleet_serves(tb, "v1");
}

TEST_CASE("health gate: a failing health endpoint rolls back", "[docker]") {
  StateDir state;
  Testbed tb = fresh_fleet();
  Spec s;
  s.tag = "unhealthy";
  s.health["healthy_deadline"] = "3s";
  Run r = expect_rolled_back(tb, s);
  check_summary(r, {"rolled back", tb.hosts()[0], "404", "healthy_deadline"});
}

TEST_CASE("health gate: a slow start within healthy_deadline passes, past it fails", "[docker]") {
  StateDir state;
  Testbed tb = fresh_fleet();
  SECTION("within the deadline") {
    deploy_v1(tb);
    Spec s;
    s.tag = "slow";
    s.batch_size = 3;
    s.env["SLOW_START"] = "2";
    s.health["healthy_deadline"] = "6s";
    TempManifest m(manifest_yaml(tb, s));
    Run r = run_apply(m);
    INFO(describe(r.proc));
    CHECK(r.proc.exit_code == 0);
    CHECK(r.stop.is_null());
    auto ds = events_of(r.events, "decision");
    REQUIRE(!ds.empty());
    CHECK(ds.back().value("rule", "") == "all-healthy");
    check_summary(r, {"done", "3 host(s)"});
    check_fleet_serves(tb, "slow");
  }
  SECTION("past the deadline") {
    Spec s;
    s.tag = "slow";
    s.env["SLOW_START"] = "10";
    s.health["healthy_deadline"] = "3s";
    Run r = expect_rolled_back(tb, s);
    check_summary(r, {"rolled back", tb.hosts()[0], "healthy_deadline"});
  }
}

TEST_CASE("health gate: healthy then exiting within min_healthy_time rolls back", "[docker]") {
  StateDir state;
  Testbed tb = fresh_fleet();
  Spec s;
  s.tag = "dies";
  s.env["DIE_AFTER"] = "2";
  s.health["min_healthy_time"] = "4s";
  s.health["healthy_deadline"] = "8s";
  std::string expected;
  SECTION("restart: no: the exit itself is the reason") {
    s.restart = "no";
    expected = "exited with code 1";
  }
  SECTION("restart: unless-stopped (the default): Docker restarts it, a crash loop") {
    expected = "crash loop";
  }
  Run r = expect_rolled_back(tb, s);
  check_summary(r, {"rolled back", tb.hosts()[0], expected, "healthy before the rollout"});
  // It did pass its probes before it died.
  bool passed = false;
  for (const auto& p : events_of(r.events, "probe")) {
    for (const auto& pr : p.value("probes", json::array())) {
      passed = passed || (p.value("host", "") == tb.hosts()[0] &&
                          contains(pr.value("detail", ""), "HTTP 200"));
    }
  }
  CHECK(passed);
}

TEST_CASE("health gate: healthy then unhealthy by Docker HEALTHCHECK fails", "[docker]") {
  StateDir state;
  Testbed tb = fresh_fleet();
  Spec s;
  s.tag = "hc-unhealthy";
  s.env["HC_FAIL_AFTER"] = "2";
  s.health["min_healthy_time"] = "5s";
  s.health["healthy_deadline"] = "10s";
  SECTION("docker_health off: v1's baseline is healthy by HTTP, so it rolls back") {
    s.health["docker_health"] = "false";
    Run r = expect_rolled_back(tb, s);
    check_summary(r, {"rolled back", tb.hosts()[0], "HEALTHCHECK"});
  }
  SECTION("docker_health on: v1 has no HEALTHCHECK, so its baseline is unhealthy: pause") {
    deploy_v1(tb);
    s.health["docker_health"] = "true";
    TempManifest m(manifest_yaml(tb, s));
    Run r = run_apply(m);
    INFO(describe(r.proc));
    CHECK(r.proc.exit_code == 4);
    check_stop(r, "pause", "not-worse-than-baseline");
    check_summary(r, {"paused", tb.hosts()[0], "HEALTHCHECK", "already unhealthy"});
    for (const auto& b : events_of(r.events, "baseline")) {
      CHECK(b.value("baseline", "") == "unhealthy");
    }
    CHECK(events_of(r.events, "rollback").empty());
    CHECK(served(tb, tb.hosts()[0]) == "demo hc-unhealthy\n");
    for (size_t i = 1; i < tb.hosts().size(); ++i) {
      CHECK(served(tb, tb.hosts()[i]) == "demo v1\n");
    }
  }
}

TEST_CASE("health gate: the incident: a fleet that is down is healed by a healthy deploy",
          "[docker]") {
  StateDir state;
  Testbed tb = fresh_fleet();
  deploy_v1(tb);
  stop_fleet(tb);
  Spec s;
  s.tag = "v2";
  TempManifest m(manifest_yaml(tb, s));
  Run r = run_apply(m);
  INFO(describe(r.proc));
  REQUIRE(r.proc.exit_code == 0);
  std::set<std::string> seen;
  for (const auto& b : events_of(r.events, "baseline")) {
    INFO(b.dump());
    CHECK(b.value("baseline", "") == "unhealthy");
    seen.insert(b.value("host", ""));
  }
  CHECK(seen.size() == tb.hosts().size());
  // One decision per batch, each continuing because the new container is healthy.
  auto ds = events_of(r.events, "decision");
  CHECK(ds.size() == tb.hosts().size());
  for (const auto& d : ds) {
    INFO(d.dump());
    CHECK(d.value("action", "") == "continue");
    CHECK(d.value("rule", "") == "all-healthy");
    for (const auto& h : d.at("hosts")) {
      CHECK(h.value("baseline", "") == "unhealthy");
      CHECK(h.value("verdict", "") == "healthy");
    }
  }
  check_summary(r, {"done", "3 host(s)"});
  check_fleet_serves(tb, "v2");
}

TEST_CASE("health gate: a crashing image onto a fleet that is already down pauses", "[docker]") {
  StateDir state;
  Testbed tb = fresh_fleet();
  deploy_v1(tb);
  stop_fleet(tb);
  Spec s;
  s.tag = "crash";
  TempManifest m(manifest_yaml(tb, s));
  Run r = run_apply(m);
  INFO(describe(r.proc));
  CHECK(r.proc.exit_code == 4);
  check_stop(r, "pause", "not-worse-than-baseline");
  check_summary(r, {"paused", tb.hosts()[0], "already unhealthy before the rollout"});
  CHECK(events_of(r.events, "rollback").empty());
  // Nothing rolled back: h1 keeps the crashed new container, the others their stopped v1.
  auto h1 = inspect_live(tb, tb.hosts()[0]);
  REQUIRE(h1.is_object());
  CHECK(h1.at("Config").at("Labels").value("rollgate.revision", "") == "2");
  std::string crash_digest;
  for (const auto& p : events_of(r.events, "preflight")) {
    if (p.contains("digest")) {
      crash_digest = p.value("digest", "");
    }
  }
  CHECK(!crash_digest.empty());
  CHECK(h1.at("Config").at("Labels").value("rollgate.digest", "") == crash_digest);
  // The crash image never serves (it is exited or restarting, depending on the moment).
  CHECK(!contains(served(tb, tb.hosts()[0]), "demo"));
  for (size_t i = 1; i < tb.hosts().size(); ++i) {
    auto c = inspect_live(tb, tb.hosts()[i]);
    REQUIRE(c.is_object());
    CHECK(c.at("Config").at("Labels").value("rollgate.revision", "") == "1");
    CHECK(c.at("State").at("Running") == false);
  }
}

TEST_CASE("health gate: a host's network cut mid-gate pauses (unobservable), never rolls back",
          "[docker]") {
  StateDir state;
  Testbed tb = fresh_fleet();
  const std::string h1 = tb.hosts()[0];
  deploy_v1(tb);
  Spec s;
  s.tag = "v2";
  s.health["healthy_threshold"] = "40";  // 10 s of passing rounds: the gate is still running
  s.health["healthy_deadline"] = "30s";
  TempManifest m(manifest_yaml(tb, s));
  LinkGuard link(h1);
  Background bg = start_apply(m);
  REQUIRE(rgtest::wait_until([&] { return has_event(bg, "probe", h1); }, 60s));
  INFO(bg_state(bg));
  link.down();
  Run r = parse_run(bg.wait(180s));
  INFO(describe(r.proc));
  INFO("decisions:\n" << decisions(r));
  link.up();
  CHECK(r.proc.exit_code == 4);
  check_stop(r, "pause", "unobservable");
  CHECK(events_of(r.events, "rollback").empty());
  check_summary(r, {"paused", h1, "never rolling back on missing data"});
  // h1 recovers once its link is back: its new container kept running throughout.
  CHECK(rgtest::wait_until([&] { return served(tb, h1) == "demo v2\n"; }, 20s));
  for (size_t i = 1; i < tb.hosts().size(); ++i) {
    CHECK(served(tb, tb.hosts()[i]) == "demo v1\n");
  }
}

TEST_CASE("health gate: a failure during the bake rolls back", "[docker]") {
  StateDir state;
  Testbed tb = fresh_fleet();
  Spec s;
  s.tag = "dies";
  s.batch_size = 3;
  s.env["DIE_AFTER"] = "3";
  s.health["bake"] = "6s";
  Run r = expect_rolled_back(tb, s);
  // Every host passed its batch gate first.
  auto ds = events_of(r.events, "decision");
  REQUIRE(!ds.empty());
  CHECK(ds.front().value("action", "") == "continue");
  CHECK(ds.front().value("gate", "") == "new container");
  CHECK(!events_of(r.events, "bake").empty());
  CHECK(r.stop.value("gate", "") == "bake");
  check_summary(r, {"rolled back", "during the bake", "crash loop"});
}

TEST_CASE("health gate: an operator pauses, resumes and rolls back a running apply", "[docker]") {
  StateDir state;
  Testbed tb = fresh_fleet();
  deploy_v1(tb);
  Spec s;
  s.tag = "v2";
  s.health["min_healthy_time"] = "2s";
  TempManifest m(manifest_yaml(tb, s));
  const auto hosts = tb.hosts();

  SECTION("pause holds the rollout until resume") {
    Background bg = start_apply(m);
    REQUIRE(rgtest::wait_until([&] { return has_event(bg, "probe", hosts[0]); }, 60s));
    INFO(bg_state(bg));
    auto p = run_rollgate({"pause", "-f", m.path()});
    INFO(describe(p));
    REQUIRE(p.exit_code == 0);
    REQUIRE(rgtest::wait_until(
        [&] { return has_event(bg, "control", "", "command", json("pause")); }, 10s));
    // Held: nothing more happens for a while.
    const std::string held = bg.out();
    std::this_thread::sleep_for(3s);
    CHECK(bg.out() == held);
    CHECK(!bg.done());
    auto res = run_rollgate({"resume", "-f", m.path()});
    INFO(describe(res));
    REQUIRE(res.exit_code == 0);
    Run r = parse_run(bg.wait(60s));
    INFO(describe(r.proc));
    CHECK(r.proc.exit_code == 0);
    bool resumed = false;
    for (const auto& c : events_of(r.events, "control")) {
      resumed = resumed || c.value("command", "") == "resume";
    }
    CHECK(resumed);
    check_fleet_serves(tb, "v2");
  }
  SECTION("rollback mid-rollout puts every touched host back") {
    Background bg = start_apply(m);
    REQUIRE(rgtest::wait_until([&] { return has_event(bg, "probe", hosts[1]); }, 60s));
    INFO(bg_state(bg));
    auto rb = run_rollgate({"rollback", "-f", m.path()});
    INFO(describe(rb));
    REQUIRE(rb.exit_code == 0);
    Run r = parse_run(bg.wait(60s));
    INFO(describe(r.proc));
    CHECK(r.proc.exit_code == 3);
    check_stop(r, "rollback", "operator-rollback");
    check_summary(r, {"rolled back", "operator"});
    check_fleet_serves(tb, "v1");
  }
}

TEST_CASE("health gate: SIGTERM mid-gate reverts the batch and exits 4", "[docker]") {
  StateDir state;
  Testbed tb = fresh_fleet();
  const auto hosts = tb.hosts();
  deploy_v1(tb);
  Spec s;
  s.tag = "unhealthy";
  s.health["healthy_deadline"] = "8s";
  TempManifest m(manifest_yaml(tb, s));
  Background bg = start_apply(m);
  REQUIRE(rgtest::wait_until([&] { return has_event(bg, "probe", hosts[0]); }, 60s));
  INFO(bg_state(bg));
  REQUIRE(::kill(bg.pid(), SIGTERM) == 0);
  Run r = parse_run(bg.wait(60s));
  INFO(describe(r.proc));
  CHECK(r.proc.exit_code == 4);
  check_stop(r, "pause", "interrupted");
  check_summary(r, {"interrupted", "reverted"});
  check_fleet_serves(tb, "v1");

  auto h = run_rollgate({"history", "-f", m.path(), "--output", "json"});
  INFO(describe(h));
  REQUIRE(h.exit_code == 0);
  auto rows = json_lines(h.out);
  REQUIRE(rows.size() == 1);
  REQUIRE(rows[0].is_array());
  REQUIRE(rows[0].size() == 2);  // the v1 deploy, then this one
  bool found = false;
  for (const auto& row : rows[0]) {
    if (row.value("revision", 0) == 2) {
      found = true;
      CHECK(row.value("result", "") == "paused");
    }
  }
  CHECK(found);
}

TEST_CASE("health gate: killing apply's whole process group leaves the app running", "[docker]") {
  StateDir state;
  Testbed tb = fresh_fleet();
  deploy_v1(tb);
  Spec s;
  s.tag = "v2";
  s.batch_size = 3;
  TempManifest m(manifest_yaml(tb, s));
  Background bg = start_apply(m, /*own_group=*/true);
  const pid_t group = bg.pid();
  Run r = parse_run(bg.wait(60s));
  INFO(describe(r.proc));
  REQUIRE(r.proc.exit_code == 0);
  // rollgate never forks a daemon: nothing of its group is left to kill.
  errno = 0;
  CHECK(::kill(-group, SIGKILL) == -1);
  CHECK(errno == ESRCH);
  std::this_thread::sleep_for(1s);
  for (const auto& h : tb.hosts()) {
    INFO("host " << h);
    auto c = inspect_live(tb, h);
    REQUIRE(c.is_object());
    CHECK(c.at("State").at("Running") == true);
  }
  check_fleet_serves(tb, "v2");
}
