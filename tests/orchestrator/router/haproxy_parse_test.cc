// The Runtime API parsers against answers captured from a real HAProxy 2.6 (haproxy_captures.h).
// haproxy_router_test.cc feeds them live answers too.
#include <catch2/catch.hpp>

#include "orchestrator/router/haproxy_runtime.h"
#include "tests/orchestrator/router/haproxy_captures.h"

namespace orch::router {
namespace {

using Catch::Matchers::Contains;
using test::kServersStateDrainMaint;
using test::kServersStateSlots;
using test::kShowMap;
using test::kShowStatBusy;
using test::kUnknownBackend;
using test::kUnknownMap;

const StatRow* row(const std::vector<StatRow>& rows, const std::string& proxy,
                   const std::string& server) {
  for (const auto& r : rows) {
    if (r.proxy == proxy && r.server == server) {
      return &r;
    }
  }
  return nullptr;
}

TEST_CASE("map_value reads the live backend from show map", "[router][haproxy][parse]") {
  CHECK(map_value(kShowMap, "web") == std::optional<std::string>("web_blue"));
  CHECK_FALSE(map_value(kShowMap, "api").has_value());
  // The value column is not a key: web_blue is nobody's key.
  CHECK_FALSE(map_value(kShowMap, "web_blue").has_value());
  CHECK_FALSE(map_value("", "web").has_value());
  CHECK_FALSE(map_value(kUnknownMap, "web").has_value());
}

TEST_CASE("map_value finds its key among several entries", "[router][haproxy][parse]") {
  const std::string answer =
      "0x5558439a1b20 api api_green\n0x5558439a1b70 web web_green\n0x5558439a1bc0 www "
      "www_blue\n\n";
  CHECK(map_value(answer, "web") == std::optional<std::string>("web_green"));
  CHECK(map_value(answer, "api") == std::optional<std::string>("api_green"));
  CHECK(map_value(answer, "www") == std::optional<std::string>("www_blue"));
}

TEST_CASE("parse_stat reads sessions, queue and status per server", "[router][haproxy][parse]") {
  auto rows = parse_stat(kShowStatBusy);
  INFO(rows.status().message());
  REQUIRE(rows);
  CHECK(rows->size() == 4);  // FRONTEND, h1, h2, BACKEND
  const auto* fe = row(*rows, "fe", "FRONTEND");
  REQUIRE(fe);
  CHECK(fe->sessions == 2);
  CHECK(fe->queued == 0);  // empty qcur column on a frontend
  CHECK(fe->status == "OPEN");
  const auto* h1 = row(*rows, "roll", "h1");
  REQUIRE(h1);
  CHECK(h1->sessions == 1);
  CHECK(h1->queued == 0);
  CHECK(h1->status == "no check");
  const auto* h2 = row(*rows, "roll", "h2");
  REQUIRE(h2);
  CHECK(h2->sessions == 0);
  CHECK(h2->status == "MAINT");
  const auto* be = row(*rows, "roll", "BACKEND");
  REQUIRE(be);
  CHECK(be->sessions == 2);
  CHECK(be->queued == 1);
  CHECK(be->status == "UP");
}

TEST_CASE("parse_stat accepts CRLF line ends", "[router][haproxy][parse]") {
  std::string crlf;
  for (char c : kShowStatBusy) {
    if (c == '\n') {
      crlf += '\r';
    }
    crlf += c;
  }
  auto rows = parse_stat(crlf);
  REQUIRE(rows);
  const auto* h1 = row(*rows, "roll", "h1");
  REQUIRE(h1);
  CHECK(h1->sessions == 1);
  CHECK(h1->status == "no check");
}

TEST_CASE("parse_stat finds its columns by name, in any order", "[router][haproxy][parse]") {
  auto rows = parse_stat("# status,scur,svname,qcur,pxname,\nUP,7,h1,2,roll,\n");
  REQUIRE(rows);
  REQUIRE(rows->size() == 1);
  CHECK(rows->at(0).proxy == "roll");
  CHECK(rows->at(0).server == "h1");
  CHECK(rows->at(0).sessions == 7);
  CHECK(rows->at(0).queued == 2);
  CHECK(rows->at(0).status == "UP");
}

TEST_CASE("parse_stat refuses answers that are not a stats CSV", "[router][haproxy][parse]") {
  SECTION("empty") {
    auto rows = parse_stat("");
    REQUIRE_FALSE(rows);
    CHECK(rows.status().code() == Code::kInvalidArgument);
  }
  SECTION("an error message instead of a header") {
    auto rows = parse_stat("Permission denied\n\n");
    REQUIRE_FALSE(rows);
    CHECK_THAT(rows.status().message(), Contains("Permission denied"));
  }
  SECTION("a header without scur") {
    auto rows = parse_stat("# pxname,svname,qcur,status\nroll,h1,0,UP\n");
    REQUIRE_FALSE(rows);
    CHECK_THAT(rows.status().message(), Contains("scur"));
  }
}

TEST_CASE("parse_servers_state reads address, port and admin state", "[router][haproxy][parse]") {
  auto servers = parse_servers_state(kServersStateDrainMaint);
  INFO(servers.status().message());
  REQUIRE(servers);
  REQUIRE(servers->size() == 2);
  const auto& h1 = servers->at(0);
  CHECK(h1.backend == "roll");
  CHECK(h1.server == "h1");
  CHECK(h1.address == "127.0.0.1");
  CHECK(h1.port == 18080);
  CHECK(h1.admin_state == 0x08);  // forced drain
  const auto& h2 = servers->at(1);
  CHECK(h2.server == "h2");
  CHECK(h2.address == "127.0.0.2");
  CHECK(h2.port == 18080);
  CHECK(h2.admin_state == 0x01);  // forced maintenance
}

TEST_CASE("parse_servers_state reads start-first slots", "[router][haproxy][parse]") {
  auto servers = parse_servers_state(kServersStateSlots);
  REQUIRE(servers);
  REQUIRE(servers->size() == 2);
  CHECK(servers->at(0).server == "h1-blue");
  CHECK(servers->at(0).port == 18080);
  CHECK(servers->at(0).admin_state == 0);
  CHECK(servers->at(1).server == "h1-green");
  CHECK(servers->at(1).port == 18081);
  CHECK(servers->at(1).admin_state == 0x05);  // "disabled" in the config: maintenance
}

TEST_CASE("parse_servers_state refuses an answer without its header", "[router][haproxy][parse]") {
  auto unknown = parse_servers_state(kUnknownBackend);
  REQUIRE_FALSE(unknown);
  CHECK(unknown.status().code() == Code::kInvalidArgument);
  auto partial = parse_servers_state("1\n# be_id be_name srv_id srv_name\n5 roll 1 h1\n");
  REQUIRE_FALSE(partial);
  CHECK_THAT(partial.status().message(), Contains("srv_port"));
}

TEST_CASE("parse_stat skips a row too short for the columns it reads", "[router][parse]") {
  // Found by fuzz/haproxy_answers_fuzz: a row one field short of the header, with status the
  // last column, was read past its end.
  auto rows = parse_stat("# pxname,svname,qcur,scur,status\nweb,h1,0,2\nweb,h2,0,1,UP\n");
  REQUIRE(rows);
  REQUIRE(rows->size() == 1);
  CHECK(rows->front().server == "h2");
  CHECK(rows->front().sessions == 1);
}

TEST_CASE("rewrite_map_file replaces the key's line and keeps the rest", "[router][parse]") {
  CHECK(rewrite_map_file("web web_blue\n", "web", "web_green") == "web web_green\n");
  CHECK(rewrite_map_file("# c\napi api_b\nweb web_blue\n\n", "web", "web_green") ==
        "# c\napi api_b\nweb web_green\n\n");
  CHECK(rewrite_map_file("api api_b", "web", "web_green") == "api api_b\nweb web_green\n");
  CHECK(rewrite_map_file("", "web", "web_blue") == "web web_blue\n");
  // A key that is only a prefix of another is not that key.
  CHECK(rewrite_map_file("webapp x\n", "web", "y") == "webapp x\nweb y\n");
}

}  // namespace
}  // namespace orch::router
