// The controller's policies beyond the batch gate: the failure budget, the bake, the progress
// deadline, operator commands and signals, and what it writes to the journal.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <deque>
#include <functional>

#include "orchestrator/journal/journal.h"
#include "orchestrator/journal/replay.h"
#include "orchestrator/rollout/controller.h"
#include "orchestrator/rollout/lock.h"
#include "tests/fakes/fake_engine.h"
#include "tests/fakes/manual_clock.h"
#include "tests/fakes/mem_file.h"
#include "tests/support/fleet_fixture.h"
#include "tests/support/run_task.h"

namespace orch::rollout {
namespace {

using namespace std::chrono_literals;
using testing::FakeEngine;
using testing::FakeWorld;

using testing::kRepo;
using testing::kV1;
using testing::kV2;
const std::string kDies = "sha256:" + std::string(64, 'd');
const std::string kSlow = "sha256:" + std::string(64, '5');

// Commands handed out at given poll numbers, like an operator typing in another terminal.
class ScriptedControl final : public Control {
 public:
  void at(int poll, Command c) { script_.push_back({poll, c}); }
  Command poll() override {
    ++polls_;
    if (!script_.empty() && script_.front().first <= polls_) {
      Command c = script_.front().second;
      script_.pop_front();
      return c;
    }
    return Command::kNone;
  }
  int polls() const { return polls_; }

 private:
  std::deque<std::pair<int, Command>> script_;
  int polls_ = 0;
};

struct Fleet : testing::FakeFleet {
  explicit Fleet(int n, int batch = 1) : FakeFleet(n) {
    world.registry = {{kRepo + ":v1", kV1},
                      {kRepo + ":v2", kV2},
                      {kRepo + ":dies", kDies},
                      {kRepo + ":slow", kSlow}};
    world.exit_after = {{kDies, 3s}};
    world.slow_digests = {kSlow};
    m.health.healthy_deadline = 20s;
    m.strategy.batch_size.value = batch;
    for (auto& e : engines) {
      e->seed("web", kRepo + "@" + kV1, 1, "web", "running", {{8080, 8080, "tcp", ""}});
    }
  }

  Outcome apply(const std::string& tag, ApplyOptions options = {}) {
    Controller c(m, bindings(), app_probes(), clock, events, &control,
                 journal ? &*journal : nullptr);
    if (lock) {
      c.set_lock(engines[0].get(), *lock);
    }
    options.image = kRepo + ":" + tag;
    options.rollout_id = "r-test";
    boost::asio::io_context io;
    if (beside) {
      boost::asio::co_spawn(io, beside(), boost::asio::detached);
    }
    auto body = [&]() -> Task<Outcome> {  // named: the coroutine refers to its captures
      auto out = co_await c.apply(std::move(options));
      applied = true;
      co_return out;
    };
    return testing::run_task(io, body(), testing::Until::kIdle);
  }

  // The app's lock on h1, taken as the CLI takes it before apply.
  LockHandle take_lock(std::chrono::seconds lease) {
    LockRequest r{"web", "alice@ci-1 pid 1", "r-test", lease, kRepo + "@" + kV1};
    auto got = testing::run_task(rollout::acquire(*engines[0], std::move(r), clock, 0ms));
    REQUIRE(got);
    return *got;
  }

  // App containers changed (create/start/stop/rename/remove) by anyone, lock objects aside.
  int app_changes() const {
    int n = 0;
    for (const auto& line : world.log) {
      if (line.find("rollgate-lock") != std::string::npos) {
        continue;
      }
      for (const char* verb : {" create ", " start ", " stop ", " rename "}) {
        n += line.find(verb) != std::string::npos;
      }
    }
    return n;
  }

  bool runs(int host, const std::string& digest) const {
    const auto* c = engines[host]->find("web");
    return c && c->status == "running" && c->digest == digest;
  }

  bool decided(const std::string& rule) const {
    for (const auto& e : events.events) {
      if (e.type == "decision" && e.data.value("rule", "") == rule) {
        return true;
      }
    }
    return false;
  }

