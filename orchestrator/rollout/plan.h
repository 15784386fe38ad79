// rollout::make_plan: what a rollout will do, host by host, as data. Pure (STYLE.md #2).
//
// Inputs are the manifest, the digest pre-flight resolved, and what each engine reported
// (the app's containers, found by the `rollgate.app` label). The Plan lists, per batch and
// host, the exact engine calls apply makes, in order. `rollgate plan` prints it; the
// controller executes the same Actions, so what runs is what was planned (DESIGN.md #1).
//
// Naming on a host (which container is live, archived, failed or in a slot) is in naming.h.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "orchestrator/core/status.h"
#include "orchestrator/docker/types.h"
#include "orchestrator/manifest/manifest.h"
#include "orchestrator/rollout/naming.h"

namespace orch::rollout {

// What pre-flight observed on one host.
struct HostObservation {
  std::string host;
  std::vector<docker::ContainerSummary> containers;  // every container labelled rollgate.app=APP
};

struct Action {
  // kDrain and kEnable are router steps (router.h); the rest are engine calls.
  enum class Type { kStop, kRename, kCreate, kStart, kGate, kRemove, kDrain, kEnable };
  // Which container a kStop or kRename acts on.
  enum class On {
    kCurrent,  // the host's live container before the rollout (HostPlan::current)
    kNew,      // the container this rollout created (start-first's final rename)
    kStandby,  // blue-green: the container in the slot the new one takes (HostPlan::standby)
  };
  Type type;
  std::string container;  // the container acted on: its name (or id) at the time of the call
  std::string new_name;   // kRename
  std::optional<docker::ContainerSpec> spec;  // kCreate
  std::optional<int> stop_timeout_s;          // kStop
  On on = On::kCurrent;
  std::optional<manifest::Colour> slot;  // kDrain, kEnable with start-first: the host's entry
  uint16_t port = 0;                     // kEnable: the port the entry sends to
  std::string router_step;               // kDrain, kEnable: the router's command, for `plan`
};

// "POST /v1.41/containers/web/stop?t=10" and friends: the line `plan` and `--trace` print.
std::string describe(const Action& a);

struct HostPlan {
  std::string host;
  // kAdopt: the host already has the container this run gates (adopt_id), not recreated: the
  // new container an interrupted run created (resume), the live colour of a bake being finished,
  // or the colour a switch-back returns to. It is started if need be (a kStart action).
  enum class Mode { kFirstDeploy, kReplace, kUnchanged, kAdopt };
  Mode mode = Mode::kReplace;
  std::optional<AppContainer> current;  // the rollback target: the live container before the
                                        // rollout, or (current_archived) its archived copy
  // The interrupted run already stopped and renamed the previous container: `current` is that
  // archived container, and a rollback renames it back and starts it.
  bool current_archived = false;
  std::string previous_name;  // the name the rollback target has (or gets) while archived
  std::string adopt_id;       // kAdopt: the new container's id
  // In order. Everything up to kGate runs before the batch's gate; what follows (router steps,
  // start-first's stop of the old container) runs once the gate has passed.
  std::vector<Action> actions;

  // Blue-green and start-first: the slot the new container runs in, and its host port; the
  // live container's port (probes of the baseline connect there).
  std::optional<manifest::Colour> colour;
  uint16_t port = 0;
  uint16_t current_port = 0;
  // Blue-green: the container that held the new colour's slot (the standby, usually stopped),
  // archived as standby_archive while the new one takes its name. For an unchanged host, the
  // other colour's container (running when a bake was interrupted).
  std::optional<AppContainer> standby;
  std::string standby_archive;
  // Resume: the interrupted run already archived the standby (standby->name is the slot name
  // it gets back on undo, standby_archive the name it has now).
  bool standby_archived = false;
};

struct Batch {
  int index = 0;  // 1-based
  std::vector<HostPlan> hosts;
};

struct Plan {
  std::string app;
  std::string image;   // as written (or --image)
  std::string digest;  // "sha256:..."
  std::string pinned;  // repo@digest: what every host pulls and runs
  int revision = 0;    // the new revision number
  std::string rollout_id;
  std::vector<HostPlan> unchanged;  // hosts already running the digest
  std::vector<Batch> batches;       // hosts to change
  bool noop() const { return batches.empty(); }

