// What runs is what was planned (DESIGN.md #1): for every strategy, the engine calls a
// successful apply makes on each host are, call for call and in order, the ones `rollgate
// plan` listed for that host. The plan is taken with Controller::preview (what `plan` prints)
// on the same fleet just before the apply.
#include <catch2/catch.hpp>

#include "tests/orchestrator/rollout/router_fleet.h"

namespace orch::rollout::test {
namespace {

constexpr char kNew[] = "<new>";

// The engine call an Action makes, as FakeEngine logs it, with the new container's id
// written kNew (it exists only once the create has run).
std::optional<std::string> expected_call(const HostPlan& hp, const Action& a) {
  auto target = [&]() -> std::string {
    switch (a.on) {
      case Action::On::kCurrent:
        return hp.current ? hp.current->id : a.container;
      case Action::On::kStandby:
        return hp.standby ? hp.standby->id : a.container;
      case Action::On::kNew:
        return kNew;
    }
    return a.container;
  };
  switch (a.type) {
    case Action::Type::kStop:
      return "stop " + target();
    case Action::Type::kRename:
      return "rename " + target() + " " + a.new_name;
    case Action::Type::kCreate:
      return "create " + a.spec->name;
    case Action::Type::kStart:
      return "start " + std::string(kNew);
    case Action::Type::kRemove:
      return "remove " + a.container;
    case Action::Type::kGate:
    case Action::Type::kDrain:
    case Action::Type::kEnable:
      return std::nullopt;  // no engine call
  }
  return std::nullopt;
}

// The mutating engine calls logged for `host`, the new container's id written kNew.
std::vector<std::string> traced(const RouterFleet& f, const std::string& host,
                                const std::string& new_id) {
  std::vector<std::string> out;
  for (const auto& line : f.world.log) {
    if (line.rfind(host + " ", 0) != 0) {
      continue;
    }
    std::string call = line.substr(host.size() + 1);
    const std::string verb = call.substr(0, call.find(' '));
    if (verb != "create" && verb != "start" && verb != "stop" && verb != "rename" &&
        verb != "remove") {
      continue;
    }
    for (size_t at = call.find(new_id); !new_id.empty() && at != std::string::npos;
         at = call.find(new_id)) {
      call.replace(at, new_id.size(), kNew);
    }
    out.push_back(call);
  }
  return out;
}

// The container this rollout created on a host (labelled with its rollout id).
std::string created_id(const RouterFleet& f, int host) {
  for (const auto& [id, c] : f.engines[host]->containers) {
    auto it = c.labels.find(kLabelRollout);
    if (it != c.labels.end() && it->second == "test-rollout") {
      return id;
    }
  }
  return "";
}

void check_trace_equals_plan(Mode mode, const std::function<void(RouterFleet&)>& seed) {
  RouterFleet f(3, mode);
  f.m.keep = 10;  // pruning is housekeeping after success, not a planned step
  seed(f);
  Plan plan;
  f.run([&](Controller& c) -> Task<Outcome> {
    std::string image = kRepo + ":v2";
    std::string id = "test-rollout";
    auto previewed = co_await c.preview(std::move(image), std::move(id));
    REQUIRE(previewed);
    plan = std::move(*previewed);
    co_return Outcome{};
  });
  REQUIRE_FALSE(plan.noop());
  f.world.log.clear();
  auto out = f.apply("v2");
  INFO(out.summary);
  REQUIRE(out.code == ExitCode::kDone);
  for (const auto& b : plan.batches) {
    for (const auto& hp : b.hosts) {
      const int index = std::stoi(hp.host.substr(1)) - 1;
      std::vector<std::string> planned;
      for (const auto& a : hp.actions) {
        if (auto call = expected_call(hp, a)) {
          planned.push_back(*call);
        }
      }
      // Blue-green's fleet-wide tail, listed in plan.router_steps: after the switch and the
      // drain, the colour that was live stops (kept for switch-back).
      if (plan.blue_green && plan.live && hp.current) {
        planned.push_back("stop " + hp.current->id);
      }
      INFO("host " << hp.host);
      CHECK(traced(f, hp.host, created_id(f, index)) == planned);
    }
  }
}

TEST_CASE("a rolling stop-first apply makes exactly the planned engine calls", "[trace]") {
  check_trace_equals_plan(Mode::kStopFirst,
                          [](RouterFleet& f) { f.seed("web", kV1, 1, "running"); });
}

TEST_CASE("a rolling start-first apply makes exactly the planned engine calls", "[trace]") {
  check_trace_equals_plan(Mode::kStartFirst,
                          [](RouterFleet& f) { f.seed("web", kV1, 1, "running"); });
}

TEST_CASE("a blue-green apply makes exactly the planned engine calls", "[trace]") {
  check_trace_equals_plan(Mode::kBlueGreen, [](RouterFleet& f) {
    f.seed("web-blue", kV1, 1, "running", "blue");
    f.router.live = manifest::Colour::kBlue;
  });
}

TEST_CASE("a first deploy makes exactly the planned engine calls", "[trace]") {
  check_trace_equals_plan(Mode::kStopFirst, [](RouterFleet&) {});
}

}  // namespace
}  // namespace orch::rollout::test