  RecordingSink events;
  ScriptedControl control;
  std::optional<journal::Journal> journal;
  std::optional<LockHandle> lock;
  // Runs beside apply on the same io_context (another apply, an operator).
  std::function<Task<void>()> beside;
  bool applied = false;
};

TEST_CASE("a failure within max_failure_ratio reverts that host and goes on", "[controller]") {
  Fleet f(3);
  f.world.unhealthy_on = {{"h2", kV2}};
  ApplyOptions o;
  o.max_failure_ratio = 0.34;  // one host of three
  auto out = f.apply("v2", o);
  CHECK(out.code == ExitCode::kDone);
  CHECK(out.summary.find("failure budget") != std::string::npos);
  CHECK(f.runs(0, kV2));
  CHECK(f.runs(1, kV1));
  CHECK(f.runs(2, kV2));
  CHECK(f.decided("within-failure-budget"));
}

TEST_CASE("a second failure beyond the budget rolls everything back", "[controller]") {
  Fleet f(3);
  f.world.unhealthy_on = {{"h1", kV2}, {"h3", kV2}};
  ApplyOptions o;
  o.max_failure_ratio = 0.34;
  auto out = f.apply("v2", o);
  CHECK(out.code == ExitCode::kRolledBack);
  for (int h = 0; h < 3; ++h) {
    CHECK(f.runs(h, kV1));
  }
}

TEST_CASE("the bake catches a container that dies after passing its gate", "[controller]") {
  Fleet f(2, 2);
  ApplyOptions o;
  o.bake = 10s;
  auto out = f.apply("dies", o);
  CHECK(out.code == ExitCode::kRolledBack);
  CHECK(out.summary.find("during the bake") != std::string::npos);
  CHECK(f.runs(0, kV1));
  CHECK(f.runs(1, kV1));
}

TEST_CASE("without a bake the same image is declared good", "[controller]") {
  Fleet f(2, 2);
  auto out = f.apply("dies");
  CHECK(out.code == ExitCode::kDone);
}

TEST_CASE("a healthy fleet is watched for the whole bake", "[controller]") {
  Fleet f(2, 2);
  ApplyOptions o;
  o.bake = 30s;
  auto before = f.clock.now();
  auto out = f.apply("v2", o);
  CHECK(out.code == ExitCode::kDone);
  CHECK(f.clock.now() - before >= 30s);
}

TEST_CASE("rollgate promote ends the bake early", "[controller]") {
  Fleet f(2, 2);
  ApplyOptions o;
  o.bake = 1h;
  f.control.at(8, Command::kPromote);
  auto out = f.apply("v2", o);
  CHECK(out.code == ExitCode::kDone);
  CHECK(f.clock.now() - (TimePoint{} + 1h) < 1h);
  CHECK(f.decided("operator-promote"));
}

TEST_CASE("a batch that never decides hits progress_deadline", "[controller]") {
  Fleet f(3);
  ApplyOptions o;
  o.progress_deadline = 5s;  // healthy_deadline is 20s
  auto out = f.apply("slow", o);
  CHECK(out.code == ExitCode::kRolledBack);
  CHECK(f.decided("progress-deadline"));
  for (int h = 0; h < 3; ++h) {
    CHECK(f.runs(h, kV1));
  }
}

TEST_CASE("a clean rollout polls its control before each batch and at each gate round",
          "[controller]") {
  Fleet f(3);
  REQUIRE(f.apply("v2").code == ExitCode::kDone);
  CHECK(f.control.polls() == 9);
}

TEST_CASE("pause holds the rollout until resume", "[controller]") {
  Fleet f(3);
  f.control.at(2, Command::kPause);
  f.control.at(30, Command::kResume);
  auto out = f.apply("v2");
  CHECK(out.code == ExitCode::kDone);
  CHECK(f.control.polls() >= 30);
  bool paused = false;
  for (const auto& e : f.events.events) {
    paused = paused || (e.type == "control" && e.data.value("command", "") == "pause");
  }
  CHECK(paused);
}

TEST_CASE("rollgate rollback mid-rollout returns every touched host", "[controller]") {
  Fleet f(3);
  // A clean rollout of 3 batches polls 9 times (before each batch, then each of its 2 gate
  // rounds): poll 5 falls in batch 2's gate, after batch 1 passed.
  f.control.at(5, Command::kRollback);
  auto out = f.apply("v2");
  CHECK(out.code == ExitCode::kRolledBack);
  CHECK(f.decided("operator-rollback"));
  for (int h = 0; h < 3; ++h) {
    CHECK(f.runs(h, kV1));
  }
}

TEST_CASE("a signal reverts the batch in flight and pauses", "[controller]") {
  auto at = GENERATE(range(1, 10));  // every poll of a clean 3-batch rollout
  CAPTURE(at);
  Fleet f(3);
  f.control.at(at, Command::kStop);
  auto out = f.apply("v2");
  CHECK(out.code == ExitCode::kPaused);
  CHECK(out.summary.find("interrupted") != std::string::npos);
  // Every host runs exactly one container, on one revision or the other, never none.
  int on_v2 = 0;
  for (int h = 0; h < 3; ++h) {
    CHECK((f.runs(h, kV1) || f.runs(h, kV2)));
    on_v2 += f.runs(h, kV2);
  }
  CHECK(on_v2 < 3);
}

TEST_CASE("the journal records intents before outcomes, decisions and the end", "[controller]") {
  Fleet f(2);
  auto file = std::make_unique<testing::MemFile>();
  auto opened = journal::Journal::open(std::move(file));
  REQUIRE(opened);
  f.journal.emplace(std::move(*opened));
  auto out = f.apply("v2");
  REQUIRE(out.code == ExitCode::kDone);
  auto rollouts = journal::replay(f.journal->records());
  REQUIRE(rollouts);
  REQUIRE(rollouts->size() == 1);
  const auto& r = rollouts->front();
  REQUIRE(r.start);
  CHECK(r.start->revision == 2);
  CHECK(r.start->digest == kV2);
  REQUIRE(r.end);
  CHECK(r.end->result == journal::EndResult::kDone);
  CHECK(r.decisions.size() == 2);
  CHECK(r.batches_done == std::vector<int>{1, 2});
  // Write-ahead: every outcome follows the intent for the same call.
  std::string pending;
  int intents = 0;
  for (const auto& rec : f.journal->records()) {
    if (rec.type == journal::RecordType::kIntent) {
      CHECK(pending.empty());
      pending = rec.payload.at("call");
      ++intents;
    } else if (rec.type == journal::RecordType::kOutcome) {
      CHECK(rec.payload.at("call") == pending);
      pending.clear();
    }
  }
  CHECK(intents == 8);  // stop, rename, create, start on each of two hosts
}

}  // namespace
}  // namespace orch::rollout

