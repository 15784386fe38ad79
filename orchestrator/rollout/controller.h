// rollout::Controller: runs a rollout against real (or fake) engines.
//
// apply() is pre-flight, then one loop (docs/controller.md):
//   pre-flight  ping every engine; resolve the image to a digest once; list the app's
//               containers; plan (pure; on resume it adopts what the killed run left); pull
//               repo@digest on every host that changes (bounded concurrency); check every
//               rollback target's image is present. Any failure here exits kPreflight and no
//               container has been touched.
//   baseline    probe each host's current container before anything changes.
//   the loop    next_step (next_steps.h, pure) names the next step from the plan's shape and
//               what every step so far came back with; act (loop.cc) makes its engine calls
//               and router steps, each journaled ahead; repeat until an end. Rolling: per
//               batch a safe point, the swap, the gate, completion; blue-green: start beside,
//               gate, switch, bake, retire. Rollback, revert and restore are steps too.
// An engine error while swapping a host reverts that host and pauses (kPaused): the fleet is
// left consistent, every host with exactly one live container.
//
// Where each part lives: preflight.cc, next_steps.cc (decide), loop.cc (act), gating.cc
// (baseline, gate loop), steps.cc (one Action as an engine call or router step), undo.cc (the
// one undo path: revert, restore, discard), blue_green.cc (switch, drain, stop a colour),
// switch_back.cc (observe, plan, then the same loop), controller.cc (apply, finish, prune). Every
// journal record goes through one Journaler (journaler.h), and a failed write stops the run at the
// next step boundary (docs/operations.md, "When the journal cannot be written").
//
// Ownership: the Controller borrows engines, clock and sink; they must outlive apply().
// Thread-safety: none; run on one io_context thread.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "healthcheck/gate.h"
#include "healthcheck/probe.h"
#include "healthcheck/tracker.h"
#include "orchestrator/core/clock.h"
#include "orchestrator/core/status.h"
#include "orchestrator/docker/engine.h"
#include "orchestrator/journal/journal.h"
#include "orchestrator/manifest/manifest.h"
#include "orchestrator/rollout/control.h"
#include "orchestrator/rollout/events.h"
#include "orchestrator/rollout/journaler.h"
#include "orchestrator/rollout/lock.h"
#include "orchestrator/rollout/outcome.h"
#include "orchestrator/rollout/plan.h"
#include "orchestrator/rollout/probes.h"
#include "orchestrator/router/router.h"

namespace orch::rollout {

struct Step;            // next_steps.h
struct Progress;        // next_steps.h
enum class Undo : int;  // next_steps.h

struct HostBinding {
  std::string name;
  std::string address;     // where probes connect
  docker::Engine* engine;  // borrowed
};

struct ApplyOptions {
  std::string image;       // the reference to deploy (manifest image or --image)
  std::string rollout_id;  // unique id, recorded in the rollgate.rollout label
  size_t pull_concurrency = 8;
  // A rollout never stalls silently: a batch whose gate has not decided this long after it
  // started triggers on_failure. nullopt: only healthy_deadline bounds each host.
  std::optional<std::chrono::milliseconds> progress_deadline;
  // After the last batch, keep watching the whole fleet this long before declaring success.
  std::chrono::milliseconds bake{0};
  // The fraction of changed hosts that may fail worse-than-baseline without triggering
  // on_failure; such hosts are put back on their previous container and the rollout goes on.
  double max_failure_ratio = 0;
  std::string manifest_path;  // recorded in the journal, for resume

  // Continue an interrupted rollout under its own id and revision (rollgate resume).
  std::optional<ResumeOf> resume;
  // Per-host baselines recorded before the interrupted run touched anything ("healthy", ...).
  std::map<std::string, std::string> baselines;
  // Hosts the interrupted run made an engine call or router step on (its journal's intents).
  std::vector<std::string> acted_on;
  // Do not pull: the image must already be on every host that changes (rollback to an earlier
  // revision); pre-flight checks it and exits 6 otherwise.
  bool require_local_image = false;
  // Finish a rollback the interrupted run had decided: every host it touched goes back.
  bool rollback_only = false;
};

class Controller {
 public:
  // `probes` run against every host's container in each gate round; all must pass.
  // `control`: operator commands and signals (control.h); nullptr means none.
  // `journal`: where intents, outcomes and decisions are written ahead; nullptr: not journaled.
  Controller(const manifest::Manifest& manifest, std::vector<HostBinding> hosts,
             std::vector<std::unique_ptr<health::Probe>> probes, Clock& clock, EventSink& events,
             Control* control = nullptr, journal::Journal* journal = nullptr);

  Task<Outcome> apply(ApplyOptions options);

  // Pre-flight without pulls: resolves the digest and observes the engines, then plans.
  // Used by `rollgate plan`; changes nothing on any engine.
  Task<Result<Plan>> preview(std::string image, std::string rollout_id);

