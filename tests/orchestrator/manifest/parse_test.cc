#include "orchestrator/manifest/parse.h"

#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

namespace orch::manifest {
namespace {

// A valid manifest in sections, so that a test can replace exactly one of them.
const std::map<std::string, std::string> kBase = {
    {"app", "app: web\n"},
    {"image", "image: web:1\n"},
    {"hosts", "hosts:\n  - name: h1\n    engine: unix:///var/run/docker.sock\n"},
};

std::string manifest_with(const std::string& section, const std::string& yaml) {
  std::string out;
  for (const auto& [key, text] : kBase) {
    if (key != section) {
      out += text;
    }
  }
  return out + yaml;
}

std::string all_errors(const LoadResult& r) {
  std::string out;
  for (const auto& e : r.errors) {
    out += e.to_string() + "\n";
  }
  return out;
}

TEST_CASE("the base manifest is valid", "[manifest]") {
  auto r = parse_manifest(manifest_with("", ""));
  INFO(all_errors(r));
  REQUIRE(r.ok());
  REQUIRE(r.manifest.has_value());
}

struct BadCase {
  std::string section;  // the kBase section replaced ("" adds to the base)
  std::string yaml;
  std::string path;     // the one error's exact path
  std::string mention;  // the message must contain this (the offending value)
  std::string also;     // and this, when not empty (what was expected, or why)
  size_t count = 1;     // errors in all; the one checked is the first
};

TEST_CASE("every validation error names its path and the offending value", "[manifest]") {
  const std::string kTcpHost = "hosts:\n  - name: h1\n    engine: tcp://10.0.0.1:2376\n";
  auto c = GENERATE_COPY(values<BadCase>({
      // app
      {"app", "app: Web\n", "app", "\"Web\"", "lowercase"},
      {"app", "app: -web\n", "app", "\"-web\"", ""},
      {"app", "app: web app\n", "app", "\"web app\"", ""},
      {"app", "app: 123\n", "app", "123 (integer)", ""},
      {"app", "app: " + std::string(64, 'a') + "\n", "app", "aaaa", "1-63"},
      {"app", "", "app", "missing", ""},
      // image
      {"image", "image: Team/App:1\n", "image", "\"Team/App:1\"", "uppercase"},
      {"image", "image: 5\n", "image", "5 (integer)", ""},
      {"image", "image: app@sha256:abc\n", "image", "\"app@sha256:abc\"", "digest"},
      {"image", "image: 'app:'\n", "image", "\"app:\"", "tag"},
      {"image", "", "image", "missing", ""},
      // hosts
      {"hosts", "hosts: []\n", "hosts", "[] (list)", "non-empty"},
      {"hosts", "hosts: h1\n", "hosts", "\"h1\" (string)", ""},
      {"hosts", "", "hosts", "missing", ""},
      {"hosts", "hosts: [h1]\n", "hosts[0]", "\"h1\" (string)", "a map"},
      {"hosts", "hosts:\n  - {name: -h, engine: 'unix:///s'}\n", "hosts[0].name", "\"-h\"", ""},
      {"hosts", "hosts:\n  - {name: 'a b', engine: 'unix:///s'}\n", "hosts[0].name", "\"a b\"", ""},
      {"hosts", "hosts:\n  - {engine: 'unix:///s'}\n", "hosts[0].name", "missing", ""},
      {"hosts", "hosts:\n  - {name: h1}\n", "hosts[0].engine", "missing", ""},
      {"hosts",
       "hosts:\n  - {name: h1, engine: 'unix:///s'}\n  - {name: h1, engine: 'unix:///t'}\n",
       "hosts[1].name", "\"h1\"", "hosts[0]"},
      {"hosts", "hosts:\n  - {name: h1, engine: 'http://x:80'}\n", "hosts[0].engine",
       "\"http://x:80\"", "scheme"},
      {"hosts", "hosts:\n  - {name: h1, engine: 'tcp://10.0.0.1'}\n", "hosts[0].engine",
       "\"tcp://10.0.0.1\"", "missing port"},
      {"hosts", "hosts:\n  - {name: h1, engine: 'tcp://10.0.0.1:0'}\n", "hosts[0].engine",
       "\"tcp://10.0.0.1:0\"", "1-65535"},
      {"hosts", "hosts:\n  - {name: h1, engine: 'tcp://10.0.0.1:65536'}\n", "hosts[0].engine",
       "\"tcp://10.0.0.1:65536\"", "1-65535"},
      {"hosts", "hosts:\n  - {name: h1, engine: 'tcp://10.0.0.1:x'}\n", "hosts[0].engine",
       "\"tcp://10.0.0.1:x\"", "1-65535"},
      {"hosts", "hosts:\n  - {name: h1, engine: 'tcp://:2375'}\n", "hosts[0].engine",
       "\"tcp://:2375\"", "empty host"},
      {"hosts", "hosts:\n  - {name: h1, engine: 'tcp://a/b:2375'}\n", "hosts[0].engine",
       "\"tcp://a/b:2375\"", "takes no path"},
      {"hosts", "hosts:\n  - {name: h1, engine: 'tcp://a b:2375'}\n", "hosts[0].engine",
       "\"tcp://a b:2375\"", "host may contain"},
      {"hosts", "hosts:\n  - {name: h1, engine: 'tcp://[::1:2375'}\n", "hosts[0].engine",
       "\"tcp://[::1:2375\"", "unterminated '['"},
      {"hosts", "hosts:\n  - {name: h1, engine: 'unix://'}\n", "hosts[0].engine", "\"unix://\"",
       "empty socket path"},
      {"hosts", "hosts:\n  - {name: h1, engine: 'unix://var/run/docker.sock'}\n", "hosts[0].engine",
       "\"unix://var/run/docker.sock\"", "absolute"},
      {"hosts", "hosts:\n  - {name: h1, engine: 2375}\n", "hosts[0].engine", "2375 (integer)", ""},
      {"hosts",
       "hosts:\n  - {name: h1, engine: 'tcp://h:1', insecure: true, address: '10.0.0.1:8080'}\n",
       "hosts[0].address", "\"10.0.0.1:8080\"", "without scheme or port"},
      {"hosts", "hosts:\n  - {name: h1, engine: 'tcp://h:1', insecure: true, address: ''}\n",
       "hosts[0].address", "\"\"", ""},
      {"hosts",
       "hosts:\n  - {name: h1, engine: 'tcp://h:1', insecure: true, address: 'http://h'}\n",
       "hosts[0].address", "\"http://h\"", ""},
      {"hosts", "hosts:\n  - {name: h1, engine: 'tcp://h:1', insecure: yes}\n", "hosts[0].insecure",
       "\"yes\" (string)", "true or false"},
      {"hosts", "hosts:\n  - {name: h1, engine: 'tcp://h:1', tls: {ca: a}}\n", "hosts[0].tls",
       "\"ca\":\"a\"", "cert_path"},
      {"hosts",
       "hosts:\n  - {name: h1, engine: 'tcp://h:1', tls: {ca: a, cert: b, key: c, cert_path: "
       "d}}\n",
       "hosts[0].tls", "\"cert_path\":\"d\"", "either"},
      {"hosts", "hosts:\n  - {name: h1, engine: 'tcp://h:1', tls: {cert_path: 5}}\n",
       "hosts[0].tls.cert_path", "5 (integer)", ""},
      {"hosts", "hosts:\n  - {name: h1, engine: 'tcp://h:1', tls: {cert_path: ''}}\n",
       "hosts[0].tls.cert_path", "\"\"", "non-empty"},
      {"hosts", "hosts:\n  - {name: h1, engine: 'tcp://h:1', tls: /certs}\n", "hosts[0].tls",
       "\"/certs\" (string)", "a map"},
      {"hosts", "hosts:\n  - {name: h1, engine: 'unix:///s', tls: {cert_path: /c}}\n",
       "hosts[0].tls", "\"unix:///s\"", "tcp://"},
      // A misspelled required key is also a missing one.
      {"hosts", "hosts:\n  - {name: h1, engin: 'unix:///s'}\n", "hosts[0].engin", "\"engin\"",
       "did you mean \"engine\"", 2},
      {"hosts", kTcpHost + "    tls: {cert_path: /c, kye: c}\n", "hosts[0].tls.kye", "\"kye\"",
       "did you mean \"key\""},
      // container
      {"", "container: []\n", "container", "[] (list)", "a map"},
      {"", "container: {ports: '8080:80'}\n", "container.ports", "\"8080:80\" (string)", "list"},
      {"", "container: {ports: ['80']}\n", "container.ports[0]", "\"80\"", "host:container"},
      {"", "container: {ports: ['0:80']}\n", "container.ports[0]", "\"0:80\"", "1-65535"},
      {"", "container: {ports: ['8080:65536']}\n", "container.ports[0]", "\"8080:65536\"", ""},
      {"", "container: {ports: ['8080:80/sctp']}\n", "container.ports[0]", "\"8080:80/sctp\"", ""},
      {"", "container: {ports: ['a:80']}\n", "container.ports[0]", "\"a:80\"", ""},
      {"", "container: {ports: ['1:2:3']}\n", "container.ports[0]", "\"1:2:3\"", ""},
      {"", "container: {ports: [8080]}\n", "container.ports[0]", "8080 (integer)", ""},
      {"", "container: {ports: ['8080:80', '8080:81']}\n", "container.ports[1]", "\"8080:81\"",
       "container.ports[0]"},
      {"", "container: {env: [A]}\n", "container.env", "[\"A\"] (list)", ""},
      {"", "container: {env: {A: [1]}}\n", "container.env.A", "[1] (list)", "string"},
      {"", "container: {env: {A: ~}}\n", "container.env.A", "got null", "string"},
      {"", "container: {env: {A: {b: 1}}}\n", "container.env.A", "{\"b\":1} (map)", ""},
      {"", "container: {env: {'A=B': x}}\n", "container.env[\"A=B\"]", "\"A=B\"", "'='"},
      {"", "container: {labels: {rollgate.app: mine}}\n", "container.labels[\"rollgate.app\"]",
       "\"rollgate.app\"", "reserved"},
      {"", "container: {labels: x}\n", "container.labels", "\"x\" (string)", ""},
      {"", "container: {command: 5}\n", "container.command", "5 (integer)", ""},
      {"", "container: {command: ''}\n", "container.command", "\"\" (string)", "non-empty"},
      {"", "container: {command: [a, [b]]}\n", "container.command[1]", "[\"b\"] (list)", ""},
      {"", "container: {restart: sometimes}\n", "container.restart", "\"sometimes\"",
       "unless-stopped"},
      {"", "container: {restart: 'on-failure:0'}\n", "container.restart", "\"on-failure:0\"", ""},
      {"", "container: {restart: 'on-failure:x'}\n", "container.restart", "\"on-failure:x\"", ""},
      {"", "container: {restart: false}\n", "container.restart", "false (boolean)", ""},
      {"", "container: {stop_timeout: 10}\n", "container.stop_timeout", "10 (integer)", "\"10s\""},
      {"", "container: {stop_timeout: 10x}\n", "container.stop_timeout", "\"10x\"", "500ms"},
      {"", "container: {stop_timout: 10s}\n", "container.stop_timout", "\"stop_timout\"",
       "did you mean \"stop_timeout\""},
      // strategy
      {"", "strategy: rolling\n", "strategy", "\"rolling\" (string)", "a map"},
      {"", "strategy: {type: bluegreen}\n", "strategy.type", "\"bluegreen\"", "blue-green"},
      {"", "strategy: {type: canary}\n", "strategy.type", "\"canary\"", "rolling"},
      {"", "strategy: {batch_size: 0}\n", "strategy.batch_size", "0 (integer)", "25%"},
      {"", "strategy: {batch_size: -1}\n", "strategy.batch_size", "-1 (integer)", ""},
      {"", "strategy: {batch_size: 0%}\n", "strategy.batch_size", "\"0%\"", ""},
      {"", "strategy: {batch_size: 101%}\n", "strategy.batch_size", "\"101%\"", ""},
      {"", "strategy: {batch_size: '%'}\n", "strategy.batch_size", "\"%\"", ""},
      {"", "strategy: {batch_size: '3'}\n", "strategy.batch_size", "\"3\" (string)", ""},
      {"", "strategy: {batch_size: 1.5}\n", "strategy.batch_size", "\"1.5\"", ""},
      {"", "strategy: {batch: 2}\n", "strategy.batch", "\"batch\"", "expected one of: type"},
      {"", "strategy: {pull_concurrency: 0}\n", "strategy.pull_concurrency", "0 (integer)",
       "1-256"},
      {"", "strategy: {pull_concurrency: 257}\n", "strategy.pull_concurrency", "257 (integer)",
       "pulling at once"},
      {"", "strategy: {pull_concurrency: '8'}\n", "strategy.pull_concurrency", "\"8\" (string)",
       ""},
      // health
      {"", "health: []\n", "health", "[] (list)", ""},
      {"", "health: {http: {path: /}}\n", "health.http.port", "missing", "1-65535"},
      {"", "health: {http: {port: 0}}\n", "health.http.port", "0 (integer)", "1-65535"},
      {"", "health: {http: {port: 70000}}\n", "health.http.port", "70000 (integer)", ""},
      {"", "health: {http: {port: '80'}}\n", "health.http.port", "\"80\" (string)", ""},
      {"", "health: {http: {port: 80, path: healthz}}\n", "health.http.path", "\"healthz\"", "'/'"},
      {"", "health: {http: {port: 80, path: '/a b'}}\n", "health.http.path", "\"/a b\"", ""},
      {"", "health: {http: {port: 80, expect_status: 700}}\n", "health.http.expect_status",
       "700 (integer)", "100-599"},
      {"", "health: {http: {port: 80, expect_status: []}}\n", "health.http.expect_status",
       "[] (list)", "non-empty"},
      {"", "health: {http: {port: 80, expect_status: [200, 99]}}\n", "health.http.expect_status[1]",
       "99 (integer)", "100-599"},
      {"", "health: {http: {port: 80, expect_status: '200'}}\n", "health.http.expect_status",
       "\"200\" (string)", ""},
      {"", "health: {http: {port: 80, paht: /}}\n", "health.http.paht", "\"paht\"",
       "did you mean \"path\""},
      {"", "health: {http: /healthz}\n", "health.http", "\"/healthz\" (string)", "a map"},
      {"", "health: {interval: 2}\n", "health.interval", "2 (integer)", "\"2s\""},
      {"", "health: {interval: 0s}\n", "health.interval", "\"0s\"", "greater than 0"},
      {"", "health: {interval: 1.5s}\n", "health.interval", "\"1.5s\"", "500ms"},
      {"", "health: {timeout: '0'}\n", "health.timeout", "\"0\"", "greater than 0"},
      {"", "health: {timeout: -1s}\n", "health.timeout", "\"-1s\"", ""},
      {"", "health: {healthy_deadline: 0ms}\n", "health.healthy_deadline", "\"0ms\"",
       "greater than 0"},
      {"", "health: {min_healthy_time: 2x}\n", "health.min_healthy_time", "\"2x\"", ""},
      {"", "health: {min_healthy_time: 2m}\n", "health.min_healthy_time", "\"2m\"",
       "healthy_deadline (1m)"},
      {"", "health: {min_healthy_time: 30s, healthy_deadline: 30s}\n", "health.min_healthy_time",
       "\"30s\"", "shorter than"},
      {"", "health: {healthy_threshold: 0}\n", "health.healthy_threshold", "0 (integer)", ">= 1"},
      {"", "health: {unhealthy_threshold: '3'}\n", "health.unhealthy_threshold", "\"3\" (string)",
       ">= 1"},
      {"", "health: {unhealthy_threshold: 3000000000}\n", "health.unhealthy_threshold",
       "3000000000", ""},
      {"", "health: {intervall: 2s}\n", "health.intervall", "\"intervall\"",
       "did you mean \"interval\"?"},
      {"", "health: {intreval: 2s}\n", "health.intreval", "\"intreval\"",
       "did you mean \"interval\"?"},
      // on_failure, keep
      {"", "on_failure: explode\n", "on_failure", "\"explode\"", "\"rollback\" or \"pause\""},
      {"", "on_failure: true\n", "on_failure", "true (boolean)", ""},
      {"", "keep: 0\n", "keep", "0 (integer)", ">= 1"},
      {"", "keep: two\n", "keep", "got \"two\" (string): expected an integer >= 1", ""},
      {"", "keep: '2'\n", "keep", "\"2\" (string)", ""},
      {"", "keep: 2.5\n", "keep", "\"2.5\"", ""},
      {"", "keep: 99999999999999999999\n", "keep", "99999999999999999999", ""},
      {"", "keep: -3\n", "keep", "-3 (integer)", ""},
      {"", "keep: ~\n", "keep", "got null", ""},
      // unknown top-level keys
      {"", "images: x\n", "images", "\"images\"", "did you mean \"image\"?"},
      {"", "zzz: 1\n", "zzz", "\"zzz\"", "expected one of: app, image, hosts"},
  }));
  std::string text = manifest_with(c.section, c.yaml);
  CAPTURE(text);
  auto r = parse_manifest(text);
  INFO(all_errors(r));
  REQUIRE_FALSE(r.ok());
  CHECK_FALSE(r.manifest.has_value());
  REQUIRE(r.errors.size() == c.count);
  CHECK(r.errors[0].path == c.path);
  CHECK_THAT(r.errors[0].message, Catch::Contains(c.mention));
  if (!c.also.empty()) {
    CHECK_THAT(r.errors[0].message, Catch::Contains(c.also));
  }
  CHECK(r.errors[0].to_string() == c.path + ": " + r.errors[0].message);
}

TEST_CASE("an unknown key far from every known key gets no suggestion", "[manifest]") {
  auto r = parse_manifest(manifest_with("", "health: {zzzzzz: 1}\n"));
  REQUIRE(r.errors.size() == 1);
  CHECK_THAT(r.errors[0].message, !Catch::Contains("did you mean"));
  CHECK_THAT(r.errors[0].message,
             Catch::EndsWith("expected one of: http, tcp, exec, docker_health, interval, "
                             "timeout, healthy_threshold, unhealthy_threshold, healthy_deadline, "
                             "min_healthy_time, max_failure_ratio, progress_deadline, bake"));
}

TEST_CASE("all errors are collected, in a stable order", "[manifest]") {
  auto r = parse_manifest(
      "app: Bad\n"
      "image: ''\n"
      "hosts:\n"
      "  - {name: h1, engine: 'tcp://x'}\n"
      "  - {name: h2, engine: 'unix:///s', insecure: 1}\n"
      "health: {interval: 2, timeout: 2}\n"
      "keep: 0\n");
  INFO(all_errors(r));
  std::vector<std::string> paths;
  for (const auto& e : r.errors) {
    paths.push_back(e.path);
  }
  CHECK(paths == std::vector<std::string>{"app", "image", "hosts[0].engine", "hosts[1].insecure",
                                          "health.interval", "health.timeout", "keep"});
}

TEST_CASE("defaults come from manifest.h", "[manifest]") {
  auto r = parse_manifest(manifest_with("", ""));
  INFO(all_errors(r));
  REQUIRE(r.ok());
  const Manifest& m = *r.manifest;
  const Manifest d;
  CHECK(m.app == "web");
  CHECK(m.image == "web:1");
  REQUIRE(m.hosts.size() == 1);
  CHECK(m.hosts[0].name == "h1");
  CHECK(m.hosts[0].engine == "unix:///var/run/docker.sock");
  CHECK_FALSE(m.hosts[0].insecure);
  CHECK_FALSE(m.hosts[0].tls.has_value());
  CHECK(m.container.ports.empty());
  CHECK(m.container.env.empty());
  CHECK(m.container.labels.empty());
  CHECK(m.container.command.empty());
  CHECK(m.container.restart == "unless-stopped");
  CHECK(m.container.stop_timeout == Millis(10000));
  CHECK(m.strategy.type == "rolling");
  CHECK(m.strategy.batch_size.value == 1);
  CHECK_FALSE(m.strategy.batch_size.percent);
  CHECK(m.strategy.pull_concurrency == 8);
  CHECK_FALSE(m.health.http.has_value());
  CHECK(m.health.interval == d.health.interval);
  CHECK(m.health.timeout == d.health.timeout);
  CHECK(m.health.healthy_threshold == d.health.healthy_threshold);
  CHECK(m.health.unhealthy_threshold == d.health.unhealthy_threshold);
  CHECK(m.health.healthy_deadline == d.health.healthy_deadline);
  CHECK(m.health.min_healthy_time == d.health.min_healthy_time);
  CHECK(m.on_failure == OnFailure::kRollback);
  CHECK(m.keep == 2);
}

TEST_CASE("http check defaults: path / and status 200", "[manifest]") {
  auto r = parse_manifest(manifest_with("", "health: {http: {port: 8080}}\n"));
  INFO(all_errors(r));
  REQUIRE(r.ok());
  REQUIRE(r.manifest->health.http.has_value());
  CHECK(r.manifest->health.http->port == 8080);
  CHECK(r.manifest->health.http->path == "/");
  CHECK(r.manifest->health.http->expect_status == std::vector<int>{200});
}

TEST_CASE("every field is read", "[manifest]") {
  auto r = parse_manifest(R"(
app: my_app.v2-x
image: reg:5000/team/app:1.2
hosts:
  - name: A.b_c-1
    engine: tcp://h.example:2376
    insecure: true
    tls: {ca: /c/ca.pem, cert: /c/cert.pem, key: /c/key.pem}
container:
  ports: ["8080:80", "53:53/udp", "53:53", "9000:9000/tcp"]
  env: {A: x, PORT: 8080, DEBUG: true, RATIO: 0.5, VERSION: 1.10, ZIP: 007, EMPTY: ""}
  labels: {com.example/team: a, tier: 2}
  command: [sleep, 3600]
  restart: on-failure:3
  stop_timeout: 1m30s
strategy: {type: rolling, batch_size: 25%, pull_concurrency: 3}
health:
  http: {port: 8080, path: "/healthz?full=1", expect_status: 204}
  interval: 500ms
  timeout: 250ms
  healthy_threshold: 2
  unhealthy_threshold: 5
  healthy_deadline: 2m
  min_healthy_time: 10s
on_failure: pause
keep: 5
)");
  INFO(all_errors(r));
  REQUIRE(r.ok());
  const Manifest& m = *r.manifest;
  CHECK(m.app == "my_app.v2-x");
  CHECK(m.image == "reg:5000/team/app:1.2");
  const Host& h = m.hosts.at(0);
  CHECK(h.name == "A.b_c-1");
  CHECK(h.engine == "tcp://h.example:2376");
  CHECK(h.address == "h.example");
  CHECK(h.insecure);
  REQUIRE(h.tls.has_value());
  CHECK(h.tls->ca == "/c/ca.pem");
  CHECK(h.tls->cert == "/c/cert.pem");
  CHECK(h.tls->key == "/c/key.pem");
  CHECK(h.tls->cert_path.empty());
  REQUIRE(m.container.ports.size() == 4);
  CHECK(m.container.ports[0].host_port == 8080);
  CHECK(m.container.ports[0].container_port == 80);
  CHECK(m.container.ports[0].protocol == "tcp");
  CHECK(m.container.ports[1].protocol == "udp");
  CHECK(m.container.ports[2].host_port == 53);  // 53/tcp and 53/udp do not clash
  CHECK(m.container.ports[2].protocol == "tcp");
  CHECK(m.container.ports[3].protocol == "tcp");
  // Scalars become their text; YAML floats and leading zeros keep the text as written.
  CHECK(m.container.env == std::map<std::string, std::string>{{"A", "x"},
                                                              {"PORT", "8080"},
                                                              {"DEBUG", "true"},
                                                              {"RATIO", "0.5"},
                                                              {"VERSION", "1.10"},
                                                              {"ZIP", "007"},
                                                              {"EMPTY", ""}});
  CHECK(m.container.labels ==
        std::map<std::string, std::string>{{"com.example/team", "a"}, {"tier", "2"}});
  CHECK(m.container.command == std::vector<std::string>{"sleep", "3600"});
  CHECK(m.container.restart == "on-failure:3");
  CHECK(m.container.stop_timeout == Millis(90000));
  CHECK(m.strategy.batch_size.value == 25);
  CHECK(m.strategy.batch_size.percent);
  CHECK(m.strategy.pull_concurrency == 3);
  REQUIRE(m.health.http.has_value());
  CHECK(m.health.http->port == 8080);
  CHECK(m.health.http->path == "/healthz?full=1");
  CHECK(m.health.http->expect_status == std::vector<int>{204});
  CHECK(m.health.interval == Millis(500));
  CHECK(m.health.timeout == Millis(250));
  CHECK(m.health.healthy_threshold == 2);
  CHECK(m.health.unhealthy_threshold == 5);
  CHECK(m.health.healthy_deadline == Millis(120000));
  CHECK(m.health.min_healthy_time == Millis(10000));
  CHECK(m.on_failure == OnFailure::kPause);
  CHECK(m.keep == 5);
}

TEST_CASE("valid spellings that look suspicious are accepted", "[manifest]") {
  auto [yaml, check] = GENERATE(table<std::string, std::string>({
      {"container: {restart: no}\n", "no"},  // plain `no` is the string "no", not false
      {"container: {restart: 'no'}\n", "no"},
      {"container: {restart: always}\n", "always"},
      {"container: {restart: on-failure}\n", "on-failure"},
  }));
  auto r = parse_manifest(manifest_with("", yaml));
  INFO(all_errors(r));
  REQUIRE(r.ok());
  CHECK(r.manifest->container.restart == check);
}

TEST_CASE("a single command string runs through /bin/sh -c", "[manifest]") {
  auto r = parse_manifest(manifest_with("", "container: {command: 'echo hi && sleep 9'}\n"));
  INFO(all_errors(r));
  REQUIRE(r.ok());
  CHECK(r.manifest->container.command ==
        std::vector<std::string>{"/bin/sh", "-c", "echo hi && sleep 9"});
}

TEST_CASE("host address defaults to the engine's host, or loopback for unix", "[manifest]") {
  auto [engine, address, expected] = GENERATE(table<std::string, std::string, std::string>({
      {"unix:///var/run/docker.sock", "", "127.0.0.1"},
      {"tcp://10.0.0.11:2375", "", "10.0.0.11"},
      {"tcp://docker-1.example.internal:2376", "", "docker-1.example.internal"},
      {"tcp://[fd00::11]:2376", "", "fd00::11"},
      {"tcp://10.0.0.11:2375", "192.168.1.5", "192.168.1.5"},
      {"unix:///run/docker.sock", "10.1.2.3", "10.1.2.3"},
      {"tcp://10.0.0.11:2375", "fd00::1", "fd00::1"},
  }));
  // insecure: plain tcp:// to a remote engine is refused otherwise (insecure_test.cc).
  std::string host = "hosts:\n  - name: h1\n    engine: '" + engine + "'\n    insecure: true\n";
  if (!address.empty()) {
    host += "    address: '" + address + "'\n";
  }
  auto r = parse_manifest(manifest_with("hosts", host));
  INFO(all_errors(r));
  REQUIRE(r.ok());
  CHECK(r.manifest->hosts.at(0).address == expected);
}

TEST_CASE("YAML and JSON spellings of one manifest load the same", "[manifest]") {
  const std::string yaml = R"(
app: web
image: web:1
hosts:
  - {name: h1, engine: "tcp://10.0.0.1:2375", insecure: true}
container: {env: {PORT: 8080, DEBUG: false}, ports: ["8080:80"]}
strategy: {batch_size: 50%}
health: {http: {port: 8080, expect_status: [200, 301]}, interval: 3s}
keep: 4
)";
  const std::string json = R"({
  "app": "web", "image": "web:1",
  "hosts": [{"name": "h1", "engine": "tcp://10.0.0.1:2375", "insecure": true}],
  "container": {"env": {"PORT": 8080, "DEBUG": false}, "ports": ["8080:80"]},
  "strategy": {"batch_size": "50%"},
  "health": {"http": {"port": 8080, "expect_status": [200, 301]}, "interval": "3s"},
  "keep": 4
})";
  auto y = parse_manifest(yaml);
  auto j = parse_manifest(json);
  auto j_forced = parse_manifest(json, Format::kJson);
  auto y_reads_json = parse_manifest(json, Format::kYaml);  // JSON is (nearly) YAML
  for (const auto* r : {&y, &j, &j_forced, &y_reads_json}) {
    INFO(all_errors(*r));
    REQUIRE(r->ok());
    const Manifest& m = *r->manifest;
    CHECK(m.hosts.at(0).address == "10.0.0.1");
    CHECK(m.hosts.at(0).insecure);
    CHECK(m.container.env.at("PORT") == "8080");
    CHECK(m.container.env.at("DEBUG") == "false");
    CHECK(m.strategy.batch_size.value == 50);
    CHECK(m.strategy.batch_size.percent);
    CHECK(m.health.http->expect_status == std::vector<int>{200, 301});
    CHECK(m.health.interval == Millis(3000));
    CHECK(m.keep == 4);
  }
}

