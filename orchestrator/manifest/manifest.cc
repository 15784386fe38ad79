#include "orchestrator/manifest/manifest.h"

#include <algorithm>

namespace orch::manifest {

int BatchSize::hosts_per_batch(int n) const {
  // An empty fleet has no batches; "at most n" wins over "at least 1".
  if (n <= 0) {
    return 0;
  }
  if (percent) {
    // Round up, so that a percentage never rounds a batch down to nothing and the rollout
    // always makes progress. Worked example: 25% of 10 hosts = ceil(250 / 100) = ceil(2.5) = 3
    // hosts per batch (batches of 3, 3, 3, 1); 25% of 3 hosts = ceil(0.75) = 1; 100% of 7 = 7.
    // Integer form: ceil(a / b) == (a + b - 1) / b for positive a, b. value is 1..100 after
    // validation, so n * value cannot overflow for any realistic fleet.
    long long product = static_cast<long long>(n) * std::max(value, 0);
    long long per_batch = (product + 99) / 100;
    return static_cast<int>(std::clamp<long long>(per_batch, 1, n));
  }
  return std::clamp(value, 1, n);
}

const char* to_string(Colour c) { return c == Colour::kBlue ? "blue" : "green"; }

const char* to_string(Order o) { return o == Order::kStopFirst ? "stop-first" : "start-first"; }

const char* to_string(OnFailure f) {
  switch (f) {
    case OnFailure::kRollback:
      return "rollback";
    case OnFailure::kPause:
      return "pause";
  }
  return "unknown";
}

}  // namespace orch::manifest
