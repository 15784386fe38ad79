// The exec probe end to end through the orchestrator's adapter: health::make_exec_probe ->
// rollout::EngineExec -> FakeEngine (a container table with state). Also make_probes/to_policy.
#include "orchestrator/rollout/engine_exec.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "orchestrator/manifest/parse.h"
#include "orchestrator/rollout/probes.h"
#include "tests/fakes/fake_engine.h"
#include "tests/support/run_task.h"

namespace orch::rollout {
namespace {

using Outcome = health::ProbeResult::Outcome;
using Catch::Matchers::StartsWith;
using orch::testing::FakeEngine;
using orch::testing::FakeWorld;
using orch::testing::run_task;

constexpr const char* kGood = "reg/app@sha256:good";
constexpr const char* kBad = "reg/app@sha256:bad";

struct Fleet {
  FakeWorld world;
  FakeEngine h1{world, "h1"};
  FakeEngine h2{world, "h2"};
  EngineExec exec{{{"h1", &h1}, {"h2", &h2}}};
};

health::ProbeResult probe_once(health::Probe& probe, const std::string& host,
                               const std::string& container) {
  return run_task(probe.run(health::Target{host, "127.0.0.1", container}));
}

TEST_CASE("exec probe: exit 0 in a running container passes", "[exec]") {
  Fleet f;
  f.world.exec_fail_digests.insert("sha256:bad");
  f.h1.seed("web", kGood, 1, "web");
  f.h2.seed("web", kBad, 1, "web");
  auto probe = health::make_exec_probe({{"/bin/sh", "-c", "exit 0"}, health::Millis{2000}}, f.exec);

  health::ProbeResult ok = probe_once(*probe, "h1", "web");
  CHECK(ok.probe == "exec");
  CHECK(ok.outcome == Outcome::kPass);
  CHECK_THAT(ok.detail, StartsWith("exec exited with code 0 in "));

  // The same command in a container whose digest fails its exec: exit 1 with the output.
  health::ProbeResult bad = probe_once(*probe, "h2", "web");
  CHECK(bad.outcome == Outcome::kFail);
  CHECK_THAT(bad.detail, StartsWith("exec exited with code 1 in "));
  CHECK_THAT(bad.detail, Catch::Matchers::EndsWith(": failed: /bin/sh -c exit 0"));
  CHECK(f.world.log == std::vector<std::string>{"h1 exec web", "h2 exec web"});
}

TEST_CASE("exec probe: a stopped or missing container fails, a down engine is unobservable",
          "[exec]") {
  Fleet f;
  std::string id = f.h1.seed("web", kGood, 1, "web", "exited");
  auto probe = health::make_exec_probe({{"true"}, health::Millis{2000}}, f.exec);

  health::ProbeResult stopped = probe_once(*probe, "h1", id);
  CHECK(stopped.outcome == Outcome::kFail);
  CHECK(stopped.detail == "exec failed: Container " + id + " is not running");

  health::ProbeResult missing = probe_once(*probe, "h1", "nope");
  CHECK(missing.outcome == Outcome::kFail);
  CHECK(missing.detail == "exec failed: No such container: nope");

  f.h2.down = true;
  health::ProbeResult down = probe_once(*probe, "h2", "web");
  CHECK(down.outcome == Outcome::kUnobservable);
  CHECK(down.detail == "exec: engine unreachable: h2: connection refused");

  health::ProbeResult unknown_host = probe_once(*probe, "h9", "web");
  CHECK(unknown_host.outcome == Outcome::kFail);
  CHECK(unknown_host.detail == "exec failed: no engine for host h9");
}

TEST_CASE("exec probe: the state changes between rounds are seen", "[exec]") {
  Fleet f;
  std::string id = f.h1.seed("web", kGood, 1, "web");
  auto probe = health::make_exec_probe({{"true"}, health::Millis{2000}}, f.exec);
  CHECK(probe_once(*probe, "h1", id).outcome == Outcome::kPass);
  f.h1.containers.at(id).status = "exited";
  CHECK(probe_once(*probe, "h1", id).outcome == Outcome::kFail);
  f.h1.containers.at(id).status = "running";
  f.world.exec_fail_digests.insert("sha256:good");
  CHECK(probe_once(*probe, "h1", id).outcome == Outcome::kFail);
  f.world.exec_fail_digests.clear();
  CHECK(probe_once(*probe, "h1", id).outcome == Outcome::kPass);
}

TEST_CASE("exec probe: an injected engine failure fails the round", "[exec]") {
  Fleet f;
  f.h1.seed("web", kGood, 1, "web");
  f.world.fail_at = 1;
  auto probe = health::make_exec_probe({{"true"}, health::Millis{2000}}, f.exec);
  health::ProbeResult r = probe_once(*probe, "h1", "web");
  CHECK(r.outcome == Outcome::kFail);
  CHECK(r.detail == "exec failed: h1: injected failure of call 1 (exec web)");
}

manifest::Health health_of(const std::string& yaml) {
  auto r = manifest::parse_manifest(
      "app: web\nimage: web:1\nhosts:\n  - name: h1\n    engine: unix:///var/run/docker.sock\n" +
      yaml);
  REQUIRE(r.ok());
  return r.manifest->health;
}

TEST_CASE("make_probes builds every configured probe, in order", "[probes]") {
  Fleet f;
  f.h1.seed("web", kGood, 1, "web");
  CHECK(make_probes(health_of(""), &f.exec).empty());
  CHECK(make_probes(health_of("health: {docker_health: true}\n"), nullptr).empty());

  auto probes = make_probes(
      health_of("health: {exec: {command: 'exit 0'}, tcp: {port: 1}, http: {port: 1}}\n"), &f.exec);
  REQUIRE(probes.size() == 3);
  // The exec probe (last) really runs through the adapter.
  health::ProbeResult r = probe_once(*probes[2], "h1", "web");
  CHECK(r.probe == "exec");
  CHECK(r.outcome == Outcome::kPass);

  CHECK_THROWS_AS(make_probes(health_of("health: {exec: {command: [true]}}\n"), nullptr),
                  std::invalid_argument);
}

TEST_CASE("to_policy carries every health setting", "[probes]") {
  health::Policy p = to_policy(health_of(R"(
health:
  interval: 2s
  timeout: 1s
  healthy_threshold: 2
  unhealthy_threshold: 4
  healthy_deadline: 3m
  min_healthy_time: 20s
  docker_health: true
  max_failure_ratio: 0.5
  progress_deadline: 20m
  bake: 1m
)"));
  CHECK(p.interval == health::Millis(2000));
  CHECK(p.timeout == health::Millis(1000));
  CHECK(p.healthy_threshold == 2);
  CHECK(p.unhealthy_threshold == 4);
  CHECK(p.healthy_deadline == health::Millis(180000));
  CHECK(p.min_healthy_time == health::Millis(20000));
  CHECK(p.require_docker_healthy);
  CHECK(p.max_failure_ratio == 0.5);
  CHECK(p.progress_deadline == health::Millis(1200000));
  CHECK(p.bake == health::Millis(60000));

  health::Policy d = to_policy(health_of(""));
  CHECK_FALSE(d.require_docker_healthy);
  CHECK(d.max_failure_ratio == 0.0);
  CHECK(d.progress_deadline == health::Millis(600000));
  CHECK(d.bake == health::Millis(0));
}

}  // namespace
}  // namespace orch::rollout
