#include "healthcheck/observation.h"

namespace health {

const char* to_string(Verdict v) {
  switch (v) {
    case Verdict::kPending:
      return "pending";
    case Verdict::kHealthy:
      return "healthy";
    case Verdict::kFailing:
      return "failing";
    case Verdict::kUnknown:
      return "unknown";
  }
  return "?";
}

const char* to_string(Baseline b) {
  switch (b) {
    case Baseline::kHealthy:
      return "healthy";
    case Baseline::kUnhealthy:
      return "unhealthy";
    case Baseline::kAbsent:
      return "absent";
    case Baseline::kUnknown:
      return "unknown";
  }
  return "?";
}

}  // namespace health
