// The health section's probe and policy keys: http(s) options, tcp, exec, docker_health,
// max_failure_ratio, progress_deadline and bake. Every bad value is reported at its exact path.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "orchestrator/manifest/parse.h"

namespace orch::manifest {
namespace {

const std::string kBase =
    "app: web\n"
    "image: web:1\n"
    "hosts:\n"
    "  - name: h1\n"
    "    engine: unix:///var/run/docker.sock\n";

std::string all_errors(const LoadResult& r) {
  std::string out;
  for (const auto& e : r.errors) {
    out += e.to_string() + "\n";
  }
  return out;
}

struct BadHealth {
  std::string yaml;     // appended to kBase
  std::string path;     // the one error's exact path
  std::string mention;  // the message must contain this (the offending value)
  std::string also;     // and this, when not empty (what was expected)
};

TEST_CASE("health probe and policy keys: every bad value names its path", "[manifest][health]") {
  auto c = GENERATE(values<BadHealth>({
      // http
      {"health: {http: {port: 80, scheme: ftp}}\n", "health.http.scheme", "\"ftp\"",
       "\"http\" or \"https\""},
      {"health: {http: {port: 80, scheme: HTTPS}}\n", "health.http.scheme", "\"HTTPS\"", ""},
      {"health: {http: {port: 80, scheme: 1}}\n", "health.http.scheme", "1 (integer)", ""},
      {"health: {http: {port: 80, body_contains: ''}}\n", "health.http.body_contains", "\"\"",
       "non-empty"},
      {"health: {http: {port: 80, body_contains: [ok]}}\n", "health.http.body_contains",
       "[\"ok\"] (list)", ""},
      {"health: {http: {port: 80, max_latency: 500}}\n", "health.http.max_latency", "500 (integer)",
       "unit"},
      {"health: {http: {port: 80, max_latency: 0ms}}\n", "health.http.max_latency", "\"0ms\"",
       "greater than 0"},
      {"health: {http: {port: 80, max_latency: fast}}\n", "health.http.max_latency", "\"fast\"",
       ""},
      {"health: {http: {port: 80, max_latency: 2s}}\n", "health.http.max_latency", "\"2s\"",
       "shorter than health.timeout (2s)"},
      {"health: {timeout: 500ms, http: {port: 80, max_latency: 800ms}}\n",
       "health.http.max_latency", "\"800ms\"", "shorter than health.timeout (500ms)"},
      {"health: {http: {port: 80, tls_skip_verify: yes}}\n", "health.http.tls_skip_verify",
       "\"yes\" (string)", "true or false"},
      {"health: {http: {port: 80, tls_skip_verify: true}}\n", "health.http.tls_skip_verify",
       "true (boolean)", "unless health.http.scheme is \"https\""},
      {"health: {http: {port: 80, keep_alive: 1}}\n", "health.http.keep_alive", "1 (integer)",
       "true or false"},
      {"health: {http: {port: 80, shceme: https}}\n", "health.http.shceme", "\"shceme\"",
       "did you mean \"scheme\"?"},
      // tcp
      {"health: {tcp: {}}\n", "health.tcp.port", "missing", "1-65535"},
      {"health: {tcp: {port: 0}}\n", "health.tcp.port", "0 (integer)", "1-65535"},
      {"health: {tcp: {port: 70000}}\n", "health.tcp.port", "70000 (integer)", ""},
      {"health: {tcp: {port: '5432'}}\n", "health.tcp.port", "\"5432\" (string)", ""},
      {"health: {tcp: 5432}\n", "health.tcp", "5432 (integer)", "a map with keys port"},
      {"health: {tcp: {port: 5432, host: db}}\n", "health.tcp.host", "\"host\"",
       "expected one of: port"},
      // exec
      {"health: {exec: {}}\n", "health.exec.command", "missing", "non-empty list"},
      {"health: {exec: {command: []}}\n", "health.exec.command", "[] (list)", "non-empty list"},
      {"health: {exec: {command: ''}}\n", "health.exec.command", "\"\"", ""},
      {"health: {exec: {command: 3}}\n", "health.exec.command", "3 (integer)", ""},
      {"health: {exec: {command: [pg_isready, [x]]}}\n", "health.exec.command[1]", "[\"x\"] (list)",
       "a string"},
      {"health: {exec: {command: ['', x]}}\n", "health.exec.command[0]", "\"\"", "a program name"},
      {"health: {exec: [true]}\n", "health.exec", "[true] (list)", "a map with keys command"},
      {"health: {exec: {command: [true], cmd: [true]}}\n", "health.exec.cmd", "\"cmd\"",
       "expected one of: command"},
      // docker_health
      {"health: {docker_health: 'yes'}\n", "health.docker_health", "\"yes\" (string)",
       "true or false"},
      {"health: {docker_health: 1}\n", "health.docker_health", "1 (integer)", ""},
      // max_failure_ratio
      {"health: {max_failure_ratio: 1.5}\n", "health.max_failure_ratio", "\"1.5\"", "from 0 to 1"},
      {"health: {max_failure_ratio: -0.1}\n", "health.max_failure_ratio", "\"-0.1\"", ""},
      {"health: {max_failure_ratio: .nan}\n", "health.max_failure_ratio", "\".nan\"", ""},
      {"health: {max_failure_ratio: nan}\n", "health.max_failure_ratio", "\"nan\"", ""},
      {"health: {max_failure_ratio: 0.5x}\n", "health.max_failure_ratio", "\"0.5x\"", ""},
      {"health: {max_failure_ratio: 2}\n", "health.max_failure_ratio", "2 (integer)", ""},
      {"health: {max_failure_ratio: 25%}\n", "health.max_failure_ratio", "\"25%\" (string)", ""},
      {"health: {max_failure_ratio: ~}\n", "health.max_failure_ratio", "got null", ""},
      // progress_deadline, bake
      {"health: {progress_deadline: 0s}\n", "health.progress_deadline", "\"0s\"", "greater than 0"},
      {"health: {progress_deadline: 600}\n", "health.progress_deadline", "600 (integer)",
       "\"600s\""},
      {"health: {progress_deadline: soon}\n", "health.progress_deadline", "\"soon\"", ""},
      {"health: {bake: 5}\n", "health.bake", "5 (integer)", "unit"},
      {"health: {bake: -1m}\n", "health.bake", "\"-1m\"", ""},
      {"health: {bkae: 1m}\n", "health.bkae", "\"bkae\"", "did you mean \"bake\"?"},
  }));
  auto r = parse_manifest(kBase + c.yaml);
  CAPTURE(c.yaml);
  INFO(all_errors(r));
  REQUIRE_FALSE(r.ok());
  CHECK_FALSE(r.manifest.has_value());
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].path == c.path);
  CHECK_THAT(r.errors[0].message, Catch::Contains(c.mention));
  if (!c.also.empty()) {
    CHECK_THAT(r.errors[0].message, Catch::Contains(c.also));
  }
}

