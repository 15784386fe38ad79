// Routed apps on the real testbed, shared by the HAProxy tests ([docker]): the manifests of the
// testbed's bg (blue-green), roll (stop-first) and sf (start-first) apps, rollgate-load run
// beside a rollgate command, and HAProxy and the engines as seen without rollgate.
#pragma once

#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/rollgate_runner.h"
#include "tests/integration/testbed.h"
#include "tests/support/temp_dir.h"

namespace rgtest::routed {

using namespace std::chrono_literals;
using nlohmann::json;
using rgtest::ProcResult;
using rgtest::TempManifest;
using rgtest::Testbed;
using rgtest::fleet::StateDir;
using orch::testing::TempDir;

// ---- Manifests -------------------------------------------------------------------------------

// One app on every testbed host, publishing `port` (-> 8080), with fast health settings.
// `strategy` holds the strategy's keys; `router` is a YAML flow map (router "": none); `bake` a
// duration ("0s": none).
inline std::string manifest_yaml(const Testbed& tb, const std::string& app, int port,
                          std::map<std::string, std::string> strategy, const std::string& bake,
                          const std::string& router) {
  const std::string p = std::to_string(port);
  auto y = rgtest::fleet::testbed_manifest(tb, app, tb.image() + ":v1");
  y.ports = "[\"" + p + ":8080\"]";
  y.stop_timeout = "2s";
  y.strategy = std::move(strategy);
  y.health = {{"http", "{port: " + p + ", path: /health}"},
              {"interval", "250ms"},
              {"timeout", "1s"},
              {"healthy_threshold", "2"},
              {"healthy_deadline", "8s"},
              {"min_healthy_time", "1s"},
              {"bake", bake}};
  y.router = router;
  y.keep = "3";
  return y.text();
}

inline std::string haproxy_map(const Testbed& tb) { return tb.get("RG_TESTBED_HAPROXY_MAP"); }

// Blue-green `bg`, switched by HAProxy's map over the unix socket (router: "" ) or by `router`.
inline std::string bg_manifest(const Testbed& tb, const std::string& bake,
                        const std::string& router = "") {
  const std::string haproxy = "{drain_timeout: 5s, haproxy: {runtime_api: \"unix://" +
                              tb.get("RG_TESTBED_HAPROXY_SOCKET") + "\", map: " + haproxy_map(tb) +
                              ", backends: {blue: bg_blue, green: bg_green}}}";
  return manifest_yaml(tb, "bg", 8180,
                       {{"type", "blue-green"}, {"ports", "{blue: 8180, green: 8181}"}}, bake,
                       router.empty() ? haproxy : router);
}

// Rolling stop-first `roll`, one host per batch, drained through the TCP runtime API (or,
// without `router`, not at all: HAProxy is not told).
inline std::string roll_manifest(const Testbed& tb, bool router = true) {
  return manifest_yaml(tb, "roll", 8280, {{"type", "rolling"}, {"batch_size", "1"}}, "0s",
                       router ? "{drain_timeout: 5s, haproxy: {runtime_api: \"" +
                                    tb.get("RG_TESTBED_HAPROXY_API") + "\", backend: roll}}"
                              : "");
}

// Rolling start-first `sf`: the new container starts in the host's other slot.
inline std::string sf_manifest(const Testbed& tb) {
  return manifest_yaml(tb, "sf", 8380,
                       {{"order", "start-first"}, {"ports", "{blue: 8380, green: 8381}"}}, "0s",
                       "{drain_timeout: 5s, haproxy: {runtime_api: \"" +
                           tb.get("RG_TESTBED_HAPROXY_API") + "\", backend: sf}}");
}

// ---- Load --------------------------------------------------------------------------------------

// rollgate-load (ROLLGATE_LOAD_PATH) against `url` with 4 connections, in the background from
// construction (which returns once its loops run) until stop(), which sends SIGTERM and returns
// its JSON report. Destruction kills it if the test failed before stop().
class Load {
 public:
  explicit Load(const std::string& url)
      : report_path_(dir_.path() + "/report.json"),
        ready_path_(dir_.path() + "/ready"),
        proc_({ROLLGATE_LOAD_PATH, "--url", url, "--connections", "4", "--output", report_path_,
               "--ready-file", ready_path_}) {
    const bool ready = rgtest::wait_until(
        [&] { return ::access(ready_path_.c_str(), F_OK) == 0 || proc_.done(); }, 10s);
    INFO(proc_.command() << "\n--- stderr ---\n" << proc_.err());
    REQUIRE(ready);
    REQUIRE(!proc_.done());
  }

  json stop() {
    ::kill(proc_.pid(), SIGTERM);
    const ProcResult r = proc_.wait(20s);
    INFO(rgtest::describe(r));
    REQUIRE(r.exit_code == 0);
    auto report = json::parse(rgtest::read_text_file(report_path_), nullptr, false);
    REQUIRE(report.is_object());
    return report;
  }