  // Blue-green: the colour serving before the rollout (nullopt: none yet) and the one it
  // deploys; router_steps are the fleet-wide steps after the gate, as `plan` prints them.
  bool blue_green = false;
  std::optional<manifest::Colour> live;
  manifest::Colour target = manifest::Colour::kBlue;
  std::vector<std::string> router_steps;

  // Where a blue-green run starts. Every phase is the same loop (next_steps.h); the phase only
  // says which of its steps are already behind it.
  enum class Phase {
    kDeploy,  // start `target` beside `live`, gate, switch, bake, retire `live`
    // The router already sends to `target`, which runs the digest, and `live` still runs (a bake
    // that was interrupted or paused): bake `target` again, then retire `live`. Going back
    // gates `live` first: it has run unrouted since the interruption.
    kBake,
    // rollgate switch-back: `target` is the colour that is not live; its containers are started
    // where stopped (never created) and gated, then the router switches and `live` retires. An
    // abandoned switch-back stops again what it started; nothing is removed.
    kSwitchBack,
  };
  Phase phase = Phase::kDeploy;
};

// Continuing an interrupted rollout (`rollgate resume`): the same id and revision, and every
// host's state as the crash left it is adopted rather than redone (see make_plan).
struct ResumeOf {
  std::string rollout_id;
  int revision = 0;
};

// REQUIRES: observed has one entry per manifest host, in manifest order.
// With `resume`, per host, level-triggered from what the engines report:
//   live <app> is this rollout's container      -> kAdopt (start if needed, gate)
//   no live <app>, an archived earlier revision -> create + start + gate, that archive being the
//                                                 rollback target (it was stopped and renamed)
//   otherwise                                   -> as a fresh plan
Plan make_plan(const manifest::Manifest& m, const std::string& image, const std::string& pinned,
               const std::string& digest, const std::vector<HostObservation>& observed,
               const std::string& rollout_id, const std::optional<ResumeOf>& resume = {});

// Blue-green (docs/blue-green.md). Slots are named <app>-blue and <app>-green; a container named
// <app> without a colour label (deployed by a rolling update) holds the blue slot. The new
// revision goes into the colour that is not live: `routed` is the router's live colour; when
// the router cannot tell, each host's running slot container says, and hosts must agree.
// Every host changes unless each already serves the digest from its live colour. Per host:
// stop (if running) and archive the container holding the target slot, then create, start
// and gate the new one there. kFailedPrecondition when the hosts' state is ambiguous.
Result<Plan> make_blue_green_plan(const manifest::Manifest& m, const std::string& image,
                                  const std::string& pinned, const std::string& digest,
                                  const std::vector<HostObservation>& observed,
                                  const std::string& rollout_id,
                                  std::optional<manifest::Colour> routed,
                                  const std::optional<ResumeOf>& resume = {});

// rollgate switch-back (Plan::Phase::kSwitchBack): `routed` is the router's live colour, else
// the running colour (running_colour). One batch of every host; per host the other colour's
// slot holder is adopted: started if stopped, then gated. revision and digest are that
// container's. kFailedPrecondition naming every host that has no container of the other colour.
Result<Plan> make_switch_back_plan(const manifest::Manifest& m,
                                   const std::vector<HostObservation>& observed,
                                   std::optional<manifest::Colour> routed,
                                   const std::string& rollout_id);

// When the router cannot say which colour is live: the colour whose slot holder is the only one
// running on each host, the same on every host. kFailedPrecondition naming the hosts otherwise.
// REQUIRES: per_host[i] are hosts[i]'s app containers.
Result<manifest::Colour> running_colour(const std::string& app,
                                        const std::vector<std::string>& hosts,
                                        const std::vector<std::vector<AppContainer>>& per_host);

// container.stop_timeout in whole seconds, as the engine's stop call and ContainerSpec take it.
inline int stop_timeout_seconds(const manifest::Container& c) {
  return static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(c.stop_timeout).count());
}

// The ContainerSpec for the new revision on one host (labels, ports, env, restart, ...).
// With `colour`, the container runs in that slot: named for it (blue-green), labelled with
// it, and publishing container.ports[0] on the slot's port.
docker::ContainerSpec container_spec(const manifest::Manifest& m, const std::string& pinned,
                                     const std::string& digest, int revision,
                                     const std::string& rollout_id,
                                     std::optional<manifest::Colour> colour = std::nullopt);

}  // namespace orch::rollout
