// The planner is pure: table-driven tests over fleets in different states.
#include "orchestrator/rollout/plan.h"

#include <catch2/catch.hpp>

namespace orch::rollout {
namespace {

const std::string kOld = "sha256:" + std::string(64, 'a');
const std::string kNew = "sha256:" + std::string(64, 'b');

docker::ContainerSummary container(const std::string& name, int rev, const std::string& digest,
                                   const std::string& state = "running") {
  return docker::ContainerSummary{"id-" + name + "-" + std::to_string(rev),
                                  name,
                                  "repo@" + digest,
                                  "sha256:cfg",
                                  {{kLabelApp, "web"},
                                   {kLabelRevision, std::to_string(rev)},
                                   {kLabelDigest, digest},
                                   {kLabelRollout, "r"}},
                                  state,
                                  state};
}

manifest::Manifest manifest_for(int hosts, int batch, bool percent = false) {
  manifest::Manifest m;
  m.app = "web";
  m.strategy.batch_size = manifest::BatchSize{batch, percent};
  m.container.stop_timeout = std::chrono::seconds(7);
  for (int i = 1; i <= hosts; ++i) {
    m.hosts.push_back(manifest::Host{"h" + std::to_string(i), "unix:///x", "127.0.0.1"});
  }
  return m;
}

std::vector<HostObservation> fleet(int hosts, std::vector<docker::ContainerSummary> each) {
  std::vector<HostObservation> out;
  for (int i = 1; i <= hosts; ++i) {
    out.push_back(HostObservation{"h" + std::to_string(i), each});
  }
  return out;
}

TEST_CASE("batches follow batch_size over the whole fleet", "[plan]") {
  auto [hosts, batch, percent, expected_batches] = GENERATE(table<int, int, bool, int>({
      {3, 1, false, 3},
      {3, 2, false, 2},
      {3, 5, false, 1},
      {4, 50, true, 2},
      {3, 25, true, 3},  // 25% of 3 rounds up to 1 host per batch
      {10, 10, true, 10},
      {10, 30, true, 4},
  }));
  CAPTURE(hosts, batch, percent);
  auto m = manifest_for(hosts, batch, percent);
  auto p = make_plan(m, "repo:v2", "repo@" + kNew, kNew, fleet(hosts, {}), "r1");
  CHECK(static_cast<int>(p.batches.size()) == expected_batches);
  size_t total = 0;
  for (const auto& b : p.batches) {
    total += b.hosts.size();
  }
  CHECK(static_cast<int>(total) == hosts);
}

TEST_CASE("the actions per host depend on what runs there", "[plan]") {
  using T = Action::Type;
  struct Case {
    const char* name;
    std::vector<docker::ContainerSummary> containers;
    HostPlan::Mode mode;
    std::vector<T> actions;
    const char* previous_name;
  };
  auto c = GENERATE_COPY(values<Case>({
      {"first deploy", {}, HostPlan::Mode::kFirstDeploy, {T::kCreate, T::kStart, T::kGate}, ""},
      {"replace a running revision",
       {container("web", 3, kOld), container("web-r2", 2, kOld, "exited")},
       HostPlan::Mode::kReplace,
       {T::kStop, T::kRename, T::kCreate, T::kStart, T::kGate},
       "web-r3"},
      {"replace a stopped container of the same digest (a fleet that is down)",
       {container("web", 3, kNew, "exited")},
       HostPlan::Mode::kReplace,
       {T::kStop, T::kRename, T::kCreate, T::kStart, T::kGate},
       "web-r3"},
      {"already running the digest",
       {container("web", 3, kNew)},
       HostPlan::Mode::kUnchanged,
       {},
       ""},
      {"archive name already taken",
       {container("web", 3, kOld), container("web-r3", 3, kOld, "exited")},
       HostPlan::Mode::kReplace,
       {T::kStop, T::kRename, T::kCreate, T::kStart, T::kGate},
       "web-r3-id-web-3"},
  }));
  CAPTURE(c.name);
  auto m = manifest_for(1, 1);
  auto p = make_plan(m, "repo:v2", "repo@" + kNew, kNew, fleet(1, c.containers), "r9");
  const HostPlan& hp =
      c.mode == HostPlan::Mode::kUnchanged ? p.unchanged.at(0) : p.batches.at(0).hosts.at(0);
  CHECK(hp.mode == c.mode);
  std::vector<T> types;
  for (const auto& a : hp.actions) {
    types.push_back(a.type);
  }
  CHECK(types == c.actions);
  CHECK(hp.previous_name == c.previous_name);
  CHECK(p.noop() == (c.mode == HostPlan::Mode::kUnchanged));
}

TEST_CASE("the new revision is one past the highest on any host", "[plan]") {
  auto m = manifest_for(2, 1);
  std::vector<HostObservation> obs = {
      {"h1", {container("web", 4, kOld), container("web-r7-failed", 7, kOld, "exited")}},
      {"h2", {container("web", 5, kOld)}},
  };
  auto p = make_plan(m, "repo:v2", "repo@" + kNew, kNew, obs, "r1");
  CHECK(p.revision == 8);
  const auto& create = p.batches.at(0).hosts.at(0).actions.at(2);
  REQUIRE(create.spec);
  CHECK(create.spec->labels.at(kLabelRevision) == "8");
  CHECK(create.spec->labels.at(kLabelDigest) == kNew);
  CHECK(create.spec->labels.at(kLabelRollout) == "r1");
  CHECK(create.spec->labels.at(kLabelApp) == "web");
  CHECK(create.spec->image == "repo@" + kNew);
  CHECK(create.spec->stop_timeout_s == 7);
}

TEST_CASE("container_spec maps the manifest's container section", "[plan]") {
  auto m = manifest_for(1, 1);
  m.container.ports = {{80, 8080, "tcp"}, {53, 53, "udp"}};
  m.container.env = {{"A", "1"}, {"B", "two"}};
  m.container.labels = {{"team", "web"}};
  m.container.command = {"/bin/app", "--serve"};
  m.container.restart = "on-failure:5";
  auto spec = container_spec(m, "repo@" + kNew, kNew, 2, "r");
  CHECK(spec.env == std::vector<std::string>{"A=1", "B=two"});
  CHECK(spec.cmd == m.container.command);
  CHECK(spec.labels.at("team") == "web");
  CHECK(spec.restart_policy == "on-failure");
  CHECK(spec.restart_max_retries == 5);
  REQUIRE(spec.ports.size() == 2);
  CHECK(spec.ports[1].protocol == "udp");
  CHECK(spec.ports[0].host_port == 80);
  CHECK(spec.ports[0].container_port == 8080);
}

TEST_CASE("describe prints the exact engine call", "[plan]") {
  CHECK(describe(Action{Action::Type::kStop, "web", "", std::nullopt, 10}) ==
        "POST /v1.41/containers/web/stop?t=10");
  CHECK(describe(Action{Action::Type::kRename, "web", "web-r2"}) ==
        "POST /v1.41/containers/web/rename?name=web-r2");
  CHECK(describe(Action{Action::Type::kStart, "web"}) == "POST /v1.41/containers/web/start");
  CHECK(describe(Action{Action::Type::kRemove, "web-r1"}) ==
        "DELETE /v1.41/containers/web-r1?force=1");
}

TEST_CASE("pruning keeps `keep` revisions, the live one included", "[plan]") {
  std::vector<AppContainer> cs = {
      {"1", "web", 5, kNew, "r", "running"},   {"2", "web-r4", 4, kOld, "r", "exited"},
      {"3", "web-r3", 3, kOld, "r", "exited"}, {"4", "web-r6-failed", 6, kOld, "r", "exited"},
      {"5", "web-r2", 2, kOld, "r", "exited"},
  };
  auto [keep, expected] = GENERATE(table<int, std::vector<std::string>>({
      {1, {"web-r6-failed", "web-r4", "web-r3", "web-r2"}},
      {2, {"web-r6-failed", "web-r3", "web-r2"}},
      {3, {"web-r6-failed", "web-r2"}},
      {10, {"web-r6-failed"}},
  }));
  CAPTURE(keep);
  std::vector<std::string> names;
  for (const auto& c : containers_to_prune("web", cs, keep)) {
    names.push_back(c.name);
  }
  CHECK(names == expected);
}

TEST_CASE("pruning never removes a blue-green slot holder, even an older live one",
          "[plan][bluegreen]") {
  // After a switch-back the live colour (web-green, revision 3) is older than the stopped
  // standby (web-blue, revision 4); then revision 5 went into the blue slot and archived 4.
  std::vector<AppContainer> cs = {
      {"1", "web-blue", 5, kNew, "r", "running"},     {"2", "web-r4", 4, kOld, "r", "exited"},
      {"3", "web-green", 3, kOld, "r", "exited"},     {"4", "web-r2", 2, kOld, "r", "exited"},
      {"5", "web-r5-failed", 5, kOld, "r", "exited"},
  };
  std::vector<std::string> names;
  for (const auto& c : containers_to_prune("web", cs, 2)) {
    names.push_back(c.name);
  }
  CHECK(names == std::vector<std::string>{"web-r5-failed", "web-r4", "web-r2"});
}

}  // namespace
}  // namespace orch::rollout
