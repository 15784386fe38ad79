// Faults injected mid-rollout on the real testbed ([docker]; needs `scripts/testbed up`),
// issue 4 item 6: a host's dockerd restarted, a host's link cut, the registry down during
// pre-flight. Each must end in a defined exit code with the journal saying so, and hosts not in
// flight keep serving throughout (a background poller on every host's app port; batch size 1,
// so at most one host, the one in flight, may be down at any moment). Afterwards `resume`
// converges the fleet. Each test restores the testbed it broke, even when it fails.
//
// Restarting a dockerd or the registry: `scripts/testbed up` cannot do it (a dead dockerd or
// registry fails its fast check, and `up` then tears the whole testbed down and rebuilds it,
// removing every container on every host). So the tests restart the very process: they read
// its command line from /proc, SIGTERM it, wait for it to exit, and start the same command
// again in a new session (dockerd inside the host's network namespace, via nsenter; it writes
// its own pidfile; the registry's pidfile is rewritten), so `scripts/testbed status` sees a
// healthy testbed afterwards.
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string>
#include <thread>
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

const std::string kApp = "ftest";

std::string manifest_yaml(const Testbed& tb, const std::string& image_ref) {
  return rgtest::fleet::manifest_yaml(tb, kApp, image_ref);
}

using rgtest::fleet::deploy_ok;
using rgtest::fleet::fresh_fleet;
using rgtest::fleet::image;
using rgtest::fleet::rollgate_args;
using rgtest::fleet::summary;

std::string describe_run(const ProcResult& r) {
  return "$ " + r.command + " [exit " + std::to_string(r.exit_code) + "]\n" + summary(r.out) +
         "stderr: " + r.err;
}

// The `result` of revision `revision` in `rollgate history --output json`; "" when absent.
std::string history_result(const TempManifest& m, const StateDir& state, int revision) {
  auto h = run_rollgate(rollgate_args("history", m, state));
  INFO(rgtest::describe(h));
  REQUIRE(h.exit_code == 0);
  auto rows = rgtest::json_lines(h.out);
  REQUIRE(rows.size() == 1);
  for (const auto& row : rows[0]) {
    if (row.value("revision", 0) == revision) {
      return row.value("result", "");
    }
  }
  return "";
}

// Every host serves `tag` from one running container, the app's, at `revision`; every other
// container is an archive (APP-rN, APP-rN-failed): no orphan, no lock left.
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

// Reads apply's events until `h`'s start call (its gate begins); false if it never comes.
bool wait_for_start_of(PipedProcess& apply, const std::string& h) {
  while (auto e = apply.next_event(60s)) {
    if (e->value("type", "") == "step" && e->value("host", "") == h &&
        e->value("call", "").find("/start") != std::string::npos) {
      return true;
    }
  }
  return false;
}

bool engine_pings(const Testbed& tb, const std::string& h) {
  auto tcp = rgtest::http_get("http://" + tb.addr(h) + ":2375/_ping");
  return tcp.ok && tcp.status == 200;
}

// ---- Restarting testbed processes ------------------------------------------------------------

pid_t read_pid(const std::string& path) {
  std::ifstream in(path);
  long pid = 0;
  in >> pid;
  return static_cast<pid_t>(pid);
}

void write_pid(const std::string& path, pid_t pid) {
  std::ofstream out(path, std::ios::trunc);
  out << pid << "\n";
}

// SIGTERM `pid` and wait until it is gone (SIGKILL after `grace`).
void stop_process(pid_t pid, std::chrono::milliseconds grace) {
  ::kill(pid, SIGTERM);
  if (!rgtest::wait_until([&] { return !rgtest::process_alive(pid); }, grace)) {
    ::kill(pid, SIGKILL);
    REQUIRE(rgtest::wait_until([&] { return !rgtest::process_alive(pid); }, 10s));
  }
}

// The registry of the testbed, stopped on construction and started again (same command line,
// pidfile rewritten) on destruction or restore().
class RegistryOutage {
 public:
  RegistryOutage() {
    pidfile_ = rgtest::fleet::testbed_dir() + "/registry/registry.pid";
    const pid_t pid = read_pid(pidfile_);
    REQUIRE(pid > 0);
    REQUIRE(rgtest::process_alive(pid));
    argv_ = rgtest::process_cmdline(pid);
    REQUIRE(argv_.size() >= 2);
    REQUIRE(argv_.back().find("/registry/config.yml") != std::string::npos);
    stop_process(pid, 5s);
  }
  ~RegistryOutage() { restore(); }
  RegistryOutage(const RegistryOutage&) = delete;
  RegistryOutage& operator=(const RegistryOutage&) = delete;

