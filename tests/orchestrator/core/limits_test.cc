// raise_open_file_limit on this process's real limit, restored afterwards.
#include "orchestrator/core/limits.h"

#include <sys/resource.h>

#include <catch2/catch.hpp>

namespace {

struct RestoreLimit {
  RestoreLimit() { ::getrlimit(RLIMIT_NOFILE, &saved); }
  ~RestoreLimit() { ::setrlimit(RLIMIT_NOFILE, &saved); }
  rlimit saved{};
};

uint64_t soft_limit() {
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  return static_cast<uint64_t>(lim.rlim_cur);
}

void set_soft(uint64_t soft) {
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = static_cast<rlim_t>(soft);
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &lim) == 0);
}

}  // namespace

TEST_CASE("open_files_needed: four per host and 64 more", "[limits]") {
  CHECK(orch::open_files_needed(0) == 64);
  CHECK(orch::open_files_needed(1000) == 4064);
}

TEST_CASE("the soft open-file limit is raised to what is needed, never lowered", "[limits]") {
  RestoreLimit restore;
  const uint64_t hard = static_cast<uint64_t>(restore.saved.rlim_max);
  REQUIRE(hard >= 300);
  set_soft(100);

  orch::FileLimit raised = orch::raise_open_file_limit(250);
  CHECK(raised.before == 100);
  CHECK(raised.after == 250);
  CHECK(raised.enough);
  CHECK(soft_limit() == 250);

  orch::FileLimit kept = orch::raise_open_file_limit(120);
  CHECK(kept.before == 250);
  CHECK(kept.after == 250);
  CHECK(kept.enough);
  CHECK(soft_limit() == 250);
}

TEST_CASE("the hard open-file limit stops the raise, and says it was not enough", "[limits]") {
  RestoreLimit restore;
  const uint64_t hard = static_cast<uint64_t>(restore.saved.rlim_max);
  REQUIRE(hard < UINT64_MAX / 2);
  set_soft(64);
  orch::FileLimit capped = orch::raise_open_file_limit(hard + 1000);
  CHECK(capped.before == 64);
  CHECK(capped.after == hard);
  CHECK(capped.hard == hard);
  CHECK_FALSE(capped.enough);
  CHECK(soft_limit() == hard);
}
