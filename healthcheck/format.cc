#include "healthcheck/format.h"

#include <cstdint>

namespace health {

std::string format_millis(Millis d) {
  int64_t ms = d.count();
  if (ms < 0) {
    return "-" + format_millis(Millis{-ms});
  }
  if (ms == 0) {
    return "0s";
  }
  if (ms < 1000) {
    return std::to_string(ms) + "ms";
  }
  std::string out;
  int64_t hours = ms / 3600000;
  int64_t minutes = (ms / 60000) % 60;
  int64_t seconds = (ms / 1000) % 60;
  int64_t millis = ms % 1000;
  if (hours > 0) {
    out += std::to_string(hours) + "h";
  }
  if (minutes > 0) {
    out += std::to_string(minutes) + "m";
  }
  if (seconds > 0 || millis > 0) {
    out += std::to_string(seconds);
    if (millis > 0) {
      // Three digits, then drop trailing zeros: 500 -> ".5", 250 -> ".25", 1 -> ".001".
      std::string frac = std::to_string(millis);
      frac.insert(0, 3 - frac.size(), '0');
      while (frac.back() == '0') {
        frac.pop_back();
      }
      out += "." + frac;
    }
    out += "s";
  }
  return out;
}

}  // namespace health
