// replay, history and last_interrupted over journals with finished and interrupted rollouts.
#include "orchestrator/journal/replay.h"

#include <catch2/catch.hpp>

#include "tests/fakes/mem_file.h"

namespace orch::journal {
namespace {

using namespace std::chrono_literals;
using orch::testing::MemFile;

const WallTime kT0 = WallTime{} + std::chrono::milliseconds(1714564800000);

StartRecord start(const std::string& id, int revision, WallTime ts) {
  return StartRecord{id,
                     ts,
                     "web",
                     "repo:v" + std::to_string(revision),
                     "sha256:" + std::to_string(revision),
                     "repo@sha256:" + std::to_string(revision),
                     revision,
                     {"h1", "h2"},
                     "web.yaml",
                     {{"h1"}, {"h2"}},
                     {}};
}

IntentRecord intent(const std::string& id, WallTime ts, const std::string& host,
                    const std::string& action) {
  return IntentRecord{id, ts, host, "POST " + action, action, "web", ""};
}

OutcomeRecord outcome(const std::string& id, WallTime ts, const std::string& host,
                      const std::string& action, std::string container_id = "") {
  return OutcomeRecord{id, ts, host, "POST " + action, true, "", std::move(container_id)};
}

// Two rollouts: r1 finished (rolled back), r2 crashed between an intent and its outcome.
Journal two_rollouts() {
  auto j = Journal::open(std::make_unique<MemFile>());
  REQUIRE(j);
  Journal& jr = j.value();
  REQUIRE(jr.append(start("r1", 5, kT0)));
  REQUIRE(jr.append(BaselineRecord{"r1", kT0 + 1s, "h1", "healthy"}));
  REQUIRE(jr.append(BaselineRecord{"r1", kT0 + 1s, "h2", "unhealthy"}));
  REQUIRE(jr.append(intent("r1", kT0 + 2s, "h1", "stop")));
  REQUIRE(jr.append(outcome("r1", kT0 + 3s, "h1", "stop")));
  REQUIRE(jr.append(intent("r1", kT0 + 3s, "h1", "create")));
  REQUIRE(jr.append(outcome("r1", kT0 + 4s, "h1", "create", "c0ffee")));
  REQUIRE(jr.append(DecisionRecord{
      "r1", kT0 + 30s, "rollback", "failing_vs_healthy", "h1 exited", {{"h1", "failing"}}}));
  REQUIRE(jr.append(EndRecord{"r1", kT0 + 45s, EndResult::kRolledBack, 3, "rolled back"}));

  const WallTime t1 = kT0 + 1h;
  REQUIRE(jr.append(LockTakeoverRecord{"r2", t1, "pid 10", "pid 20"}));
  REQUIRE(jr.append(start("r2", 6, t1 + 1s)));
  REQUIRE(jr.append(intent("r2", t1 + 2s, "h1", "stop")));
  REQUIRE(jr.append(outcome("r2", t1 + 3s, "h1", "stop")));
  REQUIRE(
      jr.append(DecisionRecord{"r2", t1 + 20s, "continue", "healthy", "ok", {{"h1", "healthy"}}}));
  REQUIRE(jr.append(BatchDoneRecord{"r2", t1 + 20s, 1}));
  REQUIRE(jr.append(intent("r2", t1 + 21s, "h2", "stop")));
  return std::move(j).value();
}

TEST_CASE("replay groups records per rollout, in order", "[replay]") {
  Journal j = two_rollouts();
  auto rollouts = replay(j.records());
  REQUIRE(rollouts);
  REQUIRE(rollouts->size() == 2);

  const RolloutRecord& r1 = (*rollouts)[0];
  CHECK(r1.rollout == "r1");
  REQUIRE(r1.start);
  CHECK(r1.start->revision == 5);
  CHECK_FALSE(r1.interrupted());
  CHECK(r1.end->result == EndResult::kRolledBack);
  CHECK(r1.started == kT0);
  CHECK(r1.last_ts == kT0 + 45s);
  REQUIRE(r1.decisions.size() == 1);
  CHECK(r1.decisions[0].action == "rollback");
  REQUIRE(r1.hosts.size() == 2);
  const HostState* h1 = r1.host("h1");
  REQUIRE(h1);
  CHECK(h1->baseline == "healthy");
  CHECK(h1->last_intent->action == "create");
  CHECK(h1->last_outcome->container_id == "c0ffee");
  CHECK_FALSE(h1->in_doubt);
  const HostState* h2 = r1.host("h2");
  REQUIRE(h2);
  CHECK(h2->baseline == "unhealthy");
  CHECK_FALSE(h2->last_intent);
  CHECK(r1.host("h3") == nullptr);

  const RolloutRecord& r2 = (*rollouts)[1];
  CHECK(r2.rollout == "r2");
  CHECK(r2.interrupted());
  REQUIRE(r2.takeovers.size() == 1);
  CHECK(r2.takeovers[0].by == "pid 20");
  CHECK(r2.batches_done == std::vector<int>{1});
  CHECK(r2.started == kT0 + 1h);  // the takeover came first
  CHECK_FALSE(r2.host("h1")->in_doubt);
  // The crash came after the intent on h2: the stop may or may not have happened.
  CHECK(r2.host("h2")->in_doubt);
  CHECK(r2.host("h2")->last_intent->action == "stop");
  CHECK_FALSE(r2.host("h2")->last_outcome);
}

TEST_CASE("history has one row per rollout", "[replay]") {
  Journal j = two_rollouts();
  auto rows = history(replay(j.records()).value());
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].rollout == "r1");
  CHECK(rows[0].revision == 5);
  CHECK(rows[0].digest == "sha256:5");
  CHECK(rows[0].image == "repo:v5");
  CHECK(rows[0].result == "rolled_back");
  CHECK(rows[0].started == kT0);
  CHECK(rows[0].duration == 45s);
  CHECK(rows[1].rollout == "r2");
  CHECK(rows[1].revision == 6);
  CHECK(rows[1].result == "interrupted");
  CHECK(rows[1].duration == 21s);
}

