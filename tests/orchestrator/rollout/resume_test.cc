// kill -9 at every engine call of a rollout, then resume from the journal: every run must
// converge to one revision on every host, with no host ever left without its app and no
// orphaned container.
#include "orchestrator/rollout/resume.h"

#include <catch2/catch.hpp>
#include <regex>

#include "orchestrator/journal/journal.h"
#include "tests/fakes/mem_file.h"
#include "tests/support/fleet_fixture.h"
#include "tests/support/run_task.h"

namespace orch::rollout {
namespace {

using testing::kBad;
using testing::kRepo;
using testing::kV1;
using testing::kV2;

// Three hosts, each running v1; the registry knows v2 and bad (unhealthy).
struct Fleet : testing::FakeFleet {
  Fleet() : FakeFleet(3) {
    world.registry = {{kRepo + ":v2", kV2}, {kRepo + ":bad", kBad}};
    world.unhealthy_digests = {kBad};
    m.health.healthy_deadline = std::chrono::seconds(5);
    for (auto& e : engines) {
      e->seed("web", kRepo + "@" + kV1, 1, "web", "running", {{8080, 8080, "tcp", ""}});
    }
  }

  // Runs apply; a Killed engine call ends it like kill -9 (nothing after it runs).
  std::optional<Outcome> run(ApplyOptions options, journal::Journal& j) {
    RecordingSink events;
    Controller c(m, bindings(), app_probes(), clock, events, nullptr, &j);
    return testing::run_unless_killed<testing::Killed>(c.apply(std::move(options)));
  }

  // No host without a running app container, beyond the one batch (size 1) in flight.
  int hosts_without_app() const {
    int n = 0;
    for (const auto& e : engines) {
      const auto* c = e->find("web");
      n += !(c && c->status == "running");
    }
    return n;
  }
};

ApplyOptions fresh(const std::string& tag) {
  ApplyOptions o;
  o.image = kRepo + ":" + tag;
  o.rollout_id = "r-killed";
  return o;
}

TEST_CASE("kill -9 at every engine call, then resume, converges", "[resume][faults]") {
  const std::string target = GENERATE(as<std::string>{}, "v2", "bad");
  CAPTURE(target);
  int total = 0;
  {
    Fleet f;
    auto file = journal::Journal::open(std::make_unique<testing::MemFile>());
    REQUIRE(file);
    REQUIRE(f.run(fresh(target), *file));
    total = f.world.calls;
  }
  const std::regex allowed("web|web-r[0-9]+|web-r[0-9]+-failed");
  for (int n = 1; n <= total; ++n) {
    CAPTURE(n);
    Fleet f;
    auto memfile = std::make_unique<testing::MemFile>();
    auto* mem = memfile.get();
    auto first = journal::Journal::open(std::move(memfile));
    REQUIRE(first);
    int worst = 0;
    f.world.after_call = [&] { worst = std::max(worst, f.hosts_without_app()); };
    f.world.kill_at = n;
    REQUIRE_FALSE(f.run(fresh(target), *first));  // killed
    // What survives a crash is what was synced; a new process opens that.
    mem->crash();
    auto reopened = journal::Journal::open(std::make_unique<testing::MemFile>(mem->synced()));
    REQUIRE(reopened);
    f.world.killed = false;
    f.world.kill_at = 0;

    auto rollouts = journal::replay(reopened->records());
    REQUIRE(rollouts);
    std::optional<Outcome> out;
    if (!rollouts->empty() && resumable(rollouts->back())) {
      ApplyOptions o;
      prepare_resume(rollouts->back(), o);
      out = f.run(o, *reopened);
      REQUIRE(out);
      CHECK((out->code == ExitCode::kDone || out->code == ExitCode::kRolledBack));
    } else {
      // Killed before the plan was journaled: pre-flight only, nothing was touched.
      for (const auto& line : f.world.log) {
        CHECK(line.find(" create ") == std::string::npos);
        CHECK(line.find(" stop ") == std::string::npos);
      }
    }
    worst = std::max(worst, f.hosts_without_app());
    CHECK(worst <= 1);
    // One revision everywhere: the new one after a completed rollout, else the old one.
    const std::string expect =
        out && out->code == ExitCode::kDone ? (target == "v2" ? kV2 : kBad) : kV1;
    for (const auto& e : f.engines) {
      CAPTURE(e->host_name());
      const auto* live = e->find("web");
      REQUIRE(live);
      CHECK(live->status == "running");
      CHECK(live->digest == expect);
      int running = 0;
      for (const auto& [id, c] : e->containers) {
        running += c.status == "running";
        CHECK(std::regex_match(c.name, allowed));
      }
      CHECK(running == 1);
    }
  }
}

}  // namespace
}  // namespace orch::rollout
