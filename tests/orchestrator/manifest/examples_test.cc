// The example manifests in manifests/ are documentation and fixtures at once: every one of them
// is loaded here, and manifests/schema.json is checked against what the loader accepts.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "orchestrator/manifest/parse.h"

namespace orch::manifest {
namespace {

namespace fs = std::filesystem;

fs::path manifests_dir() {
  // tests/orchestrator/manifest/examples_test.cc -> <repo>/manifests
  return fs::path(__FILE__).parent_path().parent_path().parent_path().parent_path() / "manifests";
}

std::string all_errors(const LoadResult& r) {
  std::string out;
  for (const auto& e : r.errors) {
    out += e.to_string() + "\n";
  }
  return out;
}

// Every field of a Manifest, one per line, so that two manifests compare with a readable diff.
std::string describe(const Manifest& m) {
  std::ostringstream o;
  o << "app=" << m.app << "\nimage=" << m.image << "\n";
  for (const Host& h : m.hosts) {
    o << "host name=" << h.name << " engine=" << h.engine << " address=" << h.address
      << " insecure=" << h.insecure;
    if (h.tls) {
      o << " tls=" << h.tls->ca << "," << h.tls->cert << "," << h.tls->key << ","
        << h.tls->cert_path;
    }
    o << "\n";
  }
  for (const PortMapping& p : m.container.ports) {
    o << "port " << p.host_port << ":" << p.container_port << "/" << p.protocol << "\n";
  }
  for (const auto& [k, v] : m.container.env) {
    o << "env " << k << "=" << v << "\n";
  }
  for (const auto& [k, v] : m.container.labels) {
    o << "label " << k << "=" << v << "\n";
  }
  for (const auto& arg : m.container.command) {
    o << "arg " << arg << "\n";
  }
  o << "restart=" << m.container.restart << "\nstop_timeout=" << m.container.stop_timeout.count()
    << "\nstrategy=" << m.strategy.type << " " << m.strategy.batch_size.value
    << (m.strategy.batch_size.percent ? "%" : "") << "\n";
  if (m.health.http) {
    o << "http port=" << m.health.http->port << " path=" << m.health.http->path << " expect=";
    for (int s : m.health.http->expect_status) {
      o << s << ",";
    }
    o << "\n";
  }
  o << "interval=" << m.health.interval.count() << " timeout=" << m.health.timeout.count()
    << " healthy_threshold=" << m.health.healthy_threshold
    << " unhealthy_threshold=" << m.health.unhealthy_threshold
    << " healthy_deadline=" << m.health.healthy_deadline.count()
    << " min_healthy_time=" << m.health.min_healthy_time.count() << "\n";
  o << "on_failure=" << to_string(m.on_failure) << "\nkeep=" << m.keep << "\n";
  return o.str();
}

LoadResult load(const std::string& relative) {
  return load_manifest((manifests_dir() / relative).string());
}

TEST_CASE("web.yaml and web.json load to the same manifest", "[manifest][examples]") {
  auto yaml = load("web.yaml");
  auto json = load("web.json");
  INFO(all_errors(yaml) + all_errors(json));
  REQUIRE(yaml.ok());
  REQUIRE(json.ok());
  CHECK(describe(*yaml.manifest) == describe(*json.manifest));

  const Manifest& m = *yaml.manifest;
  CHECK(m.app == "web");
  REQUIRE(m.hosts.size() == 3);
  CHECK(m.hosts[0].address == "10.0.0.11");
  CHECK(m.hosts[0].insecure);
  CHECK(m.hosts[2].address == "10.0.0.13");
  REQUIRE(m.hosts[2].tls.has_value());
  CHECK(m.hosts[2].tls->cert_path == "/etc/rollgate/certs/web-3");
  CHECK(m.container.ports.size() == 2);
  CHECK(m.container.env.at("PORT") == "80");
  REQUIRE(m.health.http.has_value());
  CHECK(m.health.http->expect_status == std::vector<int>{200, 204});
  CHECK(m.health.min_healthy_time == Millis(10000));
  CHECK(m.keep == 3);
}

TEST_CASE("worker.yaml gates on container state alone", "[manifest][examples]") {
  auto r = load("worker.yaml");
  INFO(all_errors(r));
  REQUIRE(r.ok());
  const Manifest& m = *r.manifest;
  CHECK(m.app == "worker");
  CHECK(m.container.ports.empty());
  CHECK_FALSE(m.health.http.has_value());
  REQUIRE(m.hosts.size() == 3);
  CHECK(m.hosts[0].address == "127.0.0.1");
  CHECK_FALSE(m.hosts[0].tls.has_value());
  REQUIRE(m.hosts[1].tls.has_value());
  CHECK(m.hosts[1].tls->key == "/etc/rollgate/tls/key.pem");
  CHECK(m.container.env.at("CONCURRENCY") == "4");
  CHECK(m.container.command ==
        std::vector<std::string>{"/bin/sh", "-c", "exec worker --queue \"$QUEUE\""});
  CHECK(m.container.restart == "on-failure:5");
  CHECK(m.strategy.batch_size.percent);
  CHECK(m.strategy.batch_size.hosts_per_batch(static_cast<int>(m.hosts.size())) == 2);
  CHECK(m.on_failure == OnFailure::kPause);
  CHECK(m.keep == 2);
}

TEST_CASE("invalid examples report the expected paths", "[manifest][examples]") {
  auto [file, paths] = GENERATE(table<std::string, std::vector<std::string>>({
      {"invalid/typos.yaml", {"hosts[0].engin", "hosts[0].engine", "health.intervall"}},
      {"invalid/missing.yaml", {"app", "image", "hosts[0].name", "hosts[0].engine"}},
      {"invalid/syntax.yaml", {""}},
      {"invalid/bad_values.yaml",
       {"app", "image", "hosts[0].engine", "hosts[1].name", "hosts[1].engine", "container.ports[1]",
        "container.ports[2]", "container.labels[\"rollgate.app\"]", "container.restart",
        "strategy.type", "strategy.batch_size", "health.http.port", "health.http.path",
        "health.http.expect_status", "health.interval", "health.timeout", "on_failure", "keep"}},
  }));
  CAPTURE(file);
  auto r = load(file);
  INFO(all_errors(r));
  std::vector<std::string> got;
  for (const auto& e : r.errors) {
    got.push_back(e.path);
  }
  CHECK(got == paths);
  CHECK_FALSE(r.manifest.has_value());
}

TEST_CASE("the typo example suggests the right keys", "[manifest][examples]") {
  auto r = load("invalid/typos.yaml");
  REQUIRE(r.errors.size() == 3);
  CHECK_THAT(r.errors[0].message, Catch::Contains("did you mean \"engine\"?"));
  CHECK_THAT(r.errors[2].message, Catch::Contains("did you mean \"interval\"?"));
}

TEST_CASE("a YAML syntax error names its line", "[manifest][examples]") {
  auto r = load("invalid/syntax.yaml");
  REQUIRE(r.errors.size() == 1);
  // yaml-cpp notices the unclosed '[' of line 5 where the next key starts.
  CHECK_THAT(r.errors[0].message, Catch::StartsWith("invalid YAML at line 6, column 5: "));
}

TEST_CASE("every file in manifests/ is covered by a test", "[manifest][examples]") {
  const std::set<std::string> covered = {"web.yaml",
                                         "web.json",
                                         "worker.yaml",
                                         "schema.json",
                                         "invalid/typos.yaml",
                                         "invalid/missing.yaml",
                                         "invalid/syntax.yaml",
                                         "invalid/bad_values.yaml"};
  for (const auto& entry : fs::recursive_directory_iterator(manifests_dir())) {
    if (entry.is_regular_file()) {
      std::string rel = fs::relative(entry.path(), manifests_dir()).generic_string();
      CAPTURE(rel);
      CHECK(covered.count(rel) == 1);
    }
  }
}

// The keys the loader accepts at `path`, read from its own "unknown key" error, so that this
// test follows the loader rather than a copy of its key lists.
std::set<std::string> accepted_keys(const std::string& yaml, const std::string& path) {
  auto r = parse_manifest(yaml);
  for (const auto& e : r.errors) {
    if (e.path == path) {
      const std::string marker = "expected one of: ";
      size_t at = e.message.find(marker);
      REQUIRE(at != std::string::npos);
      std::set<std::string> keys;
      std::stringstream list(e.message.substr(at + marker.size()));
      std::string key;
      while (std::getline(list, key, ',')) {
        key.erase(0, key.find_first_not_of(' '));
        keys.insert(key);
      }
      return keys;
    }
  }
  FAIL("no unknown-key error at " << path << ":\n" << all_errors(r));
  return {};
}

std::set<std::string> schema_keys(const nlohmann::json& node) {
  std::set<std::string> keys;
  if (node.contains("properties")) {
    for (const auto& [k, unused] : node.at("properties").items()) {
      keys.insert(k);
    }
  }
  if (node.contains("oneOf")) {
    for (const auto& alt : node.at("oneOf")) {
      auto more = schema_keys(alt);
      keys.insert(more.begin(), more.end());
    }
  }
  return keys;
}

TEST_CASE("schema.json lists exactly the keys the loader accepts", "[manifest][examples]") {
  std::ifstream in(manifests_dir() / "schema.json");
  REQUIRE(in.good());
  auto schema = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  REQUIRE_FALSE(schema.is_discarded());
  CHECK(schema.at("$schema") == "https://json-schema.org/draft/2020-12/schema");
  const auto& defs = schema.at("$defs");

  const std::string base =
      "app: web\nimage: web:1\nhosts:\n  - name: h\n    engine: tcp://10.0.0.1:2376\n";
  const std::string tcp_host = "hosts:\n  - name: h\n    engine: tcp://10.0.0.1:2376\n";
  struct Level {
    std::string yaml;
    std::string path;
    nlohmann::json schema;
  };
  const std::vector<Level> levels = {
      {base + "zz_unknown: 1\n", "zz_unknown", schema},
      {"app: web\nimage: web:1\n" + tcp_host + "    zz_unknown: 1\n", "hosts[0].zz_unknown",
       defs.at("host")},
      {"app: web\nimage: web:1\n" + tcp_host + "    tls: {cert_path: /c, zz_unknown: 1}\n",
       "hosts[0].tls.zz_unknown", defs.at("host").at("properties").at("tls")},
      {base + "container: {zz_unknown: 1}\n", "container.zz_unknown", defs.at("container")},
      {base + "strategy: {zz_unknown: 1}\n", "strategy.zz_unknown", defs.at("strategy")},
      {base + "health: {zz_unknown: 1}\n", "health.zz_unknown", defs.at("health")},
      {base + "health: {http: {port: 1, zz_unknown: 1}}\n", "health.http.zz_unknown",
       defs.at("health").at("properties").at("http")},
  };
  for (const auto& level : levels) {
    CAPTURE(level.path);
    CHECK(accepted_keys(level.yaml, level.path) == schema_keys(level.schema));
  }
  // Required keys agree too.
  CHECK(schema.at("required") == nlohmann::json({"app", "image", "hosts"}));
}

}  // namespace
}  // namespace orch::manifest