TEST_CASE("last_interrupted is the latest rollout when it has no end", "[replay]") {
  Journal j = two_rollouts();
  auto last = last_interrupted(replay(j.records()).value());
  REQUIRE(last);
  CHECK(last->rollout == "r2");

  SECTION("a later finished rollout supersedes it") {
    REQUIRE(j.append(start("r3", 7, kT0 + 2h)));
    REQUIRE(j.append(EndRecord{"r3", kT0 + 2h + 1min, EndResult::kDone, 0, "done"}));
    CHECK_FALSE(last_interrupted(replay(j.records()).value()));
  }
  SECTION("resuming under the same id reopens it until its end") {
    REQUIRE(j.append(EndRecord{"r2", kT0 + 2h, EndResult::kPaused, 4, "interrupted"}));
    CHECK_FALSE(last_interrupted(replay(j.records()).value()));
    REQUIRE(j.append(intent("r2", kT0 + 3h, "h2", "start")));
    auto again = replay(j.records()).value();
    CHECK(again.size() == 2);
    CHECK(again[1].interrupted());
    CHECK(again[1].start->revision == 6);
    REQUIRE(j.append(EndRecord{"r2", kT0 + 3h + 5s, EndResult::kDone, 0, "done"}));
    auto done = replay(j.records()).value();
    CHECK(done[1].end->result == EndResult::kDone);
    CHECK(history(done)[1].duration == 2h + 5s);
  }
}

TEST_CASE("an empty journal replays to nothing", "[replay]") {
  auto rollouts = replay({});
  REQUIRE(rollouts);
  CHECK(rollouts->empty());
  CHECK(history(*rollouts).empty());
  CHECK_FALSE(last_interrupted(*rollouts));
}

TEST_CASE("a record missing a field fails replay with its offset", "[replay]") {
  auto j = Journal::open(std::make_unique<MemFile>());
  REQUIRE(j);
  REQUIRE(j->append(start("r1", 1, kT0)));
  nlohmann::json bad = to_json(intent("r1", kT0, "h1", "stop"));
  bad.erase("host");
  REQUIRE(j->append(RecordType::kIntent, bad));
  auto r = replay(j->records());
  REQUIRE_FALSE(r);
  CHECK(r.status().code() == Code::kInternal);
  CHECK_THAT(r.status().message(),
             Catch::Contains("offset " + std::to_string(j->records()[1].offset)) &&
                 Catch::Contains("host"));

  auto k = Journal::open(std::make_unique<MemFile>());
  REQUIRE(k);
  REQUIRE(k->append(RecordType::kBatchDone, nlohmann::json{{"index", 1}}));
  auto no_id = replay(k->records());
  REQUIRE_FALSE(no_id);
  CHECK_THAT(no_id.status().message(), Catch::Contains("rollout"));
}

}  // namespace
}  // namespace orch::journal

namespace orch::journal {
namespace {

TEST_CASE("an unlock's takeover record is not a rollout in the history", "[replay]") {
  Journal j = two_rollouts();
  REQUIRE(j.append(LockTakeoverRecord{"unlock", kT0 + 100s, "alice pid 1", "bob pid 2"}));
  auto rows = history(replay(j.records()).value());
  REQUIRE(rows.size() == 2);
  CHECK(rows[1].rollout == "r2");
}

}  // namespace
}  // namespace orch::journal
