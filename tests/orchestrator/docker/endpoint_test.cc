#include <catch2/catch.hpp>
#include <string>

#include "orchestrator/docker/http_engine.h"

using orch::Code;
using orch::docker::Endpoint;
using orch::docker::parse_endpoint;

TEST_CASE("parse_endpoint accepts unix sockets", "[endpoint]") {
  auto ep = parse_endpoint("unix:///var/run/docker.sock");
  REQUIRE(ep.is_ok());
  CHECK(ep->kind == Endpoint::Kind::kUnix);
  CHECK(ep->path == "/var/run/docker.sock");
  CHECK_FALSE(ep->tls.has_value());
  CHECK(ep->to_string() == "unix:///var/run/docker.sock");
}

TEST_CASE("parse_endpoint accepts tcp host:port", "[endpoint]") {
  auto [text, host, port, canonical] = GENERATE(table<std::string, std::string, int, std::string>({
      {"tcp://10.231.7.11:2375", "10.231.7.11", 2375, "tcp://10.231.7.11:2375"},
      {"tcp://engine.example:2376", "engine.example", 2376, "tcp://engine.example:2376"},
      {"tcp://h1:1", "h1", 1, "tcp://h1:1"},
      {"tcp://h1:65535/", "h1", 65535, "tcp://h1:65535"},
      {"tcp://[::1]:2375", "::1", 2375, "tcp://[::1]:2375"},
  }));
  auto ep = parse_endpoint(text);
  INFO(text);
  REQUIRE(ep.is_ok());
  CHECK(ep->kind == Endpoint::Kind::kTcp);
  CHECK(ep->host == host);
  CHECK(ep->port == port);
  CHECK(ep->to_string() == canonical);
  auto again = parse_endpoint(ep->to_string());
  REQUIRE(again.is_ok());
  CHECK(again->host == host);
  CHECK(again->port == port);
}

TEST_CASE("parse_endpoint names what is wrong", "[endpoint]") {
  auto [text, needle] = GENERATE(table<std::string, std::string>({
      {"", "empty"},
      {"tcp://10.0.0.1", "missing port"},
      {"tcp://10.0.0.1:", "missing port"},
      {"tcp://:2375", "empty host"},
      {"tcp://", "empty host"},
      {"tcp://h:0", "bad port \"0\""},
      {"tcp://h:65536", "bad port \"65536\""},
      {"tcp://h:23x", "bad port \"23x\""},
      {"tcp://h:-1", "bad port \"-1\""},
      {"tcp://h:2375/v1.41", "no path"},
      {"tcp://::1:2375", "brackets"},
      {"tcp://[::1", "unterminated"},
      {"unix://", "empty socket path"},
      {"unix://relative.sock", "absolute"},
      {"unix:///", "is a directory"},
      {"tcp://a b:2375", "may contain only"},
      {"tcp://user@h:2375", "may contain only"},
      {"tcp://[fe80::1%eth0]:2375", "not an IPv6 address"},
      {"tcp://[zz]:2375", "not an IPv6 address"},
      {"http://h:2375", "unknown scheme \"http\""},
      {"ssh://user@h", "unknown scheme \"ssh\""},
      {"/var/run/docker.sock", "no scheme"},
  }));
  INFO(text);
  auto ep = parse_endpoint(text);
  REQUIRE_FALSE(ep.is_ok());
  CHECK(ep.status().code() == Code::kInvalidArgument);
  CHECK_THAT(ep.status().message(), Catch::Contains(needle));
  CHECK_THAT(ep.status().message(), Catch::Contains("\"" + text + "\""));
}