TEST_CASE("quoted YAML scalars stay strings", "[manifest]") {
  auto r = parse_manifest(manifest_with("", "keep: \"2\"\nhealth: {http: {port: '8080'}}\n"));
  INFO(all_errors(r));
  REQUIRE(r.errors.size() == 2);
  CHECK(r.errors[0].path == "health.http.port");
  CHECK(r.errors[1].path == "keep");
}

TEST_CASE("syntax errors are one whole-document error with the line", "[manifest]") {
  auto [text, format, needle] = GENERATE(table<std::string, Format, std::string>({
      {"app: web\nhosts: [a, b\nkeep: 2\n", Format::kAuto, "line "},
      {"app: web\n  image: x\n bad: [\n", Format::kYaml, "invalid YAML at line "},
      {"app: web: x\n", Format::kYaml, "invalid YAML at line 1, column 9: illegal map value"},
      {"app: web\nhosts:\n- a\n  b: c\n", Format::kAuto, "invalid YAML at line 4, column 4"},
      {"{\n  \"app\": \"web\",\n  \"keep\": \n}\n", Format::kAuto, "invalid JSON at line 4"},
      {"{\"app\": \"web\",}", Format::kJson, "invalid JSON at line 1"},
      {"{\"app\": \"web\"\n\n\n  \"keep\": 2}", Format::kJson, "invalid JSON at line 4, column "},
      {"", Format::kJson, "invalid JSON"},
      {"not json", Format::kJson, "invalid JSON at line 1"},
  }));
  CAPTURE(text);
  auto r = parse_manifest(text, format);
  INFO(all_errors(r));
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].path.empty());
  CHECK_THAT(r.errors[0].message, Catch::Contains(needle));
  CHECK(r.errors[0].to_string() == r.errors[0].message);
}

