#include <catch2/catch.hpp>

#include "orchestrator/manifest/manifest.h"

namespace orch::manifest {
namespace {

TEST_CASE("hosts_per_batch: counts and percentages, at least 1, at most n", "[manifest]") {
  auto [value, percent, n, expected] = GENERATE(table<int, bool, int, int>({
      // Counts: min(value, n).
      {1, false, 3, 1},
      {2, false, 3, 2},
      {3, false, 3, 3},
      {5, false, 3, 3},
      {1, false, 1, 1},
      // Percentages round up: ceil(n * value / 100), clamped to [1, n].
      {25, true, 3, 1},   // 0.75 -> 1
      {25, true, 4, 1},   // exactly 1
      {25, true, 5, 2},   // 1.25 -> 2
      {25, true, 10, 3},  // 2.5 -> 3
      {50, true, 3, 2},   // 1.5 -> 2
      {34, true, 3, 2},   // 1.02 -> 2
      {33, true, 3, 1},   // 0.99 -> 1
      {1, true, 1, 1},    // 0.01 -> 1
      {1, true, 250, 3},  // 2.5 -> 3
      {100, true, 7, 7},  // everything at once
      {99, true, 1000, 990},
      // An empty fleet has no batches.
      {1, false, 0, 0},
      {50, true, 0, 0},
  }));
  CAPTURE(value, percent, n);
  BatchSize b{value, percent};
  CHECK(b.hosts_per_batch(n) == expected);
}

TEST_CASE("the default batch size is one host at a time", "[manifest]") {
  BatchSize b;
  CHECK(b.hosts_per_batch(10) == 1);
}

TEST_CASE("to_string(OnFailure) spells the manifest values", "[manifest]") {
  CHECK(std::string(to_string(OnFailure::kRollback)) == "rollback");
  CHECK(std::string(to_string(OnFailure::kPause)) == "pause");
}

}  // namespace
}  // namespace orch::manifest
