// Planner internals shared by plan.cc (rolling) and plan_blue_green.cc. Not part of the API.
#pragma once

#include <string>
#include <vector>

#include "orchestrator/rollout/plan.h"

namespace orch::rollout {

// start-first: the new container's name while the old one still has the app's name.
inline constexpr char kNextSuffix[] = "-next";

// A plan with no batches yet: the app, image, digest, pinned reference and rollout id.
Plan empty_plan(const manifest::Manifest& m, const std::string& image, const std::string& pinned,
                const std::string& digest, const std::string& rollout_id);

// "<app>-r<rev>", or with the id's prefix when a container already has that name: a live
// container that somehow carries its archive name (a crashed earlier run) must not collide.
std::string archive_name(const std::string& app, const AppContainer& c,
                         const std::vector<AppContainer>& containers);

}  // namespace orch::rollout
