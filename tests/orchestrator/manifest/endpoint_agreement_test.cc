// The manifest and the Docker client read engine addresses with one parser
// (docker::parse_endpoint): a manifest must accept exactly the endpoints rollgate can connect
// to, and refuse the others at validation time, with the field's path.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>

#include "orchestrator/docker/http_engine.h"
#include "orchestrator/manifest/parse.h"

using orch::docker::parse_endpoint;
using orch::manifest::Format;
using orch::manifest::LoadResult;
using orch::manifest::parse_manifest;

namespace {

// JSON, so that every string in the table (empty, with spaces or brackets) arrives as written.
LoadResult manifest_with_engine(const std::string& engine) {
  nlohmann::json doc = {
      {"app", "web"},
      {"image", "web:1"},
      // insecure: plain tcp:// to a remote engine is refused otherwise (insecure_test.cc).
      {"hosts", {{{"name", "h1"}, {"engine", engine}, {"insecure", true}}}},
  };
  return parse_manifest(doc.dump(), Format::kJson);
}

LoadResult manifest_with_runtime_api(const std::string& api) {
  nlohmann::json doc = {
      {"app", "web"},
      {"image", "web:1"},
      {"hosts", {{{"name", "h1"}, {"engine", "unix:///var/run/docker.sock"}}}},
      {"router", {{"haproxy", {{"runtime_api", api}, {"backend", "web"}}}}},
  };
  return parse_manifest(doc.dump(), Format::kJson);
}

}  // namespace

TEST_CASE("the manifest and docker::parse_endpoint accept the same endpoints", "[endpoint]") {
  auto [text, accepted] = GENERATE(table<std::string, bool>({
      {"unix:///var/run/docker.sock", true},
      {"unix://var/run/docker.sock", false},  // relative path
      {"unix://", false},
      {"unix:///", false},
      {"", false},
      {"/var/run/docker.sock", false},  // no scheme
      {"http://h:2375", false},
      {"tcp://10.0.0.1:2375", true},
      {"tcp://docker-1.example.internal:2376", true},
      {"tcp://10.0.0.1", false},  // no port
      {"tcp://10.0.0.1:", false},
      {"tcp://:2375", false},
      {"tcp://h:2375/", true},  // one trailing slash is harmless
      {"tcp://h:2375//", false},
      {"tcp://h:2375/v1.41", false},  // a path
      {"tcp://a b:2375", false},
      {"tcp://[::1]:2375", true},
      {"tcp://[fd00::11]:2376", true},
      {"tcp://[::ffff:10.0.0.1]:2376", true},
      {"tcp://[::1]", false},
      {"tcp://[::1:2375", false},
      {"tcp://[]:2375", false},
      {"tcp://[zz]:2375", false},
      {"tcp://::1:2375", false},  // IPv6 without brackets
      {"tcp://h:0", false},
      {"tcp://h:1", true},
      {"tcp://h:65535", true},
      {"tcp://h:65536", false},
      {"tcp://h:x", false},
  }));
  INFO("endpoint: \"" << text << "\"");
  auto docker = parse_endpoint(text);
  CHECK(docker.is_ok() == accepted);

  // Accepted by the manifest exactly when parse_endpoint accepts it; else one error, at the
  // field, quoting the value and saying what was expected.
  for (const auto& [path, result, expected] : {
           std::tuple{"hosts[0].engine", manifest_with_engine(text),
                      "expected unix:///path/to/docker.sock or tcp://host:port; "},
           std::tuple{"router.haproxy.runtime_api", manifest_with_runtime_api(text),
                      "expected unix:///path/to/admin.sock or tcp://host:port (HAProxy"},
       }) {
    INFO(path << ": " << (result.errors.empty() ? "" : result.errors.front().to_string()));
    CHECK(result.ok() == accepted);
    if (!result.ok()) {
      REQUIRE(result.errors.size() == 1);
      CHECK(result.errors[0].path == path);
      CHECK_THAT(result.errors[0].message, Catch::Contains(nlohmann::json(text).dump()));
      CHECK_THAT(result.errors[0].message, Catch::Contains(expected));
    }
  }
}

TEST_CASE("a refused engine keeps parse_endpoint's reason once, after what was expected",
          "[endpoint]") {
  LoadResult r = manifest_with_engine("tcp://10.0.0.1");
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].to_string() ==
        "hosts[0].engine: got \"tcp://10.0.0.1\" (string): expected "
        "unix:///path/to/docker.sock or tcp://host:port; missing port (expected tcp://host:port, "
        "e.g. tcp://10.0.0.1:2375)");
}
