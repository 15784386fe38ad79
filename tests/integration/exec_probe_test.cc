// Docker exec against the testbed's real dockerd ([docker]; needs `scripts/testbed up`):
// HttpEngine::exec and the exec probe through rollout::EngineExec.
//
// The container is named rgtest-exec-<pid> and removed at the end, also when an assertion fails;
// nothing else on the testbed is touched.
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "healthcheck/probe.h"
#include "orchestrator/core/clock.h"
#include "orchestrator/docker/http_engine.h"
#include "orchestrator/rollout/engine_exec.h"
#include "tests/integration/testbed.h"
#include "tests/support/run_task.h"

namespace {

// The engines under test measure their deadlines on the real clock.
orch::SystemClock test_clock;

namespace net = boost::asio;
using namespace std::chrono_literals;
using orch::Code;
using orch::Result;
using orch::Status;
using orch::Task;
using namespace orch::docker;

// Runs one coroutine to completion on `io`, and whatever else is queued there.
template <class T>
T run(net::io_context& io, net::awaitable<T> task) {
  return orch::testing::run_task(io, std::move(task), orch::testing::Until::kIdle);
}

// Force-removes the named container when it goes out of scope.
class RemoveOnExit {
 public:
  RemoveOnExit(net::io_context& io, Engine& engine, std::string name)
      : io_(io), engine_(engine), name_(std::move(name)) {}
  ~RemoveOnExit() {
    net::co_spawn(io_, engine_.remove_container(name_, /*force=*/true),
                  [](std::exception_ptr, Status) {});
    io_.restart();
    io_.run();
  }

 private:
  net::io_context& io_;
  Engine& engine_;
  std::string name_;
};

TEST_CASE("exec in a real container: exit codes, output, timeout, stopped container",
          "[docker][exec]") {
  rgtest::Testbed tb = rgtest::load_testbed();
  const std::string host = tb.hosts().front();
  net::io_context io;
  auto ep = parse_endpoint(tb.engine(host));
  REQUIRE(ep.is_ok());
  HttpEngineOptions options;
  options.pull_timeout = 120s;
  auto engine = make_http_engine(io, test_clock, host, *ep, options);

  const std::string image = tb.image() + ":v1";
  Status pulled = run(io, engine->pull(image));
  INFO(pulled.to_string());
  REQUIRE(pulled.is_ok());

  const std::string name = "rgtest-exec-" + std::to_string(::getpid());
  RemoveOnExit cleanup(io, *engine, name);
  (void)run(io, engine->remove_container(name, true));  // a leftover of an earlier crashed run
  ContainerSpec spec;
  spec.name = name;
  spec.image = image;
  spec.labels = {{"rgtest.exec.run", std::to_string(::getpid())}};
  Result<std::string> id = run(io, engine->create_container(spec));
  INFO(id.status().to_string());
  REQUIRE(id.is_ok());
  Status started = run(io, engine->start_container(*id));
  INFO(started.to_string());
  REQUIRE(started.is_ok());

  Result<ExecResult> ok = run(io, engine->exec(name, {"/bin/sh", "-c", "exit 0"}, 10s));
  INFO(ok.status().to_string());
  REQUIRE(ok.is_ok());
  CHECK(ok->exit_code == 0);

  Result<ExecResult> three =
      run(io, engine->exec(name, {"/bin/sh", "-c", "echo hello; echo oops >&2; exit 3"}, 10s));
  INFO(three.status().to_string());
  REQUIRE(three.is_ok());
  CHECK(three->exit_code == 3);
  CHECK(three->output.find("hello") != std::string::npos);
  CHECK(three->output.find("oops") != std::string::npos);

  // Output past 4 KiB is read to the end but not kept.
  Result<ExecResult> big = run(io, engine->exec(name,
                                                {"/bin/sh", "-c",
                                                 "i=0; while [ $i -lt 2000 ]; do echo line$i; "
                                                 "i=$((i+1)); done"},
                                                10s));
  REQUIRE(big.is_ok());
  CHECK(big->exit_code == 0);
  CHECK(big->output.size() == 4096);
  CHECK(big->output.rfind("line0\n", 0) == 0);

  Result<ExecResult> slow = run(io, engine->exec(name, {"/bin/sh", "-c", "sleep 5"}, 300ms));
  REQUIRE_FALSE(slow.is_ok());
  CHECK(slow.status().code() == Code::kTimeout);

  // The probe, through the orchestrator's adapter.
  orch::rollout::EngineExec adapter({{host, engine.get()}});
  auto probe =
      health::make_exec_probe({{"/bin/sh", "-c", "exit 0"}, health::Millis{10000}}, adapter);
  health::ProbeResult pass = run(io, probe->run(health::Target{host, tb.addr(host), name}));
  INFO(pass.detail);
  CHECK(pass.outcome == health::ProbeResult::Outcome::kPass);
  auto failing =
      health::make_exec_probe({{"/bin/sh", "-c", "exit 1"}, health::Millis{10000}}, adapter);
  health::ProbeResult fail = run(io, failing->run(health::Target{host, tb.addr(host), name}));
  CHECK(fail.outcome == health::ProbeResult::Outcome::kFail);
  CHECK(fail.detail.rfind("exec exited with code 1 in ", 0) == 0);

  // A stopped container refuses (409), and the probe fails rather than erroring.
  Status stopped = run(io, engine->stop_container(name, 1));
  REQUIRE(stopped.is_ok());
  Result<ExecResult> refused = run(io, engine->exec(name, {"/bin/sh", "-c", "exit 0"}, 10s));
  REQUIRE_FALSE(refused.is_ok());
  CHECK(refused.status().code() == Code::kConflict);
  CHECK(refused.status().message().find("is not running") != std::string::npos);
  health::ProbeResult after = run(io, probe->run(health::Target{host, tb.addr(host), name}));
  CHECK(after.outcome == health::ProbeResult::Outcome::kFail);
  CHECK(after.detail.rfind("exec failed: ", 0) == 0);
}

}  // namespace
