// The engine-held rollout lock (rollout/lock.h) against FakeEngine's container table: Docker's
// rule that a container name is unique is what makes the lock atomic, and the fake keeps it.
// Time is a ManualClock: waiting acquires advance it instead of sleeping.
#include "orchestrator/rollout/lock.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>
#include <optional>
#include <string>
#include <vector>

#include "orchestrator/journal/records.h"
#include "tests/fakes/fake_engine.h"
#include "tests/fakes/forwarding_engine.h"
#include "tests/fakes/manual_clock.h"
#include "tests/support/run_task.h"

namespace orch::rollout {
namespace {

using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using orch::testing::FakeEngine;
using orch::testing::FakeWorld;
using orch::testing::ManualClock;
using orch::testing::run_task;

constexpr const char* kImage = "reg/web@sha256:v1";

struct Bed {
  FakeWorld world;
  FakeEngine h1{world, "h1"};
  ManualClock clock;
  Bed() {
    world.clock = &clock;
    h1.images.insert(kImage);
  }
  LockRequest request(const std::string& rollout, const std::string& holder,
                      std::chrono::seconds lease = kDefaultLockLease) {
    return LockRequest{"web", holder, rollout, lease, kImage};
  }
  Result<LockHandle> acquire(LockRequest r, std::chrono::milliseconds wait = 0ms) {
    return run_task(rollout::acquire(h1, std::move(r), clock, wait));
  }
  std::vector<const FakeEngine::Container*> locks() const {
    std::vector<const FakeEngine::Container*> out;
    for (const auto& [id, c] : h1.containers) {
      if (c.name == "web.rollgate-lock") {
        out.push_back(&c);
      }
    }
    return out;
  }
};

// Forwards to a FakeEngine, but can lose the answer to a create the engine carried out (the
// connection dropped after the engine acted): the state changes, the caller sees kTimeout.
class LossyEngine final : public testing::ForwardingEngine {
 public:
  explicit LossyEngine(FakeEngine& inner) : ForwardingEngine(inner), inner_(inner) {}
  bool lose_create_answer = false;
  bool down_after_lost_create = false;

  Task<Result<std::string>> create_container(docker::ContainerSpec spec) override {
    auto r = co_await inner_.create_container(std::move(spec));
    if (r && lose_create_answer) {
      inner_.down = down_after_lost_create;
      co_return Status(Code::kTimeout, "h1: no answer within 30s");
    }
    co_return r;
  }

