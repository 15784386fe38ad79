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
// Finishing an interrupted bake and switch-back are the same loop started at a later phase
// (plan.h, Plan::Phase).
#include <fmt/format.h>

#include "orchestrator/core/duration.h"
#include "orchestrator/journal/records.h"
#include "orchestrator/rollout/async.h"
#include "orchestrator/rollout/controller_internal.h"

namespace orch::rollout {

using manifest::Colour;
using nlohmann::json;

// Stops, on every host, the container that was live before the run (HostPlan::current), where
// it was running. Already stopped is fine.
Task<Status> Controller::stop_previous(std::vector<HostRun*> runs, std::string why) {
  std::vector<Task<Status>> stops;
  std::vector<HostRun*> stopping;
  for (auto* r : runs) {
    if (!r->plan.current || !r->plan.current->running()) {
      continue;  // nothing there, or it was not running when the run observed it
    }
    const std::string id = r->plan.current->id;
    stopping.push_back(r);
    stops.push_back(
        [](Controller* self, HostRun* run, std::string id, std::string why) -> Task<Status> {
          const std::string call = "stop " + id + " (" + why + ")";
          const std::string action = "stop";
          auto written = co_await self->journal_.intent(run->plan.host, call, action, id);
          if (!written) {
            co_return written;
          }
          const auto timeout_s = stop_timeout_seconds(self->manifest_.container);
          auto st = co_await with_retries(
              self->clock_, self->manifest_.health.interval, [&]() -> Task<Status> {
                co_return co_await run->host->engine->stop_container(id, timeout_s);
              });
          co_await self->journal_.outcome(run->plan.host, call, st);
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
  const std::string fleet;  // the switch is the fleet's, not a host's
  const std::string action = "switch";
  const std::string colour = manifest::to_string(to);
  auto written = co_await journal_.intent(fleet, call, action, colour);
  if (!written) {
    co_return written.with_context("journal");
  }
  const TimePoint start = clock_.now();
  auto st = co_await router_->switch_to(to, endpoints);
  co_await journal_.outcome(fleet, call, st);
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

}  // namespace orch::rollout
