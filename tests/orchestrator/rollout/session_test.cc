// Lock sessions (rollout/session.h) against FakeEngine's container table, a ManualClock and a
// real journal on disk: acquiring, waiting for and taking over expired locks, taking back a
// resumed rollout's lock, releasing the lock an ended rollout left, breaking a lock by hand.
#include "orchestrator/rollout/session.h"

#include <catch2/catch.hpp>

#include "tests/fakes/fake_engine.h"
#include "tests/fakes/manual_clock.h"
#include "tests/fakes/mem_file.h"
#include "tests/orchestrator/rollout/cli_api_support.h"

namespace orch::rollout {
namespace {

using namespace std::chrono_literals;
using orch::testing::FakeEngine;
using orch::testing::FakeWorld;
using orch::testing::ManualClock;
using orch::testing::run_task;
using orch::testing::TempDir;

constexpr const char* kImage = "reg/web@sha256:v1";

struct Bed {
  FakeWorld world;
  FakeEngine h1{world, "h1"};
  ManualClock clock;
  TempDir dir;
  journal::Journal journal = testing::open_journal(dir);
  Bed() {
    world.clock = &clock;
    world.registry = {{"reg/web:v1", "sha256:v1"}};
  }
  SessionRequest request(const std::string& rollout, const std::string& holder,
                         std::chrono::seconds lease = kDefaultLockLease) {
    return SessionRequest{"web", kImage, rollout, holder, lease, 0ms, std::nullopt};
  }
  Result<LockHandle> acquire(SessionRequest r) {
    return run_task(acquire_session(h1, std::move(r), clock, journal));
  }
  std::optional<LockInfo> lock() {
    auto info = run_task(inspect_lock(h1, "web"));
    return info ? std::optional<LockInfo>(*info) : std::nullopt;
  }
  std::vector<journal::LockTakeoverRecord> takeovers() {
    std::vector<journal::LockTakeoverRecord> out;
    for (const auto& r : testing::replayed(dir.file("journal.log"))) {
      out.insert(out.end(), r.takeovers.begin(), r.takeovers.end());
    }
    return out;
  }
};

TEST_CASE("lock_engine_of picks the first host by name, whatever the manifest order") {
  FakeWorld world;
  FakeEngine a{world, "b-host"}, b{world, "a-host"};
  manifest::Manifest m;
  m.app = "web";
  m.hosts = {{"b-host", "tcp://b:2375", "b"}, {"a-host", "tcp://a:2375", "a"}};
  std::vector<HostBinding> bindings{{"b-host", "b", &a}, {"a-host", "a", &b}};
  CHECK(lock_engine_of(m, bindings) == &b);
  CHECK(lock_engine_of(m, {bindings[0]}) == nullptr);  // the lock host is not bound
  m.hosts.clear();
  CHECK(lock_engine_of(m, bindings) == nullptr);
}

TEST_CASE("a session takes a free lock, and a second rollout is refused while it is held") {
  Bed bed;
  auto first = bed.acquire(bed.request("R1", "alice@ci pid 1"));
  REQUIRE(first.is_ok());
  CHECK(first->rollout_id == "R1");
  REQUIRE(bed.lock());
  CHECK(bed.lock()->rollout == "R1");

  auto second = bed.acquire(bed.request("R2", "bob@ci pid 2"));
  REQUIRE_FALSE(second.is_ok());
  CHECK(second.status().code() == Code::kConflict);
  CHECK(bed.lock()->rollout == "R1");
  CHECK(bed.takeovers().empty());

  REQUIRE(run_task(release(bed.h1, *first)).is_ok());
  CHECK_FALSE(bed.lock());
  CHECK(bed.acquire(bed.request("R2", "bob@ci pid 2")).is_ok());
}

TEST_CASE("a waiting session gets the lock once the holder's lease expires, and journals it") {
  Bed bed;
  REQUIRE(bed.acquire(bed.request("R1", "alice@ci pid 1", 10s)).is_ok());

  SECTION("a wait shorter than the lease gives up with a conflict, without sleeping for real") {
    auto r = bed.request("R2", "bob@ci pid 2");
    r.wait = 5s;
    auto got = bed.acquire(r);
    REQUIRE_FALSE(got.is_ok());
    CHECK(got.status().code() == Code::kConflict);
    CHECK(bed.clock.slept() >= 5s);
    CHECK(bed.lock()->rollout == "R1");
  }
  SECTION("a wait that outlasts the lease takes the expired lock over") {
    auto r = bed.request("R2", "bob@ci pid 2");
    r.wait = 30s;
    auto got = bed.acquire(r);
    REQUIRE(got.is_ok());
    REQUIRE(got->taken_over);
    CHECK(got->taken_over->rollout == "R1");
    CHECK(bed.lock()->rollout == "R2");
    auto t = bed.takeovers();
    REQUIRE(t.size() == 1);
    CHECK(t[0].rollout == "R2");
    CHECK(t[0].holder == "alice@ci pid 1 (rollout R1)");
    CHECK(t[0].by == "bob@ci pid 2");
  }
}

TEST_CASE("a takeover the journal cannot record is let go again and says why") {
  Bed bed;
  REQUIRE(bed.acquire(bed.request("R1", "alice@ci pid 1", 10s)).is_ok());
  auto file = std::make_unique<testing::MemFile>();
  file->full_from(1);
  auto full = journal::Journal::open(std::move(file));
  REQUIRE(full);
  auto r = bed.request("R2", "bob@ci pid 2");
  r.wait = 30s;
  auto got = run_task(acquire_session(bed.h1, std::move(r), bed.clock, *full));
  REQUIRE_FALSE(got.is_ok());
  CHECK(got.status().code() == Code::kInternal);
  CHECK_THAT(got.status().message(), Catch::Contains("No space left on device"));
  CHECK_THAT(got.status().message(), Catch::Contains("the lock was released again"));
  // Neither the expired lock nor R2's is left: the next apply starts from a free lock.
  CHECK_FALSE(bed.lock());
}

TEST_CASE("resuming a rollout takes back the lock its killed run still holds, and only that") {
  Bed bed;
  REQUIRE(bed.acquire(bed.request("R1", "alice@ci pid 1")).is_ok());  // then kill -9

  SECTION("the same rollout") {
    auto r = bed.request("R1", "alice@ci pid 9");
    r.resume_of = "R1";
    auto got = bed.acquire(r);
    REQUIRE(got.is_ok());
    CHECK(bed.lock()->holder == "alice@ci pid 9");
    auto t = bed.takeovers();
    REQUIRE(t.size() == 1);
    CHECK_THAT(t[0].holder, Catch::Contains("the interrupted run of this rollout"));
  }
  SECTION("another rollout's lock stays a conflict") {
    auto r = bed.request("R2", "bob@ci pid 2");
    r.resume_of = "R2";
    auto got = bed.acquire(r);
    REQUIRE_FALSE(got.is_ok());
    CHECK(got.status().code() == Code::kConflict);
    CHECK(bed.lock()->holder == "alice@ci pid 1");
    CHECK(bed.takeovers().empty());
  }
  SECTION("without resume_of it is a conflict too") {
    CHECK(bed.acquire(bed.request("R1", "alice@ci pid 9")).status().code() == Code::kConflict);
  }
}

TEST_CASE("release_stale_lock removes only the ended rollout's own lock") {
  Bed bed;
  SECTION("no lock") {
    auto r = run_task(release_stale_lock(bed.h1, "web", "R1", bed.clock, bed.journal));
    REQUIRE(r.is_ok());
    CHECK_FALSE(*r);
  }
  SECTION("its own lock") {
    REQUIRE(bed.acquire(bed.request("R1", "alice@ci pid 1")).is_ok());
    auto r = run_task(release_stale_lock(bed.h1, "web", "R1", bed.clock, bed.journal));
    REQUIRE(r.is_ok());
    CHECK(*r);
    CHECK_FALSE(bed.lock());
    auto t = bed.takeovers();
    REQUIRE(t.size() == 1);
    CHECK(t[0].rollout == "R1");
    CHECK_THAT(t[0].holder, Catch::Contains("left behind by the ended rollout"));
  }
  SECTION("another rollout's lock is left alone") {
    REQUIRE(bed.acquire(bed.request("R2", "bob@ci pid 2")).is_ok());
    auto r = run_task(release_stale_lock(bed.h1, "web", "R1", bed.clock, bed.journal));
    REQUIRE(r.is_ok());
    CHECK_FALSE(*r);
    CHECK(bed.lock()->rollout == "R2");
    CHECK(bed.takeovers().empty());
  }
  SECTION("an unreachable engine is an error, not a release") {
    REQUIRE(bed.acquire(bed.request("R1", "alice@ci pid 1")).is_ok());
    bed.h1.down = true;
    CHECK_FALSE(run_task(release_stale_lock(bed.h1, "web", "R1", bed.clock, bed.journal)).is_ok());
    bed.h1.down = false;
    CHECK(bed.lock());
  }
}

TEST_CASE("break_lock removes a live lock and journals who held it") {
  Bed bed;
  CHECK(run_task(break_lock(bed.h1, "web", bed.clock, &bed.journal)).status().code() ==
        Code::kNotFound);
  REQUIRE(bed.acquire(bed.request("R1", "alice@ci pid 1")).is_ok());
  auto removed = run_task(break_lock(bed.h1, "web", bed.clock, &bed.journal));
  REQUIRE(removed.is_ok());
  CHECK(removed->rollout == "R1");
  CHECK_FALSE(bed.lock());
  auto t = bed.takeovers();
  REQUIRE(t.size() == 1);
  CHECK(t[0].rollout == "unlock");
  CHECK_THAT(t[0].holder, Catch::Contains("alice@ci pid 1"));
}

}  // namespace
}  // namespace orch::rollout
