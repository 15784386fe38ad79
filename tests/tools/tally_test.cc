// rollgate-load's pure parts: URL parsing, body keys, the latency histogram, the Tally and the
// JSON report.
#include "tools/loadgen/tally.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "tools/loadgen/load.h"

namespace loadgen {
namespace {

using std::chrono::microseconds;

TEST_CASE("parse_url accepts http URLs with or without port and path", "[loadgen]") {
  struct Row {
    const char* text;
    const char* host;
    uint16_t port;
    const char* target;
  };
  const Row row = GENERATE(
      Row{"http://127.0.0.1:8080/health", "127.0.0.1", 8080, "/health"},
      Row{"http://web.internal", "web.internal", 80, "/"}, Row{"HTTP://web:81", "web", 81, "/"},
      Row{"http://web/a/b?x=1&y=2", "web", 80, "/a/b?x=1&y=2"},
      Row{"http://web?x=1", "web", 80, "/?x=1"}, Row{"http://web/p#frag", "web", 80, "/p"},
      Row{"http://[::1]:9000/v", "::1", 9000, "/v"}, Row{"http://[fd00::1]/", "fd00::1", 80, "/"});
  INFO(row.text);
  auto url = parse_url(row.text);
  REQUIRE(url);
  CHECK(url->host == row.host);
  CHECK(url->port == row.port);
  CHECK(url->target == row.target);
}

TEST_CASE("parse_url rejects what it cannot send and says why", "[loadgen]") {
  struct Row {
    const char* text;
    const char* why;
  };
  const Row row =
      GENERATE(Row{"https://web/", "https is not supported"}, Row{"ftp://web/", "expected http://"},
               Row{"web:80/", "expected http://"}, Row{"http://", "no host"},
               Row{"http://:80/", "no host"}, Row{"http://web:/", "empty port"},
               Row{"http://web:0/", "bad port"}, Row{"http://web:65536/", "bad port"},
               Row{"http://web:8o/", "bad port"}, Row{"http://::1:80/", "needs brackets"},
               Row{"http://[::1/", "missing ']'"}, Row{"http://u@web/", "user info"});
  INFO(row.text);
  auto url = parse_url(row.text);
  REQUIRE_FALSE(url);
  CHECK(url.status().code() == orch::Code::kInvalidArgument);
  CHECK_THAT(url.status().message(), Catch::Matchers::Contains(row.why));
}

TEST_CASE("body_key trims trailing whitespace, then keeps 200 bytes", "[loadgen]") {
  CHECK(body_key("demo v1\n") == "demo v1");
  CHECK(body_key("demo v1 \r\n\t ") == "demo v1");
  CHECK(body_key("  leading kept") == "  leading kept");
  CHECK(body_key(" \n") == "");
  CHECK(body_key("") == "");
  CHECK(body_key(std::string(300, 'x') + "\n") == std::string(200, 'x'));
}

TEST_CASE("latency percentiles are exact below 128us and within 1.6% above", "[loadgen]") {
  LatencyHistogram h;
  for (int us = 1; us <= 100; ++us) {
    h.add(microseconds(us));
  }
  CHECK(h.count() == 100);
  CHECK(h.percentile(0.50) == microseconds(50));
  CHECK(h.percentile(0.99) == microseconds(99));
  CHECK(h.percentile(1.0) == microseconds(100));
  CHECK(h.max() == microseconds(100));

  LatencyHistogram wide;
  for (int i = 1; i <= 1000; ++i) {
    wide.add(microseconds(i * 1000));  // 1ms .. 1s
  }
  // Nearest rank of p50 is 500ms, of p99 990ms; a percentile is its bucket's upper edge.
  const auto p50 = wide.percentile(0.50).count();
  const auto p99 = wide.percentile(0.99).count();
  CHECK(p50 >= 500'000);
  CHECK(p50 <= 500'000 * 1.016);
  CHECK(p99 >= 990'000);
  CHECK(p99 <= 1'000'000);
  CHECK(wide.max() == microseconds(1'000'000));

  // Never more than the largest value, even when it sits low in a wide bucket.
  LatencyHistogram one;
  one.add(microseconds(10'000'000));
  CHECK(one.percentile(0.5) == microseconds(10'000'000));
}

TEST_CASE("a tally counts ok and failed requests, statuses and bodies", "[loadgen]") {
  Tally t;
  t.add_ok(1000, 200, "demo v1\n", microseconds(1500));
  t.add_ok(1005, 200, "demo v1", microseconds(2500));
  t.add_failure(1010, FailureKind::kStatus, "HTTP 503", 503);
  t.add_failure(1011, FailureKind::kConnect, "connect 127.0.0.1:1: Connection refused");
  t.add_ok(1020, 204, "demo v2", microseconds(500));
  t.add_failure(1030, FailureKind::kStaleKeepalive, "read response: ...");

  CHECK(t.requests() == 6);
  CHECK(t.ok() == 3);
  CHECK(t.failed() == 3);
  CHECK(t.failures_of(FailureKind::kStatus) == 1);
  CHECK(t.failures_of(FailureKind::kConnect) == 1);
  CHECK(t.failures_of(FailureKind::kStaleKeepalive) == 1);
  CHECK(t.failures_of(FailureKind::kTimeout) == 0);
  CHECK(t.status_counts() == std::map<int, uint64_t>{{200, 2}, {204, 1}, {503, 1}});
  REQUIRE(t.bodies().size() == 2);
  const BodySeen v1 = t.bodies().at("demo v1");
  CHECK(v1.count == 2);
  CHECK(v1.first_ms == 1000);
  CHECK(v1.last_ms == 1005);
  CHECK(t.bodies().at("demo v2").count == 1);
  CHECK(t.latency().count() == 3);
  CHECK(t.latency().max() == microseconds(2500));
  REQUIRE(t.first_failures().size() == 3);
  CHECK(t.first_failures()[1].kind == FailureKind::kConnect);
  CHECK(t.first_failures()[1].at_ms == 1011);
}

TEST_CASE("a tally keeps the first 20 failures and at most 100 distinct bodies", "[loadgen]") {
  Tally t;
  for (int i = 0; i < 50; ++i) {
    t.add_failure(i, FailureKind::kTimeout, "timeout " + std::to_string(i));
  }
  for (int i = 0; i < 150; ++i) {
    t.add_ok(i, 200, "body " + std::to_string(i), microseconds(1));
  }
  CHECK(t.failed() == 50);
  REQUIRE(t.first_failures().size() == Tally::kMaxFirstFailures);
  CHECK(t.first_failures().back().detail == "timeout 19");
  CHECK(t.ok() == 150);
  CHECK(t.bodies().size() == Tally::kMaxBodies);
  CHECK(t.untracked_bodies() == 50);
}

TEST_CASE("the report names every failure kind and nulls latencies without ok", "[loadgen]") {
  Report r;
  r.url = "http://127.0.0.1:1/";
  r.connections = 2;
  r.started_ms = 100;
  r.ended_ms = 200;
  r.stopped_by = "duration";
  r.tally.add_failure(150, FailureKind::kConnect, "connect 127.0.0.1:1: Connection refused");
  const auto j = nlohmann::json::parse(report_json(r));
  CHECK(j.at("url") == "http://127.0.0.1:1/");
  CHECK(j.at("connections") == 2);
  CHECK(j.at("requests") == 1);
  CHECK(j.at("ok") == 0);
  CHECK(j.at("failed") == 1);
  CHECK(j.at("failures_by_kind") == nlohmann::json{{"connect", 1},
                                                   {"timeout", 0},
                                                   {"status", 0},
                                                   {"reset", 0},
                                                   {"eof", 0},
                                                   {"stale_keepalive", 0},
                                                   {"protocol", 0},
                                                   {"other", 0}});
  CHECK(j.at("status_counts") == nlohmann::json::object());
  CHECK(j.at("bodies") == nlohmann::json::object());
  CHECK(j.at("latency_ms").at("p50").is_null());
  CHECK(j.at("latency_ms").at("max").is_null());
  REQUIRE(j.at("first_failures").size() == 1);
  CHECK(j.at("first_failures")[0] ==
        nlohmann::json{{"at_ms", 150},
                       {"kind", "connect"},
                       {"detail", "connect 127.0.0.1:1: Connection refused"}});
}

TEST_CASE("the report survives bodies that are not UTF-8", "[loadgen]") {
  Report r;
  r.tally.add_ok(1, 200, "caf\xc3", microseconds(10));
  r.tally.add_ok(2, 200, "ok", microseconds(30));
  const auto j = nlohmann::json::parse(report_json(r));
  CHECK(j.at("bodies").size() == 2);
  CHECK(j.at("bodies").contains("caf\xef\xbf\xbd"));  // U+FFFD
  CHECK(j.at("latency_ms").at("p50") == 0.01);
  CHECK(j.at("latency_ms").at("max") == 0.03);
}

}  // namespace
}  // namespace loadgen
