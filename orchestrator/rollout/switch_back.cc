// switch-back (controller.h): make the other blue-green colour live again. It observes the
// fleet and the router, plans (make_switch_back_plan, pure), and runs the same loop as every
// rollout from Plan::Phase::kSwitchBack: start the other colour where stopped, gate it, switch,
// retire the colour that was live. An abandoned switch-back stops again what it started.
#include <fmt/format.h>

#include "orchestrator/journal/records.h"
#include "orchestrator/rollout/async.h"
#include "orchestrator/rollout/controller_internal.h"

namespace orch::rollout {

Task<Outcome> Controller::switch_back(std::string rollout_id) {
  options_ = ApplyOptions{};
  options_.rollout_id = rollout_id;
  journal_.begin(rollout_id);
  emit("rollout", "",
       fmt::format("switch-back {} of {} on {} host(s)", rollout_id, manifest_.app, hosts_.size()),
       {{"phase", "start"}, {"rollout", rollout_id}});
  auto preflight_failed = [&](const std::string& why) {
    return finish(Outcome{ExitCode::kPreflight, "pre-flight failed, nothing was changed: " + why});
  };
  if (!router_ || !manifest_.strategy.blue_green()) {
    co_return finish(
        Outcome{ExitCode::kBadInput,
                "switch-back needs strategy.type blue-green and a router in the manifest"});
  }
  // What runs where, and which colour the router serves.
  std::vector<Task<Result<std::vector<docker::ContainerSummary>>>> lists;
  for (auto& h : hosts_) {
    lists.push_back(h.engine->list_containers({std::string(kLabelApp) + "=" + manifest_.app}));
  }
  auto listed = co_await gather(std::move(lists));
  std::vector<std::string> problems;
  std::vector<HostObservation> observed;
  std::vector<std::string> names;
  for (size_t i = 0; i < hosts_.size(); ++i) {
    names.push_back(hosts_[i].name);
    if (!listed[i]) {
      problems.push_back(hosts_[i].name + ": " + listed[i].status().message());
      continue;
    }
    observed.push_back(HostObservation{hosts_[i].name, std::move(*listed[i])});
  }
  if (!problems.empty()) {
    co_return preflight_failed(fmt::format("{}", fmt::join(problems, "; ")));
  }
  auto checked = co_await router_->check(names);
  if (!checked) {
    co_return preflight_failed("router: " + checked.message());
  }
  auto routed = co_await router_->live_colour();
  if (!routed) {
    co_return preflight_failed("router: " + routed.status().message());
  }
  auto plan = make_switch_back_plan(manifest_, observed, *routed, rollout_id);
  if (!plan) {
    co_return preflight_failed(plan.status().message());
  }
  plan_revision_ = plan->revision;
  journal::StartRecord start{"", {}, manifest_.app, plan->image, plan->digest, "", plan->revision};
  start.hosts = names;
  start.batches.push_back(names);
  if (auto written = journal_.write(std::move(start)); !written) {
    co_return finish(Outcome{ExitCode::kInternal, written.message() + "; nothing was changed"});
  }
  const std::string live_s = manifest::to_string(*plan->live);
  const std::string back_s = manifest::to_string(plan->target);
  emit("plan", "",
       fmt::format("switch-back: {} is live; starting and gating {}, then switching to it", live_s,
                   back_s),
       {{"live", live_s}, {"to", back_s}});
  // The colour that serves is the standard: each host's own is what the other must match.
  auto runs = make_runs(*plan, std::vector<health::Baseline>(plan->batches.front().hosts.size(),
                                                             health::Baseline::kHealthy));
  co_return finish(co_await run_steps(*plan, runs));
}

}  // namespace orch::rollout
