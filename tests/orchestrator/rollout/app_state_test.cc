// The app's state directory and its running apply (rollout/app_state.h), in a real temporary
// directory with real processes: this test process plays the running apply.
#include "orchestrator/rollout/app_state.h"

#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "tests/fakes/manual_clock.h"
#include "tests/orchestrator/rollout/cli_api_support.h"

namespace orch::rollout {
namespace {

using orch::testing::ManualClock;
using orch::testing::TempDir;

// This process's command name, as /proc/<pid>/stat shows it.
std::string own_comm() {
  std::ifstream in("/proc/self/comm");
  std::string comm;
  std::getline(in, comm);
  return comm;
}

TEST_CASE("app_state_dir is <root>/<app>, created only when asked") {
  TempDir root;
  auto read_only = app_state_dir(root.path(), "web", false);
  REQUIRE(read_only.is_ok());
  CHECK(*read_only == root.path() + "/web");
  CHECK_FALSE(std::filesystem::exists(*read_only));
  auto made = app_state_dir(root.path(), "web", true);
  REQUIRE(made.is_ok());
  CHECK(std::filesystem::is_directory(*made));
  CHECK(journal_file(*made) == *made + "/journal.log");
}

TEST_CASE("running_apply sees a live pid file of the right program, and nothing else") {
  TempDir dir;
  CHECK_FALSE(running_apply(dir.path(), own_comm()));  // no pid file
  {
    PidFile pid(dir.path());
    auto found = running_apply(dir.path(), own_comm());
    REQUIRE(found);
    CHECK(*found == ::getpid());
    // The pid is alive but is not a rollgate: it was reused by something else.
    CHECK_FALSE(running_apply(dir.path(), "rollgate"));
  }
  CHECK_FALSE(std::filesystem::exists(dir.path() + "/apply.pid"));  // removed with the PidFile
  CHECK_FALSE(running_apply(dir.path(), own_comm()));

  // A pid whose process has exited and been reaped.
  pid_t child = ::fork();
  if (child == 0) {
    ::_exit(0);
  }
  int wstatus = 0;
  REQUIRE(::waitpid(child, &wstatus, 0) == child);
  std::ofstream(dir.path() + "/apply.pid") << child << "\n";
  CHECK_FALSE(running_apply(dir.path(), own_comm()));
}

TEST_CASE("a request reaches the running apply's control file, and only when one runs") {
  TempDir dir;
  ManualClock clock;
  FileControl control(control_file(dir.path()), clock);

  auto none = request_running_apply(dir.path(), Command::kPause, clock, own_comm());
  REQUIRE_FALSE(none.is_ok());
  CHECK(none.status().code() == Code::kFailedPrecondition);
  CHECK_FALSE(std::filesystem::exists(control_file(dir.path())));
  CHECK(control.poll() == Command::kNone);

  PidFile pid(dir.path());
  auto cmd = GENERATE(Command::kPause, Command::kResume, Command::kRollback, Command::kPromote);
  auto sent = request_running_apply(dir.path(), cmd, clock, own_comm());
  REQUIRE(sent.is_ok());
  CHECK(*sent == ::getpid());
  CHECK(control.poll() == cmd);
  CHECK(control.poll() == Command::kNone);  // consumed
}

}  // namespace
}  // namespace orch::rollout
