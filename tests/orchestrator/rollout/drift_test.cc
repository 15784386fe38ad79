// The loop re-lists the fleet at every batch boundary: a host changed behind rollgate's back
// since the plan was made (its container stopped, removed or replaced) is never acted on with
// the stale plan. The run pauses before that batch, naming the host and what changed, with the
// earlier batches done and the rest untouched.
#include <catch2/catch.hpp>

#include "orchestrator/rollout/controller.h"
#include "tests/support/fleet_fixture.h"
#include "tests/support/run_task.h"

namespace orch::rollout {
namespace {

using testing::kRepo;
using testing::kV1;
using testing::kV2;

struct Fleet : testing::FakeFleet {
  Fleet() : FakeFleet(3) {
    world.registry = {{kRepo + ":v2", kV2}};
    m.strategy.batch_size.value = 1;
    for (auto& e : engines) {
      e->seed("web", kRepo + "@" + kV1, 1, "web", "running", {{8080, 8080, "tcp", ""}});
    }
  }

  Outcome apply() {
    RecordingSink events;
    Controller c(m, bindings(), app_probes(), clock, events);
    // A named argument: GCC 12 destroys braced temporaries in co_await twice.
    ApplyOptions o{kRepo + ":v2", "r1"};
    return testing::run_task(c.apply(std::move(o)));
  }

  testing::FakeEngine::Container* web(int host) {
    for (auto& [id, c] : engines[host]->containers) {
      if (c.name == "web") {
        return &c;
      }
    }
    return nullptr;
  }
};

TEST_CASE("a host changed behind rollgate's back pauses the run before its batch",
          "[drift][controller]") {
  // Each batch boundary re-lists the hosts of the batch about to start: h3's change is found
  // before batch 3, and h2 (batch 2, unchanged) rolls on.
  Fleet f;
  const std::string h3_id = f.web(2)->id;
  // While batch 1 (h1) swaps, someone stops h3's container.
  bool changed = false;
  f.world.after_call = [&] {
    if (!changed && f.world.log.back().rfind("h1 start", 0) == 0) {
      f.web(2)->status = "exited";
      changed = true;
    }
  };
  auto out = f.apply();
  INFO(out.summary);
  REQUIRE(changed);
  CHECK(out.code == ExitCode::kPaused);
  CHECK_THAT(out.summary, Catch::Contains("before batch 3: the fleet changed since the plan"));
  CHECK_THAT(out.summary, Catch::Contains("h3: web is exited, it was running"));
  CHECK_THAT(out.summary, Catch::Contains("2 host(s) run revision 2"));
  // h1 and h2 are done; h3 was not touched.
  CHECK(f.web(0)->digest == kV2);
  CHECK(f.web(1)->digest == kV2);
  CHECK(f.web(2)->id == h3_id);
  CHECK(f.web(2)->status == "exited");
  for (const auto& line : f.world.log) {
    CHECK(line.rfind("h3 stop", 0) != 0);
    CHECK(line.rfind("h3 create", 0) != 0);
  }
}

TEST_CASE("an unchanged fleet is re-listed at each batch boundary and rolls on",
          "[drift][controller]") {
  Fleet f;
  auto out = f.apply();
  INFO(out.summary);
  CHECK(out.code == ExitCode::kDone);
  int lists = 0;
  for (const auto& line : f.world.log) {
    lists += line == "h1 list" || line == "h2 list" || line == "h3 list";
  }
  // Pre-flight lists every host once, batches 2 and 3 re-list their host, and pruning lists
  // every host after success.
  CHECK(lists == 3 + 2 + 3);
}

}  // namespace
}  // namespace orch::rollout
