// JsonLinesSink stamps each event with its Clock's wall time, so a ManualClock decides "ts".
#include "orchestrator/rollout/events.h"

#include <stdio.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/fakes/manual_clock.h"

namespace orch::rollout {
namespace {

using namespace std::chrono_literals;
using orch::testing::ManualClock;

// What a JsonLinesSink writes, one parsed object per line.
class CapturedLines {
 public:
  CapturedLines() : file_(::open_memstream(&buf_, &size_)) { REQUIRE(file_ != nullptr); }
  ~CapturedLines() {
    if (file_ != nullptr) {
      std::fclose(file_);
    }
    std::free(buf_);
  }
  CapturedLines(const CapturedLines&) = delete;
  CapturedLines& operator=(const CapturedLines&) = delete;

  std::FILE* file() { return file_; }
  std::vector<nlohmann::json> lines() {
    std::fflush(file_);
    std::vector<nlohmann::json> out;
    std::istringstream in(std::string(buf_, size_));
    for (std::string line; std::getline(in, line);) {
      out.push_back(nlohmann::json::parse(line));
    }
    return out;
  }

 private:
  char* buf_ = nullptr;
  size_t size_ = 0;
  std::FILE* file_;
};

TEST_CASE("event_timestamp is UTC with milliseconds", "[events]") {
  CHECK(event_timestamp(WallTime{}) == "1970-01-01T00:00:00.000Z");
  CHECK(event_timestamp(WallTime{} + 1714564800250ms) == "2024-05-01T12:00:00.250Z");
}

TEST_CASE("JsonLinesSink stamps each event with its clock's wall time", "[events]") {
  ManualClock clock;  // starts one hour after the epoch
  CapturedLines out;
  JsonLinesSink sink(out.file(), clock);
  sink.emit(Event{"batch", "", "batch 1 of 2", {{"batch", 1}}});
  clock.advance(1234ms);
  sink.emit(Event{"step", "h1", "started web", {}});
  clock.advance(24h);
  sink.emit(Event{"end", "", "done", {}});

  auto lines = out.lines();
  REQUIRE(lines.size() == 3);
  CHECK(lines[0].at("ts") == "1970-01-01T01:00:00.000Z");
  CHECK(lines[0].at("type") == "batch");
  CHECK(lines[0].at("batch") == 1);
  CHECK_FALSE(lines[0].contains("host"));
  CHECK(lines[1].at("ts") == "1970-01-01T01:00:01.234Z");
  CHECK(lines[1].at("host") == "h1");
  CHECK(lines[2].at("ts") == "1970-01-02T01:00:01.234Z");
}

}  // namespace
}  // namespace orch::rollout
