// rollout::next_step: the controller's one decision function (docs/controller.md).
//
// Given what a rollout is (the plan's shape: its batches, strategy, revision; the plan is the
// pure function of the manifest and the observed fleet, make_plan), the journal's intent (a
// decided rollback) and what every step so far came back with (gate verdicts, engine errors,
// operator commands, the lock, the router's answer), it names the one next step. The
// controller's loop (loop.cc) is: decide, act (a step's engine calls run concurrently across
// its hosts, each journaled ahead), fold the result into Progress, decide again, until kEnd.
//
// Pure: no I/O, no clock, no log. Every rule of the rolling update (stop-first and
// start-first), blue-green (start beside, gate, switch, bake, retire, switch back on a failed
// bake), finishing a rollback the journal decided, and every way each can stop (a signal, an
// operator, the lock, an engine, the journal) is a row here, with the summary it ends with.
// Resume is the same function started from a plan that adopted what the interrupted run
// left (plan.h, ResumeOf): there is no resume path of its own. Finishing an interrupted bake
// and `rollgate switch-back` are blue-green runs that start at a later phase (Plan::Phase):
// the same rows, with the steps already behind them skipped.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "healthcheck/gate.h"
#include "orchestrator/core/status.h"
#include "orchestrator/manifest/manifest.h"
#include "orchestrator/rollout/control.h"
#include "orchestrator/rollout/outcome.h"
#include "orchestrator/rollout/plan.h"

namespace orch::rollout {

// The gate's rules for a stop that is not the image's fault: a signal, or the lock's lease
// about to end (gating.cc sets them). Either way the batch in flight goes back and the run
// pauses.
inline constexpr char kRuleInterrupted[] = "interrupted";
inline constexpr char kRuleLockLease[] = "lock-lease";
inline bool stopped(const health::Decision& d) {
  return d.rule == kRuleInterrupted || d.rule == kRuleLockLease;
}
// "interrupted", or the lease's reason: how a summary names the stop.
inline std::string stop_cause(const health::Decision& d) {
  return d.rule == kRuleLockLease ? d.reason : std::string(kRuleInterrupted);
}

// What an undo does with the container the run gated on a host (undo.cc). The opaque
// declaration in controller.h names the same type.
enum class Undo : int {
  kRemove,  // it never served: remove it (an engine error mid-swap, a blue-green discard)
  kRetire,  // it ran and was judged: stop it and keep it as <app>-r<rev>-failed
  kStop,    // switch-back: it existed before the run; stop it again if the run started it
};

struct Step {
  enum class Kind {
    kBegin,      // nothing taken yet (Progress::last before the first step)
    kSafePoint,  // nothing in flight: poll operator control (hold while paused), check the lock
    kSwap,       // every host of `batch`: the plan's actions up to its gate, concurrently
    kGate,       // gate `batch` (blue-green: the new colour on every host, all or nothing;
                 // with `colour`: that colour, the one to switch back to, before it gets traffic)
    kRevert,     // an engine or the journal failed mid-swap: undo `batch`; it never served
    kRestore,    // `hosts` back on their previous container, which is gated again
    kComplete,   // `batch` passed: the actions after its gate (router steps, start-first)
    kBake,       // watch the changed hosts this long before declaring success
    kRollBack,   // every touched host back, batch by batch, in reverse
    kSwitch,     // blue-green: the router sends the whole fleet to `colour`
    kAskRouter,  // blue-green: the switch answered an error; which colour is live now?
    kDiscard,    // blue-green: undo the new colour on every host, as `undo` says
    kRetire,     // blue-green: the colour that was live drains at the router, then stops
    kPrune,      // housekeeping after success: keep `keep` revisions
    kEnd,        // `end`: the exit code and summary
  };
  // Why a step that undoes or redirects is taken: what the step after it concludes.
  enum class Cause {
    kNone,
    kJournal,         // a journal write failed
    kBudget,          // hosts failed within the failure budget
    kStopped,         // a signal or the lock's lease
    kEngine,          // an engine call failed
    kGateFailed,      // blue-green: the new colour failed its gate before the switch
    kSwitchFailed,    // blue-green: the router did not switch
    kBakeFailed,      // blue-green: the bake failed after the switch
    kFinishRollback,  // the journal says the interrupted run decided to roll back
  };
  Kind kind = Kind::kBegin;
  Cause cause = Cause::kNone;
  int batch = 0;                           // 1-based
  std::vector<std::string> hosts;          // kRestore
  std::string why;                         // kRevert, kRollBack, kSwitch, kDiscard (engine)
  std::optional<manifest::Colour> colour;  // kSwitch: to; kGate: check it; kDiscard, kRetire:
                                           // drain it first
  Undo undo = Undo::kRemove;               // kDiscard
  bool control = true;                     // kSafePoint: poll operator control
  Outcome end;                             // kEnd
};

// What the loop knows. The first block is fixed for the run; the rest is folded in by the loop
// after each step (only the fields the step it took can set).
struct Progress {
  std::string app;
  std::string rollout_id;
  std::string pinned;
  int revision = 0;
  std::vector<std::vector<std::string>> batches;  // hosts to change, per batch
  size_t unchanged = 0;
  bool blue_green = false;
  std::optional<manifest::Colour> live;  // blue-green: the colour serving before the rollout
  manifest::Colour target = manifest::Colour::kBlue;
  bool rollback_only = false;  // the journal's intent: the interrupted run decided to go back
  std::chrono::milliseconds bake{0};
  Plan::Phase phase = Plan::Phase::kDeploy;  // blue-green: where the run starts

  Step last;                               // the step just taken
  Command command = Command::kNone;        // kSafePoint: the operator's word (after any hold)
  Status lock;                             // kSafePoint: the lock, when it was checked
  std::vector<std::string> drift;          // kSafePoint: where the batch's hosts no longer are
                                           // what the plan was made from (re-listed)
  std::vector<std::string> errors;         // per host "host: message" (kSwap, kComplete), or the
                                           // problems an undo met (kRevert, kRestore, kDiscard)
  health::Decision decision;               // kGate, kBake
  health::Decision checked;                // kGate of a colour to switch back to
  Status status;                           // kSwitch, kRetire
  bool router_answered = false;            // kAskRouter
  std::optional<manifest::Colour> routed;  // kAskRouter: the live colour, if it could say
  std::string router_error;                // kAskRouter: why it could not
  Outcome rolled_back;                     // kRollBack
  std::string journal_error;               // set once a journal write failed
  size_t touched = 0;                      // hosts whose batch was swapped
  int failures = 0;                        // hosts put back within the failure budget
  std::string note;                        // kRetire: what happened to the old colour
};

Step next_step(const Progress& p);

}  // namespace orch::rollout
