#include "orchestrator/rollout/lock.h"

#include <fmt/format.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <utility>
#include <vector>

#include "orchestrator/core/duration.h"
#include "orchestrator/journal/records.h"

namespace orch::rollout {

namespace {

// A program that exists in no image: `docker start` of the lock fails at once instead of
// running the app's entrypoint with its default command.
constexpr char kLockCmd[] = "/rollgate-lock/this-container-is-a-lock-never-start-it";

// A 409 on create whose lock cannot be inspected (404) is a name another create has reserved
// but not finished registering (dockerd reserves the name first; seen on the testbed when two
// applies race), or a lock released in between. Either resolves within moments: retry every
// kReservedPoll, at most kMaxReservedRetries times (5 s), before reporting the 404.
constexpr std::chrono::milliseconds kReservedPoll{100};
constexpr int kMaxReservedRetries = 50;
// Bounds the immediate retries after removing an expired lock that someone keeps replacing.
constexpr int kMaxImmediateRetries = 8;

std::string label(const docker::Labels& labels, const char* key) {
  auto it = labels.find(key);
  return it == labels.end() ? std::string() : it->second;
}

// The lock's labels, or kConflict when the container of that name is not a rollgate lock.
Result<LockInfo> to_lock_info(const std::string& host, const std::string& app,
                              const docker::ContainerInfo& c) {
  if (label(c.labels, kLabelLock) != app) {
    return Status(Code::kConflict,
                  fmt::format("{}: a container named {} exists but is not a rollgate lock of {} "
                              "(no {}={} label); remove or rename it",
                              host, lock_container_name(app), app, kLabelLock, app),
                  409);
  }
  LockInfo info;
  info.host = host;
  info.container_id = c.id;
  info.app = app;
  info.holder = label(c.labels, kLabelLockHolder);
  info.rollout = label(c.labels, kLabelLockRollout);
  info.started = label(c.labels, kLabelLockStarted);
  info.lease_until = label(c.labels, kLabelLockLeaseUntil);
  return info;
}

Status conflict(const LockInfo& held, WallTime now, const std::string& extra) {
  return Status(
      Code::kConflict,
      fmt::format("{} is locked on {}: {}{}", held.app, held.host, held.describe(now), extra), 409);
}

// Inspects the lock and checks it is still `handle`'s.
Task<Result<LockInfo>> held_by(docker::Engine& engine, const LockHandle& handle) {
  auto info = co_await inspect_lock(engine, handle.app);
  if (!info) {
    if (info.status().code() == Code::kNotFound) {
      co_return Status(Code::kNotFound,
                       fmt::format("the lock of {} on {} (rollout {}) is gone: someone forced it "
                                   "away",
                                   handle.app, handle.host, handle.rollout_id),
                       404);
    }
    co_return info.status();
  }
  if (info->container_id != handle.container_id || info->rollout != handle.rollout_id) {
    co_return Status(
        Code::kConflict,
        fmt::format("the lock of {} on {} is no longer rollout {}'s: it is {}", handle.app,
                    handle.host, handle.rollout_id, info->describe(WallTime::min())),
        409);
  }
  co_return info;
}

}  // namespace

std::string lock_container_name(const std::string& app) { return app + ".rollgate-lock"; }

Result<std::string> lock_host(const manifest::Manifest& m) {
  if (m.hosts.empty()) {
    return Status(Code::kInvalidArgument, "the manifest lists no hosts to hold the lock");
  }
  auto first = std::min_element(m.hosts.begin(), m.hosts.end(),
                                [](const auto& a, const auto& b) { return a.name < b.name; });
  return first->name;
}

std::string local_holder() {
  std::string user;
  if (const char* u = std::getenv("USER"); u != nullptr && *u != '\0') {
    user = u;
  } else if (const passwd* pw = ::getpwuid(::getuid()); pw != nullptr) {
    user = pw->pw_name;
  } else {
    user = "uid " + std::to_string(::getuid());
  }
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) {
    host[0] = '\0';
  }
  return fmt::format("{}@{} pid {}", user, host[0] != '\0' ? host : "unknown-host",
                     static_cast<long>(::getpid()));
}

bool LockInfo::expired(WallTime now) const {
  auto until = journal::parse_ts(lease_until);
  return until.has_value() && *until <= now;
}

std::string LockInfo::describe(WallTime now) const {
  return fmt::format("held by {}, rollout {}, since {} (lease until {}){}",
                     holder.empty() ? "an unknown holder" : holder, rollout.empty() ? "?" : rollout,
                     started.empty() ? "?" : started, lease_until.empty() ? "?" : lease_until,
                     expired(now) ? "; lease expired" : "");
}

Task<Result<std::string>> lock_image(docker::Engine& engine, std::string app,
                                     std::string fallback_ref) {
  std::vector<std::string> filters;
  filters.push_back("rollgate.app=" + app);
  auto listed = co_await engine.list_containers(std::move(filters));
  if (!listed) {
    co_return listed.status().with_context(engine.host_name() + ": list containers of " + app);
  }
  for (const auto& c : *listed) {
    if (!c.image_id.empty()) {
      co_return c.image_id;
    }
  }
  // A first deploy: nothing of the app on this host yet.
  if (auto st = co_await engine.pull(fallback_ref); !st) {
    co_return st.with_context(engine.host_name() + ": pull " + fallback_ref + " for the lock");
  }
  co_return fallback_ref;
}

