// make_plan with a router: start-first's two slots per host, and stop-first's drain/enable
// around the swap. Pure: the plan's actions, in order, for each state a host can be in.
#include <catch2/catch.hpp>

#include "orchestrator/rollout/plan.h"
#include "tests/orchestrator/rollout/plan_fixtures.h"

namespace orch::rollout {
namespace {

using manifest::Colour;
using T = Action::Type;

using test::container;
using test::kNew;
using test::kOld;
using test::kPinned;
using test::types;

manifest::Manifest rolling_manifest(bool start_first) {
  manifest::Manifest m;
  m.app = "web";
  m.container.ports = {{8080, 80, "tcp"}};
  m.container.stop_timeout = std::chrono::seconds(7);
  m.router = manifest::Router{};
  m.router->command = manifest::CommandRouter{{"/bin/true"}};
  if (start_first) {
    m.strategy.order = manifest::Order::kStartFirst;
    m.strategy.ports = manifest::ColourPorts{8080, 8081};
  }
  m.hosts.push_back(manifest::Host{"h1", "unix:///x", "127.0.0.1"});
  return m;
}

HostPlan plan_host(const manifest::Manifest& m, std::vector<docker::ContainerSummary> containers) {
  std::vector<HostObservation> observed = {{"h1", std::move(containers)}};
  auto p = make_plan(m, "repo:v2", kPinned, kNew, observed, "r9");
  REQUIRE(p.batches.size() == 1);
  REQUIRE(p.batches[0].hosts.size() == 1);
  return p.batches[0].hosts[0];
}

TEST_CASE("plan start-first: next slot, gate, enable, then drain and retire the old one",
          "[plan][startfirst]") {
  auto m = rolling_manifest(true);
  auto hp = plan_host(m, {container("web", 1, kOld), container("web-r0", 0, kOld, "exited")});
  CHECK(hp.mode == HostPlan::Mode::kReplace);
  CHECK(hp.colour == std::optional<Colour>(Colour::kGreen));
  CHECK(hp.port == 8081);
  CHECK(hp.current_port == 8080);
  CHECK(hp.previous_name == "web-r1");
  REQUIRE(types(hp) == std::vector<T>{T::kCreate, T::kStart, T::kGate, T::kEnable, T::kDrain,
                                      T::kStop, T::kRename, T::kRename});
  const auto& a = hp.actions;
  REQUIRE(a[0].spec);
  CHECK(a[0].container == "web-next");
  CHECK(a[0].spec->name == "web-next");
  CHECK(a[0].spec->ports.at(0).host_port == 8081);
  CHECK(a[0].spec->ports.at(0).container_port == 80);
  CHECK(a[0].spec->labels.at(kLabelColour) == "green");
  CHECK(a[0].spec->labels.at(kLabelRevision) == "2");
  CHECK(a[1].container == "web-next");
  CHECK(a[2].container == "web-next");
  CHECK(a[3].slot == std::optional<Colour>(Colour::kGreen));  // enable the new slot
  CHECK(a[3].port == 8081);
  CHECK(a[4].slot == std::optional<Colour>(Colour::kBlue));  // drain the old one
  CHECK(a[4].port == 8080);
  CHECK(a[5].container == "web");
  CHECK(a[5].on == Action::On::kCurrent);
  CHECK(a[5].stop_timeout_s == std::optional<int>(7));
  CHECK(a[6].container == "web");
  CHECK(a[6].new_name == "web-r1");
  CHECK(a[6].on == Action::On::kCurrent);
  CHECK(a[7].container == "web-next");
  CHECK(a[7].new_name == "web");
  CHECK(a[7].on == Action::On::kNew);
}

TEST_CASE("plan start-first: a live container in the green slot makes blue the next one",
          "[plan][startfirst]") {
  auto m = rolling_manifest(true);
  auto hp = plan_host(m, {container("web", 3, kOld, "running", "green")});
  CHECK(hp.colour == std::optional<Colour>(Colour::kBlue));
  CHECK(hp.port == 8080);
  CHECK(hp.current_port == 8081);
  const auto& a = hp.actions;
  REQUIRE(a.size() == 8);
  CHECK(a[0].spec->ports.at(0).host_port == 8080);
  CHECK(a[0].spec->labels.at(kLabelColour) == "blue");
  CHECK(a[3].type == T::kEnable);
  CHECK(a[3].slot == std::optional<Colour>(Colour::kBlue));
  CHECK(a[3].port == 8080);
  CHECK(a[4].type == T::kDrain);
  CHECK(a[4].slot == std::optional<Colour>(Colour::kGreen));
  CHECK(a[4].port == 8081);
}

TEST_CASE("plan start-first: a first deploy creates the app in blue and enables it",
          "[plan][startfirst]") {
  auto m = rolling_manifest(true);
  auto hp = plan_host(m, {});
  CHECK(hp.mode == HostPlan::Mode::kFirstDeploy);
  CHECK(hp.colour == std::optional<Colour>(Colour::kBlue));
  CHECK(hp.port == 8080);
  REQUIRE(types(hp) == std::vector<T>{T::kCreate, T::kStart, T::kGate, T::kEnable});
  CHECK(hp.actions[0].container == "web");
  CHECK(hp.actions[0].spec->name == "web");
  CHECK(hp.actions[0].spec->ports.at(0).host_port == 8080);
  CHECK(hp.actions[0].spec->labels.at(kLabelColour) == "blue");
  CHECK(hp.actions[1].container == "web");
  CHECK(hp.actions[3].slot == std::optional<Colour>(Colour::kBlue));
  CHECK(hp.actions[3].port == 8080);
}

TEST_CASE("plan start-first: a leftover web-next is removed first", "[plan][startfirst]") {
  auto m = rolling_manifest(true);
  auto hp = plan_host(m, {container("web", 1, kOld), container("web-next", 2, kNew, "exited")});
  REQUIRE(types(hp) == std::vector<T>{T::kRemove, T::kCreate, T::kStart, T::kGate, T::kEnable,
                                      T::kDrain, T::kStop, T::kRename, T::kRename});
  CHECK(hp.actions[0].container == "web-next");
  CHECK(hp.actions[1].container == "web-next");
}

TEST_CASE("plan start-first: a running leftover web-next is adopted and the swap finished",
          "[plan][startfirst]") {
  // An interrupted run enabled web-next's slot (green) and failed before retiring web: web-next
  // may be serving, so it is gated and kept, never removed.
  auto m = rolling_manifest(true);
  auto hp =
      plan_host(m, {container("web", 1, kOld), container("web-next", 2, kNew, "running", "green")});
  CHECK(hp.mode == HostPlan::Mode::kAdopt);
  CHECK(hp.adopt_id == "id-web-next-2");
  REQUIRE(hp.colour == Colour::kGreen);
  CHECK(hp.port == 8081);
  REQUIRE(types(hp) ==
          std::vector<T>{T::kGate, T::kEnable, T::kDrain, T::kStop, T::kRename, T::kRename});
  CHECK(hp.actions[1].slot == Colour::kGreen);
  CHECK(hp.actions[2].slot == Colour::kBlue);
  CHECK(hp.actions[5].on == Action::On::kNew);
  CHECK(hp.actions[5].new_name == "web");
}

TEST_CASE("plan start-first: a host already running the digest is unchanged",
          "[plan][startfirst]") {
  auto m = rolling_manifest(true);
  std::vector<HostObservation> observed = {{"h1", {container("web", 4, kNew, "running", "green")}}};
  auto p = make_plan(m, "repo:v2", kPinned, kNew, observed, "r9");
  CHECK(p.noop());
  CHECK(p.unchanged.size() == 1);
}

TEST_CASE("plan: stop-first with a router drains before the stop and enables after the gate",
          "[plan][router]") {
  auto m = rolling_manifest(false);
  SECTION("replace") {
    auto hp = plan_host(m, {container("web", 1, kOld)});
    REQUIRE(types(hp) == std::vector<T>{T::kDrain, T::kStop, T::kRename, T::kCreate, T::kStart,
                                        T::kGate, T::kEnable});
    CHECK_FALSE(hp.actions[0].slot.has_value());
    CHECK_FALSE(hp.actions[6].slot.has_value());
    CHECK_FALSE(hp.colour.has_value());
    CHECK(hp.actions[3].container == "web");
    CHECK(hp.actions[3].spec->ports.at(0).host_port == 8080);
    CHECK(hp.actions[3].spec->labels.count(kLabelColour) == 0);
  }
  SECTION("first deploy") {
    auto hp = plan_host(m, {});
    CHECK(types(hp) == std::vector<T>{T::kCreate, T::kStart, T::kGate, T::kEnable});
  }
  SECTION("no router, no router steps") {
    m.router.reset();
    auto hp = plan_host(m, {container("web", 1, kOld)});
    CHECK(types(hp) == std::vector<T>{T::kStop, T::kRename, T::kCreate, T::kStart, T::kGate});
  }
}

TEST_CASE("describe prints router steps with the router's command", "[plan][router]") {
  Action drain{T::kDrain, ""};
  drain.router_step = "set server roll/h1 state drain";
  CHECK(describe(drain) ==
        "ROUTER set server roll/h1 state drain, then wait for in-flight requests");
  Action enable{T::kEnable, ""};
  enable.router_step = "set server roll/h1 state ready";
  CHECK(describe(enable) == "ROUTER set server roll/h1 state ready");
}

TEST_CASE("plan start-first resume: killed after archiving the old one, web-next finishes",
          "[plan][startfirst][resume]") {
  // The interrupted run (rollout "r", revision 2) stopped web and archived it as web-r1; web-next
  // runs in green but does not have the app's name yet.
  auto m = rolling_manifest(true);
  std::vector<HostObservation> observed = {{"h1",
                                            {container("web-next", 2, kNew, "running", "green"),
                                             container("web-r1", 1, kOld, "exited")}}};
  auto p = make_plan(m, "repo:v2", kPinned, kNew, observed, "r", ResumeOf{"r", 2});
  REQUIRE(p.batches.size() == 1);
  const auto& hp = p.batches[0].hosts[0];
  CHECK(hp.mode == HostPlan::Mode::kAdopt);
  CHECK(hp.adopt_id == "id-web-next-2");
  REQUIRE(hp.current);
  CHECK(hp.current->name == "web-r1");
  CHECK(hp.current_archived);
  CHECK(hp.port == 8081);
  CHECK(hp.current_port == 8080);
  REQUIRE(types(hp) == std::vector<T>{T::kGate, T::kEnable, T::kRename});
  CHECK(hp.actions[1].slot == Colour::kGreen);
  CHECK(hp.actions[1].port == 8081);
  CHECK(hp.actions[2].container == "web-next");
  CHECK(hp.actions[2].new_name == "web");
  CHECK(hp.actions[2].on == Action::On::kNew);
}

TEST_CASE("plan start-first resume: the renamed new container is gated and its slot enabled",
          "[plan][startfirst][resume]") {
  auto m = rolling_manifest(true);
  std::vector<HostObservation> observed = {
      {"h1",
       {container("web", 2, kNew, "running", "green"), container("web-r1", 1, kOld, "exited")}}};
  auto p = make_plan(m, "repo:v2", kPinned, kNew, observed, "r", ResumeOf{"r", 2});
  REQUIRE(p.batches.size() == 1);
  const auto& hp = p.batches[0].hosts[0];
  CHECK(hp.mode == HostPlan::Mode::kAdopt);
  REQUIRE(types(hp) == std::vector<T>{T::kGate, T::kEnable});
  CHECK(hp.actions[1].slot == Colour::kGreen);  // the slot it runs in, not the host's only entry
  CHECK(hp.actions[1].port == 8081);
}

TEST_CASE("plan start-first resume: the rollout's own stopped web-next is adopted, not removed",
          "[plan][startfirst][resume]") {
  auto m = rolling_manifest(true);
  std::vector<HostObservation> observed = {
      {"h1", {container("web", 1, kOld), container("web-next", 2, kNew, "exited", "green")}}};
  auto p = make_plan(m, "repo:v2", kPinned, kNew, observed, "r", ResumeOf{"r", 2});
  const auto& hp = p.batches.at(0).hosts.at(0);
  CHECK(hp.mode == HostPlan::Mode::kAdopt);
  CHECK(types(hp) == std::vector<T>{T::kStart, T::kGate, T::kEnable, T::kDrain, T::kStop,
                                    T::kRename, T::kRename});
}

}  // namespace
}  // namespace orch::rollout
