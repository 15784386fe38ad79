// switch-back (controller.h): make the other blue-green colour live again.
#include <fmt/format.h>

#include "orchestrator/core/duration.h"
#include "orchestrator/journal/records.h"
#include "orchestrator/rollout/async.h"
#include "orchestrator/rollout/controller_internal.h"

namespace orch::rollout {

using manifest::Colour;
using nlohmann::json;

Task<Outcome> Controller::switch_back(std::string rollout_id) {
  options_ = ApplyOptions{};
  options_.rollout_id = rollout_id;
  journal_.begin(rollout_id);
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
  // The journal's history shows a switch-back as a rollout to the revision it makes live.
  auto target = slot_holder(manifest_.app, back, per_host.front());
  journal::StartRecord start{"",
                             {},
                             manifest_.app,
                             "switch-back to " + back_s,
                             target ? target->digest : "",
                             "",
                             target ? target->revision : 0};
  for (const auto& h : hosts_) {
    start.hosts.push_back(h.name);
  }
  start.batches.push_back(start.hosts);
  if (auto written = journal_.write(std::move(start)); !written) {
    co_return fail(ExitCode::kInternal, written.message() + "; nothing was changed");
  }
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
      if (auto written = self->journal_.intent(run->plan.host, call, "start", run->new_id);
          !written) {
        co_return written;
      }
      auto st = co_await run->host->engine->start_container(run->new_id);
      self->journal_.outcome(run->plan.host, call, st);
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
  co_await drain_before_stop(*live);
  auto stopped = co_await stop_all(runs, /*standby=*/false, "switched away from it");
  co_return finish(
      Outcome{ExitCode::kDone,
              fmt::format("switched back: {} is live on {} host(s); {}", back_s, runs.size(),
                          stopped ? live_s + " was stopped and is kept"
                                  : "stopping " + live_s + " failed (" + stopped.message() +
                                        "); it runs unrouted")});
}

}  // namespace orch::rollout
