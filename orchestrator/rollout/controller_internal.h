// Controller internals shared by controller.cc and blue_green.cc. Not part of the API.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "healthcheck/baseline.h"
#include "healthcheck/tracker.h"
#include "orchestrator/rollout/controller.h"
#include "orchestrator/rollout/next_steps.h"

namespace orch::rollout {

// Revert and rollback calls are retried: giving up half-way is the one thing worse than a
// slow revert. Three tries spaced by the probe interval ride out a dockerd restart's blip.
inline constexpr int kRevertAttempts = 3;

// How long before the lock's lease ends the rollout stops acting, on top of the time it takes
// to put the batch in flight back (held_lock.cc).
inline constexpr std::chrono::seconds kLeaseMargin{30};

struct Controller::Preflight {
  Plan plan;
};

// Everything apply() knows about one host it is changing.
struct Controller::HostRun {
  HostPlan plan;
  const HostBinding* host = nullptr;
  health::Baseline baseline = health::Baseline::kAbsent;
  // What has been done to the host so far, so that revert and rollback undo exactly that.
  bool stopped_old = false;
  bool renamed_old = false;
  std::string new_id;
  // The container the gate watches, and since when.
  std::string gating;
  TimePoint gate_started{};
  std::optional<health::Tracker> tracker;
  health::Verdict verdict = health::Verdict::kPending;
  bool reverted = false;   // put back on its previous container (budget, interrupt, rollback)
  int batch = 0;           // the plan's batch index (1-based)
  uint16_t gate_port = 0;  // the port the gate probes (0: the configured one)
  // Router steps done (rolling): the host's entry drained; the new container's entry enabled.
  bool drained = false;
  bool enabled_new = false;
  // start-first: the new container has taken the app's name.
  bool renamed_new = false;
  // Blue-green: the container that held the new colour's slot was stopped / archived.
  bool standby_stopped = false;
  bool standby_renamed = false;

  bool touched() const { return stopped_old || renamed_old || !new_id.empty(); }
};

// One step of undo_host: the call that undoes it, and what the journal and events say of it.
struct Controller::UndoCall {
  std::string call;       // the journal's and the event's text: "undo: start web"
  std::string action;     // "remove", "stop", "rename", "start"
  std::string container;  // the container acted on
  std::string new_name;   // rename only
  std::string done;       // the event's text on success
  std::function<Task<Status>()> act;
};

// Retries an idempotent undo step; the last error is returned if every attempt fails.
template <class F>
Task<Status> with_retries(Clock& clock, std::chrono::milliseconds pause, F call) {
  Status st;
  for (int attempt = 0; attempt < kRevertAttempts; ++attempt) {
    if (attempt > 0) {
      co_await clock.sleep_for(pause);
    }
    st = co_await call();
    if (st) {
      co_return st;
    }
  }
  co_return st;
}

}  // namespace orch::rollout