  // Blue-green: make the other colour live again (rollgate switch-back). Restarts its
  // containers where stopped, gates them, switches the router, waits for the colour that was
  // live to drain and stops it. Exit 0 when switched; kRolledBack when the other colour fails
  // its gate or an engine fails (what it started is stopped again, the live colour never
  // stopped serving); kPaused when the router does not switch; kPreflight when a host has no
  // container of the other colour. A blue-green run of the loop (Plan::Phase::kSwitchBack).
  Task<Outcome> switch_back(std::string rollout_id);

  // The app's lock, held by the caller (session.h), on `engine` (borrowed; nullptr: none).
  // The rollout stops acting before its lease ends, and at the first batch boundary where the
  // engine says the lock is no longer ours (held_lock.cc): the batch in flight goes back and
  // the run pauses (kPaused).
  void set_lock(docker::Engine* engine, LockHandle handle);

  // The traffic router (manifest `router`), borrowed; nullptr: none.
  void set_router(router::Router* r) { router_ = r; }

 private:
  struct HostRun;  // per-host state of one apply (controller_internal.h)
  struct Preflight;
  // How a gate watches its hosts: the batch gate, the bake, or the check after a restore.
  struct GateSpec {
    std::string what = "new container";
    bool fresh = true;         // start new trackers (false: the bake continues the batch's)
    bool progress = true;      // apply progress_deadline
    bool budget = true;        // apply the failure budget
    bool controllable = true;  // obey operator commands and signals
    std::chrono::milliseconds bake{0};  // keep watching a healthy fleet this long
  };

  // preflight.cc
  Task<Result<Preflight>> preflight(std::string image, std::string rollout_id, bool pull);
  // gating.cc
  Task<health::Observation> observe(const HostBinding& host, std::string container,
                                    uint16_t port = 0);
  Task<std::vector<health::Baseline>> measure_baseline(const Plan& plan);
  Task<health::Decision> gate(std::vector<HostRun*> runs, GateSpec spec);
  // Gates each run's previous container (HostPlan::current) anew: after a restore, and before
  // traffic goes back to it. No failure budget, no progress deadline, not interruptible.
  Task<health::Decision> gate_previous(std::vector<HostRun*> runs, std::string what);
  Task<Command> hold(std::string where);
  // steps.cc
  Task<Status> swap_host(HostRun& run);
  Task<Status> run_action(HostRun& run, const Action& a);
  Task<Status> complete_host(HostRun& run);
  router::Endpoint endpoint(const HostRun& run, bool new_container) const;
  // undo.cc: the one undo path.
  struct UndoCall;
  Task<Status> undo_host(HostRun& run, Undo how);
  Task<Status> undo_step(const std::string& host, UndoCall c);
  Task<std::vector<std::string>> undo_all(std::vector<HostRun*> runs, Undo how);
  Task<std::vector<std::string>> restore(std::vector<HostRun*> runs);
  Task<std::vector<std::string>> settle(std::vector<HostRun*> runs, bool enable);
  Task<Outcome> roll_back(std::vector<HostRun*> touched, std::string why);
  // loop.cc: decide (next_steps.h), act, fold the result in, until the decision is an end.
  struct LoopState;
  std::vector<std::unique_ptr<HostRun>> make_runs(const Plan& plan,
                                                  const std::vector<health::Baseline>& baselines);
  Task<Outcome> run_steps(Plan& plan, std::vector<std::unique_ptr<HostRun>>& runs);
  Task<void> act(const Step& step, Progress& p, LoopState& state);
  Task<std::vector<std::string>> drifted(std::vector<HostRun*> batch);
  // blue_green.cc
  Task<Status> stop_previous(std::vector<HostRun*> runs, std::string why);
  Task<Result<router::Drained>> wait_idle(manifest::Colour colour);
  Task<void> drain_before_stop(manifest::Colour colour);
  Task<Status> switch_router(manifest::Colour to, const std::vector<HostRun*>& runs,
                             std::string why);
  // held_lock.cc: why the rollout must stop acting within `ahead`, if it must.
  std::optional<std::string> lease_ending(std::chrono::milliseconds ahead) const;
  Task<Status> check_lock();
  // controller.cc
  Outcome finish(Outcome out);
  Task<void> prune(const Plan& plan);
  Task<Status> prune_host(const HostBinding* host);
  const HostBinding& binding(const std::string& host) const;
  void emit(std::string type, std::string host, std::string message,
            nlohmann::json data = nlohmann::json::object());

  const manifest::Manifest& manifest_;
  std::vector<HostBinding> hosts_;
  std::vector<std::unique_ptr<health::Probe>> probes_;
  Clock& clock_;
  EventSink& events_;
  Journaler journal_;
  NoControl no_control_;
  Control* control_;
  ApplyOptions options_;
  int failure_budget_ = 0;
  int failures_so_far_ = 0;
  int plan_revision_ = 0;  // the revision apply() is rolling out
  router::Router* router_ = nullptr;
  docker::Engine* lock_engine_ = nullptr;
  LockHandle lock_;
};

}  // namespace orch::rollout
