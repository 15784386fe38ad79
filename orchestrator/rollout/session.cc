#include "orchestrator/rollout/session.h"

#include <utility>

namespace orch::rollout {

docker::Engine* lock_engine_of(const manifest::Manifest& m,
                               const std::vector<HostBinding>& bindings) {
  auto lock_on = lock_host(m);
  if (!lock_on) {
    return nullptr;
  }
  for (const auto& b : bindings) {
    if (b.name == *lock_on) {
      return b.engine;
    }
  }
  return nullptr;
}

Task<Result<LockHandle>> acquire_session(docker::Engine& engine, SessionRequest request,
                                         Clock& clock, journal::Journal& journal) {
  auto image = co_await lock_image(engine, request.app, request.image);
  if (!image) {
    co_return image.status();
  }
  LockRequest lock{request.app, request.holder, request.rollout_id, request.lease, *image};
  auto acquired = co_await acquire(engine, lock, clock, request.wait);
  if (!acquired && acquired.status().code() == Code::kConflict && request.resume_of) {
    // Resuming rollout R after a kill: the lock is still held by R's dead process (the caller
    // checked that no apply of the app runs on this machine). The lock is R's, so R takes it
    // back.
    auto held = co_await inspect_lock(engine, request.app);
    if (!held || held->rollout != *request.resume_of) {
      co_return acquired;
    }
    auto removed = co_await force_unlock(engine, request.app);
    if (!removed) {
      co_return removed.status();
    }
    const auto now = clock.wall_now();
    if (auto written = journal.append(journal::LockTakeoverRecord{
            request.rollout_id, now,
            removed->describe(now) + " (the interrupted run of this rollout)", request.holder});
        !written) {
      // The interrupted run's lock is gone and ours not taken: nothing holds the app now, and
      // nothing was changed.
      co_return Status(Code::kInternal, written.message() + "; the lock was not taken");
    }
    acquired = co_await acquire(engine, std::move(lock), clock, request.wait);
  }
  if (acquired && acquired->taken_over) {
    const auto& old = *acquired->taken_over;
    auto written = journal.append(
        journal::LockTakeoverRecord{request.rollout_id, clock.wall_now(),
                                    old.holder + " (rollout " + old.rollout + ")", request.holder});
    if (!written) {
      // A takeover the journal cannot show is not made: let go before anything is touched.
      auto released = co_await release(engine, *acquired);
      co_return Status(Code::kInternal,
                       written.message() +
                           (released ? "; the lock was released again"
                                     : "; releasing the lock failed too: " + released.message()));
    }
  }
  co_return acquired;
}

Task<Result<bool>> release_stale_lock(docker::Engine& engine, std::string app,
                                      std::string rollout_id, Clock& clock,
                                      journal::Journal& journal) {
  auto held = co_await inspect_lock(engine, app);
  if (!held) {
    if (held.status().code() == Code::kNotFound) {
      co_return false;
    }
    co_return held.status();
  }
  if (held->rollout != rollout_id) {
    co_return false;
  }
  auto removed = co_await force_unlock(engine, app);
  if (!removed) {
    co_return removed.status();
  }
  const auto now = clock.wall_now();
  auto written = journal.append(journal::LockTakeoverRecord{
      rollout_id, now, removed->describe(now) + " (left behind by the ended rollout)",
      local_holder()});
  if (!written) {
    co_return Status(Code::kInternal, "released the lock, but " + written.message());
  }
  co_return true;
}

Task<Result<LockInfo>> break_lock(docker::Engine& engine, std::string app, Clock& clock,
                                  journal::Journal* journal) {
  auto removed = co_await force_unlock(engine, app);
  if (removed && journal) {
    const auto now = clock.wall_now();
    auto written = journal->append(
        journal::LockTakeoverRecord{"unlock", now, removed->describe(now), local_holder()});
    if (!written) {
      co_return Status(Code::kInternal, "removed the lock (" + removed->describe(now) + "), but " +
                                            written.message());
    }
  }
  co_return removed;
}

}  // namespace orch::rollout
