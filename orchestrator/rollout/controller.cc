#include "orchestrator/rollout/controller.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <stdexcept>

#include "healthcheck/baseline.h"
#include "healthcheck/gate.h"
#include "healthcheck/tracker.h"
#include "orchestrator/core/duration.h"
#include "orchestrator/docker/image_ref.h"
#include "orchestrator/journal/records.h"
#include "orchestrator/rollout/async.h"
#include "orchestrator/rollout/controller_internal.h"

namespace orch::rollout {

using nlohmann::json;

Controller::Controller(const manifest::Manifest& manifest, std::vector<HostBinding> hosts,
                       std::vector<std::unique_ptr<health::Probe>> probes, Clock& clock,
                       EventSink& events, Control* control, journal::Journal* journal)
    : manifest_(manifest),
      hosts_(std::move(hosts)),
      probes_(std::move(probes)),
      clock_(clock),
      events_(events),
      journal_(journal, clock, events),
      control_(control ? control : &no_control_) {}

void Controller::emit(std::string type, std::string host, std::string message, json data) {
  events_.emit(Event{std::move(type), std::move(host), std::move(message), std::move(data)});
}

const HostBinding& Controller::binding(const std::string& host) const {
  for (const auto& h : hosts_) {
    if (h.name == host) {
      return h;
    }
  }
  // The plan is built from hosts_, so a miss is a bug.
  throw std::logic_error("no binding for host " + host);
}

Task<Status> Controller::prune_host(const HostBinding* h) {
  std::vector<std::string> filter;
  filter.push_back(std::string(kLabelApp) + "=" + manifest_.app);
  auto list = co_await h->engine->list_containers(std::move(filter));
  if (!list) {
    co_return list.status();
  }
  auto prune = containers_to_prune(manifest_.app, app_containers(*list), manifest_.keep);
  for (const auto& c : prune) {
    auto st = co_await h->engine->remove_container(c.id, true);
    json data = {{"container", c.name}, {"revision", c.revision}, {"ok", st.is_ok()}};
    emit("prune", h->name,
         st ? fmt::format("removed {} (revision {})", c.name, c.revision)
            : fmt::format("could not remove {}: {}", c.name, st.message()),
         std::move(data));
  }
  co_return Status::ok();
}

Task<void> Controller::prune(const Plan& plan) {
  std::vector<Task<Status>> work;
  for (const auto& b : plan.batches) {
    for (const auto& hp : b.hosts) {
      work.push_back(prune_host(&binding(hp.host)));
    }
  }
  auto results = co_await gather(std::move(work));
  for (const auto& st : results) {
    if (!st) {
      // Pruning is housekeeping: the rollout already succeeded, so a failure is only reported.
      emit("prune", "", "could not list containers to prune: " + st.message(), {{"ok", false}});
    }
  }
}

Outcome Controller::finish(Outcome out) {
  journal::EndResult result = journal::EndResult::kFailed;
  switch (out.code) {
    case ExitCode::kDone:
      result = journal::EndResult::kDone;
      break;
    case ExitCode::kRolledBack:
      result = journal::EndResult::kRolledBack;
      break;
    case ExitCode::kPaused:
      result = journal::EndResult::kPaused;
      break;
    case ExitCode::kPreflight:
    case ExitCode::kBadInput:
      result = journal::EndResult::kPreflightFailed;
      break;
    default:
      break;
  }
  const bool broken_before = journal_.failed();
  journal_.note(journal::EndRecord{"", {}, result, static_cast<int>(out.code), out.summary});
  if (!broken_before && journal_.failed()) {
    // Everything else was written: only the end is missing, so history and resume will see an
    // interrupted rollout. The fleet is as the summary says; the run did not end cleanly.
    out.summary += fmt::format(
        "; but its end could not be journaled ({}): history shows it as "
        "interrupted and resume will reconcile it",
        journal_.error().message());
    if (out.code == ExitCode::kDone) {
      out.code = ExitCode::kInternal;
    }
  }
  emit("rollout", "", out.summary, {{"phase", "done"}, {"exit_code", static_cast<int>(out.code)}});
  return out;
}

// A journal that could not be written, found at a safe point (nothing in flight): the run
// stops there, consistent, and says where to look.
Outcome Controller::journal_paused(const std::string& where, size_t hosts_done,
                                   int revision) const {
  return Outcome{ExitCode::kPaused,
                 fmt::format("paused: {}; {}: {} host(s) run revision {}, the rest are "
                             "untouched. Fix the state directory (free space, permissions), then "
                             "apply again",
                             journal_.error().message(), where, hosts_done, revision)};
}

Task<Outcome> Controller::apply(ApplyOptions options) {
  options_ = options;
  journal_.begin(options.rollout_id);
  emit("rollout", "",
       fmt::format("rollout {} of {}: {} to {} host(s)", options.rollout_id, manifest_.app,
                   options.image, hosts_.size()),
       {{"phase", "start"}, {"rollout", options.rollout_id}, {"image", options.image}});

  auto pf = co_await preflight(options.image, options.rollout_id,
                               /*pull=*/!options.require_local_image);
  if (!pf) {
    auto code =
        pf.status().code() == Code::kInvalidArgument ? ExitCode::kBadInput : ExitCode::kPreflight;
    co_return finish(
        Outcome{code, "pre-flight failed, nothing was changed: " + pf.status().message()});
  }
  Plan& plan = pf->plan;
  plan_revision_ = plan.revision;
  for (const auto& hp : plan.unchanged) {
    emit("plan", hp.host,
         fmt::format("already runs {} (revision {}): unchanged", plan.digest, hp.current->revision),
         {{"mode", "unchanged"}});
  }
  if (plan.noop() && plan.blue_green) {
    // The digest is live everywhere; a bake that was interrupted or paused may have left the
    // previous colour running: finish that bake.
    if (auto finished = co_await finish_bake(plan)) {
      co_return finish(std::move(*finished));
    }
  }
  if (plan.noop()) {
    std::string summary =
        fmt::format("nothing to do: every host already runs {} ({}); no container was recreated",
                    plan.pinned, plan.image);
    co_return finish(Outcome{ExitCode::kDone, summary});
  }
  size_t changing = 0;
  for (const auto& b : plan.batches) {
    changing += b.hosts.size();
  }
  // max_failure_ratio of the hosts this rollout changes, rounded down: 0.34 of 3 hosts is 1.
  failure_budget_ =
      static_cast<int>(options.max_failure_ratio * static_cast<double>(changing) + 1e-9);
  failures_so_far_ = 0;
  emit("plan", "",
       fmt::format("revision {}: {} batch(es), {} host(s) to change, {} unchanged", plan.revision,
                   plan.batches.size(), changing, plan.unchanged.size()),
       {{"revision", plan.revision},
        {"digest", plan.digest},
        {"batches", plan.batches.size()},
        {"failure_budget", failure_budget_}});

  journal::StartRecord start{"",          {},          manifest_.app, plan.image,
                             plan.digest, plan.pinned, plan.revision};
  for (const auto& h : hosts_) {
    start.hosts.push_back(h.name);
  }
  start.manifest_path = options_.manifest_path;
  for (const auto& b : plan.batches) {
    start.batches.emplace_back();
    for (const auto& hp : b.hosts) {
      start.batches.back().push_back(hp.host);
    }
  }
  for (const auto& hp : plan.unchanged) {
    start.unchanged.push_back(hp.host);
  }
  journal_.note(std::move(start));
  auto baselines = co_await measure_baseline(plan);
  {
    size_t k = 0;
    for (const auto& b : plan.batches) {
      for (const auto& hp : b.hosts) {
        journal_.note(journal::BaselineRecord{"", {}, hp.host, health::to_string(baselines[k++])});
      }
    }
  }
  if (journal_.failed()) {
    // Nothing was touched yet, and nothing may be: every later step is written ahead.
    co_return finish(Outcome{ExitCode::kInternal,
                             journal_.error().message() +
                                 "; nothing was changed. Fix the state directory (free space, "
                                 "permissions), then apply again"});
  }
  std::vector<std::unique_ptr<HostRun>> runs;
  {
    size_t k = 0;
    for (const auto& b : plan.batches) {
      for (const auto& hp : b.hosts) {
        auto r = std::make_unique<HostRun>();
        r->plan = hp;
        r->batch = b.index;
        r->host = &binding(hp.host);
        r->baseline = baselines[k++];
        // What an interrupted run already did to this host (resume): undo must know it.
        r->stopped_old = r->renamed_old = hp.current_archived;
        // A previous container that was healthy before the interrupted run and is stopped now
        // was stopped by that run (killed between its stop and its restart): undo restarts it.
        if (options.resume && hp.current && !hp.current_archived && !hp.current->running() &&
            r->baseline == health::Baseline::kHealthy) {
          r->stopped_old = true;
        }
        if (hp.mode == HostPlan::Mode::kAdopt) {
          r->new_id = hp.adopt_id;
        }
        runs.push_back(std::move(r));
      }
    }
  }

  if (plan.blue_green) {
    co_return finish(co_await blue_green(plan, runs));
  }
  std::vector<HostRun*> touched;
  if (options.rollback_only) {
    for (auto& r : runs) {
      if (r->touched()) {
        touched.push_back(r.get());
      }
    }
    co_return finish(co_await roll_back(
        touched, fmt::format("finishing the rollback of rollout {} that was interrupted",
                             options.rollout_id)));
  }
  size_t next = 0;
  for (const auto& b : plan.batches) {
    // Between batches is a safe point: nothing is in flight.
    Command c = control_->poll();
    if (c == Command::kPause) {
      c = co_await hold(fmt::format("before batch {}", b.index));
    }
    if (c == Command::kStop) {
      co_return finish(Outcome{
          ExitCode::kPaused,
          fmt::format("interrupted before batch {}: {} host(s) already run revision {}, the "
                      "rest are untouched; run apply again to continue",
                      b.index, touched.size(), plan.revision)});
    }
    if (c == Command::kRollback) {
      co_return finish(co_await roll_back(touched, "an operator asked for it (rollgate rollback)"));
    }
    if (journal_.failed()) {
      co_return finish(
          journal_paused(fmt::format("before batch {}", b.index), touched.size(), plan.revision));
    }
    if (auto held = co_await check_lock(); !held) {
      co_return finish(Outcome{
          ExitCode::kPaused,
          fmt::format("paused before batch {}: {}; {} host(s) run revision {}, the rest are "
                      "untouched. Run apply again to continue",
                      b.index, held.message(), touched.size(), plan.revision)});
    }

    std::vector<HostRun*> batch;
    std::vector<std::string> names;
    for (size_t i = 0; i < b.hosts.size(); ++i) {
      batch.push_back(runs[next + i].get());
      names.push_back(b.hosts[i].host);
    }
    next += b.hosts.size();
    emit("batch", "",
         fmt::format("batch {}/{}: {}", b.index, plan.batches.size(), fmt::join(names, ", ")),
         {{"batch", b.index}, {"hosts", names}});

    std::vector<Task<Status>> swaps;
    for (auto* r : batch) {
      swaps.push_back(swap_host(*r));
    }
    auto swapped = co_await gather(std::move(swaps));
    for (auto* r : batch) {
      touched.push_back(r);
    }
    std::vector<std::string> errors;
    for (size_t i = 0; i < batch.size(); ++i) {
      if (!swapped[i]) {
        errors.push_back(batch[i]->plan.host + ": " + swapped[i].message());
      }
    }
    if (!errors.empty() || journal_.failed()) {
      // The engine (or the state directory) failed us, not the image: undo the batch in
      // flight and stop where the fleet is consistent. Earlier batches passed and stay.
      const bool journal = journal_.failed();
      const std::string why = journal ? journal_.error().message()
                                      : fmt::format("engine error: {}", fmt::join(errors, "; "));
      auto revert_errors = co_await undo_all(batch, Undo::kRemove);
      if (router_ && revert_errors.empty()) {
        // A drained host serves again only once its restarted container passed a gate.
        revert_errors = co_await settle(batch, true);
      }
      co_return finish(
          revert_errors.empty()
              ? Outcome{ExitCode::kPaused,
                        fmt::format(
                            "paused: {}; batch {} was reverted. Fix the {}, then run "
                            "apply again",
                            why, b.index,
                            journal ? "state directory (free space, permissions)" : "engine")}
              : Outcome{ExitCode::kInternal,
                        fmt::format("{}; revert failed: {}", why, fmt::join(revert_errors, "; "))});
    }

    GateSpec spec;
    spec.what = "new container";
    auto decision = co_await gate(batch, spec);
    if (journal_.failed() && decision.action == health::Decision::Action::kContinue) {
      // The gate passed, but what it decided may not be on disk: the batch goes back rather
      // than on, so the journal never lags behind the fleet by more than the batch in flight.
      auto problems = co_await restore(batch);
      co_return finish(
          problems.empty()
              ? journal_paused(fmt::format("batch {} was reverted", b.index),
                               touched.size() - batch.size(), plan.revision)
              : Outcome{ExitCode::kInternal,
                        fmt::format("{}; reverting batch {} failed: {}", journal_.error().message(),
                                    b.index, fmt::join(problems, "; "))});
    }
    if (decision.action == health::Decision::Action::kContinue) {
      if (!decision.revert_hosts.empty()) {
        std::vector<HostRun*> absorbed;
        for (auto* r : batch) {
          if (std::find(decision.revert_hosts.begin(), decision.revert_hosts.end(), r->plan.host) !=
              decision.revert_hosts.end()) {
            absorbed.push_back(r);
          }
        }
        failures_so_far_ += static_cast<int>(absorbed.size());
        auto problems = co_await restore(absorbed);
        if (!problems.empty()) {
          co_return finish(
              Outcome{ExitCode::kInternal,
                      fmt::format("could not revert a host within the failure budget: {}",
                                  fmt::join(problems, "; "))});
        }
      }
      std::vector<Task<Status>> completions;
      std::vector<HostRun*> completing;
      for (auto* r : batch) {
        if (!r->reverted) {
          completing.push_back(r);
          completions.push_back(complete_host(*r));
        }
      }
      auto completed = co_await gather(std::move(completions));
      std::vector<std::string> incomplete;
      for (size_t i = 0; i < completing.size(); ++i) {
        if (!completed[i]) {
          incomplete.push_back(completing[i]->plan.host + ": " + completed[i].message());
        }
      }
      if (!incomplete.empty()) {
        co_return finish(Outcome{
            ExitCode::kPaused,
            fmt::format("paused: batch {} passed its gate but finishing it failed: {}. The new "
                        "containers are healthy; fix the router, then apply again",
                        b.index, fmt::join(incomplete, "; "))});
      }
      // A failure to write it is checked before the next batch, or at the end.
      journal_.note(journal::BatchDoneRecord{"", {}, b.index});
      continue;
    }
    if (stopped(decision)) {
      // A signal or the lock's lease: the batch in flight has not passed its gate, so it goes
      // back to where it was.
      auto problems = co_await restore(batch);
      co_return finish(
          problems.empty()
              ? Outcome{ExitCode::kPaused,
                        fmt::format("{}: batch {} was reverted; the fleet is consistent "
                                    "({} host(s) on revision {}). Run apply again to continue",
                                    stop_cause(decision), b.index, touched.size() - batch.size(),
                                    plan.revision)}
              : Outcome{ExitCode::kInternal,
                        fmt::format("{}, and reverting batch {} failed: {}", stop_cause(decision),
                                    b.index, fmt::join(problems, "; "))});
    }
    if (decision.action == health::Decision::Action::kRollback) {
      co_return finish(co_await roll_back(touched, decision.reason));
    }
    co_return finish(Outcome{ExitCode::kPaused, decision.reason +
                                                    ". The fleet is left as it is: fix and apply "
                                                    "again, or roll back"});
  }

  if (options.bake.count() > 0) {
    std::vector<HostRun*> live;
    for (auto* r : touched) {
      if (!r->reverted) {
        live.push_back(r);
      }
    }
    emit("bake", "",
         fmt::format("baking: watching {} host(s) for {} before declaring success", live.size(),
                     format_duration(options.bake)),
         {{"bake_ms", options.bake.count()}});
    GateSpec spec;
    spec.what = "bake";
    spec.fresh = false;
    spec.budget = false;
    spec.progress = false;
    spec.bake = options.bake;
    auto decision = co_await gate(live, spec);
    if (stopped(decision)) {
      co_return finish(Outcome{
          ExitCode::kPaused, fmt::format("{} during the bake: every host runs revision {}, not yet "
                                         "declared good; run apply again to re-check, or roll back",
                                         stop_cause(decision), plan.revision)});
    }
    if (decision.action == health::Decision::Action::kRollback) {
      co_return finish(co_await roll_back(touched, decision.reason + " (during the bake)"));
    }
    if (decision.action == health::Decision::Action::kPause) {
      co_return finish(Outcome{ExitCode::kPaused, decision.reason + " (during the bake)"});
    }
  }
  if (journal_.failed()) {
    co_return finish(journal_paused("after the last batch, not yet declared done",
                                    touched.size() - failures_so_far_, plan.revision));
  }

  co_await prune(plan);
  co_return finish(Outcome{
      ExitCode::kDone,
      fmt::format(
          "done: {} host(s) run revision {} ({}){}{}", touched.size() - failures_so_far_,
          plan.revision, plan.pinned,
          plan.unchanged.empty() ? "" : fmt::format(", {} already did", plan.unchanged.size()),
          failures_so_far_ == 0
              ? ""
              : fmt::format("; {} host(s) failed within the failure budget and stay on "
                            "their previous revision",
                            failures_so_far_))});
}

}  // namespace orch::rollout