 private:
  TempDir dir_;
  std::string report_path_;
  std::string ready_path_;
  rgtest::Background proc_;  // last: starts once the paths are set
};

inline int64_t number(const json& report, const std::string& key) {
  return report.at(key).get<int64_t>();
}

inline bool saw(const json& report, const std::string& body) {
  return report.at("bodies").contains(body);
}

// When `body` was last received (unix ms); -1 when never.
inline int64_t last_seen(const json& report, const std::string& body) {
  return saw(report, body) ? report.at("bodies").at(body).at("last_ms").get<int64_t>() : -1;
}

// The bodies received, e.g. "demo v1, demo v2".
inline std::string bodies(const json& report) {
  std::string text;
  for (const auto& [body, seen] : report.at("bodies").items()) {
    text += (text.empty() ? "" : ", ") + body;
  }
  return text;
}

// ---- One rollgate command under load ---------------------------------------------------------

struct UnderLoad {
  ProcResult run;            // the rollgate command
  std::vector<json> events;  // its --output json lines
  json load;                 // rollgate-load's report
};

// What a failed CHECK should show: the command, its events without probes, its stderr and the
// load report.
inline std::string describe(const UnderLoad& u) {
  return "$ " + u.run.command + "\n[exit " + std::to_string(u.run.exit_code) +
         "]\n--- events (no probes) ---\n" + rgtest::fleet::summary(u.run.out) +
         "--- stderr ---\n" + u.run.err + "--- rollgate-load report ---\n" + u.load.dump() + "\n";
}

// Starts the load, runs `rollgate args...`, lets the load run 0.5 s more (so that what serves
// after the command returned is seen too), then stops it.
inline UnderLoad under_load(const std::string& url, const std::vector<std::string>& args) {
  Load load(url);
  UnderLoad u;
  u.run = rgtest::run_rollgate(args);
  std::this_thread::sleep_for(500ms);
  u.load = load.stop();
  u.events = rgtest::json_lines_so_far(u.run.out);
  return u;
}

// The checks every zero-failure run shares: real traffic, and not one request failed.
inline void check_no_request_failed(const UnderLoad& u) {
  CHECK(number(u.load, "requests") > 100);
  CHECK(number(u.load, "failed") == 0);
  CHECK(number(u.load, "ok") == number(u.load, "requests"));
}

// `rollgate apply --image <tag>` under load through the frontend at `url_key` (an RG_TESTBED_URL_*
// variable).
inline UnderLoad apply_under_load(const Testbed& tb, const std::string& url_key,
                                  const TempManifest& m, const StateDir& s,
                                  const std::string& tag) {
  auto args = rgtest::fleet::rollgate_args("apply", m, s);
  args.insert(args.end(), {"--image", rgtest::fleet::image(tb, tag)});
  return under_load(tb.get(url_key), args);
}

// What every v1 -> v2 update under load must show: done, no request failed, both versions
// served and v2 at the end.
inline void check_updated_to_v2(const UnderLoad& u) {
  REQUIRE(u.run.exit_code == 0);
  check_no_request_failed(u);
  CHECK(saw(u.load, "demo v1"));
  CHECK(last_seen(u.load, "demo v2") > last_seen(u.load, "demo v1"));
}

// ---- The fleet and HAProxy, checked without rollgate -----------------------------------------

// "<state> <demo version>" of container `name` on `host`, e.g. "running v2"; "(absent)".
inline std::string container_on(const Testbed& tb, const std::string& host,
                                const std::string& name) {
  const auto cs = rgtest::fleet::containers(tb, host);
  auto it = cs.find(name);
  if (it == cs.end()) {
    return "(absent)";
  }
  return it->second.state + " " + it->second.labels.value("rollgate.demo.version", "?");
}

// Every container on the host whose demo image is `version` ("unhealthy"), as "name(state)".
inline std::string containers_of_version(const Testbed& tb, const std::string& host,
                                         const std::string& version) {
  std::string text;
  for (const auto& [name, c] : rgtest::fleet::containers(tb, host)) {
    if (c.labels.value("rollgate.demo.version", "") == version) {
      text += (text.empty() ? "" : " ") + name + "(" + c.state + ")";
    }
  }
  return text;
}

// One runtime API command through `scripts/testbed haproxy-cmd`; its answer.
inline std::string haproxy_cmd(const std::string& command) {
  auto r = rgtest::fleet::testbed_cmd({"haproxy-cmd", command});
  INFO(rgtest::describe(r));
  REQUIRE(r.exit_code == 0);
  return r.out;
}

// The backend map entry `bg` names ("bg_blue"); "(no entry)" when it has none.
inline std::string bg_backend(const Testbed& tb) {
  std::istringstream in(haproxy_cmd("show map " + haproxy_map(tb)));
  for (std::string line; std::getline(in, line);) {
    const auto w = Testbed::words(line);  // "<pointer> <key> <value>"
    if (w.size() == 3 && w[1] == "bg") {
      return w[2];
    }
  }
  return "(no entry)";
}

using ServerStatus = std::map<std::string, std::string>;

// Server name -> `show stat` status ("no check" when taking traffic, "MAINT", "DRAIN", ...) of
// every server of `backend`.
inline ServerStatus server_status(const std::string& backend) {
  ServerStatus out;
  std::istringstream in(haproxy_cmd("show stat -1 4 -1"));
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') {
      continue;
    }
    std::vector<std::string> cols;
    std::istringstream fields(line);
    for (std::string f; std::getline(fields, f, ',');) {
      cols.push_back(f);
    }
    if (cols.size() > 17 && cols[0] == backend) {
      out[cols[1]] = cols[17];  // 1-based columns 2 svname, 18 status
    }
  }
  return out;
}

// The status of `server`, "(no such server)" when HAProxy has none of that name.
inline std::string status_of(const ServerStatus& servers, const std::string& server) {
  auto it = servers.find(server);
  return it == servers.end() ? "(no such server)" : it->second;
}

}  // namespace rgtest::routed
