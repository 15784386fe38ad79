// FileControl and write_request read time only from the Clock they are given: a ManualClock
// decides which requests are stale.
#include "orchestrator/rollout/control.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "tests/fakes/manual_clock.h"
#include "tests/support/temp_dir.h"

namespace orch::rollout {
namespace {

using namespace std::chrono_literals;
using orch::testing::ManualClock;
using orch::testing::TempDir;

TEST_CASE("write_request stamps the request with its clock's wall time", "[control]") {
  TempDir dir;
  ManualClock clock;  // one hour after the epoch
  clock.advance(250ms);
  REQUIRE(write_request(dir.file("control"), Command::kPause, clock).empty());
  auto j = nlohmann::json::parse(dir.read("control"));
  CHECK(j.at("command") == "pause");
  CHECK(j.at("ts_ms") == 3600250);
}

TEST_CASE("FileControl ignores requests written before it started, by its clock", "[control]") {
  TempDir dir;
  const std::string path = dir.file("control");
  ManualClock clock;

  // Left over from an earlier apply: one millisecond before this one started.
  REQUIRE(write_request(path, Command::kRollback, clock).empty());
  clock.advance(1ms);
  FileControl control(path, clock);
  CHECK(control.poll() == Command::kNone);
  CHECK_FALSE(std::filesystem::exists(path));  // the stale request is removed

  // Written in the same millisecond the apply started, and later: both count.
  REQUIRE(write_request(path, Command::kPause, clock).empty());
  CHECK(control.poll() == Command::kPause);
  clock.advance(10min);
  REQUIRE(write_request(path, Command::kResume, clock).empty());
  CHECK(control.poll() == Command::kResume);
  CHECK(control.poll() == Command::kNone);  // consumed
}

TEST_CASE("FileControl reports a stop request once, before any file request", "[control]") {
  TempDir dir;
  ManualClock clock;
  FileControl control(dir.file("control"), clock);
  REQUIRE(write_request(dir.file("control"), Command::kPromote, clock).empty());
  control.request_stop();
  CHECK(control.poll() == Command::kStop);
  CHECK(control.poll() == Command::kPromote);
  CHECK(control.poll() == Command::kNone);
}

}  // namespace
}  // namespace orch::rollout
