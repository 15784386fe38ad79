// HttpEngine against the testbed's real dockerd hosts ([docker]; needs `scripts/testbed up`).
//
// Containers are named rgtest-docker-<pid>-* and labelled rgtest.docker.run=<pid>, so runs beside
// other tests do not collide; each test removes what it created, also when an assertion fails.
#include <unistd.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "orchestrator/core/clock.h"
#include "orchestrator/docker/api_paths.h"
#include "orchestrator/docker/http_engine.h"
#include "tests/integration/testbed.h"
#include "tests/support/run_task.h"

namespace net = boost::asio;
using namespace std::chrono_literals;
using orch::Code;
using orch::Result;
using orch::Status;
using orch::Task;
using namespace orch::docker;

namespace {

// The engines under test measure their deadlines on the real clock.
orch::SystemClock test_clock;

const std::string kRunLabel = "rgtest.docker.run";

std::string run_id() { return std::to_string(::getpid()); }
std::string prefix() { return "rgtest-docker-" + run_id(); }

// Runs one coroutine to completion on `io`.
template <class T>
T run(net::io_context& io, Task<T> task) {
  return orch::testing::run_task(io, std::move(task), orch::testing::Until::kIdle);
}

std::unique_ptr<Engine> engine_for(net::io_context& io, const rgtest::Testbed& tb,
                                   const std::string& host) {
  const std::string text = tb.engine(host);
  INFO("RG_TESTBED_ENGINE_" << host << "=" << text);
  auto ep = parse_endpoint(text);
  REQUIRE(ep.is_ok());
  HttpEngineOptions options;
  options.pull_timeout = 120s;
  return make_http_engine(io, test_clock, host, *ep, options);
}

// Removes every container this run labelled on `engine`, now and when it goes out of scope.
class Cleanup {
 public:
  Cleanup(net::io_context& io, Engine& engine) : io_(io), engine_(engine) { sweep(); }
  ~Cleanup() { sweep(); }

 private:
  Task<bool> remove_labelled() {
    // Built outside the co_await: GCC 12 rejects an initializer list inside one.
    std::vector<std::string> filter;
    filter.push_back(kRunLabel + "=" + run_id());
    auto list = co_await engine_.list_containers(std::move(filter));
    if (list) {
      for (const ContainerSummary& c : *list) {
        (void)co_await engine_.remove_container(c.id, /*force=*/true);
      }
    }
    co_return true;
  }

  void sweep() {
    net::co_spawn(io_, remove_labelled(), [](std::exception_ptr, bool) {});
    io_.restart();
    io_.run();
  }

  net::io_context& io_;
  Engine& engine_;
};

// A TCP connect to addr:port, retried for up to ~10 s (the published port appears once the
// container has started).
Task<bool> can_connect(std::string addr, uint16_t port) {
  auto ex = co_await net::this_coro::executor;
  net::ip::tcp::endpoint ep(net::ip::make_address(addr), port);
  for (int attempt = 0; attempt < 50; ++attempt) {
    net::ip::tcp::socket sock(ex);
    auto [ec] = co_await sock.async_connect(ep, net::as_tuple(net::use_awaitable));
    if (!ec) {
      co_return true;
    }
    net::steady_timer pause(ex, 200ms);
    co_await pause.async_wait(net::as_tuple(net::use_awaitable));
  }
  co_return false;
}

}  // namespace

TEST_CASE("testbed env file parsing", "[docker][testbed]") {
  auto tb = rgtest::parse_testbed_env(
      "# comment\nRG_TESTBED_HOSTS=\"h1 h2\"\n\nRG_TESTBED_ENGINE_h1=tcp://10.0.0.1:2375\r\n"
      "RG_TESTBED_IMAGE=10.0.0.1:5000/demo\n");
  CHECK(tb.hosts() == std::vector<std::string>{"h1", "h2"});
  CHECK(tb.engine("h1") == "tcp://10.0.0.1:2375");
  CHECK(tb.engine("h2").empty());
  CHECK(tb.image() == "10.0.0.1:5000/demo");
}

TEST_CASE("ping and version on every host at once", "[docker]") {
  const rgtest::Testbed tb = rgtest::load_testbed();
  net::io_context io;
  std::vector<std::unique_ptr<Engine>> engines;
  for (const std::string& host : tb.hosts()) {
    engines.push_back(engine_for(io, tb, host));
  }
  std::map<std::string, Result<PingInfo>> pings;
  std::map<std::string, Result<VersionInfo>> versions;
  for (auto& engine : engines) {
    net::co_spawn(
        io,
        [&, e = engine.get()]() -> Task<void> {
          pings.emplace(e->host_name(), co_await e->ping());
          versions.emplace(e->host_name(), co_await e->version());
        },
        net::detached);
  }
  io.run();
  REQUIRE(pings.size() == engines.size());
  REQUIRE(versions.size() == engines.size());
  for (const std::string& host : tb.hosts()) {
    INFO(host);
    const Result<PingInfo>& ping = pings.at(host);
    REQUIRE(ping.is_ok());
    CHECK(api_version_supported(ping->api_version));
    CHECK(ping->os_type == "linux");
    const Result<VersionInfo>& version = versions.at(host);
    INFO(version.status().to_string());
    REQUIRE(version.is_ok());
    CHECK_FALSE(version->version.empty());
    CHECK(api_version_supported(version->api_version));
    CHECK(version->os == "linux");
  }
}

