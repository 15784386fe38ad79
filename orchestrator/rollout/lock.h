// rollout::lock: one rollout per app at a time, across machines, kept on the engines themselves.
//
// The lock object. A container named "<app>.rollgate-lock", CREATED AND NEVER STARTED: Docker
// creates a container name atomically (a second create of the same name fails with 409), so
// "create succeeded" is "lock acquired" with no extra infrastructure. A created container costs
// no process, no port and no restart; it survives a dockerd restart. Its labels say who holds it:
//   rollgate.lock=<app>
//   rollgate.lock.holder=<user>@<hostname> pid <pid>
//   rollgate.lock.rollout=<rollout id>
//   rollgate.lock.started=<RFC 3339 UTC>
//   rollgate.lock.lease_until=<RFC 3339 UTC>
// It deliberately carries no rollgate.app label, so the planner (which lists rollgate.app=<app>)
// never sees it. The name is valid for Docker ([a-zA-Z0-9][a-zA-Z0-9_.-]+) because app names
// are [a-z0-9][a-z0-9_.-]* (manifest validation). Cmd is a program that does not exist, so a
// stray `docker start` of the lock fails at once instead of running the app.
//
// The image. Docker needs an image present on the host to create any container; create never
// pulls. lock_image() picks one that is certainly there without a pull: the image id of any
// container of the app on that host (the live one, or an archive); only on a first deploy, when
// the host has none, it pulls the given reference (the manifest image) there first. So the lock
// can be taken BEFORE pre-flight: two applies never pull, plan or touch anything concurrently.
// An image used by a container (even a created one) cannot be removed without force, so the
// lock also pins that image while it is held, which is harmless.
//
// Where. On ONE engine: lock_host() = the manifest's first host in name order, so every
// machine with the same manifest agrees without talking to the others. Locking every host
// (in a fixed order, undoing a partial acquisition) would also cover two machines whose
// manifests list different hosts for one app, but it multiplies the failure modes (a down host
// blocks the lock; a crash leaves partial locks on several engines) for a case that is a
// configuration error. Consequences, documented in docs/lock.md: if the lock host is
// unreachable, apply cannot start (pre-flight would fail anyway, every engine is pinged); if the
// manifest's first host changes (renamed, removed) while a rollout runs, the next apply locks a
// different engine. rollgate commands that target a subset of hosts must still lock on
// lock_host(full manifest).
//
// Lease. Labels are immutable, so a lease cannot be renewed in place (re-creating the object
// would open a window in which a second apply could take it). Instead the lease is long
// (default 1 h, `--lock-lease`) and chosen to outlast the longest rollout. A lock whose lease
// has expired is presumed abandoned (a killed CI job) and a new acquire takes it over
// automatically when LockRequest::take_over_expired is set, reporting the previous holder in
// LockHandle::taken_over so the caller journals a LockTakeoverRecord. A live lease is only ever
// removed by a person: force_unlock (`rollgate unlock -f M --force`). Expiry compares wall
// clocks of different machines, so clock skew must be small next to the lease. A holder can
// check with verify_lock() that it still holds the lock (e.g. before each batch of a rollout
// that outlived its lease).
//
// Safety of takeover and release: both inspect the lock, then remove it BY CONTAINER ID, never
// by name. If someone else replaced the object in between, the remove hits the old id (404) and
// never the new lock. Two applies taking over the same stale lock at once both remove it (one
// gets 404), both create, and exactly one create wins.
//
// Errors. Every function returns Status/Result; messages name the app, the lock host and the
// holder. kConflict means "held by someone else" (the CLI exits 5); anything else is an engine
// failure. acquire() never leaves a lock of its own behind when it fails (see acquire()).
//
// All functions are coroutines on the caller's io_context; `engine` and `clock` are borrowed and
// must outlive the call. Thread-safety: none.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "orchestrator/core/clock.h"
#include "orchestrator/core/status.h"
#include "orchestrator/docker/engine.h"
#include "orchestrator/manifest/manifest.h"

