// The controller against stateful fake engines: every outcome of the exit-code contract, and
// every failure point of a rollout (the Nth engine call fails, for every N).
#include "orchestrator/rollout/controller.h"

#include <catch2/catch.hpp>

#include "tests/fakes/fake_engine.h"
#include "tests/fakes/manual_clock.h"
#include "tests/support/fleet_fixture.h"
#include "tests/support/run_task.h"

namespace orch::rollout {
namespace {

using testing::FakeEngine;
using testing::FakeWorld;

using testing::kBad;
using testing::kRepo;
using testing::kV1;
using testing::kV2;
const std::string kCrash = "sha256:" + std::string(64, 'c');

struct Fleet : testing::FakeFleet {
  explicit Fleet(int n, int batch = 1) : FakeFleet(n) {
    world.registry = {{kRepo + ":v1", kV1},
                      {kRepo + ":v2", kV2},
                      {kRepo + ":bad", kBad},
                      {kRepo + ":crash", kCrash}};
    world.unhealthy_digests = {kBad};
    world.crash_digests = {kCrash};
    m.strategy.batch_size.value = batch;
  }

  // Every host runs `digest` as revision `rev`, like a previous rollout left it.
  void seed(const std::string& digest, int rev, const std::string& status = "running") {
    for (auto& e : engines) {
      e->seed("web", kRepo + "@" + digest, rev, "web", status, {{8080, 8080, "tcp", ""}});
    }
  }

  Outcome apply(const std::string& tag) {
    Controller c(m, bindings(), app_probes(), clock, events);
    ApplyOptions options{kRepo + ":" + tag, "test-rollout"};
    return testing::run_task(c.apply(std::move(options)));
  }

  // The container named "web" on a host, or null.
  const FakeEngine::Container* live(int host) const { return engines[host]->find("web"); }

  int mutating_calls() const {
    int n = 0;
    for (const auto& line : world.log) {
      for (const char* verb : {" create ", " start ", " stop ", " rename ", " remove "}) {
        if (line.find(verb) != std::string::npos) {
          ++n;
        }
      }
    }
    return n;
  }

