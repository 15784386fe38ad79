// Inputs and views shared by the blue-green and start-first planner tests: the app's containers
// as an engine lists them, and the action types of a host's plan.
#pragma once

#include <string>
#include <vector>

#include "orchestrator/rollout/plan.h"

namespace orch::rollout::test {

inline const std::string kOld = "sha256:" + std::string(64, 'a');
inline const std::string kNew = "sha256:" + std::string(64, 'b');
inline const std::string kPinned = "repo@" + kNew;

// One of app "web"'s containers as the engine lists it; `colour` "" leaves the label off.
inline docker::ContainerSummary container(const std::string& name, int rev,
                                          const std::string& digest,
                                          const std::string& state = "running",
                                          const std::string& colour = "") {
  docker::Labels labels = {{kLabelApp, "web"},
                           {kLabelRevision, std::to_string(rev)},
                           {kLabelDigest, digest},
                           {kLabelRollout, "r"}};
  if (!colour.empty()) {
    labels[kLabelColour] = colour;
  }
  return docker::ContainerSummary{"id-" + name + "-" + std::to_string(rev),
                                  name,
                                  "repo@" + digest,
                                  "sha256:cfg",
                                  labels,
                                  state,
                                  state};
}

inline std::vector<Action::Type> types(const HostPlan& hp) {
  std::vector<Action::Type> out;
  for (const auto& a : hp.actions) {
    out.push_back(a.type);
  }
  return out;
}

}  // namespace orch::rollout::test
