#include "orchestrator/docker/pull_stream.h"

#include <catch2/catch.hpp>
#include <string>

using orch::Code;
using orch::Status;
using orch::docker::PullStreamParser;

namespace {

// The body of a real pull from dockerd 20.10.24 (progress bars shortened), "\r\n"-separated.
const std::string kOkStream =
    "{\"status\":\"Pulling from demo\",\"id\":\"v1\"}\r\n"
    "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"72762d63779e\"}\r\n"
    "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":3384,\"total\":3384},"
    "\"progress\":\"[==================================================\\u003e]  3.384kB/3.384kB\","
    "\"id\":\"7a4ad7d49086\"}\r\n"
    "{\"status\":\"Verifying Checksum\",\"progressDetail\":{},\"id\":\"7a4ad7d49086\"}\r\n"
    "{\"status\":\"Download complete\",\"progressDetail\":{},\"id\":\"7a4ad7d49086\"}\r\n"
    "{\"status\":\"Pull complete\",\"progressDetail\":{},\"id\":\"72762d63779e\"}\r\n"
    "{\"status\":\"Digest: "
    "sha256:60731f829a7875b16dd509d9442d670b45a728233cd485077e735c8fb6366fad\"}\r\n"
    "{\"status\":\"Status: Downloaded newer image for 127.0.0.1:5055/demo:v1\"}\r\n";

const std::string kDigest =
    "sha256:60731f829a7875b16dd509d9442d670b45a728233cd485077e735c8fb6366fad";

// An error after the stream started (HTTP 200), as the engine writes it.
const std::string kErrorStream =
    "{\"status\":\"Pulling from demo\",\"id\":\"v1\"}\r\n"
    "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"72762d63779e\"}\r\n"
    "{\"errorDetail\":{\"message\":\"unexpected EOF\"},\"error\":\"unexpected EOF\"}\r\n";

Status feed_split(PullStreamParser& p, const std::string& s, size_t cut) {
  Status first = p.feed(std::string_view(s).substr(0, cut));
  Status second = p.feed(std::string_view(s).substr(cut));
  Status done = p.finish();
  if (!first.is_ok()) {
    return first;
  }
  if (!second.is_ok()) {
    return second;
  }
  return done;
}

}  // namespace

TEST_CASE("pull stream parses a whole successful stream", "[pull_stream]") {
  PullStreamParser p;
  REQUIRE(p.feed(kOkStream).is_ok());
  REQUIRE(p.finish().is_ok());
  CHECK(p.objects() == 8);
  CHECK(p.digest() == kDigest);
  CHECK(p.last_status() == "Status: Downloaded newer image for 127.0.0.1:5055/demo:v1");
}

TEST_CASE("pull stream gives the same result split at every byte boundary", "[pull_stream]") {
  for (size_t cut = 0; cut <= kOkStream.size(); ++cut) {
    INFO("cut at byte " << cut);
    PullStreamParser p;
    REQUIRE(feed_split(p, kOkStream, cut).is_ok());
    CHECK(p.objects() == 8);
    CHECK(p.digest() == kDigest);
    CHECK(p.last_status() == "Status: Downloaded newer image for 127.0.0.1:5055/demo:v1");
  }
}

TEST_CASE("pull stream fed one byte at a time", "[pull_stream]") {
  PullStreamParser p;
  for (char c : kOkStream) {
    REQUIRE(p.feed(std::string_view(&c, 1)).is_ok());
  }
  REQUIRE(p.finish().is_ok());
  CHECK(p.objects() == 8);
  CHECK(p.digest() == kDigest);
}

TEST_CASE("an error object inside the stream fails the pull at every split", "[pull_stream]") {
  for (size_t cut = 0; cut <= kErrorStream.size(); ++cut) {
    INFO("cut at byte " << cut);
    PullStreamParser p;
    Status st = feed_split(p, kErrorStream, cut);
    REQUIRE_FALSE(st.is_ok());
    CHECK(st.code() == Code::kEngine);
    CHECK(st.message() == "pull failed: unexpected EOF");
    CHECK(p.digest().empty());
  }
}

TEST_CASE("error objects: errorDetail preferred, plain error accepted", "[pull_stream]") {
  auto [line, message] = GENERATE(table<std::string, std::string>({
      {R"({"errorDetail":{"message":"manifest unknown"},"error":"other text"})",
       "pull failed: manifest unknown"},
      {R"({"error":"pull access denied for x"})", "pull failed: pull access denied for x"},
      {R"({"errorDetail":{"code":401}})", "pull failed: (the engine gave no message)"},
      {R"({"errorDetail":{"message":"toomanyrequests","code":429},"error":"toomanyrequests"})",
       "pull failed: toomanyrequests"},
  }));
  PullStreamParser p;
  Status st = p.feed(line + "\r\n");
  REQUIRE_FALSE(st.is_ok());
  CHECK(st.code() == Code::kEngine);
  CHECK(st.message() == message);
}

