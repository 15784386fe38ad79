// rollout::session: a rollout's hold on the app's lock (rollout/lock.h), as the CLI and the
// server take it: which engine carries the lock, acquiring it for one run (taking back the lock
// a killed run of the same rollout left), releasing a lock an ended rollout left behind, and
// breaking a lock by hand. Every takeover is journaled here; nothing is printed.
//
// All coroutines run on the caller's io_context; engines, journal and clock are borrowed and
// must outlive the call. Thread-safety: none.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "orchestrator/core/clock.h"
#include "orchestrator/core/status.h"
#include "orchestrator/journal/journal.h"
#include "orchestrator/rollout/controller.h"
#include "orchestrator/rollout/lock.h"

namespace orch::rollout {

// The engine among `bindings` that carries the app's lock (lock_host(m)), or nullptr when the
// manifest has no host or that host is not bound.
docker::Engine* lock_engine_of(const manifest::Manifest& m,
                               const std::vector<HostBinding>& bindings);

struct SessionRequest {
  std::string app;
  std::string image;  // the image to deploy: lock_image()'s fallback on a first deploy
  std::string rollout_id;
  std::string holder;  // local_holder()
  std::chrono::seconds lease = kDefaultLockLease;
  std::chrono::milliseconds wait{0};  // --lock-wait
  // Resuming this rollout: a lock still held under its id belongs to its killed run and is
  // taken back (journaled) instead of being a conflict.
  std::optional<std::string> resume_of;
};

// Acquires the lock for one run. An expired lock taken over (LockHandle::taken_over) and a
// lock taken back from the resumed rollout's killed run are journaled as LockTakeoverRecords.
// A takeover the journal cannot record is not kept: the lock is released again and the error
// is kInternal with the journal's message (nothing was changed).
// Errors: acquire()'s (kConflict: held by another rollout), lock_image()'s, the journal's.
Task<Result<LockHandle>> acquire_session(docker::Engine& engine, SessionRequest request,
                                         Clock& clock, journal::Journal& journal);

// A rollout that ended but was killed before it released its lock leaves the lock behind:
// removes it only if it carries `rollout_id` (never another rollout's lock) and journals it.
// Returns true when a lock was removed; false when there was none of that rollout; kInternal
// when it was removed but the journal could not record it.
Task<Result<bool>> release_stale_lock(docker::Engine& engine, std::string app,
                                      std::string rollout_id, Clock& clock,
                                      journal::Journal& journal);

// `rollgate unlock --force`: removes the app's lock whoever holds it and journals it (under the
// rollout id "unlock") when `journal` is non-null. Errors: force_unlock()'s; kInternal when the
// lock was removed but the journal could not record it.
Task<Result<LockInfo>> break_lock(docker::Engine& engine, std::string app, Clock& clock,
                                  journal::Journal* journal);

}  // namespace orch::rollout
