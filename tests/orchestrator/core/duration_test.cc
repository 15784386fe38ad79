#include "orchestrator/core/duration.h"

#include <catch2/catch.hpp>

namespace orch {
namespace {

TEST_CASE("parse_duration accepts the documented spellings", "[duration]") {
  auto [text, ms] = GENERATE(table<const char*, long>({
      {"0", 0},
      {"500ms", 500},
      {"2s", 2000},
      {"1m", 60000},
      {"1h", 3600000},
      {"1m30s", 90000},
      {"1s500ms", 1500},
  }));
  CAPTURE(text);
  auto d = parse_duration(text);
  REQUIRE(d.has_value());
  CHECK(d->count() == ms);
}

TEST_CASE("parse_duration rejects anything else", "[duration]") {
  auto text = GENERATE("", "2", "2x", "-1s", "s", "1.5s", " 1s", "1s ", "10d", "ms");
  CAPTURE(text);
  CHECK_FALSE(parse_duration(text).has_value());
}

TEST_CASE("format_duration picks the shortest faithful unit", "[duration]") {
  CHECK(format_duration(Millis(0)) == "0s");
  CHECK(format_duration(Millis(250)) == "250ms");
  CHECK(format_duration(Millis(1500)) == "1.5s");
  CHECK(format_duration(Millis(2000)) == "2s");
  CHECK(format_duration(Millis(60000)) == "1m");
  CHECK(format_duration(Millis(7200000)) == "2h");
}

}  // namespace
}  // namespace orch