TEST_CASE("duplicate keys are errors in both formats", "[manifest]") {
  auto y = parse_manifest(manifest_with("", "keep: 2\nkeep: 3\n"));
  REQUIRE(y.errors.size() == 1);
  CHECK(y.errors[0].path == "keep");
  CHECK_THAT(y.errors[0].message, Catch::Contains("duplicate key \"keep\""));

  auto j = parse_manifest(R"({"app": "web", "image": "web:1",
    "hosts": [{"name": "a", "engine": "unix:///s"}, {"name": "b", "engine": "unix:///s",
               "name": "c"}]})");
  REQUIRE(j.errors.size() == 1);
  CHECK(j.errors[0].path == "hosts[1].name");
  CHECK_THAT(j.errors[0].message, Catch::Contains("duplicate key \"name\""));

  auto nested = parse_manifest(R"({"app": "web", "image": "web:1", "hosts": [],
    "health": {"http": {"port": 1}, "interval": "1s", "http": {"port": 2}}})");
  REQUIRE(nested.errors.size() == 1);
  CHECK(nested.errors[0].path == "health.http");
}

TEST_CASE("the document must be a map", "[manifest]") {
  auto [text, needle] = GENERATE(table<std::string, std::string>({
      {"", "empty"},
      {"~", "empty"},
      {"# only a comment\n", "empty"},
      {"null", "empty"},
      {"- a\n- b\n", "[\"a\",\"b\"] (list)"},
      {"just words", "\"just words\" (string)"},
      {"42", "42 (integer)"},
      {"[]", "[] (list)"},
  }));
  CAPTURE(text);
  auto r = parse_manifest(text);
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].path.empty());
  CHECK_THAT(r.errors[0].message, Catch::Contains(needle));
}

