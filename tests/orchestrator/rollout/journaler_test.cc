// Journaler's group commit on a crashing in-memory file: the intents of hosts that write at
// the same time share one fdatasync, each returns only once its record is durable, and a
// failed sync fails exactly the records it covered.
#include "orchestrator/rollout/journaler.h"

#include <catch2/catch.hpp>

#include "orchestrator/rollout/async.h"
#include "tests/fakes/manual_clock.h"
#include "tests/fakes/mem_file.h"
#include "tests/support/run_task.h"

namespace orch::rollout {
namespace {

using testing::ManualClock;
using testing::MemFile;
using testing::run_task;

struct Fixture {
  MemFile* file = nullptr;
  std::optional<journal::Journal> journal;
  ManualClock clock;
  RecordingSink events;
  std::optional<Journaler> journaler;

  Fixture() {
    auto f = std::make_unique<MemFile>();
    file = f.get();
    auto j = journal::Journal::open(std::move(f));
    REQUIRE(j);
    journal.emplace(std::move(j).value());
    journaler.emplace(&*journal, clock, events);
    journaler->begin("r1");
  }

  // What a crash right now would leave: the hosts of the intents that survive.
  std::vector<std::string> after_crash() const {
    MemFile crashed = *file;
    crashed.crash();
    auto j = journal::Journal::open(std::make_unique<MemFile>(crashed.synced()));
    REQUIRE(j);
    std::vector<std::string> hosts;
    for (const auto& r : j->records()) {
      hosts.push_back(r.payload.value("host", ""));
    }
    return hosts;
  }
};

// Every host writes its intent at once, the way a batch's swaps start; each records what a
// crash would have kept at the moment its intent returned.
Task<std::vector<Status>> intents_at_once(Fixture& fx, int hosts,
                                          std::vector<std::vector<std::string>>& seen) {
  std::vector<Task<Status>> work;
  for (int i = 1; i <= hosts; ++i) {
    work.push_back(
        [](Fixture& fx, int i, std::vector<std::vector<std::string>>& seen) -> Task<Status> {
          std::string host = "h" + std::to_string(i);
          auto st = co_await fx.journaler->intent(host, "start web", "start", "web");
          seen.push_back(fx.after_crash());
          co_return st;
        }(fx, i, seen));
  }
  co_return co_await gather(std::move(work));
}

TEST_CASE("journaler: intents written together share one sync, and each is durable on return",
          "[journaler][group]") {
  Fixture fx;
  std::vector<std::vector<std::string>> seen;
  auto results = run_task(intents_at_once(fx, 10, seen));
  for (const auto& st : results) {
    CHECK(st);
  }
  CHECK(fx.file->syncs() == 1);
  REQUIRE(seen.size() == 10);
  for (const auto& kept : seen) {
    CHECK(kept.size() == 10);  // whoever returned, its intent (and every other) was on disk
  }
  CHECK_FALSE(fx.journaler->failed());
}

TEST_CASE("journaler: a failed group sync fails every intent it covered, and is latched",
          "[journaler][group]") {
  Fixture fx;
  fx.file->fail_sync_at(1);
  std::vector<std::vector<std::string>> seen;
  auto results = run_task(intents_at_once(fx, 4, seen));
  for (const auto& st : results) {
    CHECK_FALSE(st);
    CHECK_THAT(st.message(), Catch::Contains("journal sync"));
  }
  CHECK(fx.journaler->failed());
  CHECK(fx.after_crash().empty());  // none of them was acknowledged, none is read back
  // A later intent is judged by its own sync.
  auto later = run_task(fx.journaler->intent("h9", "stop web", "stop", "web"));
  CHECK(later);
  CHECK(fx.after_crash() == std::vector<std::string>{"h9"});
}

TEST_CASE("journaler: staged records are durable only after flush", "[journaler][group]") {
  Fixture fx;
  for (int i = 1; i <= 3; ++i) {
    fx.journaler->stage(journal::BaselineRecord{"", {}, "h" + std::to_string(i), "healthy"});
  }
  CHECK(fx.after_crash().empty());
  REQUIRE(fx.journaler->flush());
  CHECK(fx.file->syncs() == 1);
  CHECK(fx.after_crash() == std::vector<std::string>{"h1", "h2", "h3"});
}

}  // namespace
}  // namespace orch::rollout
