#include "orchestrator/core/duration.h"

#include <cctype>
#include <cstdint>
#include <limits>

#include "healthcheck/format.h"

namespace orch {

std::optional<Millis> parse_duration(std::string_view text) {
  if (text == "0") {
    return Millis(0);
  }
  if (text.empty()) {
    return std::nullopt;
  }
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) {
      return std::nullopt;
    }
    int64_t n = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      n = n * 10 + (text[i] - '0');
      if (n > std::numeric_limits<int32_t>::max()) {
        return std::nullopt;
      }
      ++i;
    }
    size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) {
      ++i;
    }
    std::string_view unit = text.substr(unit_start, i - unit_start);
    int64_t scale = 0;
    if (unit == "ms") {
      scale = 1;
    } else if (unit == "s") {
      scale = 1000;
    } else if (unit == "m") {
      scale = 60 * 1000;
    } else if (unit == "h") {
      scale = 3600 * 1000;
    } else {
      return std::nullopt;
    }
    total += n * scale;
  }
  return Millis(total);
}

// One spelling for the whole program: healthcheck's, which depends on nothing, so that health
// reasons and rollgate's own messages say durations the same way.
std::string format_duration(Millis d) { return health::format_millis(d); }

}  // namespace orch