TEST_CASE("distribution resolves a tag - pull by digest - inspect the image", "[docker]") {
  const rgtest::Testbed tb = rgtest::load_testbed();
  net::io_context io;
  const std::string host = tb.hosts().front();
  auto engine = engine_for(io, tb, host);
  const std::string repo = tb.image();
  REQUIRE_FALSE(repo.empty());

  auto dist = run(io, engine->distribution(repo + ":v1"));
  INFO(dist.status().to_string());
  REQUIRE(dist.is_ok());
  CHECK(dist->digest.starts_with("sha256:"));
  CHECK(dist->digest.size() == 71);
  CHECK(dist->size > 0);

  const std::string pinned = repo + "@" + dist->digest;
  Status pulled = run(io, engine->pull(pinned));
  INFO(pulled.to_string());
  REQUIRE(pulled.is_ok());

  auto image = run(io, engine->inspect_image(pinned));
  REQUIRE(image.is_ok());
  CHECK(image->id.starts_with("sha256:"));
  CHECK(std::find(image->repo_digests.begin(), image->repo_digests.end(), pinned) !=
        image->repo_digests.end());

  // A tag pull (registry host:port in the name) works too and resolves to the same image.
  Status by_tag = run(io, engine->pull(repo + ":v1"));
  INFO(by_tag.to_string());
  REQUIRE(by_tag.is_ok());
  auto tagged = run(io, engine->inspect_image(repo + ":v1"));
  REQUIRE(tagged.is_ok());
  CHECK(tagged->id == image->id);
}

TEST_CASE("pulling a tag that does not exist fails with the engine's message", "[docker]") {
  const rgtest::Testbed tb = rgtest::load_testbed();
  net::io_context io;
  auto engine = engine_for(io, tb, tb.hosts().front());
  const std::string ref = tb.image() + ":" + prefix() + "-no-such-tag";
  Status st = run(io, engine->pull(ref));
  REQUIRE_FALSE(st.is_ok());
  INFO(st.to_string());
  CHECK(st.code() == Code::kNotFound);
  CHECK(st.http_status() == 404);
  CHECK_THAT(st.message(), Catch::Contains("not found"));
  CHECK_THAT(st.message(), Catch::Contains(prefix() + "-no-such-tag"));

  auto inspect = run(io, engine->inspect_image(ref));
  REQUIRE_FALSE(inspect.is_ok());
  CHECK(inspect.status().code() == Code::kNotFound);
  CHECK_THAT(inspect.status().message(), Catch::Contains("No such image"));
}

