#include "orchestrator/docker/api_paths.h"

#include <catch2/catch.hpp>
#include <string>

using namespace orch::docker;

TEST_CASE("split_pull_ref separates repository from tag or digest", "[api_paths]") {
  const std::string d = "sha256:60731f829a7875b16dd509d9442d670b45a728233cd485077e735c8fb6366fad";
  auto [ref, repo, tag] = GENERATE_COPY(table<std::string, std::string, std::string>({
      {"10.231.7.1:5000/demo@" + d, "10.231.7.1:5000/demo", d},
      {"10.231.7.1:5000/demo:v1", "10.231.7.1:5000/demo", "v1"},
      {"10.231.7.1:5000/demo", "10.231.7.1:5000/demo", "latest"},
      {"localhost:5000/team/app:1.2", "localhost:5000/team/app", "1.2"},
      {"localhost:5000/team/app:1.2@" + d, "localhost:5000/team/app", d},
      {"busybox", "busybox", "latest"},
      {"busybox:1.36", "busybox", "1.36"},
      {"library/busybox@" + d, "library/busybox", d},
      {"reg.example:443/a/b/c", "reg.example:443/a/b/c", "latest"},
  }));
  INFO(ref);
  const PullRef split = split_pull_ref(ref);
  CHECK(split.from_image == repo);
  CHECK(split.tag == tag);
}

TEST_CASE("pull_target percent-encodes the query", "[api_paths]") {
  CHECK(pull_target("10.231.7.1:5000/demo:v1") ==
        "/images/create?fromImage=10.231.7.1%3A5000%2Fdemo&tag=v1");
  CHECK(pull_target("10.231.7.1:5000/demo@sha256:abcd") ==
        "/images/create?fromImage=10.231.7.1%3A5000%2Fdemo&tag=sha256%3Aabcd");
}

TEST_CASE("percent_encode keeps only unreserved characters", "[api_paths]") {
  CHECK(percent_encode("AZaz09-._~") == "AZaz09-._~");
  CHECK(percent_encode("a b&c=d/e:f@g") == "a%20b%26c%3Dd%2Fe%3Af%40g");
  CHECK(percent_encode("{\"label\":[\"x\"]}") == "%7B%22label%22%3A%5B%22x%22%5D%7D");
  CHECK(percent_encode("\xc3\xa9") == "%C3%A9");
  CHECK(percent_encode("") == "");
}

TEST_CASE("encode_ref_path keeps slashes, colons and at-signs", "[api_paths]") {
  CHECK(encode_ref_path("10.231.7.1:5000/demo@sha256:ab") == "10.231.7.1:5000/demo@sha256:ab");
  CHECK(encode_ref_path("web-1.old_2") == "web-1.old_2");
  CHECK(encode_ref_path("a b?c#d") == "a%20b%3Fc%23d");
}

TEST_CASE("list_containers_target encodes label filters as JSON", "[api_paths]") {
  CHECK(list_containers_target({}) == "/containers/json?all=1");
  CHECK(list_containers_target({"rollgate.app=web", "rollgate.managed"}) ==
        "/containers/json?all=1&filters=" +
            percent_encode(R"({"label":["rollgate.app=web","rollgate.managed"]})"));
}

TEST_CASE("API versions compare numerically", "[api_paths]") {
  CHECK(api_version_supported("1.41"));
  CHECK(api_version_supported("1.43"));
  CHECK(api_version_supported("1.100"));
  CHECK(api_version_supported("2.0"));
  CHECK_FALSE(api_version_supported("1.40"));
  CHECK_FALSE(api_version_supported("1.4"));
  CHECK_FALSE(api_version_supported("1.24"));
  CHECK_FALSE(api_version_supported(""));
  CHECK_FALSE(api_version_supported("1."));
  CHECK_FALSE(api_version_supported("x.41"));
  CHECK_FALSE(api_version_supported("1.41beta"));
  auto v = parse_api_version("1.41");
  REQUIRE(v.has_value());
  CHECK(v->major == 1);
  CHECK(v->minor == 41);
}

TEST_CASE("container call targets are what HttpEngine sends and plan prints", "[api_paths]") {
  CHECK(create_target("web") == "/containers/create?name=web");
  CHECK(create_target("web r2") == "/containers/create?name=web%20r2");
  CHECK(start_target("abc123") == "/containers/abc123/start");
  CHECK(stop_target("web", 10) == "/containers/web/stop?t=10");
  CHECK(stop_target("web", std::nullopt) == "/containers/web/stop");
  // A negative timeout means "the engine waits forever": never sent, the stop stays bounded.
  CHECK(stop_target("web", -1) == "/containers/web/stop");
  CHECK(rename_target("web", "web-r2") == "/containers/web/rename?name=web-r2");
  CHECK(remove_target("web-r1", true) == "/containers/web-r1?force=1");
  CHECK(remove_target("web-r1", false) == "/containers/web-r1");
}