TEST_CASE("YAML anchors and aliases are expanded", "[manifest]") {
  auto r = parse_manifest(R"(
app: web
image: web:1
x-tls: &tls {cert_path: /certs}
hosts:
  - {name: a, engine: "tcp://10.0.0.1:2376", tls: *tls}
  - {name: b, engine: "tcp://10.0.0.2:2376", tls: *tls}
)");
  // x-tls is not a manifest key: anchors must live inside known keys.
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].path == "x-tls");

  auto ok = parse_manifest(R"(
app: web
image: web:1
hosts:
  - name: a
    engine: "tcp://10.0.0.1:2376"
    tls: &tls {cert_path: /certs}
  - {name: b, engine: "tcp://10.0.0.2:2376", tls: *tls}
)");
  INFO(all_errors(ok));
  REQUIRE(ok.ok());
  CHECK(ok.manifest->hosts.at(1).tls->cert_path == "/certs");
}

// A small deterministic generator, so that "random" junk is the same on every run.
std::string junk(size_t n, uint32_t seed) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    seed = seed * 1664525u + 1013904223u;
    out.push_back(static_cast<char>(seed >> 24));
  }
  return out;
}

std::string nested(size_t depth, const std::string& open, const std::string& close,
                   const std::string& inner) {
  std::string out;
  for (size_t i = 0; i < depth; ++i) {
    out += open;
  }
  out += inner;
  for (size_t i = 0; i < depth; ++i) {
    out += close;
  }
  return out;
}

