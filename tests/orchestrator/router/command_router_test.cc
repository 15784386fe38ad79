// CommandRouter running real shell scripts: the ROLLGATE_* environment each action receives
// (the contract in orchestrator/router/command.cc), exit codes, output, timeouts. Nothing here
// sleeps: the scripts are quick, and the timeout runs on a ManualClock. What needs real time
// (a program running past a real limit, its children killed) is in
// tests/integration/command_router_test.cc.
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>

#include "orchestrator/router/router.h"
#include "tests/fakes/manual_clock.h"
#include "tests/orchestrator/router/command_router_support.h"
#include "tests/orchestrator/router/router_test_support.h"
#include "tests/support/scoped_env.h"

namespace orch::router {
namespace {

using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using manifest::Colour;
using test::list;
using test::manifest_with;
using test::Mode;
using test::run_task;
using test::script;
using test::TempDir;

TEST_CASE("command router: switch gets the colour, its port and every endpoint",
          "[router][command]") {
  TempDir dir;
  auto m = manifest_with(list(script(dir, "exit 0")));
  SystemClock clock;
  auto r = make_router(m, clock);
  CHECK(r->kind() == "command");
  std::vector<Endpoint> green = {{"h1", "10.0.0.1", 8081}, {"h2", "10.0.0.2", 8081}};
  auto st = run_task(r->switch_to(Colour::kGreen, green));
  INFO(st.message());
  REQUIRE(st);
  CHECK(dir.read("switch.env") ==
        "ROLLGATE_ACTION=switch\n"
        "ROLLGATE_APP=web\n"
        "ROLLGATE_COLOUR=green\n"
        "ROLLGATE_ENDPOINTS=h1=10.0.0.1:8081 h2=10.0.0.2:8081\n"
        "ROLLGATE_HOSTS=h1 h2\n"
        "ROLLGATE_PORT=8081\n");

  std::vector<Endpoint> blue = {{"h1", "10.0.0.1", 8080}, {"h2", "10.0.0.2", 8080}};
  REQUIRE(run_task(r->switch_to(Colour::kBlue, blue)));
  CHECK(dir.read("switch.env") ==
        "ROLLGATE_ACTION=switch\n"
        "ROLLGATE_APP=web\n"
        "ROLLGATE_COLOUR=blue\n"
        "ROLLGATE_ENDPOINTS=h1=10.0.0.1:8080 h2=10.0.0.2:8080\n"
        "ROLLGATE_HOSTS=h1 h2\n"
        "ROLLGATE_PORT=8080\n");
}

TEST_CASE("command router: drain and enable name the host, stop-first without a colour",
          "[router][command]") {
  TempDir dir;
  auto m = manifest_with(list(script(dir, "exit 0")), Mode::kStopFirst);
  SystemClock clock;
  auto r = make_router(m, clock);
  const Endpoint h2{"h2", "10.0.0.2", 8080};
  auto drained = run_task(r->drain(h2, std::nullopt));
  INFO(drained.status().message());
  REQUIRE(drained);
  CHECK(drained->idle);
  CHECK(drained->in_flight == 0);
  CHECK(dir.read("drain.env") ==
        "ROLLGATE_ACTION=drain\n"
        "ROLLGATE_ADDRESS=10.0.0.2\n"
        "ROLLGATE_APP=web\n"
        "ROLLGATE_COLOUR=\n"
        "ROLLGATE_DRAIN_TIMEOUT_MS=2000\n"
        "ROLLGATE_HOST=h2\n"
        "ROLLGATE_HOSTS=h1 h2\n"
        "ROLLGATE_PORT=8080\n");
  REQUIRE(run_task(r->enable(h2, std::nullopt)));
  CHECK(dir.read("enable.env") ==
        "ROLLGATE_ACTION=enable\n"
        "ROLLGATE_ADDRESS=10.0.0.2\n"
        "ROLLGATE_APP=web\n"
        "ROLLGATE_COLOUR=\n"
        "ROLLGATE_HOST=h2\n"
        "ROLLGATE_HOSTS=h1 h2\n"
        "ROLLGATE_PORT=8080\n");
}

TEST_CASE("command router: start-first drain and enable name the slot", "[router][command]") {
  TempDir dir;
  auto m = manifest_with(list(script(dir, "exit 0")), Mode::kStartFirst);
  SystemClock clock;
  auto r = make_router(m, clock);
  REQUIRE(run_task(r->enable(Endpoint{"h1", "10.0.0.1", 8081}, Colour::kGreen)));
  CHECK(dir.read("enable.env") ==
        "ROLLGATE_ACTION=enable\n"
        "ROLLGATE_ADDRESS=10.0.0.1\n"
        "ROLLGATE_APP=web\n"
        "ROLLGATE_COLOUR=green\n"
        "ROLLGATE_HOST=h1\n"
        "ROLLGATE_HOSTS=h1 h2\n"
        "ROLLGATE_PORT=8081\n");
  REQUIRE(run_task(r->drain(Endpoint{"h1", "10.0.0.1", 8080}, Colour::kBlue)));
  CHECK(dir.read("drain.env") ==
        "ROLLGATE_ACTION=drain\n"
        "ROLLGATE_ADDRESS=10.0.0.1\n"
        "ROLLGATE_APP=web\n"
        "ROLLGATE_COLOUR=blue\n"
        "ROLLGATE_DRAIN_TIMEOUT_MS=2000\n"
        "ROLLGATE_HOST=h1\n"
        "ROLLGATE_HOSTS=h1 h2\n"
        "ROLLGATE_PORT=8080\n");
}

TEST_CASE("command router: wait-idle and drain exit 3 means still busy", "[router][command]") {
  TempDir dir;
  const int code = GENERATE(0, 3);
  CAPTURE(code);
  auto m = manifest_with(list(script(dir, "exit " + std::to_string(code))));
  SystemClock clock;
  auto r = make_router(m, clock);
  auto idle = run_task(r->wait_idle(Colour::kBlue));
  INFO(idle.status().message());
  REQUIRE(idle);
  CHECK(idle->idle == (code == 0));
  CHECK(dir.read("wait-idle.env") ==
        "ROLLGATE_ACTION=wait-idle\n"
        "ROLLGATE_APP=web\n"
        "ROLLGATE_COLOUR=blue\n"
        "ROLLGATE_DRAIN_TIMEOUT_MS=2000\n"
        "ROLLGATE_HOSTS=h1 h2\n");
  auto drained = run_task(r->drain(Endpoint{"h1", "10.0.0.1", 8080}, std::nullopt));
  REQUIRE(drained);
  CHECK(drained->idle == (code == 0));
}

TEST_CASE("command router: live reads the colour the program prints", "[router][command]") {
  TempDir dir;
  SystemClock clock;
  SECTION("green") {
    auto m = manifest_with(list(script(dir, "echo green")));
    auto live = run_task(make_router(m, clock)->live_colour());
    REQUIRE(live);
    CHECK(*live == std::optional<Colour>(Colour::kGreen));
    CHECK(dir.read("live.env") == "ROLLGATE_ACTION=live\nROLLGATE_APP=web\nROLLGATE_HOSTS=h1 h2\n");
  }
  SECTION("blue, without a newline") {
    auto m = manifest_with(list(script(dir, "printf blue")));
    auto live = run_task(make_router(m, clock)->live_colour());
    REQUIRE(live);
    CHECK(*live == std::optional<Colour>(Colour::kBlue));
  }
  SECTION("nothing: the program cannot tell") {
    auto m = manifest_with(list(script(dir, "exit 0")));
    auto live = run_task(make_router(m, clock)->live_colour());
    REQUIRE(live);
    CHECK_FALSE(live->has_value());
  }
  SECTION("junk") {
    auto m = manifest_with(list(script(dir, "echo purple")));
    auto live = run_task(make_router(m, clock)->live_colour());
    REQUIRE_FALSE(live);
    CHECK(live.status().code() == Code::kFailedPrecondition);
    CHECK_THAT(live.status().message(), Contains("purple"));
    CHECK_THAT(live.status().message(), Contains("router.sh"));
  }
}

TEST_CASE("command router: check runs the program with ROLLGATE_ACTION=check",
          "[router][command]") {
  TempDir dir;
  auto m = manifest_with(list(script(dir, "exit 0")));
  SystemClock clock;
  std::vector<std::string> hosts = {"h1", "h2"};
  REQUIRE(run_task(make_router(m, clock)->check(hosts)));
  CHECK(dir.read("check.env") == "ROLLGATE_ACTION=check\nROLLGATE_APP=web\nROLLGATE_HOSTS=h1 h2\n");
}

TEST_CASE("command router: a non-zero exit is an error quoting the output", "[router][command]") {
  TempDir dir;
  auto m = manifest_with(
      list(script(dir, "echo 'backend web: no such pool'\necho 'try again' >&2\nexit 7")));
  SystemClock clock;
  auto r = make_router(m, clock);
  std::vector<Endpoint> green = {{"h1", "10.0.0.1", 8081}};
  auto st = run_task(r->switch_to(Colour::kGreen, green));
  REQUIRE_FALSE(st);
  CHECK(st.code() == Code::kFailedPrecondition);
  CHECK_THAT(st.message(), Contains(dir.file("router.sh")));
  CHECK_THAT(st.message(), Contains("ROLLGATE_ACTION=switch"));
  CHECK_THAT(st.message(), Contains("exited with code 7"));
  CHECK_THAT(st.message(), Contains("backend web: no such pool"));
  CHECK_THAT(st.message(), Contains("try again"));  // stderr too
  auto idle = run_task(r->wait_idle(Colour::kBlue));
  REQUIRE_FALSE(idle);
  CHECK_THAT(idle.status().message(), Contains("exited with code 7"));
}

TEST_CASE("command router: a program past router.timeout is killed", "[router][command]") {
  // On a ManualClock the limit passes at once, so the kill runs without waiting for it; the
  // real-time version, which also checks the program's children, is an integration test.
  TempDir dir;
  auto m = manifest_with(list(script(dir, "sleep 30")));
  testing::ManualClock clock;
  auto r = make_router(m, clock);
  std::vector<Endpoint> green = {{"h1", "10.0.0.1", 8081}};
  auto st = run_task(r->switch_to(Colour::kGreen, green));
  REQUIRE_FALSE(st);
  CHECK(st.code() == Code::kTimeout);
  CHECK_THAT(st.message(), Contains("did not finish within 1s and was killed"));
  CHECK_THAT(st.message(), Contains("ROLLGATE_ACTION=switch"));
  CHECK(clock.slept() == 1s);  // router.timeout, measured on the injected clock

  // wait-idle and drain may take drain_timeout + timeout.
  auto idle = run_task(r->wait_idle(Colour::kBlue));
  REQUIRE_FALSE(idle);
  CHECK_THAT(idle.status().message(), Contains("did not finish within 3s and was killed"));
  CHECK(clock.slept() == 4s);
}

TEST_CASE("command router: a program that cannot run is a clear error", "[router][command]") {
  TempDir dir;
  SystemClock clock;
  SECTION("missing") {
    const std::string missing = dir.file("no-such-router");
    auto m = manifest_with(list(missing));
    auto st = run_task(make_router(m, clock)->check({}));
    REQUIRE_FALSE(st);
    CHECK(st.code() == Code::kFailedPrecondition);
    CHECK_THAT(st.message(), Contains(missing));
    CHECK_THAT(st.message(), Contains("cannot run it"));
    CHECK_THAT(st.message(), Contains("No such file or directory"));
  }
  SECTION("not executable") {
    const std::string plain = dir.write("router.txt", "#!/bin/sh\nexit 0\n");
    auto m = manifest_with(list(plain));
    auto st = run_task(make_router(m, clock)->check({}));
    REQUIRE_FALSE(st);
    CHECK_THAT(st.message(), Contains(plain));
    CHECK_THAT(st.message(), Contains("Permission denied"));
  }
}

TEST_CASE("command router: rollgate's own ROLLGATE_ variables do not leak", "[router][command]") {
  TempDir dir;
  orch::testing::ScopedEnv foo("ROLLGATE_FOO", "leaked");
  orch::testing::ScopedEnv colour("ROLLGATE_COLOUR", "purple");
  orch::testing::ScopedEnv visible("RG_ROUTER_TEST_VISIBLE", "yes");
  auto m =
      manifest_with(list(script(dir, "echo \"$RG_ROUTER_TEST_VISIBLE\" > " + dir.file("visible"))));
  SystemClock clock;
  auto st = run_task(make_router(m, clock)->check({}));
  REQUIRE(st);
  CHECK(dir.read("check.env") == "ROLLGATE_ACTION=check\nROLLGATE_APP=web\nROLLGATE_HOSTS=h1 h2\n");
  CHECK(dir.read("visible") == "yes\n");  // the rest of the environment is passed on
}

TEST_CASE("command router: a command string runs through /bin/sh -c", "[router][command]") {
  TempDir dir;
  auto m = manifest_with("\"echo $ROLLGATE_ACTION $ROLLGATE_COLOUR > " + dir.file("out") + "\"");
  REQUIRE(m.router->command->run.size() == 3);
  SystemClock clock;
  auto r = make_router(m, clock);
  REQUIRE(run_task(r->wait_idle(Colour::kGreen)));
  CHECK(dir.read("out") == "wait-idle green\n");
  CHECK(r->describe_switch(Colour::kGreen) ==
        "run /bin/sh with ROLLGATE_ACTION=switch ROLLGATE_COLOUR=green");
  CHECK(r->describe_drain("h1", std::nullopt) ==
        "run /bin/sh with ROLLGATE_ACTION=drain ROLLGATE_HOST=h1");
  CHECK(r->describe_enable("h1", Colour::kBlue) ==
        "run /bin/sh with ROLLGATE_ACTION=enable ROLLGATE_HOST=h1 ROLLGATE_COLOUR=blue");
}

}  // namespace
}  // namespace orch::router
