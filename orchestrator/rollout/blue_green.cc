// Blue-green (docs/blue-green.md): the new colour starts beside the live one on every host, is
// gated, and the router switches the whole fleet at once. The colour that was live keeps
// running through the bake, so the way back is one router command; after the bake it is
// stopped but kept, for `rollgate switch-back`.
//
// Failure handling, by phase:
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

namespace {

std::string colour_name(std::optional<Colour> c) { return c ? manifest::to_string(*c) : "none"; }

}  // namespace

// Undoes the start of the new colour on one host: removes the new container (if it is still
// there under new_id) and gives the standby it displaced its name back. Retried like every undo.
Task<Status> Controller::discard_new(HostRun& run) {
  auto* engine = run.host->engine;
  const auto pause = manifest_.health.interval;
  if (!run.new_id.empty()) {
    const std::string call = "discard: remove " + run.new_id;
    (void)record_intent(run.plan.host, call, "remove", run.new_id, "");
    auto st = co_await with_retries(clock_, pause, [&]() -> Task<Status> {
      auto r = co_await engine->remove_container(run.new_id, true);
      co_return r.code() == Code::kNotFound ? Status::ok() : r;
    });
    record_outcome(run.plan.host, call, st);
    emit("step", run.plan.host,
         (st ? "ok    " : "FAIL  ") + std::string("removed the new ") +
             manifest::to_string(*run.plan.colour) + " container",
         {{"call", "discard: remove new"}, {"ok", st.is_ok()}});
    if (!st) {
      co_return st.with_context("remove the new container");
    }
    run.new_id.clear();
  }
  if (run.standby_renamed) {
    const std::string call =
        "discard: rename " + run.plan.standby_archive + " back to " + run.plan.standby->name;
    (void)record_intent(run.plan.host, call, "rename", run.plan.standby->id,
                        run.plan.standby->name);
    auto st = co_await with_retries(clock_, pause, [&]() -> Task<Status> {
      co_return co_await engine->rename_container(run.plan.standby->id, run.plan.standby->name);
    });
    record_outcome(run.plan.host, call, st);
    if (!st) {
      co_return st.with_context("rename the standby back");
    }
    run.standby_renamed = false;
  }
  run.reverted = true;
  co_return Status::ok();
}

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
          (void)self->record_intent(run->plan.host, call, "stop", id, "");
          const auto timeout_s = stop_timeout_seconds(self->manifest_.container);
          auto st = co_await with_retries(
              self->clock_, self->manifest_.health.interval, [&]() -> Task<Status> {
                co_return co_await run->host->engine->stop_container(id, timeout_s);
              });
          self->record_outcome(run->plan.host, call, st);
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

