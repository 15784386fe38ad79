// rollout::Controller: runs a rollout against real (or fake) engines.
//
// apply() is the whole state machine of one rollout:
//   pre-flight  ping every engine; resolve the image to a digest once; list the app's
//               containers; plan; pull repo@digest on every host that changes (bounded
//               concurrency); check every rollback target's image is present.
//               Any failure here exits kPreflight and no container has been touched.
//   baseline    probe each host's current container before anything changes.
//   batches     per batch, every host concurrently: stop old, rename it to its archive name,
//               create and start the new one (the plan's Actions, in order); then gate the
//               batch with health trackers until health::decide says continue, rollback or
//               pause.
//   rollback    every touched host whose baseline was healthy (or whose new container is not
//               healthy) goes back to its previous container, which is then gated again.
//   success     prune old containers beyond `keep` revisions.
// An engine error while swapping a host reverts that host and pauses (kPaused): the fleet is
// left consistent, every host with exactly one live container.
//
// Ownership: the Controller borrows engines, clock and sink; they must outlive apply().
// Thread-safety: none; run on one io_context thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "healthcheck/gate.h"
#include "healthcheck/probe.h"
#include "healthcheck/tracker.h"
#include "orchestrator/core/clock.h"
#include "orchestrator/core/status.h"
#include "orchestrator/docker/engine.h"
#include "orchestrator/manifest/manifest.h"
#include "orchestrator/rollout/events.h"
#include "orchestrator/rollout/plan.h"

namespace orch::rollout {

// The exit-code contract shared by users, tests and docs (DESIGN.md).
enum class ExitCode : int {
  kDone = 0,
  kInternal = 1,
  kBadInput = 2,
  kRolledBack = 3,
  kPaused = 4,
  kLocked = 5,
  kPreflight = 6,
};

struct Outcome {
  ExitCode code = ExitCode::kInternal;
  std::string summary;  // one line: what happened and, when stopped, why
};

struct HostBinding {
  std::string name;
  std::string address;     // where probes connect
  docker::Engine* engine;  // borrowed
};

struct ApplyOptions {
  std::string image;       // the reference to deploy (manifest image or --image)
  std::string rollout_id;  // unique id, recorded in the rollgate.rollout label
  size_t pull_concurrency = 8;
};

class Controller {
 public:
  // `probes` run against every host's container in each gate round; all must pass.
  Controller(const manifest::Manifest& manifest, std::vector<HostBinding> hosts,
             std::vector<std::unique_ptr<health::Probe>> probes, Clock& clock, EventSink& events);

  Task<Outcome> apply(ApplyOptions options);

  // Pre-flight without pulls: resolves the digest and observes the engines, then plans.
  // Used by `rollgate plan`; changes nothing on any engine.
  Task<Result<Plan>> preview(std::string image, std::string rollout_id);

 private:
  struct HostRun;  // per-host state of one apply (controller.cc)
  struct Preflight;

  Task<Result<Preflight>> preflight(std::string image, std::string rollout_id, bool pull);
  Task<health::Observation> observe(const HostBinding& host, std::string container);
  Task<std::vector<health::Baseline>> measure_baseline(const Plan& plan);
  Task<Status> swap_host(HostRun& run);
  Task<Status> revert_host(HostRun& run);
  Task<health::Decision> gate(std::vector<HostRun*> runs, std::string what);
  Task<Outcome> roll_back(std::vector<HostRun*> touched, std::string why);
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
  size_t pull_concurrency_ = 8;
  int plan_revision_ = 0;  // the revision apply() is rolling out
};

// Probes for a manifest's health section (HTTP when configured; container state is always
// checked by the controller itself).
std::vector<std::unique_ptr<health::Probe>> make_probes(const manifest::Health& health);

health::Policy to_policy(const manifest::Health& health);

}  // namespace orch::rollout
