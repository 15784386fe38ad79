// Registry credentials: config.json parsing, environment values, registry matching, the
// X-Registry-Auth encoding, and that no error message ever carries the secret.
#include "orchestrator/docker/registry_auth.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/support/base64url.h"
#include "tests/support/scoped_env.h"
#include "tests/support/temp_dir.h"

using orch::Code;
using namespace orch::docker;
using orch::testing::ScopedEnv;

namespace {

constexpr const char* kSecret = "s3cr3t:with:colons";

std::string b64(const std::string& in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

nlohmann::json decode_header(std::string s) {
  return nlohmann::json::parse(orch::testing::decode_base64url(std::move(s)));
}

}  // namespace

TEST_CASE("registry_of and normalize_registry", "[registry_auth]") {
  CHECK(registry_of("10.0.0.1:5000/demo:v1") == "10.0.0.1:5000");
  CHECK(registry_of("reg.example.com/team/app@sha256:" + std::string(64, 'a')) ==
        "reg.example.com");
  CHECK(registry_of("localhost/app") == "localhost");
  CHECK(registry_of("team/app:1") == "docker.io");
  CHECK(registry_of("nginx") == "docker.io");
  CHECK(registry_of("Not A Ref") == "");
  CHECK(normalize_registry("https://Reg.Example:5000/v2/") == "reg.example:5000");
  CHECK(normalize_registry("https://index.docker.io/v1/") == "docker.io");
  CHECK(normalize_registry("10.0.0.1:5000") == "10.0.0.1:5000");
}

TEST_CASE("config.json: auth, username/password, keys with scheme - empty entries skipped",
          "[registry_auth]") {
  const nlohmann::json config = {
      {"auths",
       {{"10.0.0.1:5000", {{"auth", b64(std::string("alice:") + kSecret)}}},
        {"https://reg.example.com/v2/", {{"username", "bob"}, {"password", "pw-bob"}}},
        {"https://index.docker.io/v1/", {{"auth", b64("carol:pw-carol")}}},
        {"store.example", nlohmann::json::object()}}},
      {"credsStore", "desktop"}};
  auto auth = parse_docker_config(config.dump(), "/home/u/.docker/config.json");
  REQUIRE(auth.is_ok());

  auto h = auth->header_for("10.0.0.1:5000");
  REQUIRE(h.has_value());
  CHECK(h->find_first_of("+/") == std::string::npos);  // base64url
  auto body = decode_header(*h);
  CHECK(body.at("username") == "alice");
  CHECK(body.at("password") == kSecret);  // split at the first ':' only
  CHECK(body.at("serveraddress") == "10.0.0.1:5000");

  auto bob = decode_header(auth->header_for("reg.example.com").value());
  CHECK(bob.at("username") == "bob");
  CHECK(bob.at("password") == "pw-bob");
  CHECK(decode_header(auth->header_for("docker.io").value()).at("username") == "carol");
  CHECK_FALSE(auth->header_for("store.example").has_value());
  CHECK_FALSE(auth->header_for("10.0.0.1:5001").has_value());
}

TEST_CASE("config.json errors name the file and never the content", "[registry_auth]") {
  const std::string bad_base64 =
      R"({"auths":{"r:5000":{"auth":"!!)" + std::string(kSecret) + R"(!!"}}})";
  const std::string no_colon =
      R"({"auths":{"r:5000":{"auth":")" + b64(kSecret + std::string("x")) + R"("}}})";
  const std::string not_json = std::string("{\"auths\": ") + kSecret;
  // A value without ':' at all.
  const std::string really_no_colon =
      R"({"auths":{"r:5000":{"auth":")" + b64("userpassword-" + std::string("zz")) + R"("}}})";
  for (const std::string& text :
       {bad_base64, not_json, really_no_colon, std::string(R"({"auths":[1]})"),
        std::string(R"({"auths":{"r":5}})")}) {
    auto r = parse_docker_config(text, "/cfg.json");
    INFO(text);
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK_THAT(r.status().message(), Catch::StartsWith("registry credentials in /cfg.json: "));
    CHECK_THAT(r.status().message(), !Catch::Contains("s3cr3t"));
  }
  // "s3cr3t:with:colonsx" does have a colon: it parses.
  CHECK(parse_docker_config(no_colon, "/cfg.json").is_ok());
}

TEST_CASE("a missing config.json means no credentials", "[registry_auth]") {
  auto r = load_docker_config("/nonexistent/rollgate/config.json");
  REQUIRE(r.is_ok());
  CHECK(r->empty());
}

TEST_CASE("environment credentials: user:password or JSON - errors hide the value",
          "[registry_auth]") {
  auto plain = parse_env_credential("RG_AUTH", std::string("deployer:") + kSecret);
  REQUIRE(plain.is_ok());
  CHECK(plain->username == "deployer");
  CHECK(plain->password == kSecret);

  auto json = parse_env_credential("RG_AUTH",
                                   nlohmann::json{{"username", "u"}, {"password", kSecret}}.dump());
  REQUIRE(json.is_ok());
  CHECK(json->username == "u");
  CHECK(json->password == kSecret);

  for (const std::string& value :
       {std::string("s3cr3t-no-colon"), std::string(":s3cr3t"), std::string("{s3cr3t"),
        std::string(R"({"username":"u","pass":"s3cr3t"})")}) {
    auto r = parse_env_credential("RG_AUTH", value);
    INFO(value);
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK_THAT(r.status().message(), Catch::StartsWith("environment variable RG_AUTH must hold"));
    CHECK_THAT(r.status().message(), !Catch::Contains("s3cr3t"));
  }
}

TEST_CASE("load_registry_auth: the env credential wins for the image's registry",
          "[registry_auth]") {
  orch::testing::TempDir config_dir("rg-auth-test-", "/tmp");
  const std::string& dir = config_dir.path();
  std::ofstream(dir + "/config.json")
      << nlohmann::json{{"auths",
                         {{"10.0.0.1:5000", {{"auth", b64("from-config:pw1")}}},
                          {"other:5000", {{"auth", b64("other-user:pw2")}}}}}}
             .dump();
  ScopedEnv docker_config("DOCKER_CONFIG", dir.c_str());
  {
    ScopedEnv var("RG_TEST_REGISTRY_AUTH", "from-env:pw-env");
    auto auth = load_registry_auth("10.0.0.1:5000/demo:v1", "RG_TEST_REGISTRY_AUTH");
    REQUIRE(auth.is_ok());
    CHECK(decode_header(auth->header_for("10.0.0.1:5000").value()).at("username") == "from-env");
    CHECK(decode_header(auth->header_for("other:5000").value()).at("username") == "other-user");
  }
  {
    auto auth = load_registry_auth("10.0.0.1:5000/demo:v1", "");
    REQUIRE(auth.is_ok());
    CHECK(decode_header(auth->header_for("10.0.0.1:5000").value()).at("username") == "from-config");
  }
  {
    ScopedEnv var("RG_TEST_REGISTRY_AUTH", nullptr);
    auto auth = load_registry_auth("10.0.0.1:5000/demo:v1", "RG_TEST_REGISTRY_AUTH");
    REQUIRE_FALSE(auth.is_ok());
    CHECK_THAT(auth.status().message(),
               Catch::Contains("environment variable RG_TEST_REGISTRY_AUTH is not set"));
  }
}