TEST_CASE("garbage never throws and always yields an error", "[manifest]") {
  std::string laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'j'; ++c) {
    std::string prev(1, static_cast<char>(c - 1));
    laughs += std::string(1, c) + ": &" + std::string(1, c) + " [*" + prev + ", *" + prev + ", *" +
              prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev +
              ", *" + prev + ", *" + prev + "]\n";
  }
  auto text = GENERATE_COPY(values<std::string>({
      junk(1000, 1),
      junk(1000, 2),
      "{" + junk(200, 3),
      std::string("\0\0\0", 3),
      std::string("app: web\0image: x\n", 18),
      "\xff\xfe: \xff\n",                   // invalid UTF-8 key and value
      "app: \"\\xff\"\nimage: \xc3\x28\n",  // invalid UTF-8 in values
      nested(100000, "[", "]", ""),         // deeper than yaml-cpp's own guard
      nested(1000, "[", "]", ""),           // deeper than ours
      nested(1000, "{a: ", "}", "1"),
      "{" + nested(100000, "\"a\": {", "}", "") + "}",
      nested(100000, "[", "]", "1"),
      "&a [*a]",  // a recursive alias
      "a: &a {b: *a}",
      laughs,  // 10^10 values once expanded
      "keep: 1e999999\n",
      "{\"keep\": 1e999999}",
      "{\"keep\": -99999999999999999999999999}",
      "keep: 0x7fffffffffffffffffff\n",
      "? [a, b]\n: c\n",
      "--- a\n--- b\n",
      "!!binary aGVsbG8=",
      "app: !custom web\n",
      "%YAML 1.2\n---\n[",
      "\t\tapp: web",
      "{\"app\": \"web\"} trailing",
      "\xef\xbb\xbf{\"app\": 1}",
      std::string(100000, '-'),
  }));
  LoadResult r;
  REQUIRE_NOTHROW(r = parse_manifest(text));
  CHECK_FALSE(r.ok());
  CHECK_FALSE(r.manifest.has_value());
  for (const auto& e : r.errors) {
    CHECK_FALSE(e.message.empty());
  }
  REQUIRE_NOTHROW(r = parse_manifest(text, Format::kJson));
  CHECK_FALSE(r.ok());
  REQUIRE_NOTHROW(r = parse_manifest(text, Format::kYaml));
  CHECK_FALSE(r.ok());
}

