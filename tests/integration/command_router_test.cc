// The command router in real time ([docker] label; no dockerd needed): a program that runs
// past a real router.timeout is killed with its children, and wait-idle really may take
// drain_timeout + timeout. The rest of the command router's contract is unit-tested on a
// ManualClock (tests/orchestrator/router/command_router_test.cc).
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "orchestrator/core/clock.h"
#include "orchestrator/router/router.h"
#include "tests/orchestrator/router/command_router_support.h"

namespace orch::router {
namespace {

using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using manifest::Colour;
using test::list;
using test::manifest_with;
using test::run_task;
using test::script;
using test::TempDir;

// True when `pid` exits (or is already gone) within `limit`: a wait on its pidfd, not polling.
bool exits_within(pid_t pid, std::chrono::milliseconds limit) {
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));  // see router/command.cc
  if (fd < 0) {
    return true;  // no such process any more
  }
  pollfd p{fd, POLLIN, 0};
  const int ready = ::poll(&p, 1, static_cast<int>(limit.count()));
  ::close(fd);
  return ready == 1;
}

TEST_CASE("command router: wait-idle may take drain_timeout plus timeout",
          "[docker][router][command]") {
  // timeout 1s, drain_timeout 2s: a wait of 1.5s is within its bound, a switch of 1.5s is not.
  TempDir dir;
  auto m = manifest_with(list(script(dir, "sleep 1.5")));
  SystemClock clock;
  auto r = make_router(m, clock);
  auto idle = run_task(r->wait_idle(Colour::kGreen));
  INFO(idle.status().message());
  REQUIRE(idle);
  CHECK(idle->idle);
  CHECK(idle->waited >= 1400ms);
  auto st = run_task(r->switch_to(Colour::kGreen, {}));
  REQUIRE_FALSE(st);
  CHECK(st.code() == Code::kTimeout);
}

TEST_CASE("command router: a program past router.timeout is killed with its children",
          "[docker][router][command]") {
  TempDir dir;
  auto m = manifest_with(
      list(script(dir, "sleep 30 &\necho $! > " + dir.file("child.pid") + "\nsleep 30")));
  SystemClock clock;
  auto r = make_router(m, clock);
  std::vector<Endpoint> green = {{"h1", "10.0.0.1", 8081}};
  const auto start = std::chrono::steady_clock::now();
  auto st = run_task(r->switch_to(Colour::kGreen, green));
  const auto took = std::chrono::steady_clock::now() - start;
  REQUIRE_FALSE(st);
  CHECK(st.code() == Code::kTimeout);
  CHECK_THAT(st.message(), Contains("killed"));
  CHECK_THAT(st.message(), Contains("ROLLGATE_ACTION=switch"));
  CHECK(took >= 900ms);
  CHECK(took < 2500ms);
  const pid_t child = std::stoi(dir.read("child.pid"));
  const bool gone = exits_within(child, 2s);
  CHECK(gone);
  if (!gone) {
    ::kill(child, SIGKILL);  // do not leave it behind when the check failed
  }
}

}  // namespace
}  // namespace orch::router