namespace orch::rollout {
namespace {

TEST_CASE("a rollback restores one batch at a time, the batch in flight first", "[controller]") {
  Fleet f(3);
  f.world.unhealthy_on = {{"h3", kV2}};  // h1 and h2 pass, h3 fails: all three go back
  int worst = 0;
  f.world.after_call = [&] {
    int down = 0;
    for (const auto& e : f.engines) {
      const auto* c = e->find("web");
      down += !(c && c->status == "running");
    }
    worst = std::max(worst, down);
  };
  auto out = f.apply("v2");
  CHECK(out.code == ExitCode::kRolledBack);
  CHECK(worst <= 1);
  for (int h = 0; h < 3; ++h) {
    CHECK(f.runs(h, kV1));
  }
}

TEST_CASE("a rollback replaces an older failed container of the same revision", "[controller]") {
  Fleet f(1);
  // An earlier attempt left a failed container under the name this rollout's (revision 2)
  // failed container will need. (On resume the revision is fixed, so the names meet.)
  f.engines[0]->seed("web-r2-failed", kRepo + "@" + kV2, 1, "web", "exited");
  f.world.unhealthy_on = {{"h1", kV2}};
  auto out = f.apply("v2");
  CHECK(out.code == ExitCode::kRolledBack);
  CHECK(f.runs(0, kV1));
  const auto* failed = f.engines[0]->find("web-r2-failed");
  REQUIRE(failed);
  CHECK(failed->labels.at("rollgate.rollout") == "r-test");
}

// A full disk at every journal write of a rollout (the Nth record and every later one fail):
// nothing is touched when the start or the baselines cannot be written (exit 1); mid-rollout
// the batch in flight goes back and the run pauses (exit 4); a missing end record alone turns
// "done" into exit 1. Every time the summary is the journal's own error, never an engine's,
// and every host keeps exactly one running app container, on v1 or v2.
TEST_CASE("a full disk at any journal write stops the rollout where the fleet is consistent",
          "[controller][journal]") {
  int writes = 0;
  {
    Fleet f(3);
    auto file = std::make_unique<testing::MemFile>();
    auto* counted = file.get();
    auto opened = journal::Journal::open(std::move(file));
    REQUIRE(opened);
    f.journal.emplace(std::move(*opened));
    REQUIRE(f.apply("v2").code == ExitCode::kDone);
    writes = counted->appends();
  }
  REQUIRE(writes > 10);
  // start + one baseline per host: the records written before any container is touched.
  const int before_touching = 1 + 3;
  for (int n = 1; n <= writes; ++n) {
    DYNAMIC_SECTION("the disk fills at write " << n << " of " << writes) {
      Fleet f(3);
      auto file = std::make_unique<testing::MemFile>();
      file->full_from(n);
      auto opened = journal::Journal::open(std::move(file));
      REQUIRE(opened);
      f.journal.emplace(std::move(*opened));
      auto out = f.apply("v2");
      INFO(out.summary);
      CHECK_THAT(out.summary, Catch::Contains(testing::MemFile::kFullPath + ": No space left on "
                                                                            "device"));
      CHECK_THAT(out.summary, !Catch::Contains("engine error"));
      CHECK_THAT(out.summary, !Catch::Contains("Fix the engine"));
      if (n <= before_touching) {
        CHECK(out.code == ExitCode::kInternal);
        CHECK_THAT(out.summary, Catch::Contains("nothing was changed"));
        for (int h = 0; h < 3; ++h) {
          CHECK(f.runs(h, kV1));
        }
      } else if (n == writes) {
        CHECK(out.code == ExitCode::kInternal);
        for (int h = 0; h < 3; ++h) {
          CHECK(f.runs(h, kV2));
        }
      } else {
        CHECK(out.code == ExitCode::kPaused);
      }
      // Batches of one: the hosts on v2 are a prefix (earlier batches), the rest on v1.
      bool seen_v1 = false;
      for (int h = 0; h < 3; ++h) {
        INFO("host h" << h + 1);
        CHECK((f.runs(h, kV1) || f.runs(h, kV2)));
        int running = 0;
        for (const auto& [id, c] : f.engines[h]->containers) {
          running += c.status == "running";
        }
        CHECK(running == 1);
        if (f.runs(h, kV1)) {
          seen_v1 = true;
        } else {
          CHECK_FALSE(seen_v1);
        }
      }
    }
  }
}

// Labels cannot change, so the engine lock's lease is never renewed: a rollout that would
// outlive it stops acting first. Another apply waits for the lock (--lock-wait) and takes it
// over the moment the lease expires; by then the first one must have stopped touching the
// fleet, so two holders never act at once.
TEST_CASE("a rollout longer than its lock's lease stops before a waiting apply takes over",
          "[controller][lock]") {
  Fleet f(3);
  f.m.health.min_healthy_time = 40s;  // about 41 s per batch, 3 batches: longer than the lease
  f.m.health.healthy_deadline = 60s;
  // The margin is 30 s + stop_timeout 10 s + the previous container's gate (41 s): batch 1
  // starts, and its gate stops at about 39 s, leaving time to put it back.
  f.lock = f.take_lock(120s);
  int changes_at_takeover = -1;
  bool first_done_at_takeover = false;
  std::optional<Status> takeover;
  f.beside = [&]() -> Task<void> {
    LockRequest r{"web", "bob@ci-2 pid 2", "r-other", 3600s, kRepo + "@" + kV1};
    auto got = co_await rollout::acquire(*f.engines[0], std::move(r), f.clock, 600s);
    takeover = got.status();
    changes_at_takeover = f.app_changes();
    first_done_at_takeover = f.applied;
  };
  auto out = f.apply("v2");
  INFO(out.summary);
  CHECK(out.code == ExitCode::kPaused);
  CHECK_THAT(out.summary, Catch::Contains("lease ends at"));
  REQUIRE(takeover);
  REQUIRE(takeover->is_ok());
  CHECK(first_done_at_takeover);
  CHECK(f.app_changes() == changes_at_takeover);
  // Stopped inside the first batch's gate, which went back: every host is on v1.
  for (int h = 0; h < 3; ++h) {
    CHECK(f.runs(h, kV1));
  }
}

TEST_CASE("a lock forced away mid-rollout stops it at the next batch", "[controller][lock]") {
  Fleet f(3);
  f.lock = f.take_lock(3600s);
  f.beside = [&]() -> Task<void> {
    // An operator runs `rollgate unlock --force` while batch 1 is being gated.
    while (!f.runs(0, kV2)) {
      co_await f.clock.sleep_for(100ms);
    }
    auto forced = co_await force_unlock(*f.engines[0], "web");
    CHECK(forced);
  };
  auto out = f.apply("v2");
  INFO(out.summary);
  CHECK(out.code == ExitCode::kPaused);
  CHECK_THAT(out.summary, Catch::Contains("the lock is no longer ours"));
  CHECK(f.runs(0, kV2));  // batch 1 passed its gate before the check
  CHECK(f.runs(1, kV1));
  CHECK(f.runs(2, kV1));
}

}  // namespace
}  // namespace orch::rollout