TEST_CASE("hostile documents get a clear whole-document error", "[manifest]") {
  std::string laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'j'; ++c) {
    std::string ten;
    for (int i = 0; i < 10; ++i) {
      ten += (i > 0 ? ", *" : "*") + std::string(1, static_cast<char>(c - 1));
    }
    laughs += std::string(1, c) + ": &" + std::string(1, c) + " [" + ten + "]\n";
  }
  auto [text, format, needle] = GENERATE_COPY(table<std::string, Format, std::string>({
      {"&a [*a]", Format::kYaml, "nested deeper than 64 levels (a recursive YAML alias?)"},
      {"a: &a {b: *a}", Format::kYaml, "nested deeper than 64 levels"},
      {nested(100, "[", "]", ""), Format::kYaml, "nested deeper than 64 levels"},
      {nested(100000, "[", "]", ""), Format::kYaml, "invalid YAML at line 1, column 1: nested"},
      {nested(100, "[", "]", ""), Format::kJson, "invalid JSON: nested deeper than 64 levels"},
      {nested(100000, "[", "]", ""), Format::kJson, "invalid JSON: nested deeper than 64"},
      {laughs, Format::kYaml, "more than 100000 values"},
      {"{\"keep\": 1e999999}", Format::kJson, "invalid JSON: number overflow parsing '1e999999'"},
      {"--- a\n--- b\n", Format::kYaml, "expected one YAML document, found 2"},
      {"? [a, b]\n: c\n", Format::kYaml, "a map key is not a plain string (line 1)"},
  }));
  auto r = parse_manifest(text, format);
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].path.empty());
  CHECK_THAT(r.errors[0].message, Catch::Contains(needle));
}