 private:
  FakeEngine& inner_;
};

TEST_CASE("lock: acquire creates a labelled, never-started container - release removes it",
          "[lock]") {
  Bed b;
  auto h = b.acquire(b.request("r1", "alice@ci-1 pid 10"));
  REQUIRE(h.is_ok());
  CHECK(h->host == "h1");
  CHECK(h->rollout_id == "r1");
  CHECK_FALSE(h->taken_over.has_value());

  auto locks = b.locks();
  REQUIRE(locks.size() == 1);
  const auto& c = *locks.front();
  CHECK(c.id == h->container_id);
  CHECK(c.status == "created");
  CHECK(c.image == kImage);
  CHECK(c.ports.empty());
  CHECK(c.labels.at("rollgate.lock") == "web");
  CHECK(c.labels.at("rollgate.lock.holder") == "alice@ci-1 pid 10");
  CHECK(c.labels.at("rollgate.lock.rollout") == "r1");
  CHECK(c.labels.at("rollgate.lock.started") == journal::format_ts(b.clock.wall_now()));
  CHECK(c.labels.at("rollgate.lock.lease_until") ==
        journal::format_ts(b.clock.wall_now() + kDefaultLockLease));
  // Invisible to the planner, which lists rollgate.app=<app>.
  CHECK(c.labels.count("rollgate.app") == 0);

  auto info = run_task(inspect_lock(b.h1, "web"));
  REQUIRE(info.is_ok());
  CHECK(info->holder == "alice@ci-1 pid 10");
  CHECK(info->rollout == "r1");
  CHECK_FALSE(info->expired(b.clock.wall_now()));

  CHECK(run_task(verify_lock(b.h1, *h)).is_ok());
  REQUIRE(run_task(release(b.h1, *h)).is_ok());
  CHECK(b.locks().empty());
  CHECK(run_task(inspect_lock(b.h1, "web")).status().code() == Code::kNotFound);

  // Free again: the next rollout takes it.
  CHECK(b.acquire(b.request("r2", "bob@ci-2 pid 20")).is_ok());
}

TEST_CASE("lock: a second acquire is a conflict naming the holder, rollout and start", "[lock]") {
  Bed b;
  auto first = b.acquire(b.request("r1", "alice@ci-1 pid 10"));
  REQUIRE(first.is_ok());
  const std::string started = first->info.started;
  b.clock.advance(5min);

  auto second = b.acquire(b.request("r2", "bob@ci-2 pid 20"));
  REQUIRE_FALSE(second.is_ok());
  CHECK(second.status().code() == Code::kConflict);
  CHECK(second.status().message() ==
        "web is locked on h1: held by alice@ci-1 pid 10, rollout r1, since " + started +
            " (lease until " + first->info.lease_until + ")");
  // The holder's lock is untouched.
  auto locks = b.locks();
  REQUIRE(locks.size() == 1);
  CHECK(locks.front()->id == first->container_id);
  CHECK(run_task(verify_lock(b.h1, *first)).is_ok());
}

TEST_CASE("lock: two acquires racing on one engine: exactly one wins", "[lock]") {
  Bed b;
  boost::asio::io_context io;
  auto fa = boost::asio::co_spawn(io, acquire(b.h1, b.request("ra", "a@x pid 1"), b.clock, 0ms),
                                  boost::asio::use_future);
  auto fb = boost::asio::co_spawn(io, acquire(b.h1, b.request("rb", "b@y pid 2"), b.clock, 0ms),
                                  boost::asio::use_future);
  io.run();
  auto a = fa.get();
  auto bb = fb.get();
  CHECK(a.is_ok() != bb.is_ok());
  const auto& loser = a.is_ok() ? bb : a;
  CHECK(loser.status().code() == Code::kConflict);
  CHECK(b.locks().size() == 1);
}

TEST_CASE("lock: a waiting acquire gets the lock once the holder releases it", "[lock]") {
  Bed b;
  auto first = b.acquire(b.request("r1", "alice@ci-1 pid 10"));
  REQUIRE(first.is_ok());

  boost::asio::io_context io;
  auto waiter = boost::asio::co_spawn(
      io, acquire(b.h1, b.request("r2", "bob@ci-2 pid 20"), b.clock, 30s), boost::asio::use_future);
  // The holder finishes a few (manual) seconds later.
  auto holder = boost::asio::co_spawn(
      io,
      [&]() -> Task<Status> {
        co_await b.clock.sleep_for(2500ms);
        co_return co_await release(b.h1, *first);
      },
      boost::asio::use_future);
  io.run();
  REQUIRE(holder.get().is_ok());
  auto second = waiter.get();
  REQUIRE(second.is_ok());
  CHECK(second->rollout_id == "r2");
  CHECK_FALSE(second->taken_over.has_value());
  auto info = run_task(inspect_lock(b.h1, "web"));
  REQUIRE(info.is_ok());
  CHECK(info->holder == "bob@ci-2 pid 20");
}

TEST_CASE("lock: a waiting acquire gives up when the wait elapses", "[lock]") {
  Bed b;
  auto first = b.acquire(b.request("r1", "alice@ci-1 pid 10"));
  REQUIRE(first.is_ok());
  const auto before = b.clock.slept();

  auto second = b.acquire(b.request("r2", "bob@ci-2 pid 20"), 5s);
  REQUIRE_FALSE(second.is_ok());
  CHECK(second.status().code() == Code::kConflict);
  CHECK_THAT(second.status().message(), Contains("held by alice@ci-1 pid 10, rollout r1"));
  CHECK_THAT(second.status().message(), Contains("still held after waiting 5s"));
  // It polled through the injected clock: exactly the wait, in kLockPoll steps.
  CHECK(b.clock.slept() - before == 5s);
  CHECK(b.locks().size() == 1);
}

TEST_CASE("lock: an expired lease is taken over, and the old holder can no longer release",
          "[lock]") {
  Bed b;
  auto old = b.acquire(b.request("r1", "alice@ci-1 pid 10", 60s));
  REQUIRE(old.is_ok());
  b.clock.advance(61s);

  auto info = run_task(inspect_lock(b.h1, "web"));
  REQUIRE(info.is_ok());
  CHECK(info->expired(b.clock.wall_now()));
  CHECK_THAT(info->describe(b.clock.wall_now()), Contains("; lease expired"));

  SECTION("automatically, reported for the journal") {
    auto fresh = b.acquire(b.request("r2", "bob@ci-2 pid 20"));
    REQUIRE(fresh.is_ok());
    REQUIRE(fresh->taken_over.has_value());
    CHECK(fresh->taken_over->holder == "alice@ci-1 pid 10");
    CHECK(fresh->taken_over->rollout == "r1");
    CHECK(fresh->taken_over->container_id == old->container_id);
    REQUIRE(b.locks().size() == 1);
    CHECK(b.locks().front()->id == fresh->container_id);

    // The old holder comes back: its release must not remove the new lock.
    Status st = run_task(release(b.h1, *old));
    CHECK(st.code() == Code::kConflict);
    CHECK_THAT(st.message(), Contains("no longer rollout r1's"));
    CHECK_THAT(st.message(), Contains("bob@ci-2 pid 20"));
    CHECK(run_task(verify_lock(b.h1, *old)).code() == Code::kConflict);
    REQUIRE(b.locks().size() == 1);
    CHECK(b.locks().front()->id == fresh->container_id);
    CHECK(run_task(release(b.h1, *fresh)).is_ok());
  }
  SECTION("not when takeover is off: a conflict saying the lease expired") {
    auto req = b.request("r2", "bob@ci-2 pid 20");
    req.take_over_expired = false;
    auto fresh = b.acquire(req);
    REQUIRE_FALSE(fresh.is_ok());
    CHECK(fresh.status().code() == Code::kConflict);
    CHECK_THAT(fresh.status().message(), Contains("alice@ci-1 pid 10"));
    CHECK_THAT(fresh.status().message(), Contains("; lease expired"));
    CHECK(b.locks().front()->id == old->container_id);
  }
}

TEST_CASE("lock: a live lease is never taken over automatically", "[lock]") {
  Bed b;
  auto old = b.acquire(b.request("r1", "alice@ci-1 pid 10", 60s));
  REQUIRE(old.is_ok());
  b.clock.advance(59s);
  auto fresh = b.acquire(b.request("r2", "bob@ci-2 pid 20"));
  CHECK(fresh.status().code() == Code::kConflict);
  CHECK_THAT(fresh.status().message(), !Contains("lease expired"));
}

TEST_CASE("lock: release refuses a lock that is not its own", "[lock]") {
  Bed b;
  auto mine = b.acquire(b.request("r1", "alice@ci-1 pid 10"));
  REQUIRE(mine.is_ok());

  LockHandle forged = *mine;
  forged.rollout_id = "r9";
  CHECK(run_task(release(b.h1, forged)).code() == Code::kConflict);
  LockHandle other_id = *mine;
  other_id.container_id = "h1-c999";
  CHECK(run_task(release(b.h1, other_id)).code() == Code::kConflict);
  CHECK(b.locks().size() == 1);

  // Forced away: the holder's release says so.
  REQUIRE(run_task(force_unlock(b.h1, "web")).is_ok());
  Status gone = run_task(release(b.h1, *mine));
  CHECK(gone.code() == Code::kNotFound);
  CHECK_THAT(gone.message(), Contains("forced"));
}

TEST_CASE("lock: force unlock removes a live lock and reports who held it", "[lock]") {
  Bed b;
  auto held = b.acquire(b.request("r1", "alice@ci-1 pid 10"));
  REQUIRE(held.is_ok());

  auto prev = run_task(force_unlock(b.h1, "web"));
  REQUIRE(prev.is_ok());
  CHECK(prev->holder == "alice@ci-1 pid 10");
  CHECK(prev->rollout == "r1");
  CHECK(prev->host == "h1");
  CHECK(prev->started == held->info.started);
  CHECK(b.locks().empty());

  auto again = run_task(force_unlock(b.h1, "web"));
  CHECK(again.status().code() == Code::kNotFound);
  CHECK(again.status().message() == "web is not locked on h1");

  CHECK(b.acquire(b.request("r2", "bob@ci-2 pid 20")).is_ok());
}

TEST_CASE("lock: a container of the lock's name that is not a lock is left alone", "[lock]") {
  Bed b;
  b.h1.seed("web.rollgate-lock", kImage, 1, "other");  // no rollgate.lock label
  auto h = b.acquire(b.request("r1", "alice@ci-1 pid 10"));
  CHECK(h.status().code() == Code::kConflict);
  CHECK_THAT(h.status().message(), Contains("is not a rollgate lock"));
  CHECK(run_task(force_unlock(b.h1, "web")).status().code() == Code::kConflict);
  CHECK(b.locks().size() == 1);
}

TEST_CASE("lock: an absent image is NotFound and creates nothing", "[lock]") {
  Bed b;
  auto req = b.request("r1", "alice@ci-1 pid 10");
  req.image = "reg/web@sha256:missing";
  auto h = b.acquire(req);
  CHECK(h.status().code() == Code::kNotFound);
  CHECK_THAT(h.status().message(), Contains("reg/web@sha256:missing is not on the host"));
  CHECK(b.h1.containers.empty());
}

TEST_CASE("lock: an engine error at any call of acquire leaves no lock of its own", "[lock]") {
  // Every call of an acquire that takes over an expired lock, failed in turn.
  Bed probe;
  REQUIRE(probe.acquire(probe.request("r1", "alice@ci-1 pid 10", 60s)).is_ok());
  probe.clock.advance(2min);
  const int before = probe.world.calls;
  REQUIRE(probe.acquire(probe.request("r2", "bob@ci-2 pid 20")).is_ok());
  const int calls = probe.world.calls - before;
  REQUIRE(calls == 4);  // create (409), inspect, remove, create

  const int n = GENERATE_COPY(range(1, calls + 1));
  Bed b;
  auto old = b.acquire(b.request("r1", "alice@ci-1 pid 10", 60s));
  REQUIRE(old.is_ok());
  b.clock.advance(2min);
  b.world.fail_at = b.world.calls + n;
  auto h = b.acquire(b.request("r2", "bob@ci-2 pid 20"));
  INFO("failing call " << n << ": " << h.status().to_string());
  REQUIRE_FALSE(h.is_ok());
  CHECK(h.status().code() == Code::kEngine);
  // Either the stale lock is still there, or nothing: never a lock of r2.
  for (const auto* c : b.locks()) {
    CHECK(c->labels.at("rollgate.lock.rollout") == "r1");
  }
  // And the next attempt, with the engine healthy again, succeeds.
  auto retry = b.acquire(b.request("r3", "carol@ci-3 pid 30"));
  REQUIRE(retry.is_ok());
  CHECK(b.locks().size() == 1);
}

TEST_CASE("lock: a create whose answer was lost is undone", "[lock]") {
  Bed b;
  LossyEngine lossy(b.h1);
  lossy.lose_create_answer = true;

  SECTION("the lock it made is removed") {
    auto h = run_task(acquire(lossy, b.request("r1", "alice@ci-1 pid 10"), b.clock, 0ms));
    CHECK(h.status().code() == Code::kTimeout);
    CHECK(b.locks().empty());
  }
  SECTION("when the engine is gone too, the message says how to clean up") {
    lossy.down_after_lost_create = true;
    auto h = run_task(acquire(lossy, b.request("r1", "alice@ci-1 pid 10"), b.clock, 0ms));
    CHECK(h.status().code() == Code::kTimeout);
    CHECK_THAT(h.status().message(), Contains("rollgate unlock --force"));
  }
}

TEST_CASE("lock: lock_image prefers an image the app already has on the host", "[lock]") {
  Bed b;
  b.world.registry["reg/web:v2"] = "sha256:v2";
  SECTION("a host with the app: its image id, no pull") {
    b.h1.seed("web", kImage, 1, "web");
    auto img = run_task(lock_image(b.h1, "web", "reg/web@sha256:v2"));
    REQUIRE(img.is_ok());
    CHECK(*img == FakeEngine::image_id(kImage));
    // The engine accepts it for a create.
    b.h1.images.insert(*img);
    auto req = b.request("r1", "alice@ci-1 pid 10");
    req.image = *img;
    CHECK(b.acquire(req).is_ok());
  }
  SECTION("a first deploy: the fallback, pulled there") {
    auto img = run_task(lock_image(b.h1, "web", "reg/web@sha256:v2"));
    REQUIRE(img.is_ok());
    CHECK(*img == "reg/web@sha256:v2");
    CHECK(b.h1.images.count("reg/web@sha256:v2") == 1);
  }
  SECTION("a pull failure names the host and the image") {
    auto img = run_task(lock_image(b.h1, "web", "reg/web@sha256:nope"));
    CHECK_FALSE(img.is_ok());
    CHECK_THAT(img.status().message(), Contains("h1: pull reg/web@sha256:nope for the lock"));
  }
}

TEST_CASE("lock: the lock host is the first host by name - the name is Docker-valid", "[lock]") {
  manifest::Manifest m;
  m.app = "web";
  m.hosts = {manifest::Host{"web-3", "unix:///a", ""}, manifest::Host{"db-1", "unix:///b", ""},
             manifest::Host{"web-1", "unix:///c", ""}};
  auto h = lock_host(m);
  REQUIRE(h.is_ok());
  CHECK(*h == "db-1");
  m.hosts.clear();
  CHECK(lock_host(m).status().code() == Code::kInvalidArgument);

  CHECK(lock_container_name("web") == "web.rollgate-lock");
  CHECK(lock_container_name("a") == "a.rollgate-lock");  // [a-zA-Z0-9][a-zA-Z0-9_.-]+
  CHECK_THAT(local_holder(), Contains(" pid "));
  CHECK_THAT(local_holder(), Contains("@"));
}

}  // namespace
}  // namespace orch::rollout

