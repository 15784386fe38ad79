// Helpers of next_step's rows, shared by next_steps.cc (rolling) and next_steps_blue_green.cc.
// Not part of the API.
#pragma once

#include <fmt/format.h>

#include <string>
#include <vector>

#include "orchestrator/rollout/next_steps.h"

namespace orch::rollout::next_steps_detail {

using Kind = Step::Kind;
using Cause = Step::Cause;
using GateAction = health::Decision::Action;

inline Step make(Kind kind, int batch = 0) {
  Step s;
  s.kind = kind;
  s.batch = batch;
  return s;
}

inline Step end(ExitCode code, std::string summary) {
  Step s = make(Kind::kEnd);
  s.end = Outcome{code, std::move(summary)};
  return s;
}

inline Step with_cause(Step s, Cause c) {
  s.cause = c;
  return s;
}

inline std::string joined(const std::vector<std::string>& parts) {
  return fmt::format("{}", fmt::join(parts, "; "));
}

// Blue-green's rows (next_steps_blue_green.cc).
Step blue_green(const Progress& p);

}  // namespace orch::rollout::next_steps_detail
