// Steps: one Action of a host's plan, as an engine call or a router step, journaled ahead.
#include <fmt/format.h>

#include "orchestrator/core/duration.h"
#include "orchestrator/journal/records.h"
#include "orchestrator/rollout/async.h"
#include "orchestrator/rollout/controller_internal.h"

namespace orch::rollout {

using nlohmann::json;

namespace {

const char* action_name(Action::Type t) {
  switch (t) {
    case Action::Type::kStop:
      return "stop";
    case Action::Type::kRename:
      return "rename";
    case Action::Type::kCreate:
      return "create";
    case Action::Type::kStart:
      return "start";
    case Action::Type::kGate:
      return "gate";
    case Action::Type::kRemove:
      return "remove";
    case Action::Type::kDrain:
      return "drain";
    case Action::Type::kEnable:
      return "enable";
  }
  return "?";
}

}  // namespace

router::Endpoint Controller::endpoint(const HostRun& run, bool new_container) const {
  uint16_t port = new_container ? run.plan.port : run.plan.current_port;
  if (port == 0 && !manifest_.container.ports.empty()) {
    port = manifest_.container.ports.front().host_port;
  }
  return router::Endpoint{run.plan.host, run.host->address, port};
}

// One step of a host's plan: an engine call or a router step, journaled ahead and reported.
Task<Status> Controller::run_action(HostRun& run, const Action& a) {
  auto* engine = run.host->engine;
  if (a.type == Action::Type::kGate) {
    run.gating = run.new_id.empty() ? run.plan.adopt_id : run.new_id;
    run.gate_port = run.plan.port;
    run.gate_started = clock_.now();
    co_return Status::ok();
  }
  // Write-ahead: no engine call or router step without its intent on disk.
  // Named locals: GCC 12 mis-handles temporaries in co_await's arguments.
  std::string call = describe(a);
  std::string action = action_name(a.type);
  auto written = co_await journal_.intent(run.plan.host, call, action, a.container, a.new_name);
  if (!written) {
    co_return written;  // "journal append intent: <path>: <errno text>"
  }
  // The container a stop or rename acts on.
  std::string target;
  switch (a.on) {
    case Action::On::kCurrent:
      target = run.plan.current ? run.plan.current->id : a.container;
      break;
    case Action::On::kNew:
      target = run.new_id;
      break;
    case Action::On::kStandby:
      target = run.plan.standby ? run.plan.standby->id : a.container;
      break;
  }
  Status st;
  json extra = json::object();
  switch (a.type) {
    case Action::Type::kStop:
      st = co_await engine->stop_container(target, a.stop_timeout_s);
      if (st) {
        (a.on == Action::On::kStandby ? run.standby_stopped : run.stopped_old) = true;
      }
      break;
    case Action::Type::kRename:
      st = co_await engine->rename_container(target, a.new_name);
      if (st) {
        (a.on == Action::On::kStandby ? run.standby_renamed
         : a.on == Action::On::kNew   ? run.renamed_new
                                      : run.renamed_old) = true;
      }
      break;
    case Action::Type::kCreate: {
      auto id = co_await engine->create_container(*a.spec);
      if (id) {
        run.new_id = *id;
      }
      st = id.status();
      break;
    }
    case Action::Type::kStart:
      st = co_await engine->start_container(run.new_id);
      break;
    case Action::Type::kRemove:
      st = co_await engine->remove_container(a.container, true);
      break;
    case Action::Type::kDrain: {
      // A drain that times out is reported and the swap goes on: drain_timeout is the
      // operator's bound on how long a slow request may hold a rollout up.
      const bool current_slot = a.slot.has_value();
      auto drained = co_await router_->drain(endpoint(run, !current_slot), a.slot);
      st = drained.status();
      if (drained) {
        run.drained = true;
        extra = {{"idle", drained->idle},
                 {"in_flight", drained->in_flight},
                 {"waited_ms", drained->waited.count()}};
        if (!drained->idle) {
          emit("drain", run.plan.host,
               fmt::format("drain timed out after {} with {} request(s) still in flight; going on",
                           format_duration(drained->waited), drained->in_flight),
               extra);
        }
      }
      break;
    }
    case Action::Type::kEnable:
      st = co_await router_->enable(endpoint(run, true), a.slot);
      if (st) {
        run.enabled_new = true;
      }
      break;
    case Action::Type::kGate:
      break;
  }
  std::string created = a.type == Action::Type::kCreate ? run.new_id : std::string();
  co_await journal_.outcome(run.plan.host, call, st, created);
  json data = {{"call", describe(a)}, {"ok", st.is_ok()}, {"error", st ? "" : st.message()}};
  data.update(extra);
  emit("step", run.plan.host, (st ? "ok    " : "FAIL  ") + describe(a), std::move(data));
  if (!st) {
    co_return st.with_context(describe(a));
  }
  co_return Status::ok();
}

// The host's plan up to and including its gate.
Task<Status> Controller::swap_host(HostRun& run) {
  for (const auto& a : run.plan.actions) {
    auto st = co_await run_action(run, a);
    if (!st) {
      co_return st;
    }
    if (a.type == Action::Type::kGate) {
      break;
    }
  }
  co_return Status::ok();
}

// The host's plan after its gate passed: router steps, and start-first's retirement of the
// old container.
Task<Status> Controller::complete_host(HostRun& run) {
  bool after_gate = false;
  for (const auto& a : run.plan.actions) {
    if (after_gate) {
      auto st = co_await run_action(run, a);
      if (!st) {
        co_return st;
      }
    }
    after_gate = after_gate || a.type == Action::Type::kGate;
  }
  co_return Status::ok();
}

}  // namespace orch::rollout
