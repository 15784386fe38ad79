// Durations as users write them in manifests and flags: "500ms", "2s", "1m", "1h30m".
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace orch {

using Millis = std::chrono::milliseconds;

// Parses a sequence of <integer><unit> pairs with units ms, s, m, h (e.g. "1m30s").
// A bare "0" is accepted. Returns nullopt for anything else, including negatives,
// empty strings and unknown units; the caller names the field in its error.
std::optional<Millis> parse_duration(std::string_view text);

// The shortest faithful spelling: 1500ms -> "1.5s", 60000ms -> "1m", 250ms -> "250ms",
// 90s -> "1m30s", 1001ms -> "1.001s". The one implementation is health::format_millis
// (healthcheck/format.h), which the health module uses too.
std::string format_duration(Millis d);

}  // namespace orch
