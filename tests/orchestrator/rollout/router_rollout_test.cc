// Rolling updates that drain at the router (stop-first and start-first), against FakeWorld
// engines and a FakeRouter with state. router_fleet.h checks at every step that no container
// is stopped while its entry is ready and that no entry is enabled before its container passed
// a probe.
#include <catch2/catch.hpp>

#include "tests/orchestrator/rollout/router_fleet.h"

namespace orch::rollout {
namespace {

using Catch::Matchers::Contains;
using test::kBluePort;
using test::kGreenPort;
using test::kV1;
using test::kV2;
using test::Mode;
using test::RouterFleet;
using State = testing::FakeRouter::State;

TEST_CASE("stop-first with a router: drain before the stop, enable after the gate",
          "[controller][router]") {
  RouterFleet f(2, Mode::kStopFirst);
  auto old = f.seed("web", kV1, 1, "running");
  std::map<std::string, int> passes_at_enable;
  f.on_router_call = [&](const std::string& call) {
    if (call.rfind("enable ", 0) == 0) {
      const auto* c = f.serving(call.substr(7), kBluePort);
      passes_at_enable[call.substr(7)] = c ? f.passes(c->id) : -1;
    }
  };
  auto out = f.apply("v2");
  INFO(out.summary);
  CHECK(out.code == ExitCode::kDone);
  INFO(f.report());
  CHECK(f.violations.empty());
  CHECK(f.router.port_mismatches.empty());
  CHECK(f.router.calls ==
        std::vector<std::string>{"check", "drain h1", "enable h1", "drain h2", "enable h2"});
  CHECK(passes_at_enable == std::map<std::string, int>{{"h1", 2}, {"h2", 2}});
  for (int h = 0; h < 2; ++h) {
    CAPTURE(h);
    const std::string host = "h" + std::to_string(h + 1);
    const auto* now = f.find(h, "web");
    REQUIRE(now);
    CHECK(now->digest == kV2);
    CHECK(now->status == "running");
    const int drained = f.at("router drain " + host);
    const int stopped = f.at(host + " stop " + old[h]);
    const int started = f.at(host + " start " + now->id);
    const int enabled = f.at("router enable " + host);
    CHECK(drained >= 0);
    CHECK(drained < stopped);
    CHECK(stopped < started);
    CHECK(started < enabled);
    CHECK(f.router.state(host) == State::kReady);
  }
  // Batches in order: h2 is drained only after h1 is back in.
  CHECK(f.at("router enable h1") < f.at("router drain h2"));
}

TEST_CASE("stop-first with a router: a failing host rolls back through the router",
          "[controller][router]") {
  RouterFleet f(2, Mode::kStopFirst);
  auto old = f.seed("web", kV1, 1, "running");
  f.world.unhealthy_on["h2"] = kV2;
  auto out = f.apply("v2");
  INFO(out.summary);
  CHECK(out.code == ExitCode::kRolledBack);
  INFO(f.report());
  CHECK(f.violations.empty());
  CHECK(f.router.port_mismatches.empty());
  CAPTURE(f.router.calls);

  // h1 passed and was enabled; rolled back, it is drained before its new container stops and
  // enabled once its previous container passed its gate again.
  const auto* h1_new = f.find(0, "web-r2-failed");
  REQUIRE(h1_new);
  const int h1_back_drain = f.at("router drain h1", f.at("router enable h1") + 1);
  REQUIRE(h1_back_drain >= 0);
  CHECK(h1_back_drain < f.at("h1 stop " + h1_new->id));
  const int h1_restart = f.at("h1 start " + old[0]);
  CHECK(h1_restart > h1_back_drain);
  CHECK(f.at("router enable h1", h1_restart) > h1_restart);
  CHECK(f.passes(old[0]) >= 2);

  // h2 failed its gate: never enabled, so not drained again; its previous container comes back
  // and then its entry.
  const auto* h2_new = f.find(1, "web-r2-failed");
  REQUIRE(h2_new);
  CHECK(f.count("router drain h2") == 1);
  const int h2_restart = f.at("h2 start " + old[1]);
  CHECK(h2_restart > f.at("h2 stop " + h2_new->id));
  CHECK(f.at("router enable h2") > h2_restart);

  for (int h = 0; h < 2; ++h) {
    const auto* live = f.find(h, "web");
    REQUIRE(live);
    CHECK(live->id == old[h]);
    CHECK(live->status == "running");
    CHECK(f.router.state("h" + std::to_string(h + 1)) == State::kReady);
  }
}

TEST_CASE("stop-first with a router: a drain that times out is reported and the swap goes on",
          "[controller][router]") {
  RouterFleet f(1, Mode::kStopFirst);
  f.seed("web", kV1, 1, "running");
  f.router.in_flight = 2;
  auto out = f.apply("v2");
  INFO(out.summary);
  CHECK(out.code == ExitCode::kDone);
  bool reported = false;
  for (const auto& e : f.events.events) {
    if (e.type == "drain" && e.host == "h1") {
      reported = true;
      CHECK(e.data.at("in_flight") == 2);
      CHECK(e.data.at("idle") == false);
    }
  }
  CHECK(reported);
  CHECK(f.find(0, "web")->digest == kV2);
}

TEST_CASE("stop-first with a router: a failed drain leaves the host untouched",
          "[controller][router]") {
  RouterFleet f(2, Mode::kStopFirst);
  auto old = f.seed("web", kV1, 1, "running");
  f.router.failing = {"h1"};
  auto out = f.apply("v2");
  INFO(out.summary);
  CHECK(out.code == ExitCode::kPaused);
  CHECK_THAT(out.summary, Contains("drain h1 failed"));
  INFO(f.report());
  CHECK(f.violations.empty());
  for (int h = 0; h < 2; ++h) {
    const std::string host = "h" + std::to_string(h + 1);
    CHECK(f.at(host + " stop " + old[h]) == -1);
    CHECK(f.find(h, "web")->id == old[h]);
    CHECK(f.router.state(host) == State::kReady);
  }
}

TEST_CASE("start-first: the old container stops only after the new slot is in and the old out",
          "[controller][router][startfirst]") {
  RouterFleet f(2, Mode::kStartFirst);
  auto old = f.seed("web", kV1, 1, "running");
  auto out = f.apply("v2");
  INFO(out.summary);
  CHECK(out.code == ExitCode::kDone);
  INFO(f.report());
  CHECK(f.violations.empty());
  CHECK(f.router.port_mismatches.empty());
  CHECK(f.router.calls == std::vector<std::string>{"check", "enable h1-green", "drain h1-blue",
                                                   "enable h2-green", "drain h2-blue"});
  for (int h = 0; h < 2; ++h) {
    CAPTURE(h);
    const std::string host = "h" + std::to_string(h + 1);
    const auto* now = f.find(h, "web");
    REQUIRE(now);
    CHECK(now->digest == kV2);
    CHECK(now->status == "running");
    CHECK(now->ports.at(0).host_port == kGreenPort);
    CHECK(now->labels.at(kLabelColour) == "green");
    const auto* archived = f.find(h, "web-r1");
    REQUIRE(archived);
    CHECK(archived->id == old[h]);
    CHECK(archived->status == "exited");
    const int started = f.at(host + " start " + now->id);
    const int enabled = f.at("router enable " + host + "-green");
    const int drained = f.at("router drain " + host + "-blue");
    const int stopped = f.at(host + " stop " + old[h]);
    CHECK(started < enabled);
    CHECK(enabled < drained);
    CHECK(drained < stopped);
    CHECK(f.router.state(host + "-green") == State::kReady);
    CHECK(f.router.state(host + "-blue") == State::kMaint);
  }
  // The gate probed the new container on its slot's port.
  for (const auto& p : f.probes) {
    CAPTURE(p.host, p.port, p.target);
    CHECK(p.target == p.found);
  }
}

TEST_CASE("start-first: a second rollout moves back to the blue slot",
          "[controller][router][startfirst]") {
  RouterFleet f(1, Mode::kStartFirst);
  f.seed("web", kV1, 1, "running");
  REQUIRE(f.apply("v2").code == ExitCode::kDone);
  auto out = f.apply("v1");
  INFO(out.summary);
  CHECK(out.code == ExitCode::kDone);
  INFO(f.report());
  CHECK(f.violations.empty());
  const auto* now = f.find(0, "web");
  REQUIRE(now);
  CHECK(now->digest == kV1);
  CHECK(now->ports.at(0).host_port == kBluePort);
  CHECK(f.router.state("h1-blue") == State::kReady);
  CHECK(f.router.state("h1-green") == State::kMaint);
}

TEST_CASE("start-first: a failing host rolls back through the router",
          "[controller][router][startfirst]") {
  RouterFleet f(2, Mode::kStartFirst);
  auto old = f.seed("web", kV1, 1, "running");
  f.world.unhealthy_on["h2"] = kV2;
  auto out = f.apply("v2");
  INFO(out.summary);
  CHECK(out.code == ExitCode::kRolledBack);
  INFO(f.report());
  CHECK(f.violations.empty());
  CHECK(f.router.port_mismatches.empty());
  CAPTURE(f.router.calls);

  // h1 had moved to green: green is drained before it stops, blue enabled after its re-gate.
  const auto* h1_new = f.find(0, "web-r2-failed");
  REQUIRE(h1_new);
  const int drain_green = f.at("router drain h1-green");
  REQUIRE(drain_green >= 0);
  CHECK(drain_green < f.at("h1 stop " + h1_new->id));
  const int restart = f.at("h1 start " + old[0]);
  CHECK(restart > drain_green);
  CHECK(f.at("router enable h1-blue", restart) > restart);
  // h2's new container never got traffic: its green entry was never enabled.
  CHECK(f.router.count("enable h2-green") == 0);
  for (int h = 0; h < 2; ++h) {
    const std::string host = "h" + std::to_string(h + 1);
    const auto* live = f.find(h, "web");
    REQUIRE(live);
    CHECK(live->id == old[h]);
    CHECK(live->status == "running");
    CHECK(f.router.state(host + "-blue") == State::kReady);
    CHECK(f.router.state(host + "-green") == State::kMaint);
  }
}

TEST_CASE("start-first: an engine error while retiring the old container, then apply again",
          "[controller][router][startfirst]") {
  // The call that fails: stopping the old container (after enable and drain), or renaming it.
  const std::string failing = GENERATE(std::string("stop"), std::string("rename"));
  CAPTURE(failing);
  RouterFleet f(1, Mode::kStartFirst);
  auto old = f.seed("web", kV1, 1, "running");
  f.on_router_call = [&](const std::string& call) {
    if (call == "drain h1-blue") {
      // The next engine call is the stop; the rename follows it.
      f.world.fail_at = f.world.calls + (failing == "stop" ? 1 : 2);
    }
  };
  auto first = f.apply("v2");
  INFO(first.summary);
  CHECK(first.code == ExitCode::kPaused);
  f.on_router_call = nullptr;
  f.world.fail_at = 0;
  INFO(f.report());
  CHECK(f.violations.empty());
  // web-next serves (its entry is ready) while web is out: it must keep serving.
  auto again = f.apply("v2");
  INFO(again.summary);
  CHECK(again.code == ExitCode::kDone);
  INFO(f.report());
  CHECK(f.violations.empty());
  const auto* now = f.find(0, "web");
  REQUIRE(now);
  CHECK(now->digest == kV2);
  CHECK(now->status == "running");
}

TEST_CASE("start-first: a running web-next of another digest stops apply before any change",
          "[controller][router][startfirst]") {
  RouterFleet f(1, Mode::kStartFirst);
  f.seed("web", kV1, 1, "running");
  f.seed("web-next", test::kBad, 2, "running", "green");
  const size_t calls_before = f.world.log.size();
  auto out = f.apply("v2");
  INFO(out.summary);
  CHECK(out.code == ExitCode::kPreflight);
  CHECK_THAT(out.summary, Contains("web-next") && Contains("interrupted start-first"));
  for (size_t i = calls_before; i < f.world.log.size(); ++i) {
    INFO(f.world.log[i]);
    CHECK(f.world.log[i].find(" stop ") == std::string::npos);
    CHECK(f.world.log[i].find(" remove ") == std::string::npos);
  }
}

TEST_CASE("stop-first with a router: an engine error at any call leaves every host served",
          "[controller][router]") {
  test::each_failure(
      2, Mode::kStopFirst, [](RouterFleet& f) { f.seed("web", kV1, 1, "running"); },
      [](RouterFleet& f) { return f.apply("v2"); }, test::stopped_consistently);
}

TEST_CASE("start-first: an engine error at any call leaves every host served",
          "[controller][router][startfirst]") {
  test::each_failure(
      2, Mode::kStartFirst, [](RouterFleet& f) { f.seed("web", kV1, 1, "running"); },
      [](RouterFleet& f) { return f.apply("v2"); },
      [](ExitCode c) { return c != ExitCode::kInternal; });
}

}  // namespace
}  // namespace orch::rollout
