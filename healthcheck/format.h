// Compact, human-readable spellings used in health reasons ("2s", "1.5s", "250ms").
//
// The program's one duration spelling: orch::format_duration (orchestrator/core/duration.h)
// calls this, since the health module may depend on nothing in orchestrator/. Pure.
#pragma once

#include <string>

#include "healthcheck/observation.h"

namespace health {

// The shortest faithful spelling of a duration: 0 -> "0s", 250ms -> "250ms", 1500ms -> "1.5s",
// 2000ms -> "2s", 90s -> "1m30s", 1h -> "1h", 1001ms -> "1.001s". Negative durations get a
// leading "-".
std::string format_millis(Millis d);

}  // namespace health
