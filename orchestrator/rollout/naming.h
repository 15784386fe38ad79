// Naming on a host: the labels rollgate puts on the app's containers, and which container is
// which, decoded from names and labels. Pure; used by the planner, the controller and status.
//
//   <app>                  the live container (rolling); blue's slot when it has no colour label
//   <app>-blue, <app>-green the blue-green slots (label rollgate.colour)
//   <app>-r<rev>           an archived earlier revision: the rollback target
//   <app>-r<rev>-failed    a container a rollback retired, kept for inspection
//   <app>-next             start-first: the new container while the old one still serves
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "orchestrator/docker/types.h"
#include "orchestrator/manifest/manifest.h"

namespace orch::rollout {

inline constexpr char kLabelApp[] = "rollgate.app";
inline constexpr char kLabelRevision[] = "rollgate.revision";
inline constexpr char kLabelDigest[] = "rollgate.digest";
inline constexpr char kLabelRollout[] = "rollgate.rollout";
// The slot a container runs in (blue-green, start-first): "blue" or "green". A container
// without it is in the blue slot, on container.ports[0]'s host port.
inline constexpr char kLabelColour[] = "rollgate.colour";

// One of the app's containers on a host, decoded from its labels.
struct AppContainer {
  std::string id;
  std::string name;
  int revision = 0;
  std::string digest;
  std::string rollout;
  std::string state;                                  // engine state: running, exited, ...
  manifest::Colour colour = manifest::Colour::kBlue;  // its slot (kLabelColour)
  bool running() const { return state == "running"; }
  bool failed() const;  // renamed "<app>-r<rev>-failed" by a rollback
};

// Decodes a host's app containers; containers without a parseable revision get revision 0.
std::vector<AppContainer> app_containers(const std::vector<docker::ContainerSummary>& list);

// "<app>-blue" / "<app>-green".
std::string slot_name(const std::string& app, manifest::Colour c);

// The container holding a colour's slot on a host: named slot_name, or for blue a colour-less
// container named <app>. Archived and failed containers hold no slot.
std::optional<AppContainer> slot_holder(const std::string& app, manifest::Colour c,
                                        const std::vector<AppContainer>& containers);

// The app's live container on a host: the one named exactly `app`, if any.
std::optional<AppContainer> live_container(const std::string& app,
                                           const std::vector<AppContainer>& containers);

// Containers to remove after a successful rollout so that `keep` revisions remain (the live
// one counts). Failed containers from earlier rollbacks are always removed. Newest kept first.
// Blue-green slot holders (<app>-blue, <app>-green) are never removed and count as kept.
std::vector<AppContainer> containers_to_prune(const std::string& app,
                                              std::vector<AppContainer> containers, int keep);

}  // namespace orch::rollout