// The fleet-wide switch, journaled ahead like every engine call.
Task<Status> Controller::switch_router(Colour to, const std::vector<HostRun*>& runs,
                                       std::string why) {
  std::vector<router::Endpoint> endpoints;
  for (const auto* r : runs) {
    endpoints.push_back(
        router::Endpoint{r->plan.host, r->host->address, manifest_.strategy.ports->of(to)});
  }
  const std::string call = router_->describe_switch(to);
  auto written = record_intent("", call, "switch", manifest::to_string(to), "");
  if (!written) {
    co_return written.with_context("journal");
  }
  const TimePoint start = clock_.now();
  auto st = co_await router_->switch_to(to, endpoints);
  record_outcome("", call, st);
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

Task<Outcome> Controller::blue_green(Plan& plan, std::vector<std::unique_ptr<HostRun>>& owned) {
  const Colour to = plan.target;
  const std::string to_s = manifest::to_string(to);
  const std::string from_s = colour_name(plan.live);
  std::vector<HostRun*> runs;
  std::vector<std::string> names;
  for (auto& r : owned) {
    runs.push_back(r.get());
    names.push_back(r->plan.host);
  }
  emit("batch", "",
       fmt::format("starting {} beside {} on {} host(s): {}", to_s, from_s, runs.size(),
                   fmt::join(names, ", ")),
       {{"batch", 1}, {"hosts", names}, {"colour", to_s}, {"live", from_s}});

  // Undoes the new colour on every host; returns the problems.
  auto discard_all = [this](std::vector<HostRun*> all) -> Task<std::vector<std::string>> {
    std::vector<Task<Status>> work;
    for (auto* r : all) {
      work.push_back(discard_new(*r));
    }
    auto results = co_await gather(std::move(work));
    std::vector<std::string> problems;
    for (size_t i = 0; i < all.size(); ++i) {
      if (!results[i]) {
        problems.push_back(all[i]->plan.host + ": " + results[i].message());
      }
    }
    co_return problems;
  };
  const std::string kept =
      plan.live ? fmt::format("{} kept serving throughout", from_s) : "nothing was serving";

  // 1. The new colour starts beside the live one.
  std::vector<Task<Status>> starts;
  for (auto* r : runs) {
    starts.push_back(swap_host(*r));
  }
  auto started = co_await gather(std::move(starts));
  std::vector<std::string> errors;
  for (size_t i = 0; i < runs.size(); ++i) {
    if (!started[i]) {
      errors.push_back(runs[i]->plan.host + ": " + started[i].message());
    }
  }
  if (!errors.empty()) {
    auto problems = co_await discard_all(runs);
    co_return problems.empty()
        ? Outcome{ExitCode::kPaused,
                  fmt::format("paused: engine error while starting {}: {}; {} was removed and {}. "
                              "Fix the engine, then apply again",
                              to_s, fmt::join(errors, "; "), to_s, kept)}
        : Outcome{ExitCode::kInternal,
                  fmt::format("engine error while starting {}: {}; removing it failed: {}", to_s,
                              fmt::join(errors, "; "), fmt::join(problems, "; "))};
  }

  // 2. Gate the new colour on every host. All or nothing: the switch is fleet-wide.
  GateSpec spec;
  spec.what = to_s;
  spec.budget = false;
  auto decision = co_await gate(runs, spec);
  if (decision.action != health::Decision::Action::kContinue) {
    auto problems = co_await discard_all(runs);
    if (!problems.empty()) {
      co_return Outcome{ExitCode::kInternal,
                        fmt::format("{}; removing {} failed: {}", decision.reason, to_s,
                                    fmt::join(problems, "; "))};
    }
    const std::string tail =
        fmt::format("; {} was removed before any traffic reached it and {}", to_s, kept);
    if (decision.action == health::Decision::Action::kRollback) {
      co_return Outcome{ExitCode::kRolledBack, decision.reason + tail};
    }
    co_return Outcome{ExitCode::kPaused, decision.reason + tail + ". Apply again to retry"};
  }
  const TimePoint passed = clock_.now();

  // 3. The switch: one router step for the whole fleet.
  auto switched = co_await switch_router(to, runs, "the gate passed on every host");
  if (!switched) {
    // The answer was lost or the router refused: ask it what is live now.
    auto live = co_await router_->live_colour();
    if (live && *live && **live == to) {
      emit("switch", "", "router: the switch took effect although its answer was an error",
           {{"to", to_s}, {"ok", true}});
    } else if (live) {
      auto problems = co_await discard_all(runs);
      co_return Outcome{
          problems.empty() ? ExitCode::kPaused : ExitCode::kInternal,
          fmt::format("paused: the router did not switch to {}: {}; {}{}", to_s, switched.message(),
                      problems.empty() ? to_s + " was removed and " + kept
                                       : "removing " + to_s + " failed: " +
                                             fmt::format("{}", fmt::join(problems, "; ")),
                      ". Fix the router, then apply again")};
    } else {
      co_return Outcome{ExitCode::kInternal,
                        fmt::format("the switch to {} failed ({}) and the router cannot say which "
                                    "colour is live ({}); both colours are running. Check the "
                                    "router, then run apply again or rollgate switch-back",
                                    to_s, switched.message(), live.status().message())};
    }
  }
  const auto latency = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now() - passed);
  emit("switched", "",
       fmt::format("{} serves the whole fleet, {} after its gate passed", to_s,
                   format_duration(latency)),
       {{"from", from_s}, {"to", to_s}, {"latency_ms", latency.count()}});

  // 4. The bake: the old colour still runs, so going back is one router step.
  if (options_.bake.count() > 0) {
    emit("bake", "",
         fmt::format("baking: watching {} on {} host(s) for {}; {} stays running until then", to_s,
                     runs.size(), format_duration(options_.bake), from_s),
         {{"bake_ms", options_.bake.count()}});
    GateSpec bake;
    bake.what = "bake";
    bake.fresh = false;
    bake.budget = false;
    bake.progress = false;
    bake.bake = options_.bake;
    auto d = co_await gate(runs, bake);
    if (d.rule == "interrupted") {
      co_return Outcome{
          ExitCode::kPaused,
          fmt::format("interrupted during the bake: {} is live and {} still runs; rollgate "
                      "switch-back returns to {}, apply again re-checks and finishes",
                      to_s, from_s, from_s)};
    }
    if (d.action == health::Decision::Action::kPause) {
      co_return Outcome{ExitCode::kPaused,
                        fmt::format("{} (during the bake); {} is live and {} still runs: "
                                    "rollgate switch-back returns to {}",
                                    d.reason, to_s, from_s, from_s)};
    }
    if (d.action == health::Decision::Action::kRollback) {
      if (!plan.live) {
        co_return Outcome{ExitCode::kPaused,
                          fmt::format("{} (during the bake), but there is no previous colour to "
                                      "switch back to; {} stays live",
                                      d.reason, to_s)};
      }
      auto back = co_await switch_router(*plan.live, runs, "the bake failed");
      if (!back) {
        co_return Outcome{ExitCode::kInternal,
                          fmt::format("{} (during the bake), and switching back to {} failed: "
                                      "{}; run rollgate switch-back",
                                      d.reason, from_s, back.message())};
      }
      auto idle = co_await router_->wait_idle(to);
      if (idle && !idle->idle) {
        emit("drain", "",
             fmt::format("{} still had {} request(s) in flight after {}; stopping it anyway", to_s,
                         idle->in_flight, format_duration(idle->waited)),
             {{"colour", to_s}, {"in_flight", idle->in_flight}});
      }
      // Stopped and kept as <app>-r<rev>-failed; the standby gets its slot name back.
      std::vector<Task<Status>> retire;
      for (auto* r : runs) {
        retire.push_back(restore_host(r));
      }
      auto retired = co_await gather(std::move(retire));
      std::vector<std::string> problems;
      for (size_t i = 0; i < runs.size(); ++i) {
        if (!retired[i]) {
          problems.push_back(runs[i]->plan.host + ": " + retired[i].message());
        } else {
          // The new container is retired (new_id cleared): this only renames the standby back.
          auto st = co_await discard_new(*runs[i]);
          if (!st) {
            problems.push_back(runs[i]->plan.host + ": " + st.message());
          }
        }
      }
      co_return Outcome{
          ExitCode::kRolledBack,
          fmt::format("{} (during the bake); switched back to {}, which never stopped; {} was "
                      "stopped and kept as {}-r{}-failed{}",
                      d.reason, from_s, to_s, manifest_.app, plan.revision,
                      problems.empty()
                          ? ""
                          : fmt::format(" (cleanup problems: {})", fmt::join(problems, "; ")))};
    }
  }

  // 5. The old colour drains at the router, then stops; it stays for rollgate switch-back.
  std::string note;
  if (plan.live) {
    auto idle = co_await router_->wait_idle(*plan.live);
    if (!idle) {
      note = fmt::format("; waiting for {} to drain failed ({}), so it was left running", from_s,
                         idle.status().message());
    } else {
      if (!idle->idle) {
        emit("drain", "",
             fmt::format("{} still had {} request(s) in flight after {}; stopping it anyway",
                         from_s, idle->in_flight, format_duration(idle->waited)),
             {{"colour", from_s}, {"in_flight", idle->in_flight}});
      }
      auto stopped = co_await stop_all(runs, /*standby=*/false, "the previous colour");
      note = stopped ? fmt::format("; {} was stopped and is kept for rollgate switch-back", from_s)
                     : fmt::format("; stopping {} failed ({}), it still runs unrouted", from_s,
                                   stopped.message());
    }
  }
  co_await prune(plan);
  co_return Outcome{ExitCode::kDone,
                    fmt::format("done: {} is live on {} host(s) with revision {} ({}){}", to_s,
                                runs.size(), plan.revision, plan.pinned, note)};
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
  record([&](journal::Journal& j) {
    journal::StartRecord start{options_.rollout_id,
                               clock_.wall_now(),
                               manifest_.app,
                               plan.image,
                               plan.digest,
                               plan.pinned,
                               plan.unchanged.front().current->revision};
    for (const auto* r : runs) {
      start.hosts.push_back(r->plan.host);
    }
    start.manifest_path = options_.manifest_path;
    return j.append(start);
  });
  emit("bake", "",
       fmt::format("{} is live with {} and {} still runs on {} host(s): finishing the bake that "
                   "was interrupted ({})",
                   live_s, plan.pinned, other_s, runs.size(), format_duration(options_.bake)),
       {{"bake_ms", options_.bake.count()}, {"resumed", true}});
  GateSpec bake;
  bake.what = "bake";
  bake.budget = false;
  bake.progress = false;
  bake.bake = options_.bake;
  auto d = co_await gate(runs, bake);
  if (d.action == health::Decision::Action::kContinue) {
    auto idle = co_await router_->wait_idle(other);
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
    auto idle = co_await router_->wait_idle(live);
    (void)idle;
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

Task<Outcome> Controller::switch_back(std::string rollout_id) {
  options_ = ApplyOptions{};
  options_.rollout_id = rollout_id;
  emit("rollout", "",
       fmt::format("switch-back {} of {} on {} host(s)", rollout_id, manifest_.app, hosts_.size()),
       {{"phase", "start"}, {"rollout", rollout_id}});
  auto fail = [&](ExitCode code, std::string why) { return finish(Outcome{code, why}); };
  if (!router_ || !manifest_.strategy.blue_green()) {
    co_return fail(ExitCode::kBadInput,
                   "switch-back needs strategy.type blue-green and a router in the manifest");
  }
  // What runs where, and which colour the router serves.
  std::vector<Task<Result<std::vector<docker::ContainerSummary>>>> lists;
  for (auto& h : hosts_) {
    lists.push_back(h.engine->list_containers({std::string(kLabelApp) + "=" + manifest_.app}));
  }
  auto listed = co_await gather(std::move(lists));
  std::vector<std::string> problems;
  for (size_t i = 0; i < hosts_.size(); ++i) {
    if (!listed[i]) {
      problems.push_back(hosts_[i].name + ": " + listed[i].status().message());
    }
  }
  if (!problems.empty()) {
    co_return fail(ExitCode::kPreflight, fmt::format("pre-flight failed, nothing was changed: {}",
                                                     fmt::join(problems, "; ")));
  }
  std::vector<std::string> names;
  for (const auto& h : hosts_) {
    names.push_back(h.name);
  }
  auto checked = co_await router_->check(names);
  if (!checked) {
    co_return fail(ExitCode::kPreflight,
                   "pre-flight failed, nothing was changed: router: " + checked.message());
  }
  auto routed = co_await router_->live_colour();
  if (!routed) {
    co_return fail(ExitCode::kPreflight,
                   "pre-flight failed, nothing was changed: router: " + routed.status().message());
  }
  std::optional<Colour> live = *routed;
  std::vector<std::vector<AppContainer>> per_host;
  for (size_t i = 0; i < hosts_.size(); ++i) {
    per_host.push_back(app_containers(*listed[i]));
  }
  if (!live) {
    auto running = running_colour(manifest_.app, names, per_host);
    if (!running) {
      co_return fail(ExitCode::kPreflight,
                     "pre-flight failed, nothing was changed: " + running.status().message());
    }
    live = *running;
  }
  const Colour back = manifest::other(*live);
  const std::string back_s = manifest::to_string(back);
  const std::string live_s = manifest::to_string(*live);
  std::vector<std::unique_ptr<HostRun>> owned;
  for (size_t i = 0; i < hosts_.size(); ++i) {
    auto target = slot_holder(manifest_.app, back, per_host[i]);
    if (!target) {
      problems.push_back(fmt::format("{} has no {} container ({})", hosts_[i].name, back_s,
                                     slot_name(manifest_.app, back)));
      continue;
    }
    auto r = std::make_unique<HostRun>();
    r->plan.host = hosts_[i].name;
    r->plan.colour = back;
    r->plan.port = manifest_.strategy.ports->of(back);
    r->plan.current = slot_holder(manifest_.app, *live, per_host[i]);
    r->plan.current_port = manifest_.strategy.ports->of(*live);
    r->host = &hosts_[i];
    r->baseline = health::Baseline::kHealthy;
    r->gating = target->id;
    r->gate_port = r->plan.port;
    r->new_id = target->running() ? "" : target->id;  // started here, stopped again on failure
    owned.push_back(std::move(r));
  }
  if (!problems.empty()) {
    co_return fail(ExitCode::kPreflight,
                   fmt::format("pre-flight failed, nothing was changed: nothing to switch back "
                               "to: {}",
                               fmt::join(problems, "; ")));
  }
  std::vector<HostRun*> runs;
  for (auto& r : owned) {
    runs.push_back(r.get());
  }
  record([&](journal::Journal& j) {
    // The journal's history shows a switch-back as a rollout to the revision it makes live.
    auto target = slot_holder(manifest_.app, back, per_host.front());
    journal::StartRecord start{rollout_id,
                               clock_.wall_now(),
                               manifest_.app,
                               "switch-back to " + back_s,
                               target ? target->digest : "",
                               "",
                               target ? target->revision : 0};
    for (const auto& h : hosts_) {
      start.hosts.push_back(h.name);
    }
    start.batches.push_back(start.hosts);
    return j.append(start);
  });
  emit("plan", "",
       fmt::format("switch-back: {} is live; starting and gating {}, then switching to it", live_s,
                   back_s),
       {{"live", live_s}, {"to", back_s}});

  // Start the other colour where it is stopped, and gate it everywhere.
  std::vector<Task<Status>> starts;
  std::vector<HostRun*> starting;
  for (auto* r : runs) {
    if (r->new_id.empty()) {
      continue;
    }
    starting.push_back(r);
    starts.push_back([](Controller* self, HostRun* run) -> Task<Status> {
      const std::string call = "start " + run->new_id;
      (void)self->record_intent(run->plan.host, call, "start", run->new_id, "");
      auto st = co_await run->host->engine->start_container(run->new_id);
      self->record_outcome(run->plan.host, call, st);
      self->emit("step", run->plan.host, (st ? "ok    " : "FAIL  ") + call,
                 {{"call", call}, {"ok", st.is_ok()}});
      co_return st;
    }(this, r));
  }
  auto started = co_await gather(std::move(starts));
  for (size_t i = 0; i < starting.size(); ++i) {
    if (!started[i]) {
      problems.push_back(starting[i]->plan.host + ": " + started[i].message());
    }
  }
  for (auto* r : runs) {
    r->gate_started = clock_.now();
  }
  health::Decision decision;
  if (problems.empty()) {
    GateSpec spec;
    spec.what = back_s + " (switch-back)";
    spec.budget = false;
    decision = co_await gate(runs, spec);
  }
  if (!problems.empty() || decision.action != health::Decision::Action::kContinue) {
    // Put the fleet back as it was: what this command started is stopped again.
    std::vector<HostRun*> restop;
    for (auto* r : runs) {
      if (!r->new_id.empty()) {
        restop.push_back(r);
      }
    }
    auto st = co_await stop_all(restop, /*standby=*/true, "the switch-back was abandoned");
    const std::string why = problems.empty()
                                ? decision.reason
                                : fmt::format("engine error: {}", fmt::join(problems, "; "));
    co_return fail(
        st ? ExitCode::kRolledBack : ExitCode::kInternal,
        fmt::format("switch-back abandoned: {}; {} stays live and never stopped{}", why, live_s,
                    st ? "" : "; stopping " + back_s + " failed: " + st.message()));
  }
  auto switched = co_await switch_router(back, runs, "switch-back: the gate passed");
  if (!switched) {
    co_return fail(ExitCode::kInternal,
                   fmt::format("switch-back: the router did not switch to {}: {}; both colours "
                               "run, {} is still live",
                               back_s, switched.message(), live_s));
  }
  auto idle = co_await router_->wait_idle(*live);
  if (idle && !idle->idle) {
    emit("drain", "",
         fmt::format("{} still had {} request(s) in flight after {}; stopping it anyway", live_s,
                     idle->in_flight, format_duration(idle->waited)),
         {{"colour", live_s}, {"in_flight", idle->in_flight}});
  }
  auto stopped = co_await stop_all(runs, /*standby=*/false, "switched away from it");
  co_return finish(
      Outcome{ExitCode::kDone,
              fmt::format("switched back: {} is live on {} host(s); {}", back_s, runs.size(),
                          stopped ? live_s + " was stopped and is kept"
                                  : "stopping " + live_s + " failed (" + stopped.message() +
                                        "); it runs unrouted")});
}

}  // namespace orch::rollout