  RecordingSink events;
};

bool runs(const Fleet& f, int host, const std::string& digest) {
  const auto* c = f.live(host);
  return c && c->status == "running" && c->digest == digest;
}

TEST_CASE("a first deploy creates the app on every host", "[controller]") {
  Fleet f(3);
  auto out = f.apply("v1");
  CHECK(out.code == ExitCode::kDone);
  for (int h = 0; h < 3; ++h) {
    REQUIRE(runs(f, h, kV1));
    CHECK(f.live(h)->labels.at("rollgate.revision") == "1");
    CHECK(f.live(h)->labels.at("rollgate.rollout") == "test-rollout");
    CHECK(f.live(h)->labels.at("rollgate.digest") == kV1);
  }
}

TEST_CASE("v1 to v2 keeps the old container as the rollback target", "[controller]") {
  Fleet f(3);
  f.seed(kV1, 1);
  auto out = f.apply("v2");
  CHECK(out.code == ExitCode::kDone);
  for (int h = 0; h < 3; ++h) {
    REQUIRE(runs(f, h, kV2));
    CHECK(f.live(h)->labels.at("rollgate.revision") == "2");
    const auto* old = f.engines[h]->find("web-r1");
    REQUIRE(old);
    CHECK(old->status == "exited");
  }
}

TEST_CASE("re-applying the running digest changes nothing", "[controller]") {
  Fleet f(3);
  f.seed(kV2, 4);
  auto out = f.apply("v2");
  CHECK(out.code == ExitCode::kDone);
  CHECK(out.summary.find("nothing to do") != std::string::npos);
  CHECK(f.mutating_calls() == 0);
}

TEST_CASE("successful rollouts prune beyond keep revisions", "[controller]") {
  Fleet f(2);
  f.seed(kV1, 1);
  REQUIRE(f.apply("v2").code == ExitCode::kDone);
  REQUIRE(f.apply("v1").code == ExitCode::kDone);  // revision 3, web-r2 kept, web-r1 pruned
  for (int h = 0; h < 2; ++h) {
    CHECK(runs(f, h, kV1));
    CHECK(f.engines[h]->find("web-r2"));
    CHECK_FALSE(f.engines[h]->find("web-r1"));
    CHECK(f.engines[h]->containers.size() == 2);
  }
}

TEST_CASE("a new version failing where the baseline was healthy rolls back", "[controller]") {
  auto tag = GENERATE("bad", "crash");
  CAPTURE(tag);
  Fleet f(3);
  f.seed(kV2, 2);
  auto out = f.apply(tag);
  CHECK(out.code == ExitCode::kRolledBack);
  CHECK(out.summary.find("h1") != std::string::npos);
  for (int h = 0; h < 3; ++h) {
    CHECK(runs(f, h, kV2));
    CHECK(f.live(h)->labels.at("rollgate.revision") == "2");
  }
  // Only the first batch was touched; its failed container is kept for inspection.
  CHECK(f.engines[0]->find("web-r3-failed"));
  CHECK_FALSE(f.engines[1]->find("web-r3-failed"));
  bool decided = false;
  for (const auto& e : f.events.events) {
    if (e.type == "decision" && e.data.value("action", "") == "rollback") {
      decided = true;
      CHECK(e.data.at("rule") == "worse-than-baseline");
      CHECK(e.data.at("hosts").at(0).at("baseline") == "healthy");
    }
  }
  CHECK(decided);
}

TEST_CASE("on_failure pause leaves the fleet as it is", "[controller]") {
  Fleet f(3);
  f.m.on_failure = manifest::OnFailure::kPause;
  f.seed(kV2, 2);
  auto out = f.apply("bad");
  CHECK(out.code == ExitCode::kPaused);
  CHECK(runs(f, 0, kBad));
  CHECK(runs(f, 1, kV2));
  CHECK(runs(f, 2, kV2));
}

TEST_CASE("a fleet that was already down does not block the fix", "[controller]") {
  Fleet f(3);
  f.seed(kV1, 1, "exited");
  auto out = f.apply("v2");
  CHECK(out.code == ExitCode::kDone);
  for (int h = 0; h < 3; ++h) {
    CHECK(runs(f, h, kV2));
  }
}

TEST_CASE("a failing image on a fleet that was already down pauses", "[controller]") {
  Fleet f(3);
  f.seed(kV1, 1, "exited");
  auto out = f.apply("crash");
  CHECK(out.code == ExitCode::kPaused);
  CHECK(out.summary.find("unhealthy before") != std::string::npos);
}

TEST_CASE("pre-flight failures exit 6 and touch nothing", "[controller]") {
  Fleet f(3);
  f.seed(kV1, 1);
  SECTION("unknown tag") {
    auto out = f.apply("nope");
    CHECK(out.code == ExitCode::kPreflight);
    CHECK(out.summary.find("nope") != std::string::npos);
  }
  SECTION("an engine is down") {
    f.engines[2]->down = true;
    auto out = f.apply("v2");
    CHECK(out.code == ExitCode::kPreflight);
    CHECK(out.summary.find("h3") != std::string::npos);
  }
  SECTION("a pull fails on one host") {
    f.world.after_call = [&] {
      if (!f.world.log.empty() && f.world.log.back().rfind("h2 pull", 0) == 0) {
        f.world.fail_at = f.world.calls;
      }
    };
    auto out = f.apply("v2");
    CHECK(out.code == ExitCode::kPreflight);
    CHECK(out.summary.find("h2") != std::string::npos);
  }
  SECTION("an unmanaged container holds the app's name") {
    f.engines[1]->containers.clear();
    auto id = f.engines[1]->seed("web", kRepo + "@" + kV1, 1, "web");
    f.engines[1]->containers[id].labels.clear();
    auto out = f.apply("v2");
    CHECK(out.code == ExitCode::kPreflight);
    CHECK(out.summary.find("does not manage") != std::string::npos);
  }
  CHECK(f.mutating_calls() == 0);
}

// Counts app containers that are running on each host.
int running_hosts(const Fleet& f) {
  int n = 0;
  for (const auto& e : f.engines) {
    for (const auto& [id, c] : e->containers) {
      if (c.status == "running" && c.labels.count("rollgate.app")) {
        ++n;
        break;
      }
    }
  }
  return n;
}

TEST_CASE("every single engine failure leaves a consistent fleet", "[controller][faults]") {
  // Learn how many calls a clean rollout makes, then fail each of them in turn.
  const std::string target = GENERATE(as<std::string>{}, "v2", "bad");
  CAPTURE(target);
  int total = 0;
  {
    Fleet f(3);
    f.seed(kV1, 1);
    f.apply(target);
    total = f.world.calls;
  }
  REQUIRE(total > 20);
  for (int n = 1; n <= total; ++n) {
    CAPTURE(n);
    Fleet f(3);
    f.seed(kV1, 1);
    f.world.fail_at = n;
    int worst = 3;
    f.world.after_call = [&] { worst = std::min(worst, running_hosts(f)); };
    auto out = f.apply(target);
    worst = std::min(worst, running_hosts(f));
    // Batch size 1: at most the host in flight is ever without a running container.
    CHECK(worst >= 2);
    CHECK(out.code != ExitCode::kInternal);
    // Every host ends with exactly one live container, named "web", running one revision.
    for (int h = 0; h < 3; ++h) {
      const auto* live = f.live(h);
      REQUIRE(live);
      CHECK(live->status == "running");
      int running = 0;
      for (const auto& [id, c] : f.engines[h]->containers) {
        running += c.status == "running";
      }
      CHECK(running == 1);
    }
    if (out.code == ExitCode::kDone) {
      for (int h = 0; h < 3; ++h) {
        CHECK(runs(f, h, target == "v2" ? kV2 : kBad));
      }
    }
    if (out.code == ExitCode::kRolledBack || out.code == ExitCode::kPreflight) {
      for (int h = 0; h < 3; ++h) {
        CHECK(runs(f, h, kV1));
      }
    }
  }
}

}  // namespace
}  // namespace orch::rollout
