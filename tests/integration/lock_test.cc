// The engine-held rollout lock (rollout/lock.h) on the testbed's real dockerd ([docker]; needs
// `scripts/testbed up`). Two threads, each with its own io_context and HTTP connection to the
// same engine, race to take the lock, as two rollgate processes on two machines would: Docker's
// atomic container names must let exactly one win.
//
// The app is "rgtest-lock-<pid>", so its lock container "rgtest-lock-<pid>.rollgate-lock" is
// this run's alone; each test removes it at the end, also when an assertion fails.
#include "orchestrator/rollout/lock.h"

#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>
#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "orchestrator/core/clock.h"
#include "orchestrator/docker/http_engine.h"
#include "tests/integration/testbed.h"
#include "tests/support/run_task.h"

namespace net = boost::asio;
using namespace std::chrono_literals;
using orch::Code;
using orch::Result;
using orch::Status;
using orch::SystemClock;
using orch::Task;
using namespace orch::rollout;

namespace {

// The engines under test measure their deadlines on the real clock.
orch::SystemClock test_clock;

const std::string kHost = "h1";

std::string app_name() { return "rgtest-lock-" + std::to_string(::getpid()); }

// Runs one coroutine to completion on `io`, and whatever else is queued there.
template <class T>
T run(net::io_context& io, Task<T> task) {
  return orch::testing::run_task(io, std::move(task), orch::testing::Until::kIdle);
}

std::unique_ptr<orch::docker::Engine> engine_for(net::io_context& io, const rgtest::Testbed& tb) {
  auto ep = orch::docker::parse_endpoint(tb.engine(kHost));
  REQUIRE(ep.is_ok());
  orch::docker::HttpEngineOptions options;
  options.pull_timeout = 120s;
  return orch::docker::make_http_engine(io, test_clock, kHost, *ep, options);
}

// Removes this run's lock container now and at scope exit.
class LockCleanup {
 public:
  explicit LockCleanup(const rgtest::Testbed& tb) : engine_(engine_for(io_, tb)) { sweep(); }
  ~LockCleanup() { sweep(); }

 private:
  void sweep() { (void)run(io_, force_unlock(*engine_, app_name())); }
  net::io_context io_;
  std::unique_ptr<orch::docker::Engine> engine_;
};

// The lock image: present on the host without depending on any app container there.
std::string lock_image_on_host(const rgtest::Testbed& tb) {
  net::io_context io;
  auto engine = engine_for(io, tb);
  auto img = run(io, lock_image(*engine, app_name(), tb.image() + ":v1"));
  INFO(img.status().to_string());
  REQUIRE(img.is_ok());
  return *img;
}

// One contender: its own connection and clock, like a separate rollgate process.
struct Contender {
  std::string rollout;
  Result<LockHandle> got;
};

}  // namespace

TEST_CASE("lock on a real engine: two concurrent acquires, exactly one wins", "[docker][lock]") {
  const auto tb = rgtest::load_testbed();
  LockCleanup cleanup(tb);
  const std::string image = lock_image_on_host(tb);

  for (int round = 0; round < 5; ++round) {
    INFO("round " << round);
    std::vector<Contender> contenders{{"rA-" + std::to_string(round), {}},
                                      {"rB-" + std::to_string(round), {}}};
    std::latch start(2);
    std::vector<std::thread> threads;
    for (auto& c : contenders) {
      threads.emplace_back([&tb, &c, &start, &image] {
        net::io_context io;
        auto engine = engine_for(io, tb);
        SystemClock clock;
        LockRequest req{app_name(), "rgtest@" + c.rollout + " pid " + std::to_string(::getpid()),
                        c.rollout, 60s, image};
        start.arrive_and_wait();
        c.got = run(io, acquire(*engine, req, clock, 0ms));
      });
    }
    for (auto& t : threads) {
      t.join();
    }
    const bool a = contenders[0].got.is_ok();
    const bool b = contenders[1].got.is_ok();
    INFO("A: " << contenders[0].got.status().to_string());
    INFO("B: " << contenders[1].got.status().to_string());
    REQUIRE(a != b);
    const Contender& winner = a ? contenders[0] : contenders[1];
    const Contender& loser = a ? contenders[1] : contenders[0];
    CHECK(loser.got.status().code() == Code::kConflict);
    CHECK_THAT(loser.got.status().message(),
               Catch::Matchers::Contains("rollout " + winner.rollout));

    net::io_context io;
    auto engine = engine_for(io, tb);
    auto info = run(io, inspect_lock(*engine, app_name()));
    REQUIRE(info.is_ok());
    CHECK(info->rollout == winner.rollout);
    CHECK(info->container_id == winner.got->container_id);
    // Created, never started.
    auto c = run(io, engine->inspect_container(winner.got->container_id));
    REQUIRE(c.is_ok());
    CHECK(c->state.status == "created");
    CHECK(c->labels.count("rollgate.app") == 0);
    REQUIRE(run(io, release(*engine, *winner.got)).is_ok());
    CHECK(run(io, inspect_lock(*engine, app_name())).status().code() == Code::kNotFound);
  }
}

TEST_CASE("lock on a real engine: waiting, takeover of an expired lease, force unlock",
          "[docker][lock]") {
  const auto tb = rgtest::load_testbed();
  LockCleanup cleanup(tb);
  const std::string image = lock_image_on_host(tb);
  net::io_context io;
  auto engine = engine_for(io, tb);
  SystemClock clock;

  SECTION("a waiter gets the lock when the holder releases it") {
    auto first =
        run(io, acquire(*engine, {app_name(), "rgtest pid 1", "r1", 60s, image}, clock, 0ms));
    REQUIRE(first.is_ok());
    Result<LockHandle> second;
    std::thread waiter([&] {
      net::io_context wio;
      auto wengine = engine_for(wio, tb);
      SystemClock wclock;
      second =
          run(wio, acquire(*wengine, {app_name(), "rgtest pid 2", "r2", 60s, image}, wclock, 30s));
    });
    std::this_thread::sleep_for(1500ms);  // the waiter is polling meanwhile
    REQUIRE(run(io, release(*engine, *first)).is_ok());
    waiter.join();
    INFO(second.status().to_string());
    REQUIRE(second.is_ok());
    CHECK(run(io, verify_lock(*engine, *second)).is_ok());
    CHECK(run(io, release(*engine, *second)).is_ok());
  }
  SECTION("an expired lease is taken over; the old holder cannot release the new lock") {
    auto stale =
        run(io, acquire(*engine, {app_name(), "rgtest pid 1", "r1", 1s, image}, clock, 0ms));
    REQUIRE(stale.is_ok());
    std::this_thread::sleep_for(2100ms);  // RFC 3339 labels have millisecond resolution
    auto fresh =
        run(io, acquire(*engine, {app_name(), "rgtest pid 2", "r2", 60s, image}, clock, 0ms));
    REQUIRE(fresh.is_ok());
    REQUIRE(fresh->taken_over.has_value());
    CHECK(fresh->taken_over->rollout == "r1");
    CHECK(run(io, release(*engine, *stale)).code() == Code::kConflict);
    CHECK(run(io, verify_lock(*engine, *fresh)).is_ok());

    auto forced = run(io, force_unlock(*engine, app_name()));
    REQUIRE(forced.is_ok());
    CHECK(forced->rollout == "r2");
    CHECK(run(io, release(*engine, *fresh)).code() == Code::kNotFound);
  }
}
