// The process's open-file limit, raised to what a fleet needs.
//
// A rollout holds, per host, a kept-alive engine connection, a call or a pull in flight, and a
// health probe, all at once in a batch or the baseline round; a fleet of 1,000 hosts outgrows
// the soft RLIMIT_NOFILE of 1024 that many systems start processes with. Go programs (dockerd,
// the docker CLI) raise their soft limit to the hard one at start; rollgate raises it only as
// far as the fleet needs, and says so when the hard limit stops it (docs/operations.md).
#pragma once

#include <cstdint>

namespace orch {

// Descriptors a fleet of `hosts` may hold open at once: four per host and 64 for the rest
// (stdio, the journal, the lock, the router).
uint64_t open_files_needed(uint64_t hosts);

struct FileLimit {
  uint64_t before = 0;  // the soft limit found
  uint64_t after = 0;   // the soft limit now
  uint64_t hard = 0;
  bool enough = true;  // after >= what was needed
};

// Raises the soft RLIMIT_NOFILE to `needed` when it is lower, but never above the hard limit
// (only root may raise that). Never lowers it. "Unlimited" counts as enough.
FileLimit raise_open_file_limit(uint64_t needed);

}  // namespace orch
