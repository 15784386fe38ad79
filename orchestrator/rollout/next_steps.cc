#include "orchestrator/rollout/next_steps.h"

#include <fmt/format.h>

namespace orch::rollout {

namespace {

using Kind = Step::Kind;
using Cause = Step::Cause;
using Action = health::Decision::Action;

Step make(Kind kind, int batch = 0) {
  Step s;
  s.kind = kind;
  s.batch = batch;
  return s;
}

Step end(ExitCode code, std::string summary) {
  Step s = make(Kind::kEnd);
  s.end = Outcome{code, std::move(summary)};
  return s;
}

Step with_cause(Step s, Cause c) {
  s.cause = c;
  return s;
}

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

std::string joined(const std::vector<std::string>& parts) {
  return fmt::format("{}", fmt::join(parts, "; "));
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
  if (!p.journal_error.empty() && d.action == Action::kContinue) {
    // What the gate decided may not be on disk: the batch goes back rather than on, so the
    // journal never lags behind the fleet by more than the batch in flight.
    Step s = with_cause(make(Kind::kRestore, b), Cause::kJournal);
    s.hosts = p.batches.at(static_cast<size_t>(b - 1));
    return s;
  }
  if (d.action == Action::kContinue) {
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
  if (d.action == Action::kRollback) {
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
      if (d.action == Action::kRollback) {
        return roll_back(d.reason + " (during the bake)");
      }
      if (d.action == Action::kPause) {
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

// ---- Blue-green ------------------------------------------------------------------------------

std::string colour_name(std::optional<manifest::Colour> c) {
  return c ? manifest::to_string(*c) : "none";
}

Step switch_to(manifest::Colour c, std::string why, Cause cause = Cause::kNone) {
  Step s = with_cause(make(Kind::kSwitch), cause);
  s.colour = c;
  s.why = std::move(why);
  return s;
}

Step discard(Cause cause, bool retire, std::optional<manifest::Colour> drain = std::nullopt) {
  Step s = with_cause(make(Kind::kDiscard, 1), cause);
  s.retire = retire;
  s.colour = drain;
  return s;
}

// The new colour serves: the bake, else the old colour's retirement.
Step after_switch(const Progress& p) {
  if (p.bake.count() > 0) {
    return make(Kind::kBake);
  }
  Step s = make(Kind::kRetire);
  s.colour = p.live;
  return s;
}

Step after_discard(const Progress& p) {
  const std::string to = manifest::to_string(p.target);
  const std::string from = colour_name(p.live);
  const std::string kept =
      p.live ? fmt::format("{} kept serving throughout", from) : "nothing was serving";
  const std::vector<std::string>& problems = p.errors;
  switch (p.last.cause) {
    case Cause::kFinishRollback:
      return problems.empty()
                 ? end(ExitCode::kRolledBack,
                       fmt::format("finished the rollback of rollout {} that was interrupted: {} "
                                   "was stopped and kept as {}-r{}-failed, and {}",
                                   p.rollout_id, to, p.app, p.revision, kept))
                 : end(ExitCode::kPaused,
                       fmt::format("rollback incomplete: {}; run rollgate resume -f MANIFEST to "
                                   "finish it",
                                   joined(problems)));
    case Cause::kEngine:
      return problems.empty()
                 ? end(ExitCode::kPaused,
                       fmt::format("paused: engine error while starting {}: {}; {} was removed and "
                                   "{}. Fix the engine, then apply again",
                                   to, p.last.why, to, kept))
                 : end(ExitCode::kInternal,
                       fmt::format("engine error while starting {}: {}; removing it failed: {}", to,
                                   p.last.why, joined(problems)));
    case Cause::kGateFailed: {
      const health::Decision& d = p.decision;
      if (!problems.empty()) {
        return end(ExitCode::kInternal,
                   fmt::format("{}; removing {} failed: {}", d.reason, to, joined(problems)));
      }
      const std::string tail =
          fmt::format("; {} was removed before any traffic reached it and {}", to, kept);
      if (d.action == Action::kRollback) {
        return end(ExitCode::kRolledBack, d.reason + tail);
      }
      return end(ExitCode::kPaused, d.reason + tail + ". Apply again to retry");
    }
    case Cause::kSwitchFailed:
      return end(problems.empty() ? ExitCode::kPaused : ExitCode::kInternal,
                 fmt::format("paused: the router did not switch to {}: {}; {}. Fix the router, "
                             "then apply again",
                             to, p.status.message(),
                             problems.empty() ? to + " was removed and " + kept
                                              : "removing " + to + " failed: " + joined(problems)));
    case Cause::kBakeFailed:
      return end(
          ExitCode::kRolledBack,
          fmt::format(
              "{} (during the bake); switched back to {}, which never stopped; {} "
              "was stopped and kept as {}-r{}-failed{}",
              p.decision.reason, from, to, p.app, p.revision,
              problems.empty() ? "" : fmt::format(" (cleanup problems: {})", joined(problems))));
    default:
      break;
  }
  return end(ExitCode::kInternal, "internal error: a discard without a cause");
}

Step blue_green(const Progress& p) {
  const Step& last = p.last;
  const std::string to = manifest::to_string(p.target);
  const std::string from = colour_name(p.live);
  switch (last.kind) {
    case Kind::kBegin: {
      Step s = make(Kind::kSafePoint, 1);
      s.control = false;  // the gate obeys operator commands; nothing is in flight before it
      return s;
    }
    case Kind::kSafePoint:
      if (!p.lock) {
        return end(ExitCode::kPaused,
                   fmt::format("paused before starting {}: {}; nothing was changed. Run apply "
                               "again",
                               to, p.lock.message()));
      }
      if (p.rollback_only) {
        // The router does not send to the new colour (it never did, or it switched back): the
        // new colour is set aside, never switched to.
        return discard(Cause::kFinishRollback, /*retire=*/true);
      }
      return make(Kind::kSwap, 1);
    case Kind::kSwap:
      if (!p.errors.empty()) {
        Step s = discard(Cause::kEngine, /*retire=*/false);
        s.why = joined(p.errors);
        return s;
      }
      return make(Kind::kGate, 1);
    case Kind::kGate:
      if (p.decision.action != Action::kContinue) {
        return discard(Cause::kGateFailed, /*retire=*/false);
      }
      return switch_to(p.target, "the gate passed on every host");
    case Kind::kSwitch:
      if (last.cause == Cause::kBakeFailed) {
        if (!p.status) {
          return end(ExitCode::kInternal,
                     fmt::format("{} (during the bake), and switching back to {} failed: {}; run "
                                 "rollgate switch-back",
                                 p.decision.reason, from, p.status.message()));
        }
        return discard(Cause::kBakeFailed, /*retire=*/true, p.target);
      }
      if (!p.status) {
        return make(Kind::kAskRouter);  // the answer was lost or the router refused
      }
      return after_switch(p);
    case Kind::kAskRouter:
      if (p.router_answered && p.routed == p.target) {
        return after_switch(p);  // the switch took effect although its answer was an error
      }
      if (p.router_answered) {
        return discard(Cause::kSwitchFailed, /*retire=*/false);
      }
      return end(ExitCode::kInternal,
                 fmt::format("the switch to {} failed ({}) and the router cannot say which colour "
                             "is live ({}); both colours are running. Check the router, then run "
                             "apply again or rollgate switch-back",
                             to, p.status.message(), p.router_error));
    case Kind::kDiscard:
      return after_discard(p);
    case Kind::kBake: {
      const health::Decision& d = p.decision;
      if (d.rule == kRuleInterrupted) {
        return end(ExitCode::kPaused,
                   fmt::format("interrupted during the bake: {} is live and {} still runs; "
                               "rollgate switch-back returns to {}, apply again re-checks and "
                               "finishes",
                               to, from, from));
      }
      if (d.action == Action::kPause) {
        return end(ExitCode::kPaused,
                   fmt::format("{} (during the bake); {} is live and {} still runs: rollgate "
                               "switch-back returns to {}",
                               d.reason, to, from, from));
      }
      if (d.action == Action::kRollback) {
        if (!p.live) {
          return end(ExitCode::kPaused,
                     fmt::format("{} (during the bake), but there is no previous colour to switch "
                                 "back to; {} stays live",
                                 d.reason, to));
        }
        return switch_to(*p.live, "the bake failed", Cause::kBakeFailed);
      }
      Step s = make(Kind::kRetire);
      s.colour = p.live;
      return s;
    }
    case Kind::kRetire:
      return make(Kind::kPrune);
    case Kind::kPrune:
      return end(ExitCode::kDone,
                 fmt::format("done: {} is live on {} host(s) with revision {} ({}){}", to,
                             p.batches.empty() ? 0 : p.batches.front().size(), p.revision, p.pinned,
                             p.note));
    default:
      break;
  }
  return end(ExitCode::kInternal, "internal error: no blue-green step follows this one");
}

}  // namespace

Step next_step(const Progress& p) { return p.blue_green ? blue_green(p) : rolling(p); }

}  // namespace orch::rollout
