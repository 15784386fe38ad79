// Plain tcp:// to a non-loopback engine is refused unless the host says insecure: true (or uses
// TLS); and the top-level registry_auth key.
#include <catch2/catch.hpp>
#include <string>

#include "orchestrator/manifest/parse.h"

namespace orch::manifest {
namespace {

std::string with_host(const std::string& host_yaml) {
  return "app: web\nimage: reg.example:5000/web:1\nhosts:\n  - " + host_yaml + "\n";
}

std::string all_errors(const LoadResult& r) {
  std::string out;
  for (const auto& e : r.errors) {
    out += e.to_string() + "\n";
  }
  return out;
}

}  // namespace

TEST_CASE("plain tcp to a remote engine is refused, naming the fix", "[manifest][insecure]") {
  const std::string host = GENERATE(as<std::string>{}, "10.0.0.1", "db.example.com", "[fd00::1]",
                                    "128.0.0.1", "[::2]", "localhost.example.com");
  auto r = parse_manifest(with_host("{name: h1, engine: 'tcp://" + host + ":2375'}"));
  INFO(host << "\n" << all_errors(r));
  REQUIRE_FALSE(r.ok());
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].path == "hosts[0].engine");
  CHECK_THAT(r.errors[0].message, Catch::Contains("plain tcp:// to"));
  CHECK_THAT(r.errors[0].message, Catch::Contains("insecure: true"));
  CHECK_THAT(r.errors[0].message, Catch::Contains("tls"));
}

TEST_CASE("plain tcp is allowed to loopback, with insecure: true, or with tls",
          "[manifest][insecure]") {
  const std::string host = GENERATE(
      as<std::string>{}, "{name: h1, engine: 'tcp://127.0.0.1:2375'}",
      "{name: h1, engine: 'tcp://127.1.2.3:2375'}", "{name: h1, engine: 'tcp://localhost:2375'}",
      "{name: h1, engine: 'tcp://LocalHost:2375'}", "{name: h1, engine: 'tcp://[::1]:2375'}",
      "{name: h1, engine: 'tcp://10.0.0.1:2375', insecure: true}",
      "{name: h1, engine: 'tcp://10.0.0.1:2376', tls: {cert_path: /c}}",
      "{name: h1, engine: 'tcp://10.0.0.1:2376', tls: {}}",
      "{name: h1, engine: 'unix:///var/run/docker.sock'}");
  auto r = parse_manifest(with_host(host));
  INFO(host << "\n" << all_errors(r));
  CHECK(r.ok());
}

TEST_CASE("insecure: false is refused like no insecure at all", "[manifest][insecure]") {
  auto r = parse_manifest(with_host("{name: h1, engine: 'tcp://10.0.0.1:2375', insecure: false}"));
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].path == "hosts[0].engine");
}

TEST_CASE("each refused host is reported at its own index", "[manifest][insecure]") {
  auto r = parse_manifest(
      "app: web\nimage: web:1\nhosts:\n"
      "  - {name: a, engine: 'tcp://10.0.0.1:2375', insecure: true}\n"
      "  - {name: b, engine: 'tcp://10.0.0.2:2375'}\n"
      "  - {name: c, engine: 'tcp://10.0.0.3:2375'}\n");
  REQUIRE(r.errors.size() == 2);
  CHECK(r.errors[0].path == "hosts[1].engine");
  CHECK_THAT(r.errors[0].message, Catch::Contains("\"10.0.0.2\""));
  CHECK(r.errors[1].path == "hosts[2].engine");
}

TEST_CASE("tls: {} is accepted (DOCKER_CERT_PATH) - partial files are not", "[manifest][tls]") {
  auto ok = parse_manifest(with_host("{name: h1, engine: 'tcp://10.0.0.1:2376', tls: {}}"));
  REQUIRE(ok.ok());
  REQUIRE(ok.manifest->hosts[0].tls.has_value());
  CHECK(ok.manifest->hosts[0].tls->cert_path.empty());
  CHECK(ok.manifest->hosts[0].tls->ca.empty());

  auto bad =
      parse_manifest(with_host("{name: h1, engine: 'tcp://10.0.0.1:2376', tls: {ca: a, key: k}}"));
  REQUIRE(bad.errors.size() == 1);
  CHECK(bad.errors[0].path == "hosts[0].tls");
}

TEST_CASE("registry_auth names an environment variable", "[manifest][registry_auth]") {
  const std::string base = with_host("{name: h1, engine: 'unix:///s'}");
  auto ok = parse_manifest(base + "registry_auth: {env: RG_REGISTRY_AUTH}\n");
  INFO(all_errors(ok));
  REQUIRE(ok.ok());
  REQUIRE(ok.manifest->registry_auth.has_value());
  CHECK(ok.manifest->registry_auth->env == "RG_REGISTRY_AUTH");

  auto none = parse_manifest(base);
  REQUIRE(none.ok());
  CHECK_FALSE(none.manifest->registry_auth.has_value());

  struct Bad {
    std::string yaml;
    std::string path;
  };
  auto c = GENERATE(values<Bad>({
      {"registry_auth: {env: ''}\n", "registry_auth.env"},
      {"registry_auth: {env: 'A-B'}\n", "registry_auth.env"},
      {"registry_auth: {env: 1AB}\n", "registry_auth.env"},
      {"registry_auth: {env: [A]}\n", "registry_auth.env"},
      {"registry_auth: {}\n", "registry_auth.env"},
      {"registry_auth: {env: A, password: x}\n", "registry_auth.password"},
      {"registry_auth: A\n", "registry_auth"},
  }));
  auto r = parse_manifest(base + c.yaml);
  INFO(c.yaml << all_errors(r));
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].path == c.path);
}

}  // namespace orch::manifest
