// The controller's blue-green strategy and switch-back, against FakeWorld engines and a
// FakeRouter with state. router_fleet.h checks at every step that nothing serving is stopped
// and that the router is never pointed at a container that has not passed a probe.
#include <catch2/catch.hpp>

#include "tests/orchestrator/rollout/router_fleet.h"

namespace orch::rollout {
namespace {

using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using manifest::Colour;
using test::kBad;
using test::kBluePort;
using test::kGreenPort;
using test::kV1;
using test::kV2;
using test::Mode;
using test::RouterFleet;

// No "<host> stop <id>" or "<host> remove <id>" for any of `ids`.
void check_never_stopped(const RouterFleet& f, const std::vector<std::string>& ids) {
  for (size_t h = 0; h < ids.size(); ++h) {
    const std::string host = "h" + std::to_string(h + 1);
    CHECK(f.at(host + " stop " + ids[h]) == -1);
    CHECK(f.at(host + " remove " + ids[h]) == -1);
  }
}

// rollgate switch-back's starting point: green (v2) is live; blue holds `digest`, `state`.
std::pair<std::vector<std::string>, std::vector<std::string>> seed_switch_back(
    RouterFleet& f, const std::string& digest, const std::string& state) {
  auto blue = f.seed("web-blue", digest, 1, state, "blue");
  auto green = f.seed("web-green", kV2, 2, "running", "green");
  f.router.live = Colour::kGreen;
  return {blue, green};
}

// A switch-back that did not happen: green kept serving and was never stopped.
void check_green_kept(const RouterFleet& f, const std::vector<std::string>& green) {
  INFO(f.report());
  CHECK(f.violations.empty());
  CHECK(f.router.live == std::optional<Colour>(Colour::kGreen));
  check_never_stopped(f, green);
}

// After a rollout that did not go through: on every host blue (`blue`) still runs as web-blue,
// the standby (`standby`) has its name web-green back, and no container of `digest` is left
// under a slot name.
void check_blue_kept(const RouterFleet& f, const std::vector<std::string>& blue,
                     const std::vector<std::string>& standby) {
  check_never_stopped(f, blue);
  for (size_t h = 0; h < blue.size(); ++h) {
    CAPTURE(h);
    const auto* b = f.find(static_cast<int>(h), "web-blue");
    REQUIRE(b);
    CHECK(b->id == blue[h]);
    CHECK(b->status == "running");
    const auto* g = f.find(static_cast<int>(h), "web-green");
    REQUIRE(g);
    CHECK(g->id == standby[h]);
  }
}

TEST_CASE("blue-green: green starts beside blue, one switch, then blue drains and stops",
          "[controller][bluegreen]") {
  RouterFleet f(2, Mode::kBlueGreen);
  auto blue = f.seed("web-blue", kV1, 1, "running", "blue");
  // At the switch, every green has passed its gate (healthy_threshold 2 since its start).
  std::vector<int> green_passes_at_switch;
  f.on_router_call = [&](const std::string& call) {
    if (call == "switch green") {
      for (int h = 0; h < 2; ++h) {
        const auto* g = f.find(h, "web-green");
        green_passes_at_switch.push_back(g ? f.passes(g->id) : -1);
      }
    }
  };
  auto out = f.apply("v2");
  INFO(out.summary);
  CHECK(out.code == ExitCode::kDone);
  INFO(f.report());
  CHECK(f.violations.empty());

  CHECK(f.router.live == std::optional<Colour>(Colour::kGreen));
  CHECK(f.router.count("switch green") == 1);
  CHECK(f.router.count("switch blue") == 0);
  CHECK(green_passes_at_switch == std::vector<int>{2, 2});
  REQUIRE(f.router.switched_endpoints.size() == 2);
  CHECK(f.router.switched_endpoints[0].host == "h1");
  CHECK(f.router.switched_endpoints[0].port == kGreenPort);
  CHECK(f.router.switched_endpoints[1].port == kGreenPort);

  const int switched = f.at("router switch green");
  const int idle = f.at("router wait-idle blue");
  REQUIRE(switched >= 0);
  CHECK(idle > switched);
  for (int h = 0; h < 2; ++h) {
    CAPTURE(h);
    const std::string host = "h" + std::to_string(h + 1);
    const auto* g = f.find(h, "web-green");
    REQUIRE(g);
    CHECK(g->status == "running");
    CHECK(g->digest == kV2);
    CHECK(g->labels.at(kLabelColour) == "green");
    CHECK(g->labels.at(kLabelRevision) == "2");
    CHECK(g->ports.at(0).host_port == kGreenPort);
    // Green was created and started before the switch; blue stopped only after wait-idle.
    CHECK(f.at(host + " start " + g->id) < switched);
    const int stopped = f.at(host + " stop " + blue[h]);
    CHECK(stopped > idle);
    const auto* b = f.find(h, "web-blue");
    REQUIRE(b);
    CHECK(b->id == blue[h]);
    CHECK(b->status == "exited");  // kept for switch-back
  }
  // The gate probed green on green's port, the baseline probed blue on blue's.
  for (const auto& p : f.probes) {
    CAPTURE(p.host, p.port, p.target);
    CHECK(p.target == p.found);
    const bool is_blue = p.target == blue[0] || p.target == blue[1];
    CHECK(p.port == (is_blue ? kBluePort : kGreenPort));
  }
}

TEST_CASE("blue-green: a first deploy starts green and switches to it", "[controller][bluegreen]") {
  RouterFleet f(2, Mode::kBlueGreen);
  auto out = f.apply("v1");
  INFO(out.summary);
  CHECK(out.code == ExitCode::kDone);
  INFO(f.report());
  CHECK(f.violations.empty());
  CHECK(f.router.live == std::optional<Colour>(Colour::kGreen));
  CHECK(f.router.count("wait-idle blue") == 0);  // nothing was serving
  for (int h = 0; h < 2; ++h) {
    const auto* g = f.find(h, "web-green");
    REQUIRE(g);
    CHECK(g->status == "running");
    CHECK(f.engine(h).containers.size() == 1);
  }
}

TEST_CASE("blue-green: green failing its gate is removed before any switch",
          "[controller][bluegreen]") {
  RouterFleet f(2, Mode::kBlueGreen);
  auto blue = f.seed("web-blue", kV1, 2, "running", "blue");
  auto standby = f.seed("web-green", kV1, 1, "exited", "green");
  auto out = f.apply("bad");
  INFO(out.summary);
  CHECK(out.code == ExitCode::kRolledBack);
  INFO(f.report());
  CHECK(f.violations.empty());
  CHECK(f.router.count("switch green") == 0);
  CHECK(f.router.count("switch blue") == 0);
  CHECK(f.router.live == std::optional<Colour>(Colour::kBlue));
  check_blue_kept(f, blue, standby);
  for (int h = 0; h < 2; ++h) {
    CAPTURE(h);
    for (const auto& [id, c] : f.engine(h).containers) {
      CHECK(c.digest != kBad);  // the new containers are gone
    }
    CHECK(f.engine(h).containers.size() == 2);
  }
}

TEST_CASE("blue-green: a failed bake switches back to blue, then retires green",
          "[controller][bluegreen]") {
  RouterFleet f(2, Mode::kBlueGreen);
  auto blue = f.seed("web-blue", kV1, 2, "running", "blue");
  auto standby = f.seed("web-green", kV1, 1, "exited", "green");
  // v2 is healthy until it gets traffic.
  f.on_router_call = [&](const std::string& call) {
    if (call == "switch green") {
      f.world.unhealthy_digests.insert(kV2);
    }
  };
  auto out = f.apply("v2", 30s);
  INFO(out.summary);
  CHECK(out.code == ExitCode::kRolledBack);
  INFO(f.report());
  CHECK(f.violations.empty());
  CHECK(f.router.calls == std::vector<std::string>{"check", "live", "switch green", "switch blue",
                                                   "wait-idle green"});
  CHECK(f.router.live == std::optional<Colour>(Colour::kBlue));
  check_blue_kept(f, blue, standby);
  for (int h = 0; h < 2; ++h) {
    CAPTURE(h);
    const auto* failed = f.find(h, "web-r3-failed");
    REQUIRE(failed);
    CHECK(failed->status == "exited");
    CHECK(failed->digest == kV2);
    CHECK(f.at("h" + std::to_string(h + 1) + " stop " + failed->id) > f.at("router switch blue"));
  }
}

TEST_CASE("blue-green: apply again after an interrupted bake finishes it",
          "[controller][bluegreen]") {
  // A signal during the bake left green (v2) live and blue (v1) running.
  RouterFleet f(2, Mode::kBlueGreen);
  auto blue = f.seed("web-blue", kV1, 1, "running", "blue");
  auto green = f.seed("web-green", kV2, 2, "running", "green");
  f.router.live = Colour::kGreen;
  auto out = f.apply("v2", 2s);
  INFO(out.summary);
  CHECK(out.code == ExitCode::kDone);
  CHECK_THAT(out.summary, Contains("finished the interrupted bake"));
  INFO(f.report());
  CHECK(f.violations.empty());
  CHECK(f.router.calls == std::vector<std::string>{"check", "live", "wait-idle blue"});
  CHECK(f.router.live == std::optional<Colour>(Colour::kGreen));
  for (int h = 0; h < 2; ++h) {
    CAPTURE(h);
    CHECK(f.find(h, "web-blue")->status == "exited");
    CHECK(f.find(h, "web-green")->status == "running");
    CHECK(f.count("h" + std::to_string(h + 1) + " create web-green") == 0);
  }
  // Nothing left to finish: the next apply is a plain no-op.
  auto again = f.apply("v2", 2s);
  CHECK(again.code == ExitCode::kDone);
  CHECK_THAT(again.summary, Contains("nothing to do"));
}

TEST_CASE("blue-green: a resumed bake that fails switches back to the colour still running",
          "[controller][bluegreen]") {
  RouterFleet f(2, Mode::kBlueGreen);
  auto blue = f.seed("web-blue", kV1, 1, "running", "blue");
  auto green = f.seed("web-green", test::kBad, 2, "running", "green");
  f.router.live = Colour::kGreen;
  // blue has run unrouted since the interruption: it must pass a gate before it gets traffic.
  std::vector<int> blue_passes_at_switch;
  f.on_router_call = [&](const std::string& call) {
    if (call == "switch blue") {
      for (int h = 0; h < 2; ++h) {
        blue_passes_at_switch.push_back(f.passes(blue[h]));
      }
    }
  };
  auto out = f.apply("bad", 2s);
  INFO(out.summary);
  CHECK(out.code == ExitCode::kRolledBack);
  INFO(f.report());
  CHECK(f.violations.empty());
  CHECK(f.router.calls ==
        std::vector<std::string>{"check", "live", "switch blue", "wait-idle green"});
  CHECK(f.router.live == std::optional<Colour>(Colour::kBlue));
  CHECK(blue_passes_at_switch == std::vector<int>{2, 2});
  for (int h = 0; h < 2; ++h) {
    CAPTURE(h);
    CHECK(f.find(h, "web-blue")->status == "running");
    // As after any failed bake, the colour that failed is stopped and kept as -failed.
    CHECK(f.find(h, "web-green") == nullptr);
    const auto* failed = f.find(h, "web-r2-failed");
    REQUIRE(failed);
    CHECK(failed->id == green[h]);
    CHECK(failed->status == "exited");
  }
}

TEST_CASE("blue-green: a resumed bake that fails stays on green when blue is not healthy either",
          "[controller][bluegreen]") {
  RouterFleet f(2, Mode::kBlueGreen);
  auto blue = f.seed("web-blue", test::kBad, 1, "running", "blue");
  auto green = f.seed("web-green", test::kBad, 2, "running", "green");
  f.router.live = Colour::kGreen;
  auto out = f.apply("bad", 2s);
  INFO(out.summary);
  CHECK(out.code == ExitCode::kPaused);
  CHECK_THAT(out.summary, Contains("blue is not healthy either"));
  INFO(f.report());
  CHECK(f.violations.empty());
  CHECK(f.router.count("switch blue") == 0);
  CHECK(f.router.live == std::optional<Colour>(Colour::kGreen));
  check_never_stopped(f, green);
}

TEST_CASE("blue-green: a refused switch removes green and pauses", "[controller][bluegreen]") {
  RouterFleet f(2, Mode::kBlueGreen);
  auto blue = f.seed("web-blue", kV1, 2, "running", "blue");
  auto standby = f.seed("web-green", kV1, 1, "exited", "green");
  f.router.refuse_switches = 1;
  auto out = f.apply("v2");
  INFO(out.summary);
  CHECK(out.code == ExitCode::kPaused);
  CHECK_THAT(out.summary, Contains("fake router refused the switch"));
  INFO(f.report());
  CHECK(f.violations.empty());
  // The router was asked what is live after the failed switch, and said blue.
  CHECK(f.router.calls == std::vector<std::string>{"check", "live", "switch green", "live"});
  CHECK(f.router.live == std::optional<Colour>(Colour::kBlue));
  check_blue_kept(f, blue, standby);
  for (int h = 0; h < 2; ++h) {
    for (const auto& [id, c] : f.engine(h).containers) {
      CHECK(c.digest != kV2);
    }
  }
}

TEST_CASE("blue-green: a failed switch the router cannot explain leaves both colours running",
          "[controller][bluegreen]") {
  RouterFleet f(2, Mode::kBlueGreen);
  auto blue = f.seed("web-blue", kV1, 1, "running", "blue");
  f.router.refuse_switches = 1;
  f.on_router_call = [&](const std::string& call) {
    if (call == "switch green") {
      f.router.live_fails = true;
    }
  };
  auto out = f.apply("v2");
  INFO(out.summary);
  CHECK(out.code == ExitCode::kInternal);
  CHECK_THAT(out.summary, Contains("cannot say which colour is live"));
  INFO(f.report());
  CHECK(f.violations.empty());
  check_never_stopped(f, blue);
  for (int h = 0; h < 2; ++h) {
    CHECK(f.find(h, "web-blue")->status == "running");
    const auto* g = f.find(h, "web-green");
    REQUIRE(g);
    CHECK(g->status == "running");  // kept: the router might be sending traffic to it
  }
}

TEST_CASE("blue-green: a router that does not know a host stops the rollout in pre-flight",
          "[controller][bluegreen]") {
  RouterFleet f(2, Mode::kBlueGreen);
  f.seed("web-blue", kV1, 1, "running", "blue");
  f.router.known_hosts = {"h1"};
  auto out = f.apply("v2");
  INFO(out.summary);
  CHECK(out.code == ExitCode::kPreflight);
  CHECK_THAT(out.summary, Contains("fake router has no entry for h2"));
  CHECK(f.router.calls == std::vector<std::string>{"check"});
  for (const auto& line : f.world.log) {
    CHECK(line.find(" create ") == std::string::npos);
    CHECK(line.find(" stop ") == std::string::npos);
  }
}

TEST_CASE("blue-green: a switch whose answer was lost but took effect goes on",
          "[controller][bluegreen]") {
  RouterFleet f(2, Mode::kBlueGreen);
  auto blue = f.seed("web-blue", kV1, 1, "running", "blue");
  f.router.lose_switch_answer = true;
  auto out = f.apply("v2");
  INFO(out.summary);
  CHECK(out.code == ExitCode::kDone);
  INFO(f.report());
  CHECK(f.violations.empty());
  CHECK(f.router.live == std::optional<Colour>(Colour::kGreen));
  for (int h = 0; h < 2; ++h) {
    CHECK(f.find(h, "web-green")->status == "running");
    CHECK(f.find(h, "web-blue")->status == "exited");
  }
}

TEST_CASE("blue-green: the router's live colour decides the target", "[controller][bluegreen]") {
  // Green is live (an earlier rollout), blue the stopped standby: v3 goes to blue.
  RouterFleet f(1, Mode::kBlueGreen);
  f.router.live = Colour::kGreen;
  auto old_blue = f.seed("web-blue", kV1, 1, "exited", "blue");
  auto green = f.seed("web-green", kV2, 2, "running", "green");
  auto out = f.apply("v1");
  INFO(out.summary);
  CHECK(out.code == ExitCode::kDone);
  INFO(f.report());
  CHECK(f.violations.empty());
  CHECK(f.router.calls ==
        std::vector<std::string>{"check", "live", "switch blue", "wait-idle green"});
  const auto* b = f.find(0, "web-blue");
  REQUIRE(b);
  CHECK(b->labels.at(kLabelRevision) == "3");
  CHECK(b->status == "running");
  CHECK(f.find(0, "web-green")->status == "exited");
  // The old blue was archived to make room (and then pruned: keep 2 counts both slots).
  CHECK(f.at("h1 rename " + old_blue[0] + " web-r1") >= 0);
  CHECK(f.at("h1 rename " + old_blue[0] + " web-r1") < f.at("h1 create web-blue"));
}

TEST_CASE("switch-back: blue is restarted, gated, switched to, and green stops",
          "[controller][bluegreen][switchback]") {
  RouterFleet f(2, Mode::kBlueGreen);
  auto [blue, green] = seed_switch_back(f, kV1, "exited");
  std::vector<int> blue_passes_at_switch;
  f.on_router_call = [&](const std::string& call) {
    if (call == "switch blue") {
      for (int h = 0; h < 2; ++h) {
        blue_passes_at_switch.push_back(f.passes(blue[h]));
      }
    }
  };
  auto out = f.switch_back();
  INFO(out.summary);
  CHECK(out.code == ExitCode::kDone);
  INFO(f.report());
  CHECK(f.violations.empty());
  CHECK(f.router.calls ==
        std::vector<std::string>{"check", "live", "switch blue", "wait-idle green"});
  CHECK(f.router.live == std::optional<Colour>(Colour::kBlue));
  CHECK(blue_passes_at_switch == std::vector<int>{2, 2});
  const int switched = f.at("router switch blue");
  const int idle = f.at("router wait-idle green");
  for (int h = 0; h < 2; ++h) {
    CAPTURE(h);
    const std::string host = "h" + std::to_string(h + 1);
    CHECK(f.at(host + " start " + blue[h]) < switched);
    CHECK(f.at(host + " stop " + green[h]) > idle);
    CHECK(f.find(h, "web-blue")->status == "running");
    CHECK(f.find(h, "web-green")->status == "exited");
  }
  for (const auto& p : f.probes) {
    CAPTURE(p.host, p.port, p.target);
    CHECK(p.port == kBluePort);  // only blue is gated
    CHECK(p.target == p.found);
  }
}

TEST_CASE("switch-back: blue failing its gate is stopped again, green stays live",
          "[controller][bluegreen][switchback]") {
  RouterFleet f(2, Mode::kBlueGreen);
  auto [blue, green] = seed_switch_back(f, kBad, "exited");
  auto out = f.switch_back();
  INFO(out.summary);
  CHECK(out.code == ExitCode::kRolledBack);
  check_green_kept(f, green);
  CHECK(f.router.count("switch blue") == 0);
  CHECK(f.router.count("switch green") == 0);
  for (int h = 0; h < 2; ++h) {
    const std::string host = "h" + std::to_string(h + 1);
    CHECK(f.at(host + " start " + blue[h]) >= 0);
    CHECK(f.at(host + " stop " + blue[h]) > f.at(host + " start " + blue[h]));
    CHECK(f.find(h, "web-blue")->status == "exited");
    CHECK(f.find(h, "web-green")->status == "running");
  }
}

TEST_CASE("switch-back: a refused switch stops blue again and pauses, green stays live",
          "[controller][bluegreen][switchback]") {
  RouterFleet f(2, Mode::kBlueGreen);
  auto [blue, green] = seed_switch_back(f, kV1, "exited");
  f.router.refuse_switches = 1;
  auto out = f.switch_back();
  INFO(out.summary);
  CHECK(out.code == ExitCode::kPaused);
  CHECK_THAT(out.summary, Contains("the router did not switch to blue"));
  check_green_kept(f, green);
  CHECK(f.router.calls == std::vector<std::string>{"check", "live", "switch blue", "live"});
  for (int h = 0; h < 2; ++h) {
    CAPTURE(h);
    CHECK(f.find(h, "web-blue")->id == blue[h]);  // stopped again, never removed
    CHECK(f.find(h, "web-blue")->status == "exited");
  }
}

TEST_CASE("switch-back: an abandoned switch-back leaves running what it did not start",
          "[controller][bluegreen][switchback]") {
  // blue already runs unrouted on both hosts (and is bad): the gate fails, and blue is left as
  // the switch-back found it.
  RouterFleet f(2, Mode::kBlueGreen);
  auto [blue, green] = seed_switch_back(f, kBad, "running");
  auto out = f.switch_back();
  INFO(out.summary);
  CHECK(out.code == ExitCode::kRolledBack);
  check_green_kept(f, green);
  CHECK(f.router.count("switch blue") == 0);
  check_never_stopped(f, blue);
  for (int h = 0; h < 2; ++h) {
    CAPTURE(h);
    CHECK(f.count("h" + std::to_string(h + 1) + " start " + blue[h]) == 0);
  }
}

TEST_CASE("switch-back: a host without the other colour changes nothing",
          "[controller][bluegreen][switchback]") {
  RouterFleet f(2, Mode::kBlueGreen);
  f.router.live = Colour::kGreen;
  f.seed("web-green", kV2, 2, "running", "green");
  f.engine(0).seed("web-blue", test::kRepo + "@" + kV1, 1, "web", "exited",
                   {{kBluePort, 80, "tcp", ""}});
  auto out = f.switch_back();
  INFO(out.summary);
  CHECK(out.code == ExitCode::kPreflight);
  CHECK_THAT(out.summary, Contains("h2 has no blue container"));
  CHECK(f.router.count("switch blue") == 0);
}

TEST_CASE("blue-green: an engine error at any call leaves the live colour serving",
          "[controller][bluegreen]") {
  test::each_failure(
      2, Mode::kBlueGreen,
      [](RouterFleet& f) {
        f.seed("web-blue", kV1, 2, "running", "blue");
        f.seed("web-green", kV1, 1, "exited", "green");
      },
      [](RouterFleet& f) { return f.apply("v2"); }, test::stopped_consistently);
}

TEST_CASE("switch-back: an engine error at any call leaves the live colour serving",
          "[controller][bluegreen][switchback]") {
  test::each_failure(
      2, Mode::kBlueGreen, [](RouterFleet& f) { seed_switch_back(f, kV1, "exited"); },
      [](RouterFleet& f) { return f.switch_back(); },
      [](ExitCode c) { return c != ExitCode::kInternal; });
}

}  // namespace
}  // namespace orch::rollout
