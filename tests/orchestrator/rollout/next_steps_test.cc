// next_step is pure: Progress in, the next Step out. These walk it the way the loop does,
// feeding each step's result back, for the paths every strategy takes and the rules that guard
// them (nothing is touched after a failed journal write, a blue-green switch follows only a
// passed gate, a decided rollback is finished and never turned back into a rollout).
#include "orchestrator/rollout/next_steps.h"

#include <catch2/catch.hpp>

namespace orch::rollout {
namespace {

using Kind = Step::Kind;
using Action = health::Decision::Action;

Progress rolling(int batches) {
  Progress p;
  p.app = "web";
  p.rollout_id = "r1";
  p.pinned = "repo@sha256:x";
  p.revision = 2;
  for (int b = 1; b <= batches; ++b) {
    p.batches.push_back({"h" + std::to_string(b)});
  }
  return p;
}

// Two hosts, blue-green, from `phase`: `live` serves before the run, `target` is its colour.
Progress blue_green(Plan::Phase phase = Plan::Phase::kDeploy,
                    manifest::Colour live = manifest::Colour::kBlue,
                    manifest::Colour target = manifest::Colour::kGreen) {
  Progress p = rolling(1);
  p.batches = {{"h1", "h2"}};
  p.blue_green = true;
  p.phase = phase;
  p.live = live;
  p.target = target;
  return p;
}

health::Decision decided(Action a, std::string rule = "healthy", std::string reason = "ok") {
  health::Decision d;
  d.action = a;
  d.rule = std::move(rule);
  d.reason = std::move(reason);
  return d;
}

Step make_swap() {
  Step s;
  s.kind = Kind::kSwap;
  s.batch = 1;
  return s;
}

// Takes the step (as the loop records it) and returns the next one.
Step take(Progress& p, const Step& s) {
  p.last = s;
  return next_step(p);
}

// From a blue-green gate: it passes, the switch answers `error`, the router is asked and
// answers (the test sets what). Returns the kAskRouter step.
Step refused_switch(Progress& p, const Step& gate, const std::string& error) {
  p.decision = decided(Action::kContinue);
  Step s = take(p, gate);
  REQUIRE(s.kind == Kind::kSwitch);
  p.status = Status(Code::kUnavailable, error);
  s = take(p, s);
  REQUIRE(s.kind == Kind::kAskRouter);
  p.router_answered = true;
  return s;
}

TEST_CASE("next_step: a rolling update walks safe point, swap, gate, complete per batch",
          "[next_steps]") {
  Progress p = rolling(2);
  Step s = next_step(p);
  std::vector<std::pair<Kind, int>> walked;
  while (s.kind != Kind::kEnd) {
    walked.emplace_back(s.kind, s.batch);
    if (s.kind == Kind::kSwap) {
      p.touched += p.batches[static_cast<size_t>(s.batch - 1)].size();
    }
    if (s.kind == Kind::kGate) {
      p.decision = decided(Action::kContinue);
    }
    s = take(p, s);
    REQUIRE(walked.size() < 20);
  }
  CHECK(walked == std::vector<std::pair<Kind, int>>{{Kind::kSafePoint, 1},
                                                    {Kind::kSwap, 1},
                                                    {Kind::kGate, 1},
                                                    {Kind::kComplete, 1},
                                                    {Kind::kSafePoint, 2},
                                                    {Kind::kSwap, 2},
                                                    {Kind::kGate, 2},
                                                    {Kind::kComplete, 2},
                                                    {Kind::kPrune, 0}});
  CHECK(s.end.code == ExitCode::kDone);
  CHECK(s.end.summary == "done: 2 host(s) run revision 2 (repo@sha256:x)");
}

TEST_CASE("next_step: a bake follows the last batch, and its rollback rolls everything back",
          "[next_steps]") {
  Progress p = rolling(1);
  p.bake = std::chrono::seconds(5);
  p.touched = 1;
  p.decision = decided(Action::kContinue);
  Step complete;
  complete.kind = Kind::kComplete;
  complete.batch = 1;
  Step s = take(p, complete);
  REQUIRE(s.kind == Kind::kBake);
  p.decision = decided(Action::kRollback, "worse-than-baseline", "h1 fails");
  s = take(p, s);
  REQUIRE(s.kind == Kind::kRollBack);
  CHECK(s.why == "h1 fails (during the bake)");
  p.rolled_back = Outcome{ExitCode::kRolledBack, "h1 fails (during the bake)"};
  s = take(p, s);
  CHECK(s.kind == Kind::kEnd);
  CHECK(s.end.code == ExitCode::kRolledBack);
}

TEST_CASE("next_step: a failed journal write stops the run where nothing is in flight",
          "[next_steps]") {
  Progress p = rolling(2);
  p.journal_error = "journal: /s/journal: No space left on device";
  SECTION("at a safe point: nothing more is touched") {
    Step safe;
    safe.kind = Kind::kSafePoint;
    safe.batch = 2;
    p.touched = 1;
    Step s = take(p, safe);
    REQUIRE(s.kind == Kind::kEnd);
    CHECK(s.end.code == ExitCode::kPaused);
    CHECK_THAT(s.end.summary, Catch::Contains("No space left on device"));
    CHECK_THAT(s.end.summary, Catch::Contains("before batch 2: 1 host(s) run revision 2"));
  }
  SECTION("mid-swap: the batch in flight is reverted, and the summary blames the state dir") {
    Step swap;
    swap.kind = Kind::kSwap;
    swap.batch = 1;
    Step s = take(p, swap);
    REQUIRE(s.kind == Kind::kRevert);
    CHECK(s.cause == Step::Cause::kJournal);
    s = take(p, s);
    REQUIRE(s.kind == Kind::kEnd);
    CHECK(s.end.code == ExitCode::kPaused);
    CHECK_THAT(s.end.summary, Catch::Contains("Fix the state directory"));
    CHECK_THAT(s.end.summary, !Catch::Contains("engine"));
  }
  SECTION("after a passing gate: the batch goes back, not on") {
    Step gate;
    gate.kind = Kind::kGate;
    gate.batch = 1;
    p.decision = decided(Action::kContinue);
    Step s = take(p, gate);
    REQUIRE(s.kind == Kind::kRestore);
    CHECK(s.hosts == std::vector<std::string>{"h1"});
  }
}

TEST_CASE("next_step: an operator's stop and rollback at a safe point", "[next_steps]") {
  Progress p = rolling(2);
  Step safe;
  safe.kind = Kind::kSafePoint;
  safe.batch = 2;
  p.command = Command::kStop;
  CHECK(take(p, safe).end.code == ExitCode::kPaused);
  p.command = Command::kRollback;
  CHECK(take(p, safe).kind == Kind::kRollBack);
  p.command = Command::kNone;
  p.lock = Status(Code::kConflict, "the lock is held by rollout r9");
  Step s = take(p, safe);
  CHECK(s.end.code == ExitCode::kPaused);
  CHECK_THAT(s.end.summary, Catch::Contains("held by rollout r9"));
}

TEST_CASE("next_step: a decided rollback is finished, never turned back into a rollout",
          "[next_steps]") {
  Progress p = rolling(2);
  p.rollback_only = true;
  CHECK(next_step(p).kind == Kind::kRollBack);
  Progress bg = blue_green();
  bg.rollback_only = true;
  Step s = next_step(bg);
  REQUIRE(s.kind == Kind::kSafePoint);
  s = take(bg, s);
  CHECK(s.kind == Kind::kDiscard);
  CHECK(s.undo == Undo::kRetire);
}

TEST_CASE("next_step: blue-green switches only after its gate passed", "[next_steps]") {
  Progress p = blue_green();
  p.bake = std::chrono::seconds(2);
  Step s = next_step(p);
  REQUIRE(s.kind == Kind::kSafePoint);
  CHECK_FALSE(s.control);
  s = take(p, s);
  REQUIRE(s.kind == Kind::kSwap);
  s = take(p, s);
  REQUIRE(s.kind == Kind::kGate);
  SECTION("a failing gate discards the new colour, which never served") {
    p.decision = decided(Action::kRollback, "worse-than-baseline", "h1 fails");
    s = take(p, s);
    REQUIRE(s.kind == Kind::kDiscard);
    CHECK(s.undo == Undo::kRemove);
    s = take(p, s);
    CHECK(s.end.code == ExitCode::kRolledBack);
    CHECK_THAT(s.end.summary, Catch::Contains("green was removed before any traffic reached it"));
  }
  SECTION("a passing gate: switch, bake, retire the old colour, prune") {
    p.decision = decided(Action::kContinue);
    s = take(p, s);
    REQUIRE(s.kind == Kind::kSwitch);
    CHECK(s.colour == manifest::Colour::kGreen);
    s = take(p, s);
    REQUIRE(s.kind == Kind::kBake);
    s = take(p, s);
    REQUIRE(s.kind == Kind::kRetire);
    CHECK(s.colour == manifest::Colour::kBlue);
    s = take(p, s);
    REQUIRE(s.kind == Kind::kPrune);
    s = take(p, s);
    CHECK(s.end.code == ExitCode::kDone);
    CHECK(s.end.summary == "done: green is live on 2 host(s) with revision 2 (repo@sha256:x)");
  }
  SECTION("a failing bake switches back before the new colour is retired") {
    p.decision = decided(Action::kContinue);
    s = take(p, take(p, s));  // switch, then the bake
    REQUIRE(s.kind == Kind::kBake);
    p.decision = decided(Action::kRollback, "worse-than-baseline", "h2 fails");
    s = take(p, s);
    REQUIRE(s.kind == Kind::kSwitch);
    CHECK(s.colour == manifest::Colour::kBlue);
    s = take(p, s);
    REQUIRE(s.kind == Kind::kDiscard);
    CHECK(s.undo == Undo::kRetire);
    CHECK(s.colour == manifest::Colour::kGreen);  // drained first
  }
  SECTION("a switch whose answer was lost: the router is asked, and its word decides") {
    s = refused_switch(p, s, "timeout");
    p.routed = manifest::Colour::kBlue;
    Step back = take(p, s);
    CHECK(back.kind == Kind::kDiscard);
    p.routed = manifest::Colour::kGreen;
    CHECK(take(p, s).kind == Kind::kBake);
    p.router_answered = false;
    p.routed.reset();
    CHECK(take(p, s).end.code == ExitCode::kInternal);
  }
}

TEST_CASE("next_step: finishing an interrupted bake starts at the bake, never at a switch",
          "[next_steps][bake]") {
  // green is live (the router already sends to it) and blue still runs.
  Progress p = blue_green(Plan::Phase::kBake, manifest::Colour::kBlue, manifest::Colour::kGreen);
  Step s = next_step(p);
  REQUIRE(s.kind == Kind::kSafePoint);
  s = take(p, s);
  REQUIRE(s.kind == Kind::kBake);  // even with no bake configured: green is judged once
  SECTION("a passing bake retires blue and says it finished the bake") {
    p.decision = decided(Action::kContinue);
    s = take(p, s);
    REQUIRE(s.kind == Kind::kRetire);
    CHECK(s.colour == manifest::Colour::kBlue);
    s = take(p, take(p, s));
    CHECK(s.end.code == ExitCode::kDone);
    CHECK_THAT(s.end.summary, Catch::Contains("finished the interrupted bake; green is live"));
  }
  SECTION("a failing bake gates blue, which ran unrouted, before switching back to it") {
    p.decision = decided(Action::kRollback, "worse-than-baseline", "h2 fails");
    s = take(p, s);
    REQUIRE(s.kind == Kind::kGate);
    CHECK(s.colour == manifest::Colour::kBlue);
    SECTION("blue passes: switch back, then green is retired as -failed") {
      p.checked = decided(Action::kContinue);
      s = take(p, s);
      REQUIRE(s.kind == Kind::kSwitch);
      CHECK(s.colour == manifest::Colour::kBlue);
      s = take(p, s);
      REQUIRE(s.kind == Kind::kDiscard);
      CHECK(s.undo == Undo::kRetire);
      s = take(p, s);
      CHECK(s.end.code == ExitCode::kRolledBack);
      CHECK_THAT(s.end.summary, Catch::Contains("h2 fails (during the bake); switched back to "
                                                "blue"));
    }
    SECTION("blue fails too: nothing switches, green stays live") {
      p.checked = decided(Action::kRollback, "unhealthy", "blue does not answer");
      s = take(p, s);
      CHECK(s.kind == Kind::kEnd);
      CHECK(s.end.code == ExitCode::kPaused);
      CHECK_THAT(s.end.summary, Catch::Contains("blue is not healthy either"));
      CHECK_THAT(s.end.summary, Catch::Contains("green stays live"));
    }
  }
  SECTION("a decided rollback is finished: blue is checked, then switched to") {
    p.rollback_only = true;
    p.last = Step{};  // from the start again
    s = take(p, next_step(p));
    REQUIRE(s.kind == Kind::kGate);
    CHECK(s.colour == manifest::Colour::kBlue);
  }
}

TEST_CASE("next_step: switch-back starts the other colour, gates it, switches, retires",
          "[next_steps][switchback]") {
  // green is live; blue is what switch-back returns to.
  Progress p =
      blue_green(Plan::Phase::kSwitchBack, manifest::Colour::kGreen, manifest::Colour::kBlue);
  p.bake = std::chrono::seconds(5);  // a switch-back has no bake
  Step s = take(p, next_step(p));
  REQUIRE(s.kind == Kind::kSwap);
  s = take(p, s);
  REQUIRE(s.kind == Kind::kGate);
  SECTION("a passing gate: switch, then green retires, no bake and no prune") {
    p.decision = decided(Action::kContinue);
    s = take(p, s);
    REQUIRE(s.kind == Kind::kSwitch);
    CHECK(s.colour == manifest::Colour::kBlue);
    s = take(p, s);
    REQUIRE(s.kind == Kind::kRetire);
    CHECK(s.colour == manifest::Colour::kGreen);
    s = take(p, s);
    CHECK(s.end.code == ExitCode::kDone);
    CHECK_THAT(s.end.summary, Catch::StartsWith("switched back: blue is live on 2 host(s)"));
  }
  SECTION("a failing gate stops again what it started: nothing is removed") {
    p.decision = decided(Action::kRollback, "unhealthy", "h1 fails");
    s = take(p, s);
    REQUIRE(s.kind == Kind::kDiscard);
    CHECK(s.undo == Undo::kStop);
    s = take(p, s);
    CHECK(s.end.code == ExitCode::kRolledBack);
    CHECK(s.end.summary == "switch-back abandoned: h1 fails; green stays live and never stopped");
  }
  SECTION("an engine error, and an undo that fails, say so") {
    Progress q = p;
    q.last = make_swap();
    q.errors = {"h1: start: boom"};
    s = next_step(q);
    REQUIRE(s.kind == Kind::kDiscard);
    CHECK(s.undo == Undo::kStop);
    q.errors = {"h1: stop: still boom"};
    s = take(q, s);
    CHECK(s.end.code == ExitCode::kInternal);
    CHECK_THAT(s.end.summary, Catch::Contains("stopping blue again failed: h1: stop: still boom"));
  }
  SECTION("a refused switch stops blue again and pauses: fix the router") {
    s = refused_switch(p, s, "refused");
    p.routed = manifest::Colour::kGreen;
    s = take(p, s);
    REQUIRE(s.kind == Kind::kDiscard);
    CHECK(s.undo == Undo::kStop);
    s = take(p, s);
    CHECK(s.end.code == ExitCode::kPaused);
    CHECK_THAT(s.end.summary, Catch::Contains("the router did not switch to blue: refused"));
  }
}

}  // namespace
}  // namespace orch::rollout
