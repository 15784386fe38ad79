// next_step's blue-green rows (next_steps.h; docs/blue-green.md): start the new colour beside
// the live one, gate, switch, bake, retire; and the two runs that start at a later phase
// (Plan::Phase): finishing an interrupted bake, and switch-back. Pure, like next_steps.cc.
#include <fmt/format.h>

#include "orchestrator/rollout/next_steps_internal.h"

namespace orch::rollout::next_steps_detail {

namespace {

using Phase = Plan::Phase;

std::string colour_name(std::optional<manifest::Colour> c) {
  return c ? manifest::to_string(*c) : "none";
}

Step switch_to(manifest::Colour c, std::string why, Cause cause = Cause::kNone) {
  Step s = with_cause(make(Kind::kSwitch), cause);
  s.colour = c;
  s.why = std::move(why);
  return s;
}

Step discard(Cause cause, Undo undo, std::optional<manifest::Colour> drain = std::nullopt) {
  Step s = with_cause(make(Kind::kDiscard, 1), cause);
  s.undo = undo;
  s.colour = drain;
  return s;
}

// The undo of a colour that never got traffic: removed; a switch-back's existed before the run,
// so what the run started is stopped again.
Undo never_served(const Progress& p) {
  return p.phase == Phase::kSwitchBack ? Undo::kStop : Undo::kRemove;
}

// Why traffic goes back to the colour that was live.
std::string back_reason(const Progress& p) {
  if (p.rollback_only) {
    return fmt::format("finishing the rollback of rollout {} that was interrupted", p.rollout_id);
  }
  return p.decision.reason + " (during the bake)";
}

// Back to the colour that was live. One that has run unrouted since an interruption (a bake
// being finished) passes a gate first: no colour gets traffic unchecked in this run.
Step go_back(const Progress& p, Cause cause) {
  if (!p.live) {
    return end(ExitCode::kPaused,
               fmt::format("{}, but there is no previous colour to switch back to; {} stays live",
                           back_reason(p), manifest::to_string(p.target)));
  }
  if (p.phase == Phase::kBake) {
    Step s = with_cause(make(Kind::kGate, 1), cause);
    s.colour = p.live;
    return s;
  }
  return switch_to(*p.live, "the bake failed", Cause::kBakeFailed);
}

// The new colour serves: the bake, else the old colour's retirement.
Step after_switch(const Progress& p) {
  // Finishing a bake always judges the live colour before the other one stops, if only once.
  if ((p.bake.count() > 0 && p.phase == Phase::kDeploy) || p.phase == Phase::kBake) {
    return make(Kind::kBake);
  }
  Step s = make(Kind::kRetire);
  s.colour = p.live;
  return s;
}

// A switch-back that did not happen: what it started is stopped again.
Step abandoned(const Progress& p, ExitCode code, const std::string& why) {
  const std::string to = manifest::to_string(p.target);
  const std::string from = colour_name(p.live);
  if (!p.errors.empty()) {
    return end(ExitCode::kInternal,
               fmt::format("switch-back abandoned: {}; {} stays live, but stopping {} again "
                           "failed: {}",
                           why, from, to, joined(p.errors)));
  }
  return end(code,
             fmt::format("switch-back abandoned: {}; {} stays live and never stopped", why, from));
}

Step after_discard(const Progress& p) {
  const std::string to = manifest::to_string(p.target);
  const std::string from = colour_name(p.live);
  const std::string kept =
      p.live ? fmt::format("{} kept serving throughout", from) : "nothing was serving";
  const std::vector<std::string>& problems = p.errors;
  const bool back = p.phase == Phase::kSwitchBack;
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
      if (back) {
        return abandoned(p, ExitCode::kRolledBack, "engine error: " + p.last.why);
      }
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
      if (back) {
        return abandoned(p, ExitCode::kRolledBack, d.reason);
      }
      if (!problems.empty()) {
        return end(ExitCode::kInternal,
                   fmt::format("{}; removing {} failed: {}", d.reason, to, joined(problems)));
      }
      const std::string tail =
          fmt::format("; {} was removed before any traffic reached it and {}", to, kept);
      if (d.action == GateAction::kRollback) {
        return end(ExitCode::kRolledBack, d.reason + tail);
      }
      return end(ExitCode::kPaused, d.reason + tail + ". Apply again to retry");
    }
    case Cause::kSwitchFailed:
      if (back) {
        return abandoned(
            p, ExitCode::kPaused,
            fmt::format("the router did not switch to {}: {}. Fix the router, then run "
                        "switch-back again",
                        to, p.status.message()));
      }
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
              "{}; switched back to {}, which never stopped; {} was stopped and kept as "
              "{}-r{}-failed{}",
              back_reason(p), from, to, p.app, p.revision,
              problems.empty() ? "" : fmt::format(" (cleanup problems: {})", joined(problems))));
    default:
      break;
  }
  return end(ExitCode::kInternal, "internal error: a discard without a cause");
}

