// How a rollout ended: the exit-code contract shared by users, tests and docs (DESIGN.md), and
// the one-line summary that goes with it.
#pragma once

#include <string>

namespace orch::rollout {

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

}  // namespace orch::rollout