Task<Result<LockHandle>> acquire(docker::Engine& engine, LockRequest request, Clock& clock,
                                 std::chrono::milliseconds wait) {
  const std::string host = engine.host_name();
  const std::string name = lock_container_name(request.app);
  const TimePoint deadline = clock.now() + wait;
  std::optional<LockInfo> taken_over;
  int immediate_retries = 0;
  int reserved_retries = 0;

  for (;;) {
    const WallTime now = clock.wall_now();
    docker::ContainerSpec spec;
    spec.name = name;
    spec.image = request.image;
    spec.cmd = {kLockCmd};
    spec.restart_policy = "no";
    spec.labels = {
        {kLabelLock, request.app},
        {kLabelLockHolder, request.holder},
        {kLabelLockRollout, request.rollout_id},
        {kLabelLockStarted, journal::format_ts(now)},
        {kLabelLockLeaseUntil, journal::format_ts(now + request.lease)},
    };
    auto created = co_await engine.create_container(spec);
    if (created) {
      LockHandle handle;
      handle.host = host;
      handle.app = request.app;
      handle.container_id = *created;
      handle.rollout_id = request.rollout_id;
      handle.info = LockInfo{host,
                             *created,
                             request.app,
                             request.holder,
                             request.rollout_id,
                             spec.labels[kLabelLockStarted],
                             spec.labels[kLabelLockLeaseUntil]};
      handle.taken_over = std::move(taken_over);
      co_return handle;
    }

    const Status err = created.status();
    if (err.code() == Code::kNotFound) {
      co_return Status(Code::kNotFound,
                       fmt::format("{}: cannot create the lock of {}: image {} is not on the host "
                                   "({})",
                                   host, request.app, request.image, err.message()),
                       err.http_status());
    }
    if (err.code() != Code::kConflict) {
      // The create may or may not have happened (a timeout after the engine acted). Never leave
      // a lock of ours behind: remove it if it is there and carries this rollout's id.
      auto mine = co_await inspect_lock(engine, request.app);
      if (mine && mine->rollout == request.rollout_id) {
        if (auto st = co_await engine.remove_container(mine->container_id, true); !st) {
          co_return err.with_context(fmt::format(
              "{}: create the lock of {} (a lock of rollout {} may remain; remove it with "
              "rollgate unlock --force)",
              host, request.app, request.rollout_id));
        }
      } else if (!mine && mine.status().code() != Code::kNotFound) {
        co_return err.with_context(fmt::format(
            "{}: create the lock of {} (could not check whether a lock of rollout {} remains: "
            "{}; if so, remove it with rollgate unlock --force)",
            host, request.app, request.rollout_id, mine.status().message()));
      }
      co_return err.with_context(fmt::format("{}: create the lock of {}", host, request.app));
    }

    // The name is taken: by whom?
    auto held = co_await inspect_lock(engine, request.app);
    if (!held) {
      if (held.status().code() == Code::kNotFound && ++reserved_retries <= kMaxReservedRetries) {
        co_await clock.sleep_for(kReservedPoll);
        continue;
      }
      if (held.status().code() == Code::kNotFound) {
        co_return Status(Code::kConflict,
                         fmt::format("{}: the engine says the name {} is in use but shows no such "
                                     "container; try again",
                                     host, name),
                         409);
      }
      co_return held.status().with_context(
          fmt::format("{}: the lock of {} is taken; inspecting it failed", host, request.app));
    }
    if (held->expired(now) && request.take_over_expired) {
      auto removed = co_await engine.remove_container(held->container_id, true);
      if (!removed && removed.code() != Code::kNotFound) {
        co_return removed.with_context(fmt::format("{}: take over the expired lock of {} ({})",
                                                   host, request.app, held->describe(now)));
      }
      // kNotFound: another apply removed the same stale lock first; the create decides.
      taken_over = *held;
      if (++immediate_retries <= kMaxImmediateRetries) {
        continue;
      }
    }
    const TimePoint t = clock.now();
    if (wait.count() <= 0 || t >= deadline) {
      co_return conflict(
          *held, now,
          wait.count() > 0 ? "; still held after waiting " + format_duration(wait) : "");
    }
    immediate_retries = 0;
    taken_over.reset();  // someone else holds it now; what we removed is no longer our story
    co_await clock.sleep_for(std::min<std::chrono::milliseconds>(
        kLockPoll, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - t)));
  }
}

Task<Status> release(docker::Engine& engine, LockHandle handle) {
  auto held = co_await held_by(engine, handle);
  if (!held) {
    co_return held.status();
  }
  auto st = co_await engine.remove_container(handle.container_id, true);
  if (!st && st.code() == Code::kNotFound) {
    co_return Status(Code::kNotFound,
                     fmt::format("the lock of {} on {} (rollout {}) is gone: someone forced it "
                                 "away",
                                 handle.app, handle.host, handle.rollout_id),
                     404);
  }
  co_return st.with_context(fmt::format("{}: release the lock of {}", handle.host, handle.app));
}

Task<Status> verify_lock(docker::Engine& engine, LockHandle handle) {
  auto held = co_await held_by(engine, handle);
  co_return held.status();
}

Task<Result<LockInfo>> inspect_lock(docker::Engine& engine, std::string app) {
  const std::string host = engine.host_name();
  auto c = co_await engine.inspect_container(lock_container_name(app));
  if (!c) {
    if (c.status().code() == Code::kNotFound) {
      co_return Status(Code::kNotFound, fmt::format("{} is not locked on {}", app, host), 404);
    }
    co_return c.status().with_context(fmt::format("{}: inspect the lock of {}", host, app));
  }
  co_return to_lock_info(host, app, *c);
}

Task<Result<LockInfo>> force_unlock(docker::Engine& engine, std::string app) {
  auto held = co_await inspect_lock(engine, app);
  if (!held) {
    co_return held.status();
  }
  auto st = co_await engine.remove_container(held->container_id, true);
  if (!st && st.code() != Code::kNotFound) {
    co_return st.with_context(fmt::format("{}: remove the lock of {}", held->host, app));
  }
  co_return held;
}

}  // namespace orch::rollout