TEST_CASE("health: new keys default as in manifest.h", "[manifest][health]") {
  auto r = parse_manifest(kBase + "health: {http: {port: 8080}}\n");
  INFO(all_errors(r));
  REQUIRE(r.ok());
  const Health& h = r.manifest->health;
  const Health d;
  REQUIRE(h.http.has_value());
  CHECK(h.http->scheme == "http");
  CHECK_FALSE(h.http->body_contains.has_value());
  CHECK_FALSE(h.http->max_latency.has_value());
  CHECK_FALSE(h.http->tls_skip_verify);
  CHECK_FALSE(h.http->keep_alive);
  CHECK_FALSE(h.tcp.has_value());
  CHECK_FALSE(h.exec.has_value());
  CHECK_FALSE(h.docker_health);
  CHECK(h.max_failure_ratio == 0.0);
  CHECK(h.progress_deadline == Millis(600000));
  CHECK(h.progress_deadline == d.progress_deadline);
  CHECK(h.bake == Millis(0));
}

TEST_CASE("health: every new key is read", "[manifest][health]") {
  auto r = parse_manifest(kBase + R"(
health:
  http:
    port: 8443
    path: /healthz
    expect_status: [200, 204]
    scheme: https
    body_contains: "status: ok"
    max_latency: 500ms
    tls_skip_verify: true
    keep_alive: true
  tcp: {port: 5432}
  exec: {command: [pg_isready, -h, 127.0.0.1, -p, 5432]}
  docker_health: true
  max_failure_ratio: 0.25
  progress_deadline: 15m
  bake: 2m30s
)");
  INFO(all_errors(r));
  REQUIRE(r.ok());
  const Health& h = r.manifest->health;
  REQUIRE(h.http.has_value());
  CHECK(h.http->port == 8443);
  CHECK(h.http->scheme == "https");
  CHECK(h.http->body_contains == std::optional<std::string>("status: ok"));
  CHECK(h.http->max_latency == std::optional<Millis>(Millis(500)));
  CHECK(h.http->tls_skip_verify);
  CHECK(h.http->keep_alive);
  REQUIRE(h.tcp.has_value());
  CHECK(h.tcp->port == 5432);
  REQUIRE(h.exec.has_value());
  CHECK(h.exec->command == std::vector<std::string>{"pg_isready", "-h", "127.0.0.1", "-p", "5432"});
  CHECK(h.docker_health);
  CHECK(h.max_failure_ratio == 0.25);
  CHECK(h.progress_deadline == Millis(15 * 60000));
  CHECK(h.bake == Millis(150000));
}