  void restore() {
    if (restored_) {
      return;
    }
    restored_ = true;
    const pid_t pid =
        rgtest::spawn_daemon(argv_, rgtest::fleet::testbed_dir() + "/registry/registry.log");
    write_pid(pidfile_, pid);
  }

 private:
  std::string pidfile_;
  std::vector<std::string> argv_;
  bool restored_ = false;
};

// Restarts host `h`'s dockerd: SIGTERM (dockerd stops its containers; those with a restart
// policy start again when it is back), then the same command in the host's namespace.
void restart_dockerd(const std::string& h) {
  const std::string dir = rgtest::fleet::testbed_dir() + "/" + h;
  const pid_t pid = read_pid(dir + "/docker.pid");
  REQUIRE(pid > 0);
  const auto argv = rgtest::process_cmdline(pid);
  REQUIRE(!argv.empty());
  REQUIRE(argv[0].find("dockerd") != std::string::npos);
  const char* prefix = std::getenv("RG_TESTBED_PREFIX");
  const std::string ns = std::string(prefix != nullptr && *prefix ? prefix : "rgtb") + "-" + h;
  stop_process(pid, 20s);
  std::vector<std::string> cmd = {"nsenter", "--net=/var/run/netns/" + ns};
  cmd.insert(cmd.end(), argv.begin(), argv.end());
  rgtest::spawn_daemon(cmd, dir + "/dockerd.log");
}

// `scripts/testbed link-down h` for the life of this object.
class LinkDown {
 public:
  explicit LinkDown(std::string host) : host_(std::move(host)) {
    auto r = rgtest::fleet::testbed_cmd({"link-down", host_});
    INFO(rgtest::describe(r));
    REQUIRE(r.exit_code == 0);
  }
  ~LinkDown() { up(); }
  LinkDown(const LinkDown&) = delete;
  LinkDown& operator=(const LinkDown&) = delete;
  void up() {
    if (!down_) {
      return;
    }
    down_ = false;
    auto r = rgtest::fleet::testbed_cmd({"link-up", host_});
    CHECK(r.exit_code == 0);
  }

 private:
  std::string host_;
  bool down_ = true;
};

void check_testbed_healthy() {
  auto s = rgtest::fleet::testbed_cmd({"status"});
  INFO(rgtest::describe(s));
  CHECK(s.exit_code == 0);
}

}  // namespace

TEST_CASE("fault: h2's dockerd restarted during its gate - a defined exit, then resume converges",
          "[docker][fault]") {
  Testbed tb = fresh_fleet();
  const auto hosts = tb.hosts();
  const std::string h2 = hosts[1];
  TempManifest m(manifest_yaml(tb, image(tb, "v1")));
  StateDir state;
  deploy_ok(tb, m, state, "v1");

  ServePoller poller(rgtest::fleet::app_urls(tb));
  ProcResult applied;
  {
    auto args = rollgate_args("apply", m, state);
    args.insert(args.begin(), ROLLGATE_BIN);
    args.insert(args.end(), {"--image", image(tb, "v2")});
    PipedProcess apply(args);
    const bool at_gate = wait_for_start_of(apply, h2);
    INFO(apply.out());
    REQUIRE(at_gate);
    restart_dockerd(h2);
    applied = apply.wait(120s);
  }
  INFO(describe_run(applied));
  // Wait for the engine (plain-TCP dockerd 20.10 serves ~15 s after it starts).
  REQUIRE(rgtest::wait_until([&] { return engine_pings(tb, h2); }, 60s));

  const int code = applied.exit_code;
  CHECK((code == 0 || code == 3 || code == 4));
  auto done = rgtest::events_of(rgtest::json_lines(applied.out), "rollout");
  REQUIRE(!done.empty());
  CHECK(done.back().value("exit_code", -1) == code);
  const std::map<int, std::string> journaled = {{0, "done"}, {3, "rolled_back"}, {4, "paused"}};
  if (journaled.count(code) != 0) {
    CHECK(history_result(m, state, 2) == journaled.at(code));
  }

  int final_code = code;
  if (code == 4) {
    auto resumed = run_rollgate(rollgate_args("resume", m, state));
    INFO(describe_run(resumed));
    CHECK((resumed.exit_code == 0 || resumed.exit_code == 3));
    final_code = resumed.exit_code;
  }
  CHECK(rgtest::fleet::overlapping_outages(poller.stop(), 1) == "");
  if (final_code == 3) {
    check_converged(tb, "v1", 1);
  } else {
    check_converged(tb, "v2", 2);
  }
  check_testbed_healthy();
}

