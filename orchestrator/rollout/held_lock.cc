// The app's lock while a rollout acts (controller.h, set_lock): it is never lost silently.
//
// Labels are immutable, so the engine lock's lease cannot be renewed (lock.h). The rollout
// therefore stops acting before the lease ends: another apply may take an expired lock over,
// and two holders must never act at once. "Before" has a margin: what putting the batch in
// flight back takes (its undo stops one container and starts another, whose gate then needs
// healthy_threshold rounds and min_healthy_time), plus kLeaseMargin. The gate checks the lease
// every round (no engine call); every batch boundary also asks the engine that the lock is still
// ours (verify_lock), so a lock forced away by `rollgate unlock --force` stops the rollout at the
// next batch.
#include <fmt/format.h>

#include "orchestrator/journal/records.h"
#include "orchestrator/rollout/controller_internal.h"

namespace orch::rollout {

void Controller::set_lock(docker::Engine* engine, LockHandle handle) {
  lock_engine_ = engine;
  lock_ = std::move(handle);
}

std::optional<std::string> Controller::lease_ending(std::chrono::milliseconds ahead) const {
  if (!lock_engine_) {
    return std::nullopt;
  }
  auto until = journal::parse_ts(lock_.info.lease_until);
  if (!until) {
    return std::nullopt;  // a lease that does not parse never expires (lock.h)
  }
  // Putting the batch in flight back: stop one container, start another, and watch the
  // previous one pass its gate again (healthy_threshold rounds, then min_healthy_time) before a
  // router sends it traffic.
  const auto& h = manifest_.health;
  const auto margin = kLeaseMargin +
                      std::chrono::seconds(stop_timeout_seconds(manifest_.container)) +
                      h.min_healthy_time + h.interval * h.healthy_threshold;
  if (clock_.wall_now() + ahead + margin < *until) {
    return std::nullopt;
  }
  return fmt::format(
      "the lock's lease ends at {} and cannot be renewed; stopping before another apply may take "
      "it over (raise --lock-lease for rollouts this long)",
      lock_.info.lease_until);
}

Task<Status> Controller::check_lock() {
  if (!lock_engine_) {
    co_return Status::ok();
  }
  if (auto ending = lease_ending(std::chrono::milliseconds(0))) {
    co_return Status(Code::kTimeout, *ending);
  }
  auto held = co_await verify_lock(*lock_engine_, lock_);
  if (!held) {
    co_return Status(held.code(), "the lock is no longer ours: " + held.message());
  }
  co_return Status::ok();
}

}  // namespace orch::rollout
