// next_step (next_steps.h): the dispatch and the rolling update's rows (stop-first and
// start-first). Blue-green's rows are in next_steps_blue_green.cc.
#include "orchestrator/rollout/next_steps.h"

#include <fmt/format.h>

#include "orchestrator/rollout/next_steps_internal.h"

namespace orch::rollout {

namespace {

using namespace next_steps_detail;

Step roll_back(std::string why) {
  Step s = make(Kind::kRollBack);
  s.why = std::move(why);
  return s;
}

// A journal that could not be written, found where nothing is in flight.
Step journal_paused(const Progress& p, const std::string& where, size_t hosts_done) {
  return end(ExitCode::kPaused,
             fmt::format("paused: {}; {}: {} host(s) run revision {}, the rest are untouched. Fix "
                         "the state directory (free space, permissions), then apply again",
                         p.journal_error, where, hosts_done, p.revision));
}

size_t batch_size(const Progress& p, int batch) {
  return p.batches.at(static_cast<size_t>(batch - 1)).size();
}

// ---- Rolling (stop-first and start-first) ------------------------------------------------

// After the last batch: the bake, then the end.
Step after_batches(const Progress& p) {
  if (p.bake.count() > 0 && p.last.kind != Kind::kBake) {
    return make(Kind::kBake);
  }
  if (!p.journal_error.empty()) {
    return journal_paused(p, "after the last batch, not yet declared done",
                          p.touched - static_cast<size_t>(p.failures));
  }
  return make(Kind::kPrune);
}

Step next_batch(const Progress& p, int done) {
  if (done < static_cast<int>(p.batches.size())) {
    return make(Kind::kSafePoint, done + 1);
  }
  return after_batches(p);
}

Step after_gate(const Progress& p) {
  const int b = p.last.batch;
  const health::Decision& d = p.decision;
  if (!p.journal_error.empty() && d.action == GateAction::kContinue) {
    // What the gate decided may not be on disk: the batch goes back rather than on, so the
    // journal never lags behind the fleet by more than the batch in flight.
    Step s = with_cause(make(Kind::kRestore, b), Cause::kJournal);
    s.hosts = p.batches.at(static_cast<size_t>(b - 1));
    return s;
  }
  if (d.action == GateAction::kContinue) {
    if (!d.revert_hosts.empty()) {
      Step s = with_cause(make(Kind::kRestore, b), Cause::kBudget);
      s.hosts = d.revert_hosts;
      return s;
    }
    return make(Kind::kComplete, b);
  }
  if (stopped(d)) {
    // The batch in flight has not passed its gate, so it goes back to where it was.
    Step s = with_cause(make(Kind::kRestore, b), Cause::kStopped);
    s.hosts = p.batches.at(static_cast<size_t>(b - 1));
    return s;
  }
  if (d.action == GateAction::kRollback) {
    return roll_back(d.reason);
  }
  return end(ExitCode::kPaused,
             d.reason + ". The fleet is left as it is: fix and apply again, or roll back");
}

Step after_restore(const Progress& p) {
  const int b = p.last.batch;
  const std::vector<std::string>& problems = p.errors;
  switch (p.last.cause) {
    case Cause::kJournal:
      return problems.empty()
                 ? journal_paused(p, fmt::format("batch {} was reverted", b),
                                  p.touched - batch_size(p, b))
                 : end(ExitCode::kInternal, fmt::format("{}; reverting batch {} failed: {}",
                                                        p.journal_error, b, joined(problems)));
    case Cause::kBudget:
      if (!problems.empty()) {
        return end(
            ExitCode::kInternal,
            fmt::format("could not revert a host within the failure budget: {}", joined(problems)));
      }
      return make(Kind::kComplete, b);
    default:
      return problems.empty()
                 ? end(ExitCode::kPaused,
                       fmt::format("{}: batch {} was reverted; the fleet is consistent ({} host(s) "
                                   "on revision {}). Run apply again to continue",
                                   stop_cause(p.decision), b, p.touched - batch_size(p, b),
                                   p.revision))
                 : end(ExitCode::kInternal,
                       fmt::format("{}, and reverting batch {} failed: {}", stop_cause(p.decision),
                                   b, joined(problems)));
  }
}

Step rolling(const Progress& p) {
  const Step& last = p.last;
  const int b = last.batch;
  switch (last.kind) {
    case Kind::kBegin:
      if (p.rollback_only) {
        return roll_back(
            fmt::format("finishing the rollback of rollout {} that was interrupted", p.rollout_id));
      }
      return next_batch(p, 0);
    case Kind::kSafePoint:
      if (p.command == Command::kStop) {
        return end(ExitCode::kPaused,
                   fmt::format("interrupted before batch {}: {} host(s) already run revision {}, "
                               "the rest are untouched; run apply again to continue",
                               b, p.touched, p.revision));
      }
      if (p.command == Command::kRollback) {
        return roll_back("an operator asked for it (rollgate rollback)");
      }
      if (!p.journal_error.empty()) {
        return journal_paused(p, fmt::format("before batch {}", b), p.touched);
      }
      if (!p.lock) {
        return end(ExitCode::kPaused,
                   fmt::format("paused before batch {}: {}; {} host(s) run revision {}, the rest "
                               "are untouched. Run apply again to continue",
                               b, p.lock.message(), p.touched, p.revision));
      }
      if (!p.drift.empty()) {
        // Never act on a stale plan: someone changed these hosts since it was made.
        return end(ExitCode::kPaused,
                   fmt::format("paused before batch {}: the fleet changed since the plan ({}); {} "
                               "host(s) run revision {}, the rest are untouched. Run apply again: "
                               "it plans from what runs now",
                               b, joined(p.drift), p.touched, p.revision));
      }
      return make(Kind::kSwap, b);
    case Kind::kSwap:
      if (!p.errors.empty() || !p.journal_error.empty()) {
        // The engine (or the state directory) failed us, not the image: undo the batch in
        // flight and stop where the fleet is consistent. Earlier batches passed and stay.
        Step s = with_cause(make(Kind::kRevert, b),
                            p.journal_error.empty() ? Cause::kEngine : Cause::kJournal);
        s.why = p.journal_error.empty() ? fmt::format("engine error: {}", joined(p.errors))
                                        : p.journal_error;
        return s;
      }
      return make(Kind::kGate, b);
    case Kind::kRevert: {
      const bool journal = last.cause == Cause::kJournal;
      return p.errors.empty()
                 ? end(ExitCode::kPaused,
                       fmt::format(
                           "paused: {}; batch {} was reverted. Fix the {}, then run apply "
                           "again",
                           last.why, b,
                           journal ? "state directory (free space, permissions)" : "engine"))
                 : end(ExitCode::kInternal,
                       fmt::format("{}; revert failed: {}", last.why, joined(p.errors)));
    }
    case Kind::kGate:
      return after_gate(p);
    case Kind::kRestore:
      return after_restore(p);
    case Kind::kComplete:
      if (!p.errors.empty()) {
        return end(ExitCode::kPaused,
                   fmt::format("paused: batch {} passed its gate but finishing it failed: {}. The "
                               "new containers are healthy; fix the router, then apply again",
                               b, joined(p.errors)));
      }
      return next_batch(p, b);
    case Kind::kBake: {
      const health::Decision& d = p.decision;
      if (stopped(d)) {
        return end(ExitCode::kPaused,
                   fmt::format("{} during the bake: every host runs revision {}, not yet declared "
                               "good; run apply again to re-check, or roll back",
                               stop_cause(d), p.revision));
      }
      if (d.action == GateAction::kRollback) {
        return roll_back(d.reason + " (during the bake)");
      }
      if (d.action == GateAction::kPause) {
        return end(ExitCode::kPaused, d.reason + " (during the bake)");
      }
      return after_batches(p);
    }
    case Kind::kRollBack:
      return end(p.rolled_back.code, p.rolled_back.summary);
    case Kind::kPrune: {
      const size_t done = p.touched - static_cast<size_t>(p.failures);
      return end(
          ExitCode::kDone,
          fmt::format("done: {} host(s) run revision {} ({}){}{}", done, p.revision, p.pinned,
                      p.unchanged == 0 ? "" : fmt::format(", {} already did", p.unchanged),
                      p.failures == 0
                          ? ""
                          : fmt::format("; {} host(s) failed within the failure budget and stay "
                                        "on their previous revision",
                                        p.failures)));
    }
    default:
      break;
  }
  return end(ExitCode::kInternal, "internal error: no rolling step follows this one");
}

}  // namespace

Step next_step(const Progress& p) {
  return p.blue_green ? next_steps_detail::blue_green(p) : rolling(p);
}

}  // namespace orch::rollout
