// Gating: observing containers, the baseline, and the gate loop that asks health::decide.
#include <fmt/format.h>

#include "orchestrator/core/duration.h"
#include "orchestrator/journal/records.h"
#include "orchestrator/rollout/async.h"
#include "orchestrator/rollout/controller_internal.h"

namespace orch::rollout {

using nlohmann::json;

namespace {

health::ContainerStatus to_health(const docker::ContainerInfo& info) {
  health::ContainerStatus s;
  s.exists = true;
  s.status = info.state.status;
  s.running = info.state.running;
  s.restarting = info.state.restarting;
  s.oom_killed = info.state.oom_killed;
  s.exit_code = info.state.exit_code;
  s.restart_count = info.restart_count;
  s.health_status = info.state.health_status;
  s.failing_streak = info.state.failing_streak;
  return s;
}

json probe_json(const health::ProbeResult& p) {
  const char* outcome = p.outcome == health::ProbeResult::Outcome::kPass   ? "pass"
                        : p.outcome == health::ProbeResult::Outcome::kFail ? "fail"
                                                                           : "unobservable";
  return json{{"probe", p.probe},
              {"outcome", outcome},
              {"detail", p.detail},
              {"latency_ms", p.latency.count()}};
}

json observation_json(const health::Observation& o) {
  json j = json::object();
  j["probes"] = json::array();
  for (const auto& p : o.probes) {
    j["probes"].push_back(probe_json(p));
  }
  if (o.container) {
    j["container"] =
        json{{"exists", o.container->exists},         {"status", o.container->status},
             {"exit_code", o.container->exit_code},   {"restart_count", o.container->restart_count},
             {"oom_killed", o.container->oom_killed}, {"health", o.container->health_status}};
  } else {
    j["container"] = nullptr;
  }
  return j;
}

}  // namespace

Task<health::Observation> Controller::observe(const HostBinding& host, std::string container,
                                              uint16_t port) {
  health::Observation obs;
  auto info = co_await host.engine->inspect_container(container);
  if (info) {
    obs.container = to_health(*info);
  } else if (info.status().code() == Code::kNotFound) {
    health::ContainerStatus gone;
    gone.exists = false;
    obs.container = gone;
  }
  std::vector<Task<health::ProbeResult>> runs;
  for (auto& p : probes_) {
    health::Target target{host.name, host.address, container, port};
    runs.push_back(p->run(target));
  }
  obs.probes = co_await gather(std::move(runs));
  obs.at = clock_.now();
  co_return obs;
}

Task<std::vector<health::Baseline>> Controller::measure_baseline(const Plan& plan) {
  std::vector<const HostPlan*> hosts;
  for (const auto& b : plan.batches) {
    for (const auto& hp : b.hosts) {
      hosts.push_back(&hp);
    }
  }
  // Two rounds at most: one failed probe on a healthy app should not brand it unhealthy, and a
  // fleet that is down should not delay the fix by more than one interval.
  std::vector<health::Baseline> out(hosts.size(), health::Baseline::kAbsent);
  // On resume, the baseline is what was measured before the interrupted run touched anything:
  // the previous container may be stopped now only because that run stopped it.
  std::vector<bool> known(hosts.size(), false);
  for (size_t i = 0; i < hosts.size(); ++i) {
    auto it = options_.baselines.find(hosts[i]->host);
    if (it != options_.baselines.end()) {
      for (auto b : {health::Baseline::kHealthy, health::Baseline::kUnhealthy,
                     health::Baseline::kAbsent, health::Baseline::kUnknown}) {
        if (it->second == health::to_string(b)) {
          out[i] = b;
          known[i] = true;
        }
      }
      emit("baseline", hosts[i]->host,
           fmt::format("baseline: {} (measured before the interrupted run)", it->second),
           {{"baseline", it->second}, {"from", "journal"}});
    }
  }
  for (int round = 0; round < 2; ++round) {
    std::vector<Task<health::Observation>> obs;
    std::vector<size_t> index;
    for (size_t i = 0; i < hosts.size(); ++i) {
      if (hosts[i]->current && !known[i] && out[i] != health::Baseline::kHealthy) {
        index.push_back(i);
        obs.push_back(
            observe(binding(hosts[i]->host), hosts[i]->current->id, hosts[i]->current_port));
      }
    }
    if (obs.empty()) {
      break;
    }
    if (round > 0) {
      co_await clock_.sleep_for(manifest_.health.interval);
    }
    auto results = co_await gather(std::move(obs));
    for (size_t k = 0; k < index.size(); ++k) {
      auto b = health::baseline_from(results[k], manifest_.health.docker_health);
      // A second look can only improve the verdict (the app answered once), never worsen it.
      if (round == 0 || b == health::Baseline::kHealthy) {
        out[index[k]] = b;
      }
      if (round == 1 || b == health::Baseline::kHealthy) {
        const auto& hp = *hosts[index[k]];
        json data = observation_json(results[k]);
        data["baseline"] = health::to_string(out[index[k]]);
        data["container"] = hp.current->name;
        data["revision"] = hp.current->revision;
        emit("baseline", hp.host,
             fmt::format("baseline: revision {} is {}", hp.current->revision,
                         health::to_string(out[index[k]])),
             std::move(data));
      }
    }
  }
  for (size_t i = 0; i < hosts.size(); ++i) {
    if (!hosts[i]->current && !known[i]) {
      emit("baseline", hosts[i]->host, "baseline: no app container (first deploy)",
           {{"baseline", "absent"}});
    }
  }
  co_return out;
}

Task<Command> Controller::hold(std::string where) {
  emit("control", "",
       fmt::format("paused by an operator {}; waiting for `rollgate resume` or `rollgate "
                   "rollback`",
                   where),
       {{"command", "pause"}});
  for (;;) {
    co_await clock_.sleep_for(manifest_.health.interval);
    Command c = control_->poll();
    if (c == Command::kResume) {
      emit("control", "", "resumed by an operator", {{"command", "resume"}});
      co_return c;
    }
    if (c == Command::kRollback || c == Command::kStop) {
      co_return c;
    }
  }
}

namespace {

health::Decision operator_decision(Command c) {
  health::Decision d;
  switch (c) {
    case Command::kRollback:
      d.action = health::Decision::Action::kRollback;
      d.rule = "operator-rollback";
      d.reason = "rolled back: an operator asked for it (rollgate rollback)";
      break;
    case Command::kStop:
      d.action = health::Decision::Action::kPause;
      d.rule = kRuleInterrupted;
      d.reason = "paused: interrupted by a signal";
      break;
    default:
      d.action = health::Decision::Action::kContinue;
      d.rule = "operator-promote";
      d.reason = "continuing: an operator promoted the rollout (rollgate promote), ending the bake";
      break;
  }
  return d;
}

}  // namespace

Task<health::Decision> Controller::gate(std::vector<HostRun*> runs, GateSpec spec) {
  const auto policy = to_policy(manifest_.health);
  health::GatePolicy gate_policy;
  gate_policy.on_failure = manifest_.on_failure == manifest::OnFailure::kRollback
                               ? health::FailureAction::kRollback
                               : health::FailureAction::kPause;
  if (spec.progress) {
    gate_policy.progress_deadline = options_.progress_deadline;
  }
  if (spec.budget) {
    gate_policy.failure_budget = failure_budget_;
    gate_policy.failures_so_far = failures_so_far_;
  }
  const TimePoint gate_start = clock_.now();
  if (spec.fresh) {
    for (auto* r : runs) {
      r->tracker.emplace(policy, r->gate_started);
    }
  }
  for (;;) {
    if (spec.controllable) {
      Command c = control_->poll();
      if (c == Command::kPause) {
        c = co_await hold("at the " + spec.what + " gate");
      }
      const auto ending = lease_ending(policy.interval);
      if (ending || c == Command::kRollback || c == Command::kStop ||
          (c == Command::kPromote && spec.bake.count() > 0)) {
        auto d = operator_decision(ending ? Command::kStop : c);
        if (ending) {
          d.rule = kRuleLockLease;
          d.reason = "paused: " + *ending;
        }
        journal_.note(
            journal::DecisionRecord{"", {}, health::to_string(d.action), d.rule, d.reason, {}});
        emit("decision", "", fmt::format("decision: {} ({})", d.reason, d.rule),
             {{"action", health::to_string(d.action)},
              {"rule", d.rule},
              {"reason", d.reason},
              {"gate", spec.what},
              {"hosts", json::array()}});
        co_return d;
      }
    }
    std::vector<Task<health::Observation>> obs;
    for (auto* r : runs) {
      obs.push_back(observe(*r->host, r->gating, r->gate_port));
    }
    auto results = co_await gather(std::move(obs));
    const TimePoint now = clock_.now();
    std::vector<health::HostInput> inputs;
    for (size_t i = 0; i < runs.size(); ++i) {
      auto& r = *runs[i];
      r.tracker->observe(results[i]);
      auto verdict = r.tracker->verdict(now);
      json data = observation_json(results[i]);
      data["verdict"] = health::to_string(verdict);
      emit("probe", r.plan.host,
           fmt::format("{} {}: {}", spec.what, health::to_string(verdict), r.tracker->reason(now)),
           std::move(data));
      if (verdict != r.verdict && verdict != health::Verdict::kPending) {
        emit("health", r.plan.host,
             fmt::format("{} is {}: {}", spec.what, health::to_string(verdict),
                         r.tracker->reason(now)),
             {{"verdict", health::to_string(verdict)}});
      }
      r.verdict = verdict;
      inputs.push_back(health::HostInput{r.plan.host, r.baseline, verdict, r.tracker->reason(now)});
    }
    // progress_deadline bounds the time without progress: it runs from the start of this
    // gate, i.e. since the previous batch was accepted.
    auto decision =
        health::decide(gate_policy, inputs,
                       std::chrono::duration_cast<std::chrono::milliseconds>(now - gate_start));
    // During a bake, a healthy fleet keeps being watched until the bake is over.
    const bool baking = decision.action == health::Decision::Action::kContinue &&
                        spec.bake.count() > 0 && now - gate_start < spec.bake;
    if (decision.action != health::Decision::Action::kWait && !baking) {
      json hosts = json::array();
      for (size_t i = 0; i < runs.size(); ++i) {
        json h = observation_json(results[i]);
        h["host"] = inputs[i].host;
        h["baseline"] = health::to_string(inputs[i].baseline);
        h["verdict"] = health::to_string(inputs[i].verdict);
        h["reason"] = inputs[i].reason;
        hosts.push_back(std::move(h));
      }
      std::map<std::string, std::string> verdicts;
      for (const auto& in : inputs) {
        verdicts[in.host] = health::to_string(in.verdict);
      }
      journal_.note(journal::DecisionRecord{
          "", {}, health::to_string(decision.action), decision.rule, decision.reason, verdicts});
      emit("decision", "", fmt::format("decision: {} ({})", decision.reason, decision.rule),
           {{"action", health::to_string(decision.action)},
            {"rule", decision.rule},
            {"reason", decision.reason},
            {"gate", spec.what},
            {"revert_hosts", decision.revert_hosts},
            {"hosts", std::move(hosts)}});
      co_return decision;
    }
    co_await clock_.sleep_for(policy.interval);
  }
}

Task<health::Decision> Controller::gate_previous(std::vector<HostRun*> runs, std::string what) {
  for (auto* r : runs) {
    r->gating = r->plan.current ? r->plan.current->id : "";
    r->gate_port = r->plan.current_port;
    r->gate_started = clock_.now();
    r->verdict = health::Verdict::kPending;
  }
  GateSpec spec;
  spec.what = std::move(what);
  spec.progress = false;
  spec.budget = false;
  spec.controllable = false;
  co_return co_await gate(runs, spec);
}

// Puts one host back exactly as it was before this rollout touched it: the new container is
// stopped and kept as <app>-r<rev>-failed, the previous one gets its name back and is started.
// Each step is retried; the host's flags say which steps are still to undo.
}  // namespace orch::rollout