TEST_CASE("health: edge values that are valid", "[manifest][health]") {
  auto [yaml, check] = GENERATE(table<std::string, std::string>({
      {"health: {max_failure_ratio: 0}\n", "ratio 0"},
      {"health: {max_failure_ratio: 1}\n", "ratio 1"},
      {"health: {max_failure_ratio: 1.0}\n", "ratio 1"},
      {"health: {bake: 0s}\n", "bake 0"},
      {"health: {bake: '0'}\n", "bake 0"},
      {"health: {docker_health: false}\n", "docker_health false"},
      {"health: {http: {port: 80, tls_skip_verify: false}}\n", "skip false on http"},
      {"health: {http: {port: 80, max_latency: 1999ms}}\n", "latency just under timeout"},
      {"health: {exec: {command: [true]}}\n", "exec true"},
  }));
  auto r = parse_manifest(kBase + yaml);
  CAPTURE(check);
  INFO(all_errors(r));
  CHECK(r.ok());
}

TEST_CASE("health: max_failure_ratio from JSON is a number", "[manifest][health]") {
  auto r =
      parse_manifest(R"({"app": "web", "image": "web:1", "hosts": [{"name": "h1", "engine": )"
                     R"("unix:///var/run/docker.sock"}], "health": {"max_failure_ratio": 0.5}})",
                     Format::kJson);
  INFO(all_errors(r));
  REQUIRE(r.ok());
  CHECK(r.manifest->health.max_failure_ratio == 0.5);
  auto bad =
      parse_manifest(R"({"app": "web", "image": "web:1", "hosts": [{"name": "h1", "engine": )"
                     R"("unix:///var/run/docker.sock"}], "health": {"max_failure_ratio": 1.5}})",
                     Format::kJson);
  REQUIRE(bad.errors.size() == 1);
  CHECK(bad.errors[0].path == "health.max_failure_ratio");
  CHECK_THAT(bad.errors[0].message, Catch::Contains("1.5 (number)"));
}

TEST_CASE("health: an exec command string runs through /bin/sh -c", "[manifest][health]") {
  auto r = parse_manifest(kBase + "health: {exec: {command: 'redis-cli ping | grep PONG'}}\n");
  INFO(all_errors(r));
  REQUIRE(r.ok());
  REQUIRE(r.manifest->health.exec.has_value());
  CHECK(r.manifest->health.exec->command ==
        std::vector<std::string>{"/bin/sh", "-c", "redis-cli ping | grep PONG"});
}

TEST_CASE("health: several errors at once come in manifest.h order", "[manifest][health]") {
  auto r =
      parse_manifest(kBase +
                     "health: {bake: x, max_failure_ratio: 3, docker_health: 2, exec: {}, "
                     "tcp: {port: 0}, http: {port: 80, scheme: ftp}, progress_deadline: 0s}\n");
  INFO(all_errors(r));
  std::vector<std::string> paths;
  for (const auto& e : r.errors) {
    paths.push_back(e.path);
  }
  CHECK(paths == std::vector<std::string>{"health.http.scheme", "health.tcp.port",
                                          "health.exec.command", "health.docker_health",
                                          "health.max_failure_ratio", "health.progress_deadline",
                                          "health.bake"});
}

}  // namespace
}  // namespace orch::manifest
