// Fleet status (rollout/fleet_status.h) against FakeEngines, a FakeRouter and FakeAppProbe: per
// host the live container, its health and, for blue-green, the live colour from the router or,
// when it cannot tell, from running_colour() on the engines, also when hosts disagree.
#include "orchestrator/rollout/fleet_status.h"

#include <catch2/catch.hpp>

#include "tests/fakes/fake_engine.h"
#include "tests/fakes/fake_router.h"
#include "tests/orchestrator/rollout/cli_api_support.h"

namespace orch::rollout {
namespace {

using Catch::Matchers::Contains;
using manifest::Colour;
using orch::testing::FakeEngine;
using orch::testing::FakeRouter;
using orch::testing::FakeWorld;
using orch::testing::run_task;

std::string pinned(int rev) { return "reg/web@sha256:v" + std::to_string(rev); }

struct Bed {
  FakeWorld world;
  FakeEngine h1{world, "h1"};
  FakeEngine h2{world, "h2"};
  FakeRouter router;
  manifest::Manifest m;
  std::vector<std::unique_ptr<health::Probe>> probes;
  Bed() {
    m.app = "web";
    m.image = "reg/web:v2";
    m.hosts = {{"h1", "tcp://h1:2375", "h1"}, {"h2", "tcp://h2:2375", "h2"}};
    probes.push_back(std::make_unique<testing::FakeAppProbe>(
        world, std::map<std::string, FakeEngine*>{{"h1", &h1}, {"h2", &h2}}));
  }
  void blue_green() {
    m.strategy.type = "blue-green";
    m.strategy.ports = manifest::ColourPorts{8081, 8082};
  }
  // A slot container: <app>-<colour>, labelled with its colour.
  void slot(FakeEngine& e, Colour c, int rev, const std::string& state) {
    auto id = e.seed(slot_name("web", c), pinned(rev), rev, "web", state);
    e.containers[id].labels[kLabelColour] = manifest::to_string(c);
  }
  FleetStatus status(bool with_router = true) {
    std::vector<HostBinding> bindings{{"h1", "h1", &h1}, {"h2", "h2", &h2}};
    return run_task(fleet_status(m, bindings, with_router ? &router : nullptr, probes));
  }
  static const HostStatus& host(const FleetStatus& s, const std::string& name) {
    for (const auto& h : s.hosts) {
      if (h.host == name) {
        return h;
      }
    }
    FAIL("no host " << name);
    throw;
  }
};

TEST_CASE("rolling: the container named after the app serves, listed first, with health") {
  Bed bed;
  bed.h1.seed("web-r1", pinned(1), 1, "web", "exited");
  bed.h1.seed("web", pinned(2), 2, "web");
  bed.h2.seed("web", pinned(2), 2, "web");
  SECTION("healthy") {
    auto s = bed.status(false);
    CHECK_FALSE(s.blue_green);
    CHECK_FALSE(s.router_asked);
    const auto& h1 = Bed::host(s, "h1");
    REQUIRE(h1.error.is_ok());
    REQUIRE(h1.containers.size() == 2);
    CHECK(h1.containers[0].name == "web");
    CHECK(h1.containers[0].revision == 2);
    CHECK(h1.containers[0].digest == "sha256:v2");
    CHECK(h1.containers[1].name == "web-r1");
    CHECK(h1.live_name == "web");
    REQUIRE(h1.live);
    REQUIRE(h1.probes.size() == 1);
    CHECK(h1.healthy());
  }
  SECTION("a failing probe or a stopped container is unhealthy") {
    bed.world.unhealthy_on["h2"] = "sha256:v2";
    bed.h1.containers[bed.h1.find("web")->id].status = "exited";
    auto s = bed.status(false);
    CHECK_FALSE(Bed::host(s, "h1").healthy());
    CHECK_FALSE(Bed::host(s, "h2").healthy());
    CHECK(Bed::host(s, "h2").probes.at(0).outcome == health::ProbeResult::Outcome::kFail);
  }
  SECTION("an unreachable host carries its error and nothing else") {
    bed.h2.down = true;
    auto s = bed.status(false);
    const auto& h2 = Bed::host(s, "h2");
    CHECK_FALSE(h2.error.is_ok());
    CHECK(h2.containers.empty());
    CHECK_FALSE(h2.live);
    CHECK(Bed::host(s, "h1").healthy());
  }
  SECTION("no app container: nothing serves") {
    bed.h2.containers.clear();
    auto s = bed.status(false);
    const auto& h2 = Bed::host(s, "h2");
    CHECK(h2.containers.empty());
    CHECK_FALSE(h2.live);
    CHECK_FALSE(h2.healthy());
  }
}

TEST_CASE("blue-green: the router's live colour decides which slot serves") {
  Bed bed;
  bed.blue_green();
  for (auto* e : {&bed.h1, &bed.h2}) {
    bed.slot(*e, Colour::kBlue, 1, "running");
    bed.slot(*e, Colour::kGreen, 2, "running");  // a bake: both run
  }
  bed.router.live = Colour::kGreen;
  auto s = bed.status();
  CHECK(s.router_asked);
  REQUIRE(s.routed);
  CHECK(*s.routed == Colour::kGreen);
  CHECK(s.live_colour() == Colour::kGreen);
  for (const auto& h : s.hosts) {
    CHECK(h.live_name == "web-green");
    CHECK(h.live_port == 8082);
    CHECK(h.containers.at(0).name == "web-green");
    CHECK_FALSE(h.running_colour);  // both run: the engines alone cannot tell
  }
}

TEST_CASE("blue-green: when the router cannot tell, the engines' running colour serves") {
  Bed bed;
  bed.blue_green();
  for (auto* e : {&bed.h1, &bed.h2}) {
    bed.slot(*e, Colour::kBlue, 1, "exited");
    bed.slot(*e, Colour::kGreen, 2, "running");
  }
  bool with_router = true;
  SECTION("the router has no answer") { bed.router.live = std::nullopt; }
  SECTION("the router cannot be asked") { bed.router.live_fails = true; }
  SECTION("there is no router") { with_router = false; }
  auto s = bed.status(with_router);
  CHECK_FALSE(s.routed);
  REQUIRE(s.running_colour);
  CHECK(*s.running_colour == Colour::kGreen);
  CHECK(s.live_colour() == Colour::kGreen);
  for (const auto& h : s.hosts) {
    CHECK(h.running_colour == Colour::kGreen);
    CHECK(h.live_name == "web-green");
    CHECK(h.healthy());
  }
}

TEST_CASE("blue-green: hosts that disagree each show their own colour, and the fleet says why") {
  Bed bed;
  bed.blue_green();
  bed.router.live = std::nullopt;
  bed.slot(bed.h1, Colour::kBlue, 1, "running");
  bed.slot(bed.h1, Colour::kGreen, 2, "exited");
  bed.slot(bed.h2, Colour::kBlue, 1, "exited");
  bed.slot(bed.h2, Colour::kGreen, 2, "running");
  auto s = bed.status();
  CHECK_FALSE(s.live_colour());
  CHECK(s.colour_error.code() == Code::kFailedPrecondition);
  CHECK_THAT(s.colour_error.message(), Contains("h2 runs green where others run blue"));
  CHECK(Bed::host(s, "h1").live_name == "web-blue");
  CHECK(Bed::host(s, "h1").live_port == 8081);
  CHECK(Bed::host(s, "h2").live_name == "web-green");

  SECTION("a host running both colours shows none serving") {
    bed.h2.containers[bed.h2.find("web-blue")->id].status = "running";
    auto both = bed.status();
    const auto& h2 = Bed::host(both, "h2");
    CHECK_FALSE(h2.running_colour);
    CHECK(h2.live_name.empty());
    CHECK_FALSE(h2.live);
    CHECK(Bed::host(both, "h1").live_name == "web-blue");
  }
}

}  // namespace
}  // namespace orch::rollout
