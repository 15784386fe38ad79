// Blue-green (docs/blue-green.md): the new colour starts beside the live one on every host, is
// gated, and the router switches the whole fleet at once. The colour that was live keeps
// running through the bake, so the way back is one router command; after the bake it is
// stopped but kept, for `rollgate switch-back`. The sequence and its failure handling are rows
// of next_step (next_steps.cc); this file has the router and colour steps the loop acts with:
//   before the switch  the new containers are removed and the standby they displaced gets its
//                      name back; the live colour never stopped serving (exit 3, or 4 for a
//                      pause or a signal).
//   during the bake    the router switches back first, then the new colour's containers are
//                      stopped and kept as <app>-r<rev>-failed (exit 3).
//   after the bake     the old colour drains at the router, then stops (exit 0).
#include <fmt/format.h>

#include "orchestrator/core/duration.h"
#include "orchestrator/journal/records.h"
#include "orchestrator/rollout/async.h"
#include "orchestrator/rollout/controller_internal.h"

namespace orch::rollout {

using manifest::Colour;
using nlohmann::json;

// Stops, on every host, the live container before the rollout (standby == false) or the
// container gated last (standby == true: the colour just abandoned). Already stopped is fine.
Task<Status> Controller::stop_all(std::vector<HostRun*> runs, bool standby, std::string why) {
  std::vector<Task<Status>> stops;
  std::vector<HostRun*> stopping;
  for (auto* r : runs) {
    const std::string id = standby ? r->gating : (r->plan.current ? r->plan.current->id : "");
    if (id.empty()) {
      continue;
    }
    stopping.push_back(r);
    stops.push_back(
        [](Controller* self, HostRun* run, std::string id, std::string why) -> Task<Status> {
          const std::string call = "stop " + id + " (" + why + ")";
          if (auto written = self->journal_.intent(run->plan.host, call, "stop", id); !written) {
            co_return written;
          }
          const auto timeout_s = stop_timeout_seconds(self->manifest_.container);
          auto st = co_await with_retries(
              self->clock_, self->manifest_.health.interval, [&]() -> Task<Status> {
                co_return co_await run->host->engine->stop_container(id, timeout_s);
              });
          self->journal_.outcome(run->plan.host, call, st);
          self->emit("step", run->plan.host, (st ? "ok    " : "FAIL  ") + call,
                     {{"call", "stop"}, {"ok", st.is_ok()}});
          co_return st;
        }(this, r, id, why));
  }
  auto results = co_await gather(std::move(stops));
  std::vector<std::string> problems;
  for (size_t i = 0; i < stopping.size(); ++i) {
    if (!results[i]) {
      problems.push_back(stopping[i]->plan.host + ": " + results[i].message());
    }
  }
  if (!problems.empty()) {
    co_return Status(Code::kUnavailable, fmt::format("{}", fmt::join(problems, "; ")));
  }
  co_return Status::ok();
}

// Waits for the colour's requests in flight to finish (router drain_timeout bounds it) and
// says so when some were still running: the caller stops the colour anyway.
Task<Result<router::Drained>> Controller::wait_idle(Colour colour) {
  auto idle = co_await router_->wait_idle(colour);
  if (idle && !idle->idle) {
    const std::string c = manifest::to_string(colour);
    emit("drain", "",
         fmt::format("{} still had {} request(s) in flight after {}; stopping it anyway", c,
                     idle->in_flight, format_duration(idle->waited)),
         {{"colour", c}, {"in_flight", idle->in_flight}});
  }
  co_return idle;
}

// Before a colour that no longer gets traffic is stopped: waits for it to drain, and reports a
// router that cannot say. The colour is stopped either way: another colour serves, and
// drain_timeout is the operator's bound on a slow request.
Task<void> Controller::drain_before_stop(Colour colour) {
  auto idle = co_await wait_idle(colour);
  if (!idle) {
    emit("drain", "",
         fmt::format("waiting for {} to drain failed ({}); stopping it anyway",
                     manifest::to_string(colour), idle.status().message()),
         {{"colour", manifest::to_string(colour)}, {"ok", false}});
  }
}

// The fleet-wide switch, journaled ahead like every engine call.
Task<Status> Controller::switch_router(Colour to, const std::vector<HostRun*>& runs,
                                       std::string why) {
  std::vector<router::Endpoint> endpoints;
  for (const auto* r : runs) {
    endpoints.push_back(
        router::Endpoint{r->plan.host, r->host->address, manifest_.strategy.ports->of(to)});
  }
  const std::string call = router_->describe_switch(to);
  auto written = journal_.intent("", call, "switch", manifest::to_string(to), "");
  if (!written) {
    co_return written.with_context("journal");
  }
  const TimePoint start = clock_.now();
  auto st = co_await router_->switch_to(to, endpoints);
  journal_.outcome("", call, st);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now() - start);
  emit(
      "switch", "",
      st ? fmt::format("router: {} is live ({}; {} in {})", manifest::to_string(to), why, call,
                       format_duration(took))
         : fmt::format("router: switching to {} failed: {}", manifest::to_string(to), st.message()),
      {{"to", manifest::to_string(to)},
       {"ok", st.is_ok()},
       {"call", call},
       {"why", why},
       {"router_ms", took.count()}});
  co_return st;
}

