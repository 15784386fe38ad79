// The controller's loop: decide (next_step, pure), act, fold the result into Progress, decide
// again, until the decision is an end. Every strategy runs through it; so does resume, whose
// plan adopted what the interrupted run left (docs/controller.md).
//
// act() is the only place a Step becomes engine calls and router steps, through the parts that
// journal each call ahead: steps.cc (a host's actions), gating.cc (gates), undo.cc (the one undo
// path), blue_green.cc (switch, drain, stop a colour).
#include <fmt/format.h>

#include <algorithm>

#include "orchestrator/core/duration.h"
#include "orchestrator/journal/records.h"
#include "orchestrator/rollout/async.h"
#include "orchestrator/rollout/controller_internal.h"
#include "orchestrator/rollout/next_steps.h"

namespace orch::rollout {

using nlohmann::json;

// What act() works on: the runs of the plan, by batch, and those this run has swapped.
struct Controller::LoopState {
  Plan& plan;
  std::vector<HostRun*> all;
  std::vector<std::vector<HostRun*>> batches;
  std::vector<HostRun*> touched;
  TimePoint passed{};  // blue-green: when the new colour passed its gate

  std::vector<HostRun*> runs_of(const std::vector<std::string>& hosts) const {
    std::vector<HostRun*> out;
    for (auto* r : all) {
      if (std::find(hosts.begin(), hosts.end(), r->plan.host) != hosts.end()) {
        out.push_back(r);
      }
    }
    return out;
  }
  const std::vector<HostRun*>& batch(int index) const {
    return batches.at(static_cast<size_t>(index - 1));
  }
};

// Re-lists the app's containers on the hosts of the batch about to start and says, per host,
// where they differ from what the plan was made from: the container it replaces (same id, same
// state), or none where it deploys first. Hosts the plan adopted are not compared.
Task<std::vector<std::string>> Controller::drifted(std::vector<HostRun*> batch) {
  std::vector<Task<Result<std::vector<docker::ContainerSummary>>>> lists;
  for (auto* r : batch) {
    lists.push_back(
        r->host->engine->list_containers({std::string(kLabelApp) + "=" + manifest_.app}));
  }
  auto listed = co_await gather(std::move(lists));
  std::vector<std::string> out;
  for (size_t i = 0; i < batch.size(); ++i) {
    const HostPlan& hp = batch[i]->plan;
    if (hp.mode == HostPlan::Mode::kAdopt || hp.current_archived) {
      continue;
    }
    if (!listed[i]) {
      out.push_back(
          fmt::format("{}: cannot list its containers: {}", hp.host, listed[i].status().message()));
      continue;
    }
    const auto live = live_container(manifest_.app, app_containers(*listed[i]));
    if (hp.current && !live) {
      out.push_back(
          fmt::format("{}: {} ({}) is gone", hp.host, manifest_.app, hp.current->id.substr(0, 12)));
    } else if (!hp.current && live) {
      out.push_back(
          fmt::format("{}: {} ({}) appeared", hp.host, manifest_.app, live->id.substr(0, 12)));
    } else if (hp.current && live->id != hp.current->id) {
      out.push_back(fmt::format("{}: {} is now {}, not {}", hp.host, manifest_.app,
                                live->id.substr(0, 12), hp.current->id.substr(0, 12)));
    } else if (hp.current && live->state != hp.current->state) {
      out.push_back(fmt::format("{}: {} is {}, it was {}", hp.host, manifest_.app, live->state,
                                hp.current->state));
    }
  }
  co_return out;
}

Task<Outcome> Controller::run_steps(Plan& plan, std::vector<std::unique_ptr<HostRun>>& owned) {
  LoopState state{plan, {}, {}, {}, {}};
  Progress p;
  p.app = manifest_.app;
  p.rollout_id = options_.rollout_id;
  p.pinned = plan.pinned;
  p.revision = plan.revision;
  p.unchanged = plan.unchanged.size();
  p.blue_green = plan.blue_green;
  p.live = plan.live;
  p.target = plan.target;
  p.rollback_only = options_.rollback_only;
  p.bake = options_.bake;
  p.phase = plan.phase;
  size_t next = 0;
  for (const auto& b : plan.batches) {
    p.batches.emplace_back();
    state.batches.emplace_back();
    for (const auto& hp : b.hosts) {
      p.batches.back().push_back(hp.host);
      state.batches.back().push_back(owned[next].get());
      state.all.push_back(owned[next++].get());
    }
  }
  if (options_.rollback_only) {
    // What the interrupted run touched (or may have taken out of the router) goes back.
    for (auto* r : state.all) {
      if (r->touched() || r->drained) {
        state.touched.push_back(r);
      }
    }
  }
  for (;;) {
    Step step = next_step(p);
    if (step.kind == Step::Kind::kEnd) {
      co_return step.end;
    }
    co_await act(step, p, state);
    p.last = std::move(step);
    p.touched = state.touched.size();
    p.failures = failures_so_far_;
    if (journal_.failed() && p.journal_error.empty()) {
      p.journal_error = journal_.error().message();
    }
  }
}

Task<void> Controller::act(const Step& step, Progress& p, LoopState& state) {
  using Kind = Step::Kind;
  const std::string to_s = manifest::to_string(state.plan.target);
  const std::string from_s = state.plan.live ? manifest::to_string(*state.plan.live) : "none";
  const std::vector<HostRun*> batch =
      step.batch > 0 && !state.batches.empty() ? state.batch(step.batch) : std::vector<HostRun*>{};
  // The new colour serves the whole fleet: how long after its gate passed.
  auto switched = [&] {
    const auto latency =
        std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now() - state.passed);
    emit("switched", "",
         fmt::format("{} serves the whole fleet, {} after its gate passed", to_s,
                     format_duration(latency)),
         {{"from", from_s}, {"to", to_s}, {"latency_ms", latency.count()}});
  };
  p.errors.clear();
  switch (step.kind) {
    case Kind::kSafePoint: {
      if (p.blue_green && p.phase != Plan::Phase::kBake) {
        std::vector<std::string> names;
        for (auto* r : state.all) {
          names.push_back(r->plan.host);
        }
        emit("batch", "",
             fmt::format("{} {} beside {} on {} host(s): {}",
                         p.phase == Plan::Phase::kSwitchBack ? "switch-back: starting" : "starting",
                         to_s, from_s, names.size(), fmt::join(names, ", ")),
             {{"batch", 1}, {"hosts", names}, {"colour", to_s}, {"live", from_s}});
      }
      p.command = Command::kNone;
      p.drift.clear();
      if (step.control) {
        p.command = control_->poll();
        if (p.command == Command::kPause) {
          p.command = co_await hold(fmt::format("before batch {}", step.batch));
        }
      }
      if (p.command == Command::kStop || p.command == Command::kRollback || journal_.failed()) {
        co_return;
      }
      p.lock = co_await check_lock();
      if (p.lock && !p.blue_green && step.batch > 1) {
        p.drift = co_await drifted(batch);
      }
      co_return;
    }
    case Kind::kSwap: {
      const std::vector<HostRun*>& runs = p.blue_green ? state.all : batch;
      if (!p.blue_green) {
        std::vector<std::string> names;
        for (auto* r : runs) {
          names.push_back(r->plan.host);
        }
        emit("batch", "",
             fmt::format("batch {}/{}: {}", step.batch, p.batches.size(), fmt::join(names, ", ")),
             {{"batch", step.batch}, {"hosts", names}});
      }
      std::vector<Task<Status>> swaps;
      for (auto* r : runs) {
        swaps.push_back(swap_host(*r));
      }
      auto swapped = co_await gather(std::move(swaps));
      for (size_t i = 0; i < runs.size(); ++i) {
        if (!swapped[i]) {
          p.errors.push_back(runs[i]->plan.host + ": " + swapped[i].message());
        }
      }
      if (!p.blue_green) {
        state.touched.insert(state.touched.end(), runs.begin(), runs.end());
      }
      co_return;
    }
    case Kind::kGate: {
      GateSpec spec;
      if (step.colour) {
        // The colour to switch back to: the containers that were live before the run.
        p.checked = co_await gate_previous(state.all, from_s + " (switching back)");
        co_return;
      }
      spec.what = !p.blue_green                         ? "new container"
                  : p.phase == Plan::Phase::kSwitchBack ? to_s + " (switch-back)"
                                                        : to_s;
      spec.budget = !p.blue_green;
      p.decision = co_await gate(p.blue_green ? state.all : batch, spec);
      state.passed = clock_.now();
      co_return;
    }
    case Kind::kRevert: {
      p.errors = co_await undo_all(batch, Undo::kRemove);
      if (router_ && p.errors.empty()) {
        // A drained host serves again only once its restarted container passed a gate.
        p.errors = co_await settle(batch, true);
      }
      co_return;
    }
    case Kind::kRestore: {
      auto runs = state.runs_of(step.hosts);
      if (step.cause == Step::Cause::kBudget) {
        failures_so_far_ += static_cast<int>(runs.size());
      }
      p.errors = co_await restore(runs);
      co_return;
    }
    case Kind::kComplete: {
      std::vector<Task<Status>> completions;
      std::vector<HostRun*> completing;
      for (auto* r : batch) {
        if (!r->reverted) {
          completing.push_back(r);
          completions.push_back(complete_host(*r));
        }
      }
      auto completed = co_await gather(std::move(completions));
      for (size_t i = 0; i < completing.size(); ++i) {
        if (!completed[i]) {
          p.errors.push_back(completing[i]->plan.host + ": " + completed[i].message());
        }
      }
      if (p.errors.empty()) {
        // A failure to write it is checked before the next batch, or at the end.
        journal_.note(journal::BatchDoneRecord{"", {}, step.batch});
      }
      co_return;
    }
    case Kind::kBake: {
      std::vector<HostRun*> live;
      for (auto* r : p.blue_green ? state.all : state.touched) {
        if (!r->reverted) {
          live.push_back(r);
        }
      }
      if (p.phase == Plan::Phase::kBake) {
        emit("bake", "",
             fmt::format("{} is live with {} and {} still runs: finishing the bake that was "
                         "interrupted, watching {} host(s) for {}",
                         to_s, state.plan.pinned, from_s, live.size(),
                         format_duration(options_.bake)),
             {{"bake_ms", options_.bake.count()}, {"resumed", true}});
      } else if (p.blue_green) {
        emit("bake", "",
             fmt::format("baking: watching {} on {} host(s) for {}; {} stays running until then",
                         to_s, live.size(), format_duration(options_.bake), from_s),
             {{"bake_ms", options_.bake.count()}});
      } else {
        emit("bake", "",
             fmt::format("baking: watching {} host(s) for {} before declaring success", live.size(),
                         format_duration(options_.bake)),
             {{"bake_ms", options_.bake.count()}});
      }
      GateSpec spec;
      spec.what = "bake";
      spec.fresh = p.phase == Plan::Phase::kBake;  // else it continues the gate's trackers
      spec.budget = false;
      spec.progress = false;
      spec.bake = options_.bake;
      p.decision = co_await gate(live, spec);
      co_return;
    }
    case Kind::kRollBack:
      p.rolled_back = co_await roll_back(state.touched, step.why);
      co_return;
    case Kind::kSwitch: {
      p.status = co_await switch_router(*step.colour, state.all, step.why);
      if (p.status && step.cause != Step::Cause::kBakeFailed) {
        switched();
      }
      co_return;
    }
    case Kind::kAskRouter: {
      auto live = co_await router_->live_colour();
      p.router_answered = live.is_ok();
      p.routed = live ? *live : std::nullopt;
      p.router_error = live ? "" : live.status().message();
      if (p.routed == state.plan.target) {
        emit("switch", "", "router: the switch took effect although its answer was an error",
             {{"to", to_s}, {"ok", true}});
        switched();
      }
      co_return;
    }
    case Kind::kDiscard:
      if (step.colour) {
        co_await drain_before_stop(*step.colour);
      }
      p.errors = co_await undo_all(state.all, step.undo);
      co_return;
    case Kind::kRetire: {
      // The old colour drains at the router, then stops; it stays for rollgate switch-back.
      p.note.clear();
      if (step.colour) {
        auto idle = co_await wait_idle(*step.colour);
        if (!idle) {
          p.note = fmt::format("; waiting for {} to drain failed ({}), so it was left running",
                               from_s, idle.status().message());
        } else {
          auto stopped = co_await stop_previous(state.all, "the previous colour");
          p.note =
              stopped ? fmt::format("; {} was stopped and is kept for rollgate switch-back", from_s)
                      : fmt::format("; stopping {} failed ({}), it still runs unrouted", from_s,
                                    stopped.message());
        }
      }
      co_return;
    }
    case Kind::kPrune:
      co_await prune(state.plan);
      co_return;
    case Kind::kBegin:
    case Kind::kEnd:
      co_return;
  }
}

}  // namespace orch::rollout
