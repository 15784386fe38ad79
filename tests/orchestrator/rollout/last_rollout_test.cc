// The journal's last rollout and what resume would do with it (rollout/last_rollout.h), read
// back from a real journal on disk as `status` and `resume` read it.
#include "orchestrator/rollout/last_rollout.h"

#include <catch2/catch.hpp>

#include "tests/orchestrator/rollout/cli_api_support.h"

namespace orch::rollout {
namespace {

using orch::testing::journal_rollout;
using orch::testing::TempDir;
using Phase = RolloutState::Phase;
using Next = RolloutState::Next;

struct Bed {
  TempDir dir;
  journal::Journal journal = testing::open_journal(dir);
  manifest::Manifest m;
  Bed() { m.app = "web"; }
  std::vector<journal::RolloutRecord> rollouts() {
    return testing::replayed(dir.file("journal.log"));
  }
};

TEST_CASE("an empty journal has no last rollout and nothing to resume") {
  Bed bed;
  CHECK_FALSE(last_rollout(bed.rollouts()));
  auto d = decide_resume(bed.rollouts());
  CHECK(d.kind == ResumeDecision::Kind::kNothing);
  CHECK(d.reason == "the journal has no rollout");
}

TEST_CASE("the last rollout is the newest one, and an unlock's takeover record is not a rollout") {
  Bed bed;
  journal_rollout(bed.journal, "R1", 1, journal::EndResult::kDone);
  journal_rollout(bed.journal, "R2", 2, journal::EndResult::kDone);
  REQUIRE(bed.journal.append(journal::LockTakeoverRecord{"unlock", {}, "someone", "me"}).is_ok());
  auto last = last_rollout(bed.rollouts());
  REQUIRE(last);
  CHECK(last->rollout == "R2");
  auto s = rollout_state(*last);
  CHECK(s.phase == Phase::kEnded);
  CHECK(s.next == Next::kNothing);
  CHECK(s.revision == 2);
  REQUIRE(s.end);
  CHECK(s.end->result == journal::EndResult::kDone);

  auto d = decide_resume(bed.rollouts());
  CHECK(d.kind == ResumeDecision::Kind::kEnded);
  REQUIRE(d.last);
  CHECK(d.last->rollout == "R2");
}

TEST_CASE("an interrupted rollout is continued, and one that decided a rollback finishes it") {
  Bed bed;
  journal_rollout(bed.journal, "R1", 1, journal::EndResult::kDone);
  SECTION("interrupted going forward") {
    journal_rollout(bed.journal, "R2", 2, std::nullopt, {"continue"});
    auto s = rollout_state(*last_rollout(bed.rollouts()));
    CHECK(s.rollout == "R2");
    CHECK(s.phase == Phase::kInterrupted);
    CHECK(s.next == Next::kResume);
    CHECK_FALSE(s.end);
  }
  SECTION("interrupted after a rollback decision") {
    journal_rollout(bed.journal, "R2", 2, std::nullopt, {"continue", "rollback", "continue"});
    auto s = rollout_state(*last_rollout(bed.rollouts()));
    CHECK(s.phase == Phase::kInterrupted);
    CHECK(s.next == Next::kFinishRollback);
  }
  SECTION("paused") {
    journal_rollout(bed.journal, "R2", 2, journal::EndResult::kPaused, {"pause"});
    auto s = rollout_state(*last_rollout(bed.rollouts()));
    CHECK(s.phase == Phase::kPaused);
    CHECK(s.next == Next::kResume);
  }
  auto d = decide_resume(bed.rollouts());
  CHECK(d.kind == ResumeDecision::Kind::kContinue);
  CHECK(d.last->rollout == "R2");
}

TEST_CASE("a rolled-back or failed last rollout is over") {
  auto result = GENERATE(journal::EndResult::kRolledBack, journal::EndResult::kFailed,
                         journal::EndResult::kPreflightFailed, journal::EndResult::kDone);
  Bed bed;
  journal_rollout(bed.journal, "R1", 1, result, {"rollback"});
  auto s = rollout_state(*last_rollout(bed.rollouts()));
  CHECK(s.phase == Phase::kEnded);
  CHECK(s.next == Next::kNothing);
  CHECK(decide_resume(bed.rollouts()).kind == ResumeDecision::Kind::kEnded);
}

}  // namespace
}  // namespace orch::rollout
