// make_blue_green_plan is pure: fleets in every state a blue-green app can be in, and the plan
// each gets (which colour, which containers are archived, what is created where).
#include <catch2/catch.hpp>

#include "orchestrator/rollout/plan.h"
#include "tests/orchestrator/rollout/plan_fixtures.h"

namespace orch::rollout {
namespace {

using Catch::Matchers::Contains;
using manifest::Colour;
using T = Action::Type;

using test::container;
using test::kNew;
using test::kOld;
using test::kPinned;
using test::types;

docker::ContainerSummary blue(int rev, const std::string& digest, const std::string& state) {
  return container("web-blue", rev, digest, state, "blue");
}
docker::ContainerSummary green(int rev, const std::string& digest, const std::string& state) {
  return container("web-green", rev, digest, state, "green");
}

manifest::Manifest blue_green_manifest(int hosts) {
  manifest::Manifest m;
  m.app = "web";
  m.strategy.type = "blue-green";
  m.strategy.ports = manifest::ColourPorts{8080, 8081};
  m.container.ports = {{8080, 80, "tcp"}};
  m.container.stop_timeout = std::chrono::seconds(7);
  m.router = manifest::Router{};
  m.router->command = manifest::CommandRouter{{"/bin/true"}};
  for (int i = 1; i <= hosts; ++i) {
    m.hosts.push_back(manifest::Host{"h" + std::to_string(i), "unix:///x", "127.0.0.1"});
  }
  return m;
}

std::vector<HostObservation> same_on(int hosts, const std::vector<docker::ContainerSummary>& each) {
  std::vector<HostObservation> out;
  for (int i = 1; i <= hosts; ++i) {
    out.push_back(HostObservation{"h" + std::to_string(i), each});
  }
  return out;
}

Result<Plan> plan_for(const manifest::Manifest& m, const std::vector<HostObservation>& observed,
                      std::optional<Colour> routed) {
  return make_blue_green_plan(m, "repo:v2", kPinned, kNew, observed, "r9", routed);
}

// The create/start/gate tail every changing host ends with, for the target colour.
void check_new_colour(const HostPlan& hp, Colour colour, int revision) {
  const std::string name = colour == Colour::kGreen ? "web-green" : "web-blue";
  const uint16_t port = colour == Colour::kGreen ? 8081 : 8080;
  CHECK(hp.colour == std::optional<Colour>(colour));
  CHECK(hp.port == port);
  REQUIRE(hp.actions.size() >= 3);
  const auto n = hp.actions.size();
  const Action& create = hp.actions[n - 3];
  CHECK(create.type == T::kCreate);
  CHECK(create.container == name);
  REQUIRE(create.spec);
  CHECK(create.spec->name == name);
  CHECK(create.spec->image == kPinned);
  REQUIRE(create.spec->ports.size() == 1);
  CHECK(create.spec->ports[0].host_port == port);
  CHECK(create.spec->ports[0].container_port == 80);
  CHECK(create.spec->labels.at(kLabelColour) == manifest::to_string(colour));
  CHECK(create.spec->labels.at(kLabelRevision) == std::to_string(revision));
  CHECK(create.spec->labels.at(kLabelDigest) == kNew);
  CHECK(create.spec->labels.at(kLabelRollout) == "r9");
  CHECK(hp.actions[n - 2].type == T::kStart);
  CHECK(hp.actions[n - 2].container == name);
  CHECK(hp.actions[n - 1].type == T::kGate);
  CHECK(hp.actions[n - 1].container == name);
}

TEST_CASE("plan blue-green first deploy: green on every host, nothing live", "[plan][bluegreen]") {
  auto m = blue_green_manifest(3);
  auto p = plan_for(m, same_on(3, {}), Colour::kBlue);
  INFO(p.status().message());
  REQUIRE(p);
  CHECK(p->blue_green);
  CHECK(p->target == Colour::kGreen);
  CHECK_FALSE(p->live.has_value());
  CHECK(p->revision == 1);
  CHECK(p->unchanged.empty());
  REQUIRE(p->batches.size() == 1);  // one fleet-wide batch: the switch is fleet-wide
  REQUIRE(p->batches[0].hosts.size() == 3);
  for (const auto& hp : p->batches[0].hosts) {
    CAPTURE(hp.host);
    CHECK(hp.mode == HostPlan::Mode::kFirstDeploy);
    CHECK_FALSE(hp.current.has_value());
    CHECK_FALSE(hp.standby.has_value());
    CHECK(types(hp) == std::vector<T>{T::kCreate, T::kStart, T::kGate});
    check_new_colour(hp, Colour::kGreen, 1);
  }
}

TEST_CASE("plan blue-green first deploy without a router answer starts blue", "[plan][bluegreen]") {
  auto m = blue_green_manifest(2);
  auto p = plan_for(m, same_on(2, {}), std::nullopt);
  REQUIRE(p);
  CHECK(p->target == Colour::kBlue);
  CHECK_FALSE(p->live.has_value());
  for (const auto& hp : p->batches.at(0).hosts) {
    check_new_colour(hp, Colour::kBlue, 1);
  }
}

TEST_CASE("plan blue-green: v1 live on blue, v2 goes to green beside it", "[plan][bluegreen]") {
  auto m = blue_green_manifest(2);
  auto p = plan_for(m, same_on(2, {blue(1, kOld, "running")}), Colour::kBlue);
  REQUIRE(p);
  CHECK(p->target == Colour::kGreen);
  CHECK(p->live == std::optional<Colour>(Colour::kBlue));
  CHECK(p->revision == 2);
  for (const auto& hp : p->batches.at(0).hosts) {
    CHECK(hp.mode == HostPlan::Mode::kReplace);
    REQUIRE(hp.current);
    CHECK(hp.current->name == "web-blue");
    CHECK(hp.current->colour == Colour::kBlue);
    CHECK(hp.current_port == 8080);
    CHECK_FALSE(hp.standby.has_value());
    // Blue is never stopped by the plan: it serves until the switch.
    CHECK(types(hp) == std::vector<T>{T::kCreate, T::kStart, T::kGate});
    check_new_colour(hp, Colour::kGreen, 2);
  }
}

TEST_CASE("plan blue-green: the router's word decides the live colour", "[plan][bluegreen]") {
  // Both colours run (the bake of the last rollout was interrupted); the router says green.
  auto m = blue_green_manifest(1);
  auto p = plan_for(m, same_on(1, {blue(1, kOld, "running"), green(2, kOld, "running")}),
                    Colour::kGreen);
  REQUIRE(p);
  CHECK(p->live == std::optional<Colour>(Colour::kGreen));
  CHECK(p->target == Colour::kBlue);
  const auto& hp = p->batches.at(0).hosts.at(0);
  REQUIRE(hp.current);
  CHECK(hp.current->name == "web-green");
  CHECK(hp.current_port == 8081);
  REQUIRE(hp.standby);
  CHECK(hp.standby->name == "web-blue");
  check_new_colour(hp, Colour::kBlue, 3);
}

TEST_CASE("plan blue-green: a stopped standby is archived before green is created",
          "[plan][bluegreen]") {
  auto m = blue_green_manifest(2);
  auto p =
      plan_for(m, same_on(2, {blue(2, kOld, "running"), green(1, kOld, "exited")}), Colour::kBlue);
  REQUIRE(p);
  CHECK(p->revision == 3);
  for (const auto& hp : p->batches.at(0).hosts) {
    REQUIRE(hp.standby);
    CHECK(hp.standby->name == "web-green");
    CHECK(hp.standby->revision == 1);
    CHECK(hp.standby_archive == "web-r1");
    CHECK(types(hp) == std::vector<T>{T::kRename, T::kCreate, T::kStart, T::kGate});
    const Action& rename = hp.actions[0];
    CHECK(rename.on == Action::On::kStandby);
    CHECK(rename.container == "web-green");
    CHECK(rename.new_name == "web-r1");
    check_new_colour(hp, Colour::kGreen, 3);
  }
}

TEST_CASE("plan blue-green: a running standby is stopped first", "[plan][bluegreen]") {
  auto m = blue_green_manifest(1);
  auto p =
      plan_for(m, same_on(1, {blue(2, kOld, "running"), green(1, kOld, "running")}), Colour::kBlue);
  REQUIRE(p);
  const auto& hp = p->batches.at(0).hosts.at(0);
  CHECK(types(hp) == std::vector<T>{T::kStop, T::kRename, T::kCreate, T::kStart, T::kGate});
  const Action& stop = hp.actions[0];
  CHECK(stop.on == Action::On::kStandby);
  CHECK(stop.container == "web-green");
  CHECK(stop.stop_timeout_s == std::optional<int>(7));
  CHECK(hp.actions[1].on == Action::On::kStandby);
  check_new_colour(hp, Colour::kGreen, 3);
}

TEST_CASE("plan blue-green: a legacy container named after the app is blue", "[plan][bluegreen]") {
  auto m = blue_green_manifest(2);
  SECTION("live, the router cannot tell") {
    auto p = plan_for(m, same_on(2, {container("web", 1, kOld, "running", "")}), std::nullopt);
    INFO(p.status().message());
    REQUIRE(p);
    CHECK(p->live == std::optional<Colour>(Colour::kBlue));
    CHECK(p->target == Colour::kGreen);
    for (const auto& hp : p->batches.at(0).hosts) {
      REQUIRE(hp.current);
      CHECK(hp.current->name == "web");
      CHECK(hp.current_port == 8080);
      CHECK(types(hp) == std::vector<T>{T::kCreate, T::kStart, T::kGate});
    }
  }
  SECTION("the standby, when green is live") {
    auto p = plan_for(
        m, same_on(2, {container("web", 1, kOld, "exited", ""), green(2, kOld, "running")}),
        Colour::kGreen);
    REQUIRE(p);
    CHECK(p->target == Colour::kBlue);
    for (const auto& hp : p->batches.at(0).hosts) {
      REQUIRE(hp.standby);
      CHECK(hp.standby->name == "web");
      CHECK(hp.standby_archive == "web-r1");
      CHECK(types(hp) == std::vector<T>{T::kRename, T::kCreate, T::kStart, T::kGate});
      CHECK(hp.actions[0].container == "web");
      CHECK(hp.actions[0].new_name == "web-r1");
      check_new_colour(hp, Colour::kBlue, 3);
    }
  }
}

TEST_CASE("plan blue-green: web and web-blue on one host is ambiguous", "[plan][bluegreen]") {
  auto m = blue_green_manifest(3);
  auto observed = same_on(3, {blue(2, kOld, "running")});
  observed[1].containers.push_back(container("web", 1, kOld, "exited", ""));
  auto p = plan_for(m, observed, Colour::kBlue);
  REQUIRE_FALSE(p);
  CHECK(p.status().code() == Code::kFailedPrecondition);
  CHECK_THAT(p.status().message(), Contains("h2"));
  CHECK_THAT(p.status().message(), Contains("web-blue"));
  CHECK_THAT(p.status().message(), !Contains("h1") && !Contains("h3"));
}

TEST_CASE("plan blue-green: without the router, hosts must agree on the live colour",
          "[plan][bluegreen]") {
  auto m = blue_green_manifest(3);
  SECTION("one host runs the other colour") {
    std::vector<HostObservation> observed = {
        {"h1", {blue(1, kOld, "running"), green(2, kOld, "exited")}},
        {"h2", {blue(1, kOld, "exited"), green(2, kOld, "running")}},
        {"h3", {blue(1, kOld, "running"), green(2, kOld, "exited")}},
    };
    auto p = plan_for(m, observed, std::nullopt);
    REQUIRE_FALSE(p);
    CHECK(p.status().code() == Code::kFailedPrecondition);
    CHECK_THAT(p.status().message(), Contains("h2 runs green where others run blue"));
    CHECK_THAT(p.status().message(), !Contains("h1 runs") && !Contains("h3 runs"));
  }
  SECTION("one host runs both, one neither") {
    std::vector<HostObservation> observed = {
        {"h1", {blue(1, kOld, "running"), green(2, kOld, "running")}},
        {"h2", {blue(1, kOld, "running")}},
        {"h3", {blue(1, kOld, "exited")}},
    };
    auto p = plan_for(m, observed, std::nullopt);
    REQUIRE_FALSE(p);
    CHECK_THAT(p.status().message(), Contains("h1 runs both colours"));
    CHECK_THAT(p.status().message(), Contains("h3 runs neither colour"));
    CHECK_THAT(p.status().message(), !Contains("h2"));
  }
  SECTION("the router's answer settles it") {
    std::vector<HostObservation> observed = {
        {"h1", {blue(1, kOld, "running"), green(2, kOld, "running")}},
        {"h2", {blue(1, kOld, "running")}},
        {"h3", {blue(1, kOld, "exited")}},
    };
    auto p = plan_for(m, observed, Colour::kBlue);
    REQUIRE(p);
    CHECK(p->target == Colour::kGreen);
  }
}

TEST_CASE("plan blue-green: nothing to do when the live colour already serves the digest",
          "[plan][bluegreen]") {
  auto m = blue_green_manifest(3);
  SECTION("every host") {
    auto p = plan_for(m, same_on(3, {blue(1, kOld, "exited"), green(2, kNew, "running")}),
                      Colour::kGreen);
    REQUIRE(p);
    CHECK(p->noop());
    CHECK(p->unchanged.size() == 3);
    for (const auto& hp : p->unchanged) {
      CHECK(hp.mode == HostPlan::Mode::kUnchanged);
      CHECK(hp.actions.empty());
    }
  }
  SECTION("all or nothing: one host behind changes every host") {
    auto observed = same_on(3, {blue(1, kOld, "exited"), green(2, kNew, "running")});
    observed[2].containers[1] = green(2, kOld, "running");
    auto p = plan_for(m, observed, Colour::kGreen);
    REQUIRE(p);
    CHECK_FALSE(p->noop());
    CHECK(p->batches.at(0).hosts.size() == 3);
    CHECK(p->target == Colour::kBlue);
  }
  SECTION("the digest runs in the colour that is not live") {
    auto p = plan_for(m, same_on(3, {blue(1, kOld, "running"), green(2, kNew, "exited")}),
                      Colour::kBlue);
    REQUIRE(p);
    CHECK_FALSE(p->noop());
    CHECK(p->target == Colour::kGreen);
  }
}

TEST_CASE("plan blue-green: an archive name already taken gets the id", "[plan][bluegreen]") {
  auto m = blue_green_manifest(1);
  auto p = plan_for(m,
                    same_on(1, {blue(2, kOld, "running"), green(1, kOld, "exited"),
                                container("web-r1", 1, kOld, "exited", "green")}),
                    Colour::kBlue);
  REQUIRE(p);
  const auto& hp = p->batches.at(0).hosts.at(0);
  CHECK(hp.standby_archive == "web-r1-id-web-green");
  CHECK(hp.actions.at(0).type == T::kRename);
  CHECK(hp.actions.at(0).new_name == hp.standby_archive);
}

TEST_CASE("plan blue-green: failed and archived containers hold no slot", "[plan][bluegreen]") {
  auto m = blue_green_manifest(1);
  auto p = plan_for(
      m,
      same_on(1, {blue(3, kOld, "running"), container("web-r2", 2, kOld, "exited", "green"),
                  container("web-r4-failed", 4, kNew, "exited", "green")}),
      Colour::kBlue);
  REQUIRE(p);
  CHECK(p->revision == 5);
  const auto& hp = p->batches.at(0).hosts.at(0);
  CHECK_FALSE(hp.standby.has_value());
  CHECK(types(hp) == std::vector<T>{T::kCreate, T::kStart, T::kGate});
}

TEST_CASE("plan blue-green resume: the rollout's own new colour is adopted and gated again",
          "[plan][bluegreen][resume]") {
  // The interrupted run (rollout "r", revision 2) archived the stopped standby web-r1 and
  // created web-green, which h1 started and h2 did not; the router still sends to blue.
  const auto archived = container("web-r1", 1, kOld, "exited", "green");
  auto m = blue_green_manifest(2);
  std::vector<HostObservation> observed = {
      {"h1", {blue(1, kOld, "running"), green(2, kNew, "running"), archived}},
      {"h2", {blue(1, kOld, "running"), green(2, kNew, "created"), archived}},
  };
  auto p = make_blue_green_plan(m, "repo:v2", kPinned, kNew, observed, "r", Colour::kBlue,
                                ResumeOf{"r", 2});
  REQUIRE(p);
  CHECK(p->revision == 2);
  CHECK(p->target == Colour::kGreen);
  REQUIRE(p->batches.size() == 1);
  const auto& h1 = p->batches[0].hosts[0];
  const auto& h2 = p->batches[0].hosts[1];
  CHECK(h1.mode == HostPlan::Mode::kAdopt);
  CHECK(h1.adopt_id == "id-web-green-2");
  CHECK(types(h1) == std::vector<T>{T::kGate});
  CHECK(types(h2) == std::vector<T>{T::kStart, T::kGate});
  // Undo gives the archived standby its slot's name back.
  for (const auto* hp : {&h1, &h2}) {
    REQUIRE(hp->standby);
    CHECK(hp->standby_archived);
    CHECK(hp->standby->id == "id-web-r1-1");
    CHECK(hp->standby->name == "web-green");
    CHECK(hp->standby_archive == "web-r1");
  }
}

TEST_CASE("plan blue-green resume: an empty slot after the standby was archived is refilled",
          "[plan][bluegreen][resume]") {
  // Killed between archiving the standby and creating the new colour.
  auto m = blue_green_manifest(1);
  std::vector<HostObservation> observed = {
      {"h1", {blue(1, kOld, "running"), container("web-r1", 1, kOld, "exited", "green")}}};
  auto p = make_blue_green_plan(m, "repo:v2", kPinned, kNew, observed, "r", Colour::kBlue,
                                ResumeOf{"r", 2});
  REQUIRE(p);
  const auto& hp = p->batches.at(0).hosts.at(0);
  CHECK(types(hp) == std::vector<T>{T::kCreate, T::kStart, T::kGate});
  REQUIRE(hp.actions[0].spec);
  CHECK(hp.actions[0].spec->name == "web-green");
  CHECK(hp.actions[0].spec->labels.at(kLabelRevision) == "2");
  REQUIRE(hp.standby);
  CHECK(hp.standby_archived);
  CHECK(hp.standby_archive == "web-r1");
}

}  // namespace
}  // namespace orch::rollout
