#include "orchestrator/core/limits.h"

#include <sys/resource.h>

#include <algorithm>

namespace orch {

uint64_t open_files_needed(uint64_t hosts) { return 4 * hosts + 64; }

FileLimit raise_open_file_limit(uint64_t needed) {
  FileLimit out;
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) {
    return out;  // cannot tell: nothing to raise, nothing to warn about
  }
  auto value = [](rlim_t v) { return v == RLIM_INFINITY ? UINT64_MAX : static_cast<uint64_t>(v); };
  out.before = out.after = value(lim.rlim_cur);
  out.hard = value(lim.rlim_max);
  if (out.before >= needed) {
    return out;
  }
  const uint64_t target = std::min(needed, out.hard);
  lim.rlim_cur = static_cast<rlim_t>(target);
  if (::setrlimit(RLIMIT_NOFILE, &lim) == 0) {
    out.after = target;
  }
  out.enough = out.after >= needed;
  return out;
}

}  // namespace orch