// What the run is about to do, for a stop before it does anything.
std::string first_move(const Progress& p) {
  const std::string to = manifest::to_string(p.target);
  switch (p.phase) {
    case Phase::kBake:
      return fmt::format("finishing the bake of {}: {} is live and {} still runs", to, to,
                         colour_name(p.live));
    case Phase::kSwitchBack:
      return fmt::format("switching back to {}: nothing was changed", to);
    case Phase::kDeploy:
      break;
  }
  return fmt::format("starting {}: nothing was changed", to);
}

}  // namespace

Step blue_green(const Progress& p) {
  const Step& last = p.last;
  const std::string to = manifest::to_string(p.target);
  const std::string from = colour_name(p.live);
  const char* again = p.phase == Phase::kSwitchBack ? "switch-back" : "apply";
  switch (last.kind) {
    case Kind::kBegin: {
      Step s = make(Kind::kSafePoint, 1);
      s.control = false;  // the gate obeys operator commands; nothing is in flight before it
      return s;
    }
    case Kind::kSafePoint:
      if (!p.lock) {
        return end(ExitCode::kPaused, fmt::format("paused before {}; {}. Run {} again",
                                                  first_move(p), p.lock.message(), again));
      }
      if (p.phase == Phase::kBake) {
        // The router already sends to the colour being baked: the switch is behind this run.
        return p.rollback_only ? go_back(p, Cause::kFinishRollback) : after_switch(p);
      }
      if (p.rollback_only) {
        // The router does not send to the new colour (it never did, or it switched back): the
        // new colour is set aside, never switched to.
        return discard(Cause::kFinishRollback, Undo::kRetire);
      }
      return make(Kind::kSwap, 1);
    case Kind::kSwap:
      if (!p.errors.empty()) {
        Step s = discard(Cause::kEngine, never_served(p));
        s.why = joined(p.errors);
        return s;
      }
      return make(Kind::kGate, 1);
    case Kind::kGate:
      if (last.colour) {
        // The colour to switch back to was checked.
        if (p.checked.action != GateAction::kContinue) {
          return end(ExitCode::kPaused,
                     fmt::format("{}, and {} is not healthy either ({}); {} stays live",
                                 back_reason(p), from, p.checked.reason, to));
        }
        return switch_to(*last.colour, "switching back: " + back_reason(p), Cause::kBakeFailed);
      }
      if (p.decision.action != GateAction::kContinue) {
        return discard(Cause::kGateFailed, never_served(p));
      }
      return switch_to(p.target, p.phase == Phase::kSwitchBack ? "switch-back: the gate passed"
                                                               : "the gate passed on every host");
    case Kind::kSwitch:
      if (last.cause == Cause::kBakeFailed) {
        if (!p.status) {
          return end(ExitCode::kInternal,
                     fmt::format("{}, and switching back to {} failed: {}; run rollgate "
                                 "switch-back",
                                 back_reason(p), from, p.status.message()));
        }
        return discard(Cause::kBakeFailed, Undo::kRetire, p.target);
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
        return discard(Cause::kSwitchFailed, never_served(p));
      }
      return end(ExitCode::kInternal,
                 fmt::format("the switch to {} failed ({}) and the router cannot say which colour "
                             "is live ({}); both colours are running. Check the router, then run "
                             "{} again or rollgate switch-back",
                             to, p.status.message(), p.router_error, again));
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
      if (d.action == GateAction::kPause) {
        return end(ExitCode::kPaused,
                   fmt::format("{} (during the bake); {} is live and {} still runs: rollgate "
                               "switch-back returns to {}",
                               d.reason, to, from, from));
      }
      if (d.action == GateAction::kRollback) {
        return go_back(p, Cause::kBakeFailed);
      }
      Step s = make(Kind::kRetire);
      s.colour = p.live;
      return s;
    }
    case Kind::kRetire:
      if (p.phase == Phase::kSwitchBack) {
        return end(
            ExitCode::kDone,
            fmt::format("switched back: {} is live on {} host(s) with revision {}{}", to,
                        p.batches.empty() ? 0 : p.batches.front().size(), p.revision, p.note));
      }
      return make(Kind::kPrune);
    case Kind::kPrune:
      return end(ExitCode::kDone,
                 fmt::format("done: {}{} is live on {} host(s) with revision {} ({}){}",
                             p.phase == Phase::kBake ? "finished the interrupted bake; " : "", to,
                             p.batches.empty() ? 0 : p.batches.front().size(), p.revision, p.pinned,
                             p.note));
    default:
      break;
  }
  return end(ExitCode::kInternal, "internal error: no blue-green step follows this one");
}

}  // namespace orch::rollout::next_steps_detail
