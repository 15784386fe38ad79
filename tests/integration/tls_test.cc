// Mutual TLS to the testbed's TLS host (h0), and registry credentials that never leak
// ([docker]; needs `scripts/testbed up`, which creates h0 and its certificates).
//
// h0's dockerd runs with --tlsverify on tcp://ADDR:2376; RG_TESTBED_TLS_CERT_PATH holds the
// client's ca.pem, cert.pem and key.pem, RG_TESTBED_TLS_WRONG_CA an unrelated CA.
#include <openssl/evp.h>
#include <stdlib.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "orchestrator/core/clock.h"
#include "orchestrator/docker/http_engine.h"
#include "orchestrator/docker/registry_auth.h"
#include "tests/integration/rollgate_runner.h"
#include "tests/integration/testbed.h"
#include "tests/orchestrator/docker/tls_testdata.h"
#include "tests/support/run_task.h"
#include "tests/support/scoped_env.h"
#include "tests/support/temp_dir.h"

namespace net = boost::asio;
using orch::Code;
using orch::Result;
using orch::Task;
using namespace orch::docker;
using orch::testing::run_task;
using orch::testing::ScopedEnv;
using orch::testing::TempDir;

namespace {

// The engines under test measure their deadlines on the real clock.
orch::SystemClock test_clock;

struct TlsHost {
  std::string name;
  std::string engine;     // tcp://ADDR:2376
  std::string cert_path;  // ca.pem cert.pem key.pem
  std::string wrong_ca;
  std::string sock;
};

TlsHost tls_host(const rgtest::Testbed& tb) {
  TlsHost h{tb.get("RG_TESTBED_TLS_HOST"), tb.get("RG_TESTBED_TLS_ENGINE"),
            tb.get("RG_TESTBED_TLS_CERT_PATH"), tb.get("RG_TESTBED_TLS_WRONG_CA"),
            tb.get("RG_TESTBED_TLS_SOCK")};
  if (h.engine.empty() || h.cert_path.empty()) {
    FAIL("the testbed has no TLS host: run scripts/testbed up");
  }
  return h;
}

std::unique_ptr<Engine> tls_engine(net::io_context& io, const TlsHost& h, TlsFiles files,
                                   HttpEngineOptions options = {}) {
  auto ep = parse_endpoint(h.engine);
  REQUIRE(ep.is_ok());
  ep->tls = std::move(files);
  return make_http_engine(io, test_clock, h.name, *ep, options);
}

std::string b64(const std::string& in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// Removes every container of `app` on the engine behind the unix socket.
void remove_app(const std::string& sock, const std::string& app) {
  net::io_context io;
  Endpoint ep;
  ep.kind = Endpoint::Kind::kUnix;
  ep.path = sock;
  auto engine = make_http_engine(io, test_clock, "cleanup", ep);
  auto list = run_task(io, engine->list_containers({"rollgate.app=" + app}));
  if (!list) {
    return;
  }
  for (const auto& c : *list) {
    (void)run_task(io, engine->remove_container(c.id, true));
  }
}

}  // namespace

TEST_CASE("ping, version and list over mutual TLS to the testbed's TLS host", "[docker][tls]") {
  const TlsHost h = tls_host(rgtest::load_testbed());
  net::io_context io;
  auto engine = tls_engine(io, h, resolve_tls_files("", "", "", h.cert_path));

  auto ping = run_task(io, engine->ping());
  INFO(ping.status().to_string());
  REQUIRE(ping.is_ok());
  CHECK(ping->api_version >= "1.41");
  auto version = run_task(io, engine->version());
  REQUIRE(version.is_ok());
  CHECK_FALSE(version->version.empty());
  auto list = run_task(io, engine->list_containers({"rollgate.app"}));
  INFO(list.status().to_string());
  CHECK(list.is_ok());
}

TEST_CASE("dockerd keeps TLS connections alive, and resumes sessions on new ones",
          "[docker][tls][keep_alive]") {
  const TlsHost h = tls_host(rgtest::load_testbed());
  net::io_context io;
  auto pooled = tls_engine(io, h, resolve_tls_files("", "", "", h.cert_path));
  HttpEngineOptions no_keep_alive;
  no_keep_alive.max_idle = 0;
  auto fresh = tls_engine(io, h, resolve_tls_files("", "", "", h.cert_path), no_keep_alive);
  for (Engine* engine : {pooled.get(), fresh.get()}) {
    REQUIRE(run_task(io, engine->ping()).is_ok());
    REQUIRE(run_task(io, engine->version()).is_ok());
    REQUIRE(run_task(io, engine->list_containers({"rollgate.app"})).is_ok());
  }
  const ConnectionStats kept = connection_stats(*pooled).value();
  CHECK(kept.opened == 1);
  CHECK(kept.reused == 2);
  const ConnectionStats each = connection_stats(*fresh).value();
  CHECK(each.opened == 3);
  CHECK(each.tls_resumed == 2);
}

TEST_CASE("a wrong CA fails the handshake with an error naming the host and tls.ca",
          "[docker][tls]") {
  const TlsHost h = tls_host(rgtest::load_testbed());
  net::io_context io;
  TlsFiles files = resolve_tls_files("", "", "", h.cert_path);
  files.ca = h.wrong_ca;
  auto ping = run_task(io, tls_engine(io, h, files)->ping());
  REQUIRE_FALSE(ping.is_ok());
  CHECK(ping.status().code() == Code::kUnavailable);
  CHECK_THAT(ping.status().message(),
             Catch::StartsWith(h.name + ": TLS handshake with " + h.engine + " failed: "));
  CHECK_THAT(ping.status().message(), Catch::Contains("certificate verify failed"));
  CHECK_THAT(ping.status().message(), Catch::Contains("check tls.ca"));
}

TEST_CASE("the engine refuses a client certificate it did not sign, and plain HTTP",
          "[docker][tls]") {
  const TlsHost h = tls_host(rgtest::load_testbed());
  TempDir dir;
  std::ofstream(dir.path() + "/cert.pem") << tls_testdata::kRogueCert;
  std::ofstream(dir.path() + "/key.pem") << tls_testdata::kRogueKey;
  net::io_context io;
  TlsFiles files = resolve_tls_files("", "", "", h.cert_path);
  files.cert = dir.path() + "/cert.pem";
  files.key = dir.path() + "/key.pem";
  auto rogue = run_task(io, tls_engine(io, h, files)->ping());
  REQUIRE_FALSE(rogue.is_ok());
  CHECK(rogue.status().code() == Code::kUnavailable);
  CHECK_THAT(rogue.status().message(), Catch::StartsWith(h.name + ": "));
  CHECK_THAT(rogue.status().message(),
             Catch::Contains("rollgate's client certificate") && Catch::Contains("check tls.cert"));

  // No client certificate at all: rollgate refuses to try, naming the missing file.
  files = resolve_tls_files("", "", "", h.cert_path);
  files.cert = dir.path() + "/absent.pem";
  auto missing = run_task(io, tls_engine(io, h, files)->ping());
  REQUIRE_FALSE(missing.is_ok());
  CHECK(missing.status().code() == Code::kInvalidArgument);
  CHECK_THAT(missing.status().message(), Catch::StartsWith(h.name + ": TLS: cannot use tls.cert"));

  // Plain HTTP to the TLS port: dockerd answers 400, and the message says why.
  auto plain_ep = parse_endpoint(h.engine);
  REQUIRE(plain_ep.is_ok());
  auto plain = run_task(io, make_http_engine(io, test_clock, h.name, *plain_ep)->ping());
  REQUIRE_FALSE(plain.is_ok());
  CHECK_THAT(plain.status().message(), Catch::Contains("HTTPS"));
}

TEST_CASE("rollgate ping: tls cert_path and tls: {} with DOCKER_CERT_PATH", "[docker][tls]") {
  const TlsHost h = tls_host(rgtest::load_testbed());
  ScopedEnv cert_path("DOCKER_CERT_PATH", h.cert_path);
  rgtest::TempManifest m(
      "app: tlsping\nimage: demo:v1\nhosts:\n"
      "  - {name: a, engine: \"" +
      h.engine + "\", tls: {cert_path: \"" + h.cert_path +
      "\"}}\n"
      "  - {name: b, engine: \"" +
      h.engine + "\", tls: {}}\n");
  auto r = rgtest::run_rollgate({"ping", "-f", m.path()});
  INFO(rgtest::describe(r));
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("2/2 engine(s) reachable"));
}