TEST_CASE("load_manifest reports unreadable files", "[manifest]") {
  auto missing = load_manifest("/nonexistent/rollgate/manifest.yaml");
  REQUIRE(missing.errors.size() == 1);
  CHECK(missing.errors[0].path.empty());
  CHECK(missing.errors[0].message ==
        "cannot read /nonexistent/rollgate/manifest.yaml: No such file or directory");

  auto dir = load_manifest("/");
  REQUIRE(dir.errors.size() == 1);
  CHECK_THAT(dir.errors[0].message, Catch::StartsWith("cannot read /: "));
}

}  // namespace
}  // namespace orch::manifest

// Found by fuzz/manifest_fuzz: yaml-cpp's LoadAll() loops forever, allocating, on these.
TEST_CASE("stray quotes and commas are one whole-document error, promptly", "[parse][fuzz]") {
  auto text = GENERATE(as<std::string>{}, "\"\",", "'',", "\"x\",", "\"x\", y", "[1],");
  CAPTURE(text);
  auto r = orch::manifest::parse_manifest(text, orch::manifest::Format::kYaml);
  REQUIRE_FALSE(r.ok());
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].path.empty());
}

// Found by fuzz/manifest_fuzz: invalid UTF-8 passed YAML validation and later made the create
// body's JSON serialisation throw mid-rollout.
TEST_CASE("YAML scalars and keys must be valid UTF-8", "[parse][fuzz]") {
  const std::string base =
      "app: web\nimage: reg/web:1\nhosts:\n  - {name: h1, engine: \"unix:///s\"}\n";
  struct Case {
    std::string yaml;
    std::string path;
  };
  auto c = GENERATE(values<Case>({
      {"container: {env: {K: \"a\xff\xfe"
       "b\"}}\n",
       "container.env.K"},
      {"container: {labels: {team: \"\xc3\"}}\n", "container.labels.team"},
      {"container: {command: [\"\xed\xa0\x80\"]}\n", "container.command[0]"},
      {"container: {env: {\"K\xff\": v}}\n", "container.env"},
  }));
  auto r = orch::manifest::parse_manifest(base + c.yaml, orch::manifest::Format::kYaml);
  REQUIRE_FALSE(r.ok());
  bool named = false;
  for (const auto& e : r.errors) {
    named = named || (e.path == c.path && e.message.find("UTF-8") != std::string::npos);
  }
  INFO(r.errors.front().to_string());
  CHECK(named);
  // Valid multi-byte text still passes.
  CHECK(orch::manifest::parse_manifest(
            base + "container: {env: {K: \"h\xc3\xa9llo \xe2\x82\xac\"}}\n",
            orch::manifest::Format::kYaml)
            .ok());
}
