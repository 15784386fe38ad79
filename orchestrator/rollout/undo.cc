// Undo: putting hosts back on the container they ran before this rollout touched them.
#include <fmt/format.h>

#include "orchestrator/core/duration.h"
#include "orchestrator/journal/records.h"
#include "orchestrator/rollout/async.h"
#include "orchestrator/rollout/controller_internal.h"

namespace orch::rollout {

using nlohmann::json;

namespace {

// A retry of a rename whose first answer was lost, or whose target name is held by junk: true
// when the container already has `name`. When an older, stopped failed container of the same
// app holds the name (an earlier, interrupted attempt at this rollout), it is removed so that
// the newer one takes its place.
Task<Status> rename_to_failed(docker::Engine& engine, const std::string& app, const std::string& id,
                              const std::string& name) {
  auto renamed = co_await engine.rename_container(id, name);
  if (renamed) {
    co_return renamed;
  }
  auto info = co_await engine.inspect_container(id);
  if (info && info->name == name) {
    co_return Status::ok();
  }
  if (renamed.code() == Code::kConflict) {
    auto holder = co_await engine.inspect_container(name);
    if (holder && holder->id != id && !holder->state.running && holder->labels.count(kLabelApp) &&
        holder->labels.at(kLabelApp) == app) {
      auto removed = co_await engine.remove_container(holder->id, true);
      if (removed) {
        co_return co_await engine.rename_container(id, name);
      }
    }
  }
  co_return renamed;
}

}  // namespace

// The one undo path. Puts one host back exactly as it was before this rollout touched it, in
// the reverse order of the swap, undoing only what the host's flags say was done:
//   1. the new container: removed (Undo::kRemove), stopped and kept as <app>-r<rev>-failed
//      (Undo::kRetire), or, when it existed before the run (switch-back), stopped (Undo::kStop);
//   2. the container it displaced gets its name back: the previous live container (rolling),
//      or the standby it archived (blue-green);
//   3. the previous container is started again if this rollout stopped it.
// Every step is journaled ahead (see journaler.h for why it still runs when the journal
// cannot be written), retried (with_retries), and reported as a "step" event. The first step
// that fails after its retries ends the undo; the flags then still say what is left to undo,
// so calling it again continues where it stopped.
Task<Status> Controller::undo_host(HostRun& run, Undo how) {
  auto* engine = run.host->engine;
  const std::string& host = run.plan.host;
  if (!run.new_id.empty()) {
    const std::string id = run.new_id;
    Status st;
    if (how == Undo::kRemove) {
      UndoCall remove{"undo: remove " + id,
                      "remove",
                      id,
                      "",
                      "removed the new container " + id,
                      [engine, id]() -> Task<Status> {
                        auto r = co_await engine->remove_container(id, true);
                        co_return r.code() == Code::kNotFound ? Status::ok() : r;
                      }};
      st = co_await undo_step(host, std::move(remove));
    } else {
      // kStop: it existed before this run, which started it; kRetire: it is kept as -failed.
      UndoCall stop{
          "undo: stop " + id,
          "stop",
          id,
          "",
          how == Undo::kStop ? "stopped " + id + " again" : "stopped the new container " + id,
          [engine, id]() -> Task<Status> {
            co_return co_await engine->stop_container(id, std::nullopt);
          }};
      st = co_await undo_step(host, std::move(stop));
      if (st && how == Undo::kRetire) {
        const std::string failed = fmt::format("{}-r{}-failed", manifest_.app, plan_revision_);
        UndoCall rename{"undo: rename " + id + " to " + failed,
                        "rename",
                        id,
                        failed,
                        "kept the new container as " + failed,
                        [engine, app = manifest_.app, id, failed]() -> Task<Status> {
                          co_return co_await rename_to_failed(*engine, app, id, failed);
                        }};
        st = co_await undo_step(host, std::move(rename));
      }
    }
    if (!st) {
      co_return st.with_context(how == Undo::kRemove ? "remove the new container"
                                : how == Undo::kStop ? "stop it again"
                                                     : "retire the new container");
    }
    run.new_id.clear();
  }
  if (run.renamed_old) {
    UndoCall rename{"undo: rename " + run.plan.previous_name + " to " + manifest_.app,
                    "rename",
                    run.plan.current->id,
                    manifest_.app,
                    fmt::format("renamed {} back to {}", run.plan.previous_name, manifest_.app),
                    [engine, id = run.plan.current->id, app = manifest_.app]() -> Task<Status> {
                      co_return co_await engine->rename_container(id, app);
                    }};
    auto st = co_await undo_step(host, std::move(rename));
    if (!st) {
      co_return st.with_context("rename the previous container back");
    }
    run.renamed_old = false;
  }
  if (run.standby_renamed) {
    const AppContainer& standby = *run.plan.standby;
    UndoCall rename{"undo: rename " + run.plan.standby_archive + " to " + standby.name,
                    "rename",
                    standby.id,
                    standby.name,
                    fmt::format("renamed {} back to {}", run.plan.standby_archive, standby.name),
                    [engine, id = standby.id, name = standby.name]() -> Task<Status> {
                      co_return co_await engine->rename_container(id, name);
                    }};
    auto st = co_await undo_step(host, std::move(rename));
    if (!st) {
      co_return st.with_context("rename the standby back");
    }
    run.standby_renamed = false;
  }
  if (run.stopped_old) {
    UndoCall start{
        "undo: start " + manifest_.app,
        "start",
        run.plan.current->id,
        "",
        fmt::format("started {} (revision {}) again", manifest_.app, run.plan.current->revision),
        [engine, id = run.plan.current->id]() -> Task<Status> {
          co_return co_await engine->start_container(id);
        }};
    auto st = co_await undo_step(host, std::move(start));
    if (!st) {
      co_return st.with_context("restart the previous container");
    }
    run.stopped_old = false;
  }
  run.reverted = true;
  co_return Status::ok();
}

// One undo step: its intent, the call retried, its outcome, and a "step" event.
Task<Status> Controller::undo_step(const std::string& host, UndoCall c) {
  co_await journal_.undo_intent(host, c.call, c.action, c.container, c.new_name);
  auto st = co_await with_retries(clock_, manifest_.health.interval, c.act);
  co_await journal_.outcome(host, c.call, st);
  emit("step", host, st ? "ok    " + c.done : "FAIL  " + c.call + ": " + st.message(),
       {{"call", c.call}, {"ok", st.is_ok()}, {"undo", true}});
  co_return st;
}

// undo_host on every given host at once; the problems, one per host that could not be undone.
Task<std::vector<std::string>> Controller::undo_all(std::vector<HostRun*> runs, Undo how) {
  std::vector<Task<Status>> work;
  for (auto* r : runs) {
    work.push_back(undo_host(*r, how));
  }
  auto results = co_await gather(std::move(work));
  std::vector<std::string> problems;
  for (size_t i = 0; i < runs.size(); ++i) {
    if (!results[i]) {
      problems.push_back(runs[i]->plan.host + ": " + results[i].message());
    }
  }
  co_return problems;
}

// Restores the given hosts concurrently, then gates the previous containers of those whose
// baseline was healthy. Returns the problems, empty when every host is back and healthy.
Task<std::vector<std::string>> Controller::restore(std::vector<HostRun*> runs) {
  std::vector<std::string> problems;
  if (router_) {
    // No request may reach a container while it is being stopped: take the new container's
    // entry out first (with start-first the old one's entry may still serve meanwhile).
    std::vector<Task<Status>> drains;
    std::vector<HostRun*> draining;
    for (auto* r : runs) {
      if (r->enabled_new) {
        draining.push_back(r);
        drains.push_back([](Controller* self, HostRun* run) -> Task<Status> {
          auto d = co_await self->router_->drain(self->endpoint(*run, true), run->plan.colour);
          co_return d.status();
        }(this, r));
      }
    }
    auto drained = co_await gather(std::move(drains));
    for (size_t i = 0; i < draining.size(); ++i) {
      if (!drained[i]) {
        problems.push_back(draining[i]->plan.host + ": router drain: " + drained[i].message());
      } else {
        draining[i]->enabled_new = false;
        draining[i]->drained = true;
      }
    }
    if (!problems.empty()) {
      co_return problems;
    }
  }
  std::vector<Task<Status>> undo;
  for (auto* r : runs) {
    undo.push_back(undo_host(*r, Undo::kRetire));
  }
  auto results = co_await gather(std::move(undo));
  std::vector<HostRun*> restored;
  for (size_t i = 0; i < runs.size(); ++i) {
    if (!results[i]) {
      problems.push_back(runs[i]->plan.host + ": " + results[i].message());
    } else {
      restored.push_back(runs[i]);
    }
  }
  auto more = co_await settle(restored, problems.empty());
  problems.insert(problems.end(), more.begin(), more.end());
  co_return problems;
}

// Hosts whose previous container is back: those whose baseline was healthy are gated again,
// and then (with a router, when `enable` and every check passed) the entries this rollout
// drained go back into load balancing, each pointing at its previous container: never before it
// has proven itself again.
Task<std::vector<std::string>> Controller::settle(std::vector<HostRun*> runs, bool enable) {
  std::vector<std::string> problems;
  std::vector<HostRun*> verify;
  for (auto* r : runs) {
    if (r->plan.current && r->baseline == health::Baseline::kHealthy) {
      verify.push_back(r);
    }
  }
  if (!verify.empty()) {
    auto check = co_await gate_previous(verify, "previous container");
    if (check.action != health::Decision::Action::kContinue) {
      problems.push_back("the previous revision is not healthy again: " + check.reason);
    }
  }
  if (router_ && enable && problems.empty()) {
    std::vector<Task<Status>> enables;
    std::vector<HostRun*> enabling;
    for (auto* r : runs) {
      // Only a host this rollout took out of load balancing goes back in.
      if (r->plan.current && r->drained) {
        enabling.push_back(r);
        const auto slot = r->plan.colour ? std::optional<manifest::Colour>(r->plan.current->colour)
                                         : std::nullopt;
        enables.push_back(router_->enable(endpoint(*r, false), slot));
      }
    }
    auto enabled = co_await gather(std::move(enables));
    for (size_t i = 0; i < enabling.size(); ++i) {
      emit("step", enabling[i]->plan.host,
           (enabled[i] ? "ok    " : "FAIL  ") + std::string("router: previous container back in"),
           {{"call", "restore: enable"}, {"ok", enabled[i].is_ok()}});
      if (!enabled[i]) {
        problems.push_back(enabling[i]->plan.host + ": router enable: " + enabled[i].message());
      } else {
        enabling[i]->drained = false;
      }
    }
  }
  co_return problems;
}

// Puts touched hosts back on their previous container, then gates those containers again.
// A host whose baseline was not healthy but whose new container is healthy stays on the new
// revision: rolling it back would make it worse, and rollgate never rolls back to a version
// that was itself unhealthy.
Task<Outcome> Controller::roll_back(std::vector<HostRun*> touched, std::string why) {
  emit("rollback", "", "rolling back every touched host to its previous container",
       {{"reason", why}});
  std::vector<HostRun*> undo;
  std::vector<std::string> kept_new;
  for (auto* r : touched) {
    if (r->reverted) {
      continue;
    }
    if (r->verdict == health::Verdict::kHealthy && r->baseline != health::Baseline::kHealthy) {
      kept_new.push_back(r->plan.host);
      continue;
    }
    undo.push_back(r);
  }
  // Like a rolling update in reverse: the batch in flight first, then each earlier batch, each
  // restored and gated before the next, so no more hosts are down at once than one batch.
  // A batch that cannot be restored stops the rollback there: the fleet is consistent per host
  // and journaled, and `rollgate rollback` (or resume) finishes it.
  std::stable_sort(undo.begin(), undo.end(),
                   [](const HostRun* a, const HostRun* b) { return a->batch > b->batch; });
  for (size_t i = 0; i < undo.size();) {
    std::vector<HostRun*> batch;
    const int index = undo[i]->batch;
    while (i < undo.size() && undo[i]->batch == index) {
      batch.push_back(undo[i++]);
    }
    auto problems = co_await restore(batch);
    if (!problems.empty()) {
      co_return Outcome{
          ExitCode::kPaused,
          fmt::format("rollback incomplete: {}; run rollgate rollback -f MANIFEST to finish it "
                      "(rolling back because {})",
                      fmt::join(problems, "; "), why)};
    }
  }
  std::string note;
  if (!kept_new.empty()) {
    note = fmt::format("; {} stayed on revision {} (healthy now, unhealthy before the rollout)",
                       fmt::join(kept_new, ", "), plan_revision_);
  }
  co_return Outcome{ExitCode::kRolledBack, why + note};
}

}  // namespace orch::rollout