TEST_CASE("container lifecycle with labels and a published port", "[docker]") {
  const rgtest::Testbed tb = rgtest::load_testbed();
  net::io_context io;
  const std::string host = tb.hosts().front();
  auto engine = engine_for(io, tb, host);
  Cleanup cleanup(io, *engine);

  auto dist = run(io, engine->distribution(tb.image() + ":v1"));
  REQUIRE(dist.is_ok());
  const std::string pinned = tb.image() + "@" + dist->digest;
  REQUIRE(run(io, engine->pull(pinned)).is_ok());

  const std::string name = prefix() + "-web";
  const uint16_t host_port = static_cast<uint16_t>(20000 + ::getpid() % 20000);
  ContainerSpec spec;
  spec.name = name;
  spec.image = pinned;
  spec.env = {"DEMO_GREETING=hello"};
  spec.labels = {{kRunLabel, run_id()}, {"rgtest.role", "web"}};
  spec.ports = {PortBinding{host_port, 8080, "tcp", ""}};
  spec.restart_policy = "on-failure";
  spec.restart_max_retries = 2;
  spec.stop_timeout_s = 3;

  auto id = run(io, engine->create_container(spec));
  INFO(id.status().to_string());
  REQUIRE(id.is_ok());

  auto created = run(io, engine->inspect_container(name));
  REQUIRE(created.is_ok());
  CHECK(created->id == *id);
  CHECK(created->name == name);
  CHECK(created->image == pinned);
  CHECK(created->image_id.starts_with("sha256:"));
  CHECK(created->labels.at(kRunLabel) == run_id());
  CHECK(created->labels.at("rgtest.role") == "web");
  CHECK(created->state.status == "created");
  CHECK_FALSE(created->state.running);

  Status started = run(io, engine->start_container(name));
  INFO(started.to_string());
  REQUIRE(started.is_ok());
  CHECK(run(io, engine->start_container(*id)).is_ok());  // already running: 304 is success

  auto running = run(io, engine->inspect_container(id->substr(0, 12)));
  REQUIRE(running.is_ok());
  CHECK(running->state.status == "running");
  CHECK(running->state.running);
  CHECK(running->state.pid > 0);
  CHECK(running->restart_count == 0);

  const std::string addr = tb.addr(host);
  REQUIRE_FALSE(addr.empty());
  CHECK(run(io, can_connect(addr, host_port)));

  auto mine = run(io, engine->list_containers({kRunLabel + "=" + run_id(), "rgtest.role=web"}));
  REQUIRE(mine.is_ok());
  REQUIRE(mine->size() == 1);
  CHECK(mine->at(0).id == *id);
  CHECK(mine->at(0).name == name);
  CHECK(mine->at(0).state == "running");
  CHECK(mine->at(0).labels.at("rgtest.role") == "web");
  auto by_key = run(io, engine->list_containers({kRunLabel}));
  REQUIRE(by_key.is_ok());
  CHECK(std::any_of(by_key->begin(), by_key->end(),
                    [&](const ContainerSummary& c) { return c.id == *id; }));
  auto none = run(io, engine->list_containers({kRunLabel + "=" + run_id(), "rgtest.role=db"}));
  REQUIRE(none.is_ok());
  CHECK(none->empty());

  Status stopped = run(io, engine->stop_container(name, 3));
  INFO(stopped.to_string());
  REQUIRE(stopped.is_ok());
  CHECK(run(io, engine->stop_container(name, 3)).is_ok());  // already stopped: 304 is success
  auto exited = run(io, engine->inspect_container(name));
  REQUIRE(exited.is_ok());
  CHECK(exited->state.status == "exited");
  CHECK_FALSE(exited->state.running);
  CHECK(exited->state.finished_at != "0001-01-01T00:00:00Z");

  const std::string old_name = name + "-old";
  REQUIRE(run(io, engine->rename_container(name, old_name)).is_ok());
  auto renamed = run(io, engine->inspect_container(old_name));
  REQUIRE(renamed.is_ok());
  CHECK(renamed->id == *id);
  CHECK(renamed->name == old_name);
  auto gone_name = run(io, engine->inspect_container(name));
  REQUIRE_FALSE(gone_name.is_ok());
  CHECK(gone_name.status().code() == Code::kNotFound);

  REQUIRE(run(io, engine->remove_container(old_name, /*force=*/true)).is_ok());
  auto removed = run(io, engine->inspect_container(*id));
  REQUIRE_FALSE(removed.is_ok());
  CHECK(removed.status().code() == Code::kNotFound);
  CHECK(removed.status().http_status() == 404);

  // Keep-alive: every call shared one connection, errors included, but the pull, which
  // streams on a connection of its own.
  const ConnectionStats st = connection_stats(*engine).value();
  CHECK(st.opened == 2);
  CHECK(st.retried == 0);
}

TEST_CASE("engine errors carry HTTP status, code and message", "[docker]") {
  const rgtest::Testbed tb = rgtest::load_testbed();
  net::io_context io;
  const std::string host = tb.hosts().back();
  auto engine = engine_for(io, tb, host);
  Cleanup cleanup(io, *engine);

  auto missing = run(io, engine->inspect_container(prefix() + "-missing"));
  REQUIRE_FALSE(missing.is_ok());
  CHECK(missing.status().code() == Code::kNotFound);
  CHECK(missing.status().http_status() == 404);
  CHECK(missing.status().message() ==
        host + ": GET /containers/" + prefix() +
            "-missing/json: HTTP 404: No such container: " + prefix() + "-missing");

  auto dist = run(io, engine->distribution(tb.image() + ":v1"));
  REQUIRE(dist.is_ok());
  const std::string pinned = tb.image() + "@" + dist->digest;
  REQUIRE(run(io, engine->pull(pinned)).is_ok());

  ContainerSpec spec;
  spec.name = prefix() + "-dup";
  spec.image = pinned;
  spec.labels = {{kRunLabel, run_id()}};
  auto first = run(io, engine->create_container(spec));
  REQUIRE(first.is_ok());
  auto second = run(io, engine->create_container(spec));
  REQUIRE_FALSE(second.is_ok());
  CHECK(second.status().code() == Code::kConflict);
  CHECK(second.status().http_status() == 409);
  CHECK_THAT(second.status().message(),
             Catch::StartsWith(host + ": POST /containers/create: HTTP 409: Conflict."));
  CHECK_THAT(second.status().message(), Catch::Contains("is already in use"));

  // Create never pulls: an image the host does not have is kNotFound.
  spec.name = prefix() + "-noimage";
  spec.image = tb.image() + ":" + prefix() + "-absent";
  auto no_image = run(io, engine->create_container(spec));
  REQUIRE_FALSE(no_image.is_ok());
  CHECK(no_image.status().code() == Code::kNotFound);
  CHECK_THAT(no_image.status().message(), Catch::Contains("No such image"));

  Status stop_missing = run(io, engine->stop_container(prefix() + "-missing", 1));
  CHECK(stop_missing.code() == Code::kNotFound);
  Status remove_missing = run(io, engine->remove_container(prefix() + "-missing", true));
  CHECK(remove_missing.code() == Code::kNotFound);
}