namespace orch::rollout {

inline constexpr char kLabelLock[] = "rollgate.lock";
inline constexpr char kLabelLockHolder[] = "rollgate.lock.holder";
inline constexpr char kLabelLockRollout[] = "rollgate.lock.rollout";
inline constexpr char kLabelLockStarted[] = "rollgate.lock.started";
inline constexpr char kLabelLockLeaseUntil[] = "rollgate.lock.lease_until";

inline constexpr std::chrono::seconds kDefaultLockLease{3600};
// How often a waiting acquire (`--lock-wait`) retries.
inline constexpr std::chrono::milliseconds kLockPoll{1000};

// "<app>.rollgate-lock".
std::string lock_container_name(const std::string& app);

// The name of the host whose engine carries the app's lock: the first in name order.
// kInvalidArgument when the manifest has no host.
Result<std::string> lock_host(const manifest::Manifest& m);

// "<user>@<hostname> pid <pid>" for this process ($USER, else the passwd entry, else "uid N").
std::string local_holder();

struct LockRequest {
  std::string app;
  std::string holder;      // local_holder()
  std::string rollout_id;  // the rollout that will hold the lock
  std::chrono::seconds lease = kDefaultLockLease;
  std::string image;  // present on the lock host: lock_image()
  // Take over a lock whose lease has expired (reported in LockHandle::taken_over). When false,
  // an expired lock is a conflict like a live one and its message says "lease expired".
  bool take_over_expired = true;
};

// What a lock object on an engine says.
struct LockInfo {
  std::string host;          // engine host_name() where the lock lives
  std::string container_id;  // the lock container's id
  std::string app;
  std::string holder;
  std::string rollout;
  std::string started;      // RFC 3339, as labelled
  std::string lease_until;  // RFC 3339, as labelled
  // REQUIRES: none. A lease label that does not parse never expires (only force_unlock frees it).
  bool expired(WallTime now) const;
  // "held by alice@ci-7 pid 42, rollout R, since T (lease until L)", plus "; lease expired".
  std::string describe(WallTime now) const;
};

struct LockHandle {
  std::string host;
  std::string app;
  std::string container_id;
  std::string rollout_id;
  LockInfo info;                       // the lock as created
  std::optional<LockInfo> taken_over;  // the expired lock this acquire replaced, to journal
};

// An image that is certainly present on `engine`'s host, for LockRequest::image: the image id
// of any container labelled rollgate.app=<app> there; else `fallback_ref` after pulling it there
// (a first deploy). Errors: the engine's, with context.
Task<Result<std::string>> lock_image(docker::Engine& engine, std::string app,
                                     std::string fallback_ref);

// Creates the lock object. On a name conflict, inspects the existing lock:
//  - expired lease and take_over_expired: removes it by id and retries (taken_over is set);
//  - otherwise, with `wait` > 0: retries every kLockPoll (through clock.sleep_for) until the
//    lock is free or `wait` has elapsed;
//  - otherwise kConflict "<app> is locked on <host>: held by ..., rollout ..., since ...".
// A 409 whose lock is not inspectable yet (dockerd reserves a name before the racing create
// registers the container) is retried every 100 ms through `clock` for up to 5 s.
// A container of that name that is not a rollgate lock is kConflict naming it. An image absent
// from the host is kNotFound. If create fails in a way that leaves its effect unknown (timeout,
// connection reset), acquire inspects the name and removes the lock if it carries this
// rollout's id, so a failed acquire leaves no lock of its own; if even that fails, the message
// says to run `rollgate unlock --force`.
Task<Result<LockHandle>> acquire(docker::Engine& engine, LockRequest request, Clock& clock,
                                 std::chrono::milliseconds wait);

// Removes the lock only if it is still this handle's (same container id and rollout label).
// kConflict when another rollout holds it now (ours expired and was taken over); kNotFound when
// there is no lock (someone forced it away). Both mean the lock was not ours at the end.
Task<Status> release(docker::Engine& engine, LockHandle handle);

// Ok when the handle's lock is still in place; the same errors as release() otherwise.
Task<Status> verify_lock(docker::Engine& engine, LockHandle handle);

// The app's lock on `engine`; kNotFound when the app is not locked there.
Task<Result<LockInfo>> inspect_lock(docker::Engine& engine, std::string app);

// Removes the app's lock whoever holds it, live lease or not, and returns what it said (for the
// journal's LockTakeoverRecord). kNotFound when not locked. A container of that name that is
// not a rollgate lock is kConflict and is left alone.
Task<Result<LockInfo>> force_unlock(docker::Engine& engine, std::string app);

}  // namespace orch::rollout