namespace orch::rollout {
namespace {

// Models dockerd's name reservation: another process's create of the lock has reserved the
// name but not yet registered the container. Until `polls_left` inspects of it have happened,
// a create of that name is 409 and an inspect is 404; then the other create lands in the fake.
class ReservingEngine final : public testing::ForwardingEngine {
 public:
  ReservingEngine(FakeEngine& inner, docker::ContainerSpec pending, int polls)
      : ForwardingEngine(inner), inner_(inner), pending_(std::move(pending)), polls_left_(polls) {}

  Task<Result<std::string>> create_container(docker::ContainerSpec spec) override {
    if (reserved() && spec.name == pending_.name) {
      co_return Status(Code::kConflict, "Conflict. The container name is already in use", 409);
    }
    co_return co_await inner_.create_container(std::move(spec));
  }
  Task<Result<docker::ContainerInfo>> inspect_container(std::string id) override {
    if (reserved() && id == pending_.name) {
      if (--polls_left_ == 0) {
        auto made = co_await inner_.create_container(pending_);  // the other create finishes
        REQUIRE(made.is_ok());
      }
      co_return Status(Code::kNotFound, "No such container: " + id, 404);
    }
    co_return co_await inner_.inspect_container(std::move(id));
  }

 private:
  bool reserved() const { return polls_left_ > 0; }
  FakeEngine& inner_;
  docker::ContainerSpec pending_;
  int polls_left_;
};

TEST_CASE("lock: a name reserved by a racing create is waited out, then names its holder",
          "[lock]") {
  Bed b;
  docker::ContainerSpec other;
  other.name = "web.rollgate-lock";
  other.image = kImage;
  other.labels = {{"rollgate.lock", "web"},
                  {"rollgate.lock.holder", "alice@ci-1 pid 10"},
                  {"rollgate.lock.rollout", "r1"},
                  {"rollgate.lock.started", journal::format_ts(b.clock.wall_now())},
                  {"rollgate.lock.lease_until", journal::format_ts(b.clock.wall_now() + 1h)}};

  SECTION("registered after a few polls: a conflict naming the racing holder") {
    ReservingEngine engine(b.h1, other, 3);
    auto h = run_task(acquire(engine, b.request("r2", "bob@ci-2 pid 20"), b.clock, 0ms));
    CHECK(h.status().code() == Code::kConflict);
    CHECK_THAT(h.status().message(), Contains("held by alice@ci-1 pid 10, rollout r1"));
    REQUIRE(b.locks().size() == 1);
    CHECK(b.locks().front()->labels.at("rollgate.lock.rollout") == "r1");
  }
  SECTION("never registered: a conflict after a bounded wait, no lock made") {
    ReservingEngine engine(b.h1, other, 1000);
    auto h = run_task(acquire(engine, b.request("r2", "bob@ci-2 pid 20"), b.clock, 0ms));
    CHECK(h.status().code() == Code::kConflict);
    CHECK_THAT(h.status().message(), Contains("is in use but shows no such container"));
    CHECK(b.locks().empty());
    CHECK(b.clock.slept() == 5s);  // kMaxReservedRetries polls of kReservedPoll
  }
}

}  // namespace
}  // namespace orch::rollout
