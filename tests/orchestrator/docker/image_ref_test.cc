#include "orchestrator/docker/image_ref.h"

#include <catch2/catch.hpp>
#include <string>

namespace orch::docker {
namespace {

const std::string kHex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const std::string kDigest = "sha256:" + kHex;

TEST_CASE("parse_image_ref splits valid references", "[image_ref]") {
  auto [text, repository, tag, digest, normal] =
      GENERATE(table<std::string, std::string, std::string, std::string, std::string>({
          {"app", "app", "", "", "app:latest"},
          {"app:tag", "app", "tag", "", "app:tag"},
          {"app:1.2.3-rc_1", "app", "1.2.3-rc_1", "", "app:1.2.3-rc_1"},
          {"app:_underscore", "app", "_underscore", "", "app:_underscore"},
          {"app:UPPER", "app", "UPPER", "", "app:UPPER"},
          {"team/app", "team/app", "", "", "team/app:latest"},
          {"reg:5000/team/app:1.2", "reg:5000/team/app", "1.2", "", "reg:5000/team/app:1.2"},
          {"10.0.0.1:5000/app", "10.0.0.1:5000/app", "", "", "10.0.0.1:5000/app:latest"},
          {"localhost/app", "localhost/app", "", "", "localhost/app:latest"},
          {"localhost:5000/app:v1", "localhost:5000/app", "v1", "", "localhost:5000/app:v1"},
          {"Registry.Example.com/app", "Registry.Example.com/app", "", "",
           "Registry.Example.com/app:latest"},
          {"my-reg.io/a.b/c_d/e__f/g--h", "my-reg.io/a.b/c_d/e__f/g--h", "", "",
           "my-reg.io/a.b/c_d/e__f/g--h:latest"},
          {"app@" + kDigest, "app", "", kDigest, "app@" + kDigest},
          {"app:tag@" + kDigest, "app", "tag", kDigest, "app:tag@" + kDigest},
          {"reg:5000/app@" + kDigest, "reg:5000/app", "", kDigest, "reg:5000/app@" + kDigest},
          {"app:" + std::string(128, 'x'), "app", std::string(128, 'x'), "",
           "app:" + std::string(128, 'x')},
      }));
  CAPTURE(text);
  auto ref = parse_image_ref(text);
  REQUIRE(ref.is_ok());
  CHECK(ref->repository == repository);
  CHECK(ref->tag == tag);
  CHECK(ref->digest == digest);
  CHECK(ref->has_digest() == !digest.empty());
  CHECK(ref->to_string() == normal);
}

TEST_CASE("parse_image_ref rejects invalid references and says why", "[image_ref]") {
  auto [text, why] = GENERATE(table<std::string, std::string>({
      {"", "empty"},
      {"App", "uppercase"},
      {"team/MyApp:1", "uppercase"},
      {"a//b", "empty path component"},
      {"/app", "empty path component"},
      {"app/", "empty path component"},
      {"app:", "tag after ':' is empty"},
      {":tag", "repository name is empty"},
      {"app:-bad", "tag \"-bad\" is invalid"},
      {"app:.bad", "tag \".bad\" is invalid"},
      {"app:ba!d", "tag \"ba!d\" is invalid"},
      {"app:" + std::string(129, 'x'), "is invalid"},
      {"app@sha256:abc", "digest \"sha256:abc\" is invalid"},
      {"app@sha256:" + std::string(64, 'A'), "digest"},
      {"app@md5:" + kHex, "digest"},
      {"app@", "digest \"\" is invalid"},
      {"app@" + kDigest + "@" + kDigest, "digest"},
      {"a..b", "separators"},
      {"-app", "separators"},
      {"app-", "separators"},
      {"a___b", "separators"},
      {"a b", "character ' ' is not allowed"},
      {"reg:0/app", "invalid port \"0\""},
      {"reg:99999/app", "invalid port"},
      {"reg:x/app", "invalid port \"x\""},
      {"reg:/app", "invalid port"},
      {"-reg.io/app", "not a valid host name"},
      {"reg..io/app", "not a valid host name"},
      {std::string(256, 'a'), "longer than 255"},
  }));
  CAPTURE(text);
  auto ref = parse_image_ref(text);
  REQUIRE_FALSE(ref.is_ok());
  CHECK(ref.status().code() == Code::kInvalidArgument);
  CHECK_THAT(ref.status().message(), Catch::Contains(why));
  if (!text.empty()) {
    CHECK_THAT(ref.status().message(), Catch::Contains(text));
  }
}

TEST_CASE("is_digest accepts only sha256 with 64 lowercase hex", "[image_ref]") {
  CHECK(is_digest(kDigest));
  CHECK_FALSE(is_digest(""));
  CHECK_FALSE(is_digest(kHex));
  CHECK_FALSE(is_digest("sha256:" + kHex.substr(1)));
  CHECK_FALSE(is_digest(kDigest + "0"));
  CHECK_FALSE(is_digest("sha256:" + std::string(63, 'a') + "g"));
  CHECK_FALSE(is_digest("sha256:" + std::string(64, 'F')));
  CHECK_FALSE(is_digest("sha512:" + kHex));
}

TEST_CASE("effective_tag, pinned and to_string", "[image_ref]") {
  auto plain = parse_image_ref("reg:5000/team/app");
  REQUIRE(plain.is_ok());
  CHECK(plain->effective_tag() == "latest");
  CHECK(plain->pinned(kDigest) == "reg:5000/team/app@" + kDigest);

  auto tagged = parse_image_ref("reg:5000/team/app:1.2@" + kDigest);
  REQUIRE(tagged.is_ok());
  CHECK(tagged->effective_tag() == "1.2");
  // Pinning drops the tag: hosts run exactly the given digest.
  const std::string other = "sha256:" + std::string(64, 'e');
  CHECK(tagged->pinned(other) == "reg:5000/team/app@" + other);

  auto digest_only = parse_image_ref("app@" + kDigest);
  REQUIRE(digest_only.is_ok());
  CHECK(digest_only->effective_tag().empty());
  CHECK(digest_only->to_string() == "app@" + kDigest);

  // A parsed reference prints back to something that parses to the same reference.
  auto again = parse_image_ref(tagged->to_string());
  REQUIRE(again.is_ok());
  CHECK(again->repository == tagged->repository);
  CHECK(again->tag == tagged->tag);
  CHECK(again->digest == tagged->digest);
}

}  // namespace
}  // namespace orch::docker