TEST_CASE("the first error sticks", "[pull_stream]") {
  PullStreamParser p;
  Status first = p.feed("{\"error\":\"first\"}\r\n{\"status\":\"Digest: sha256:ab\"}\r\n");
  REQUIRE_FALSE(first.is_ok());
  Status later = p.feed("{\"error\":\"second\"}\r\n");
  CHECK(later.message() == "pull failed: first");
  CHECK(p.finish().message() == "pull failed: first");
  CHECK(p.digest().empty());
}

TEST_CASE("malformed JSON in the stream is an error", "[pull_stream]") {
  auto text = GENERATE(as<std::string>{}, "{\"status\":\"ok\"\r\n", "not json\r\n", "[1,2]\r\n",
                       "\"just a string\"\r\n", "{\"status\":\"x\"}}\r\n");
  PullStreamParser p;
  Status st = p.feed(text);
  REQUIRE_FALSE(st.is_ok());
  CHECK(st.code() == Code::kInternal);
  CHECK(st.message().find("malformed JSON") != std::string::npos);
}

TEST_CASE("a final object without a newline is handled by finish", "[pull_stream]") {
  PullStreamParser p;
  REQUIRE(
      p.feed("{\"status\":\"Pulling from demo\"}\r\n{\"status\":\"Digest: sha256:abc\"}").is_ok());
  CHECK(p.objects() == 1);
  CHECK(p.digest().empty());
  REQUIRE(p.finish().is_ok());
  CHECK(p.objects() == 2);
  CHECK(p.digest() == "sha256:abc");
}

TEST_CASE("a final error object without a newline fails at finish", "[pull_stream]") {
  PullStreamParser p;
  REQUIRE(p.feed("{\"status\":\"Pulling from demo\"}\r\n{\"error\":\"boom\"}").is_ok());
  Status st = p.finish();
  REQUIRE_FALSE(st.is_ok());
  CHECK(st.code() == Code::kEngine);
  CHECK(st.message() == "pull failed: boom");
}

TEST_CASE("a truncated final object is malformed at finish", "[pull_stream]") {
  PullStreamParser p;
  REQUIRE(p.feed("{\"status\":\"Pulling from demo\"}\r\n{\"status\":\"Dow").is_ok());
  Status st = p.finish();
  REQUIRE_FALSE(st.is_ok());
  CHECK(st.code() == Code::kInternal);
}

TEST_CASE("blank lines, bare newlines and an empty stream are fine", "[pull_stream]") {
  PullStreamParser empty;
  REQUIRE(empty.finish().is_ok());
  CHECK(empty.objects() == 0);

  PullStreamParser p;
  REQUIRE(p.feed("\r\n\n{\"status\":\"a\"}\n\r\n{\"status\":\"b\"}\n  \r\n").is_ok());
  REQUIRE(p.finish().is_ok());
  CHECK(p.objects() == 2);
  CHECK(p.last_status() == "b");
}

TEST_CASE("status up to date keeps the digest", "[pull_stream]") {
  PullStreamParser p;
  REQUIRE(p.feed("{\"status\":\"Pulling from demo\",\"id\":\"sha256:60731f82\"}\r\n"
                 "{\"status\":\"Digest: sha256:60731f829a7875b16dd509d9442d670b45a728233cd485077e"
                 "735c8fb6366fad\"}\r\n"
                 "{\"status\":\"Status: Image is up to date for 127.0.0.1:5055/demo@sha256:6073"
                 "1f829a7875b16dd509d9442d670b45a728233cd485077e735c8fb6366fad\"}\r\n")
              .is_ok());
  REQUIRE(p.finish().is_ok());
  CHECK(p.digest() == kDigest);
  CHECK(p.last_status().starts_with("Status: Image is up to date"));
}

TEST_CASE("an endless line without newline is refused", "[pull_stream]") {
  PullStreamParser p;
  const std::string chunk(64 * 1024, 'x');
  Status st;
  for (int i = 0; i < 20 && st.is_ok(); ++i) {
    st = p.feed(chunk);
  }
  REQUIRE_FALSE(st.is_ok());
  CHECK(st.code() == Code::kInternal);
}