TEST_CASE("fault: h2's link cut during its gate pauses (exit 4) - after link-up resume converges",
          "[docker][fault]") {
  Testbed tb = fresh_fleet();
  const auto hosts = tb.hosts();
  const std::string h2 = hosts[1];
  TempManifest m(manifest_yaml(tb, image(tb, "v1")));
  StateDir state;
  deploy_ok(tb, m, state, "v1");

  ServePoller poller(rgtest::fleet::app_urls(tb));
  ProcResult applied;
  {
    auto args = rollgate_args("apply", m, state);
    args.insert(args.begin(), ROLLGATE_BIN);
    args.insert(args.end(), {"--image", image(tb, "v2")});
    PipedProcess apply(args);
    const bool at_gate = wait_for_start_of(apply, h2);
    INFO(apply.out());
    REQUIRE(at_gate);
    LinkDown cut(h2);
    applied = apply.wait(120s);
    INFO(describe_run(applied));
    // Unobservable is not unhealthy: never roll back on missing data.
    CHECK(applied.exit_code == 4);
    CHECK(rgtest::events_of(rgtest::json_lines(applied.out), "rollback").empty());
    // The new container kept running on h2 (seen through its unix socket).
    auto on_h2 = rgtest::fleet::containers(tb, h2);
    REQUIRE(on_h2.count(kApp) == 1);
    CHECK(on_h2.at(kApp).state == "running");
    CHECK(on_h2.at(kApp).labels.value("rollgate.revision", "") == "2");
  }  // link up
  CHECK(history_result(m, state, 2) == "paused");
  // h3 was never touched.
  CHECK(rgtest::fleet::served(tb, hosts[2]) == "demo v1\n");
  // The operator resumes once h2 is back. Right after `ip link set up` the host's neighbour
  // entry for h2 can still be failed for a moment, and a resume then (rightly) stops in
  // pre-flight with "No route to host", exit 6: that is not what this test is about.
  REQUIRE(rgtest::wait_until([&] { return engine_pings(tb, h2); }, 60s));

  auto resumed = run_rollgate(rollgate_args("resume", m, state));
  INFO(describe_run(resumed));
  CHECK(resumed.exit_code == 0);
  CHECK(rgtest::fleet::overlapping_outages(poller.stop(), 1) == "");
  check_converged(tb, "v2", 2);
  CHECK(history_result(m, state, 2) == "done");
}

TEST_CASE("fault: the registry down during pre-flight exits 6 and touches nothing",
          "[docker][fault]") {
  Testbed tb = fresh_fleet();
  TempManifest m(manifest_yaml(tb, image(tb, "v1")));
  StateDir state;
  deploy_ok(tb, m, state, "v1");
  // A tag no host has: remove it wherever an earlier run pulled it (404 when absent).
  const std::string target = image(tb, "hc-unhealthy");
  for (const auto& h : tb.hosts()) {
    auto r = rgtest::http_request("DELETE", "http://engine/v1.41/images/" + target + "?force=1",
                                  {"--unix-socket", tb.get("RG_TESTBED_SOCK_" + h)});
    INFO(h << ": " << r.error << r.body);
    REQUIRE(r.ok);
    CHECK((r.status == 200 || r.status == 404));
  }
  const auto before = rgtest::fleet::snapshot(tb);

  ServePoller poller(rgtest::fleet::app_urls(tb));
  ProcResult applied;
  {
    RegistryOutage outage;
    auto args = rollgate_args("apply", m, state);
    args.insert(args.end(), {"--image", target});
    applied = run_rollgate(args);
  }  // registry back
  INFO(describe_run(applied));
  CHECK(applied.exit_code == 6);
  auto done = rgtest::events_of(rgtest::json_lines(applied.out), "rollout");
  REQUIRE(!done.empty());
  CHECK(done.back().value("exit_code", -1) == 6);
  {
    const auto after = rgtest::fleet::snapshot(tb);
    INFO("before:\n"
         << rgtest::fleet::describe(before) << "after:\n"
         << rgtest::fleet::describe(after));
    CHECK(after == before);
  }
  CHECK(rgtest::fleet::overlapping_outages(poller.stop(), 0) == "");
  check_converged(tb, "v1", 1);
  // The journal records the attempt as failed in pre-flight.
  {
    auto h = run_rollgate(rollgate_args("history", m, state));
    INFO(rgtest::describe(h));
    REQUIRE(h.exit_code == 0);
    auto rows = rgtest::json_lines(h.out);
    REQUIRE(rows.size() == 1);
    REQUIRE(rows[0].size() == 2);
    CHECK(rows[0][0].value("result", "") == "done");
    CHECK(rows[0][1].value("result", "") == "preflight_failed");
  }

  // The registry is back: the testbed is whole again, and the same apply now gets past
  // pre-flight.
  REQUIRE(rgtest::wait_until(
      [&] {
        auto r = rgtest::http_get("http://" + tb.registry() + "/v2/");
        return r.ok && r.status == 200;
      },
      20s));
  check_testbed_healthy();
}
