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

// The per-host state of a run, from its plan: what an interrupted run already did to each host
// (resume) is set, so that undo knows it.
std::vector<std::unique_ptr<Controller::HostRun>> Controller::make_runs(
    const Plan& plan, const std::vector<health::Baseline>& baselines) {
  std::vector<std::unique_ptr<HostRun>> runs;
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
      if (options_.resume && plan.phase == Plan::Phase::kDeploy && hp.current &&
          !hp.current_archived && !hp.current->running() &&
          r->baseline == health::Baseline::kHealthy) {
        r->stopped_old = true;
      }
      r->standby_renamed = hp.standby_archived;
      if (plan.phase == Plan::Phase::kSwitchBack) {
        // Only what this run starts is undone (stopped again).
        const bool starts = std::any_of(hp.actions.begin(), hp.actions.end(), [](const Action& a) {
          return a.type == Action::Type::kStart;
        });
        r->new_id = starts ? hp.adopt_id : "";
      } else if (hp.mode == HostPlan::Mode::kAdopt) {
        r->new_id = hp.adopt_id;
        // The interrupted run may have routed to it already: an undo takes its entry out
        // first (taking out an entry that was never in is harmless).
        r->enabled_new = router_ != nullptr && !plan.blue_green;
      }
      // Every stop of a previous container comes after its router entry was drained; and a
      // host the interrupted run acted on may have been drained and restarted, but not yet
      // enabled again, when it died: finishing its rollback enables it after a gate.
      const bool acted = std::find(options_.acted_on.begin(), options_.acted_on.end(), hp.host) !=
                         options_.acted_on.end();
      r->drained = router_ != nullptr && !plan.blue_green &&
                   (r->stopped_old || (options_.rollback_only && acted));
      if (plan.phase == Plan::Phase::kBake) {
        // The bake watches the live colour from now on.
        r->gating = hp.adopt_id;
        r->gate_port = hp.port;
        r->gate_started = clock_.now();
      }
      runs.push_back(std::move(r));
    }
  }
  return runs;
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
       plan.phase == Plan::Phase::kBake
           ? fmt::format("revision {}: {} is live on {} host(s) and {} still runs: finishing the "
                         "bake",
                         plan.revision, manifest::to_string(plan.target), changing,
                         manifest::to_string(manifest::other(plan.target)))
           : fmt::format("revision {}: {} batch(es), {} host(s) to change, {} unchanged",
                         plan.revision, plan.batches.size(), changing, plan.unchanged.size()),
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
  // Finishing a bake judges the live colour on its own; there is no "before" to compare with.
  std::vector<health::Baseline> baselines(changing, health::Baseline::kHealthy);
  if (plan.phase == Plan::Phase::kDeploy) {
    baselines = co_await measure_baseline(plan);  // (not in a ?: : GCC 12 frees it early)
  }
  {
    size_t k = 0;
    for (const auto& b : plan.batches) {
      for (const auto& hp : b.hosts) {
        journal_.stage(journal::BaselineRecord{"", {}, hp.host, health::to_string(baselines[k++])});
      }
    }
  }
  (void)journal_.flush();  // latched, checked next
  if (journal_.failed()) {
    // Nothing was touched yet, and nothing may be: every later step is written ahead.
    co_return finish(Outcome{ExitCode::kInternal,
                             journal_.error().message() +
                                 "; nothing was changed. Fix the state directory (free space, "
                                 "permissions), then apply again"});
  }
  auto runs = make_runs(plan, baselines);
  co_return finish(co_await run_steps(plan, runs));
}

}  // namespace orch::rollout