// Blue-green apply of the digest that is already live while the other colour still runs (a
// bake interrupted by a signal, or paused): the bake is run again on the live colour, then the
// other colour drains and stops as after any bake; a failing bake switches back to it instead.
// nullopt when the other colour runs nowhere (a plain no-op).
Task<std::optional<Outcome>> Controller::finish_bake(const Plan& plan) {
  std::vector<std::unique_ptr<HostRun>> owned;
  for (const auto& hp : plan.unchanged) {
    if (!hp.standby || !hp.standby->running() || !hp.current) {
      continue;
    }
    auto r = std::make_unique<HostRun>();
    r->plan = hp;
    r->host = &binding(hp.host);
    r->baseline = health::Baseline::kHealthy;
    // The live container is watched; the running other colour is what retires.
    r->new_id = hp.current->id;
    r->gating = hp.current->id;
    r->gate_port = hp.current_port;
    r->gate_started = clock_.now();
    r->plan.current = hp.standby;
    r->plan.current_port = manifest_.strategy.ports->of(hp.standby->colour);
    owned.push_back(std::move(r));
  }
  if (owned.empty() || !router_) {
    co_return std::nullopt;
  }
  std::vector<HostRun*> runs;
  for (auto& r : owned) {
    runs.push_back(r.get());
  }
  const Colour live = *plan.live;
  const Colour other = manifest::other(live);
  const std::string live_s = manifest::to_string(live);
  const std::string other_s = manifest::to_string(other);
  journal::StartRecord start{"",
                             {},
                             manifest_.app,
                             plan.image,
                             plan.digest,
                             plan.pinned,
                             plan.unchanged.front().current->revision};
  for (const auto* r : runs) {
    start.hosts.push_back(r->plan.host);
  }
  start.manifest_path = options_.manifest_path;
  if (auto written = journal_.write(std::move(start)); !written) {
    co_return Outcome{ExitCode::kInternal, written.message() + "; nothing was changed"};
  }
  emit("bake", "",
       fmt::format("{} is live with {} and {} still runs on {} host(s): {}", live_s, plan.pinned,
                   other_s, runs.size(),
                   options_.rollback_only ? "finishing the switch back that was interrupted"
                                          : "finishing the bake that was interrupted (" +
                                                format_duration(options_.bake) + ")"),
       {{"bake_ms", options_.bake.count()}, {"resumed", true}});
  health::Decision d;
  if (options_.rollback_only) {
    // The interrupted run's bake failed before it could switch back: finish that, never bake
    // again what was already judged.
    d.action = health::Decision::Action::kRollback;
    d.reason = fmt::format("finishing the rollback of rollout {} that was interrupted",
                           options_.rollout_id);
  } else {
    GateSpec bake;
    bake.what = "bake";
    bake.budget = false;
    bake.progress = false;
    bake.bake = options_.bake;
    d = co_await gate(runs, bake);
  }
  if (d.action == health::Decision::Action::kContinue) {
    auto idle = co_await wait_idle(other);
    if (!idle) {
      co_return Outcome{ExitCode::kPaused,
                        fmt::format("the bake passed, but waiting for {} to drain failed: {}; it "
                                    "still runs unrouted",
                                    other_s, idle.status().message())};
    }
    auto stopped = co_await stop_all(runs, /*standby=*/false, "the previous colour");
    co_return Outcome{
        stopped ? ExitCode::kDone : ExitCode::kPaused,
        stopped ? fmt::format("done: finished the interrupted bake; {} is live with revision {}, "
                              "{} was stopped and is kept for rollgate switch-back",
                              live_s, plan.unchanged.front().current->revision, other_s)
                : fmt::format("the bake passed, but stopping {} failed: {}", other_s,
                              stopped.message())};
  }
  if (d.action == health::Decision::Action::kRollback) {
    // The other colour has run unrouted since the interruption: it proves itself before it gets
    // the traffic back.
    for (auto* r : runs) {
      r->gating = r->plan.current->id;
      r->gate_port = r->plan.current_port;
      r->gate_started = clock_.now();
      r->verdict = health::Verdict::kPending;
    }
    GateSpec check;
    check.what = other_s + " (switching back)";
    check.budget = false;
    check.progress = false;
    check.controllable = false;
    auto ok = co_await gate(runs, check);
    if (ok.action != health::Decision::Action::kContinue) {
      co_return Outcome{ExitCode::kPaused,
                        fmt::format("{} (during the bake), and {} is not healthy either ({}); "
                                    "{} stays live",
                                    d.reason, other_s, ok.reason, live_s)};
    }
    for (auto* r : runs) {
      r->gating = r->new_id;  // what stop_all(standby) retires: the colour that failed
    }
    auto back = co_await switch_router(other, runs, "the resumed bake failed");
    if (!back) {
      co_return Outcome{ExitCode::kInternal,
                        fmt::format("{} (during the bake), and switching back to {} failed: {}",
                                    d.reason, other_s, back.message())};
    }
    co_await drain_before_stop(live);
    auto stopped = co_await stop_all(runs, /*standby=*/true, "the bake failed");
    co_return Outcome{
        ExitCode::kRolledBack,
        fmt::format("{} (during the bake); switched back to {}, which never stopped; "
                    "{} was stopped{}",
                    d.reason, other_s, live_s,
                    stopped ? "" : " (stopping it failed: " + stopped.message() + ")")};
  }
  co_return Outcome{
      ExitCode::kPaused,
      fmt::format("{} (during the bake); {} is live and {} still runs", d.reason, live_s, other_s)};
}

}  // namespace orch::rollout