// Registry credentials from the environment and from config.json must never be printed,
// planned, emitted as events or journaled. The testbed registry does not check credentials,
// so the rollout itself succeeds; the point is where the secret goes.
TEST_CASE("registry credentials never appear in rollgate's output or state", "[docker][tls]") {
  const rgtest::Testbed tb = rgtest::load_testbed();
  const TlsHost h = tls_host(tb);
  const std::string app = "rgsecret" + std::to_string(::getpid());
  const std::string env_password = "Env-Pa55word-" + std::to_string(::getpid());
  const std::string config_password = "Config-Pa55word-" + std::to_string(::getpid());

  TempDir home;
  std::filesystem::create_directories(home.path() + "/docker");
  std::ofstream(home.path() + "/docker/config.json") << nlohmann::json{
      {"auths",
       {{tb.registry(), {{"auth", b64("cfg-user:" + config_password)}}},
        {"other.example:5000",
         {{"username", "u2"},
          {"password", config_password}}}}}}.dump();
  ScopedEnv docker_config("DOCKER_CONFIG", home.path() + "/docker");
  ScopedEnv env_auth("RG_ITEST_REGISTRY_AUTH", "deployer:" + env_password);
  ScopedEnv state("ROLLGATE_STATE_DIR", home.path() + "/state");
  ScopedEnv xdg("XDG_STATE_HOME", home.path() + "/xdg");
  ScopedEnv home_env("HOME", home.path());

  rgtest::TempManifest m("app: " + app + "\nimage: " + tb.image() +
                         ":v1\nregistry_auth: {env: RG_ITEST_REGISTRY_AUTH}\nhosts:\n"
                         "  - {name: " +
                         h.name + ", engine: \"" + h.engine + "\", tls: {cert_path: \"" +
                         h.cert_path +
                         "\"}}\n"
                         "container: {ports: [\"8080:8080\"], stop_timeout: 1s}\n"
                         "health:\n  http: {port: 8080, path: /health}\n  interval: 200ms\n"
                         "  healthy_deadline: 20s\n");

  std::vector<rgtest::ProcResult> runs;
  runs.push_back(rgtest::run_rollgate({"validate", "-f", m.path()}));
  runs.push_back(rgtest::run_rollgate({"plan", "-f", m.path()}));
  runs.push_back(rgtest::run_rollgate({"plan", "-f", m.path(), "-o", "json"}));
  runs.push_back(rgtest::run_rollgate({"apply", "-f", m.path(), "-o", "json", "-v"}));
  runs.push_back(rgtest::run_rollgate({"apply", "-f", m.path(), "--image", tb.image() + ":v2"}));
  runs.push_back(rgtest::run_rollgate({"status", "-f", m.path()}));
  runs.push_back(rgtest::run_rollgate({"status", "-f", m.path(), "-o", "json"}));
  remove_app(h.sock, app);

  // The apply runs really pulled through the credentialed path.
  INFO(rgtest::describe(runs[3]));
  CHECK(runs[3].exit_code == 0);

  RegistryAuth auth;
  auth.set(tb.registry(), RegistryCredential{"deployer", env_password});
  const std::vector<std::string> needles = {env_password, config_password,
                                            b64("cfg-user:" + config_password),
                                            auth.header_for(tb.registry()).value()};
  for (const auto& r : runs) {
    for (const auto& needle : needles) {
      INFO(rgtest::describe(r));
      CHECK(r.out.find(needle) == std::string::npos);
      CHECK(r.err.find(needle) == std::string::npos);
    }
  }
  // Everything rollgate wrote under the temporary home and state directories (the journal).
  int files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(home.path())) {
    if (!entry.is_regular_file() || entry.path().filename() == "config.json") {
      continue;
    }
    ++files;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    for (const auto& needle : needles) {
      INFO(entry.path().string());
      CHECK(text.str().find(needle) == std::string::npos);
    }
  }
  INFO("files checked under the state directories: " << files);
  SUCCEED();
}
