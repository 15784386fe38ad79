// The strategy and router sections that blue-green and start-first need, and the rules that
// tie them to the container and health sections.
#include <catch2/catch.hpp>
#include <string>

#include "orchestrator/manifest/parse.h"

namespace orch::manifest {
namespace {

const std::string kBase =
    "app: web\n"
    "image: web:1\n"
    "hosts:\n  - name: h1\n    engine: unix:///var/run/docker.sock\n";

const std::string kBlueGreen =
    "container: {ports: [\"8080:80\"]}\n"
    "strategy: {type: blue-green, ports: {blue: 8080, green: 8081}}\n"
    "health: {http: {port: 8080, path: /health}}\n"
    "router:\n"
    "  drain_timeout: 5s\n"
    "  haproxy:\n"
    "    runtime_api: unix:///run/haproxy/admin.sock\n"
    "    map: /etc/haproxy/rollgate.map\n"
    "    backends: {blue: web_blue, green: web_green}\n";

std::string errors_of(const LoadResult& r) {
  std::string out;
  for (const auto& e : r.errors) {
    out += e.to_string() + "\n";
  }
  return out;
}

// The one error a manifest has: its path and message.
std::pair<std::string, std::string> only_error(const std::string& text) {
  auto r = parse_manifest(text);
  INFO(errors_of(r));
  REQUIRE(r.errors.size() == 1);
  return {r.errors[0].path, r.errors[0].message};
}

TEST_CASE("a blue-green manifest loads with its ports and HAProxy router", "[manifest][router]") {
  auto r = parse_manifest(kBase + kBlueGreen);
  INFO(errors_of(r));
  REQUIRE(r.ok());
  const Manifest& m = *r.manifest;
  CHECK(m.strategy.blue_green());
  CHECK(m.strategy.two_slots());
  REQUIRE(m.strategy.ports);
  CHECK(m.strategy.ports->of(Colour::kBlue) == 8080);
  CHECK(m.strategy.ports->of(Colour::kGreen) == 8081);
  REQUIRE(m.router);
  REQUIRE(m.router->haproxy);
  CHECK_FALSE(m.router->command);
  CHECK(m.router->haproxy->runtime_api == "unix:///run/haproxy/admin.sock");
  CHECK(m.router->haproxy->map == "/etc/haproxy/rollgate.map");
  CHECK(m.router->haproxy->map_key == "web");  // defaults to the app
  CHECK(m.router->haproxy->blue_backend == "web_blue");
  CHECK(m.router->haproxy->green_backend == "web_green");
  CHECK(m.router->drain_timeout == Millis(5000));
  CHECK(m.router->timeout == Millis(10000));
}

TEST_CASE("rolling start-first with a command router", "[manifest][router]") {
  auto r = parse_manifest(kBase +
                          "container: {ports: [\"8080:80\"]}\n"
                          "strategy: {order: start-first, ports: {blue: 8080, green: 8081}}\n"
                          "router: {command: /usr/local/bin/lb-switch --quiet, timeout: 3s}\n");
  INFO(errors_of(r));
  REQUIRE(r.ok());
  const Manifest& m = *r.manifest;
  CHECK(m.strategy.start_first());
  CHECK_FALSE(m.strategy.blue_green());
  REQUIRE(m.router->command);
  CHECK(m.router->command->run ==
        std::vector<std::string>{"/bin/sh", "-c", "/usr/local/bin/lb-switch --quiet"});
  CHECK(m.router->timeout == Millis(3000));
}

TEST_CASE("a rolling update may drain through a router without two slots", "[manifest][router]") {
  auto r = parse_manifest(kBase +
                          "router: {haproxy: {runtime_api: \"tcp://127.0.0.1:9999\", "
                          "backend: web}, drain_timeout: 10s}\n");
  INFO(errors_of(r));
  REQUIRE(r.ok());
  CHECK(r.manifest->strategy.order == Order::kStopFirst);
  CHECK(r.manifest->router->haproxy->backend == "web");
}

TEST_CASE("router and strategy errors name the field, the value and what was expected",
          "[manifest][router]") {
  SECTION("an unknown strategy order") {
    auto [path, msg] = only_error(kBase + "strategy: {order: blue-first}\n");
    CHECK(path == "strategy.order");
    CHECK_THAT(msg, Catch::Contains("\"blue-first\"") && Catch::Contains("start-first"));
  }
  SECTION("two colours on one port") {
    auto [path, msg] = only_error(kBase +
                                  "container: {ports: [\"8080:80\"]}\n"
                                  "strategy: {type: blue-green, ports: {blue: 8080, green: "
                                  "8080}}\n"
                                  "router: {command: [/bin/true]}\n");
    CHECK(path == "strategy.ports.green");
    CHECK_THAT(msg, Catch::Contains("8080") && Catch::Contains("different"));
  }
  SECTION("blue-green without ports") {
    auto [path, msg] = only_error(kBase +
                                  "container: {ports: [\"8080:80\"]}\n"
                                  "strategy: {type: blue-green}\n"
                                  "router: {command: [/bin/true]}\n");
    CHECK(path == "strategy.ports");
    CHECK_THAT(msg, Catch::Contains("missing"));
  }
  SECTION("blue differs from the published host port") {
    auto [path, msg] = only_error(kBase +
                                  "container: {ports: [\"9000:80\"]}\n"
                                  "strategy: {type: blue-green, ports: {blue: 8080, green: "
                                  "8081}}\n"
                                  "router: {command: [/bin/true]}\n");
    CHECK(path == "strategy.ports.blue");
    CHECK_THAT(msg, Catch::Contains("8080") && Catch::Contains("9000"));
  }
  SECTION("two published ports cannot run twice on one host") {
    auto [path, msg] = only_error(kBase +
                                  "container: {ports: [\"8080:80\", \"9090:9090\"]}\n"
                                  "strategy: {type: blue-green, ports: {blue: 8080, green: "
                                  "8081}}\n"
                                  "router: {command: [/bin/true]}\n");
    CHECK(path == "container.ports");
    CHECK_THAT(msg, Catch::Contains("exactly one"));
  }
  SECTION("a health probe on another port than the routed one") {
    auto [path, msg] = only_error(kBase +
                                  "container: {ports: [\"8080:80\"]}\n"
                                  "strategy: {type: blue-green, ports: {blue: 8080, green: "
                                  "8081}}\n"
                                  "health: {http: {port: 9000}}\n"
                                  "router: {command: [/bin/true]}\n");
    CHECK(path == "health.http.port");
    CHECK_THAT(msg, Catch::Contains("9000") && Catch::Contains("8080"));
  }
  SECTION("blue-green without a router") {
    auto [path, msg] = only_error(kBase +
                                  "container: {ports: [\"8080:80\"]}\n"
                                  "strategy: {type: blue-green, ports: {blue: 8080, green: "
                                  "8081}}\n");
    CHECK(path == "router");
    CHECK_THAT(msg, Catch::Contains("missing"));
  }
  SECTION("keep 1 would delete the other colour") {
    auto [path, msg] = only_error(kBase + kBlueGreen + "keep: 1\n");
    CHECK(path == "keep");
    CHECK_THAT(msg, Catch::Contains("at least 2"));
  }
  SECTION("ports without a strategy that uses them") {
    auto [path, msg] = only_error(kBase + "strategy: {ports: {blue: 8080, green: 8081}}\n");
    CHECK(path == "strategy.ports");
  }
  SECTION("both router kinds at once") {
    auto [path, msg] =
        only_error(kBase +
                   "router: {command: /bin/true, haproxy: {runtime_api: \"tcp://127.0.0.1:1\", "
                   "backend: b}}\n");
    CHECK(path == "router");
    CHECK_THAT(msg, Catch::Contains("exactly one"));
  }
  SECTION("a runtime API that is not a socket address") {
    auto [path, msg] =
        only_error(kBase + "router: {haproxy: {runtime_api: /run/admin.sock, backend: b}}\n");
    CHECK(path == "router.haproxy.runtime_api");
    CHECK_THAT(msg, Catch::Contains("/run/admin.sock") && Catch::Contains("unix://"));
  }
  SECTION("a backend name with a space would split a runtime command") {
    auto [path, msg] = only_error(
        kBase + "router: {haproxy: {runtime_api: \"tcp://127.0.0.1:1\", backend: \"a b\"}}\n");
    CHECK(path == "router.haproxy.backend");
    CHECK_THAT(msg, Catch::Contains("\"a b\"") && Catch::Contains("no spaces"));
  }
  SECTION("a rolling HAProxy router needs the hosts' backend") {
    auto [path, msg] =
        only_error(kBase + "router: {haproxy: {runtime_api: \"tcp://127.0.0.1:1\"}}\n");
    CHECK(path == "router.haproxy.backend");
  }
  SECTION("a blue-green HAProxy router needs the map") {
    auto [path, msg] = only_error(kBase +
                                  "container: {ports: [\"8080:80\"]}\n"
                                  "strategy: {type: blue-green, ports: {blue: 8080, green: "
                                  "8081}}\n"
                                  "router: {haproxy: {runtime_api: \"tcp://127.0.0.1:1\", "
                                  "backends: {blue: b, green: g}}}\n");
    CHECK(path == "router.haproxy.map");
  }
  SECTION("a misspelt router key") {
    auto [path, msg] = only_error(kBase + "router: {command: /bin/true, drain_timout: 5s}\n");
    CHECK(path == "router.drain_timout");
    CHECK_THAT(msg, Catch::Contains("drain_timeout"));
  }
  SECTION("persist_map is for blue-green") {
    auto [path, msg] = only_error(kBase +
                                  "router: {haproxy: {runtime_api: \"tcp://127.0.0.1:1\", "
                                  "backend: b, persist_map: true}}\n");
    CHECK(path == "router.haproxy.persist_map");
    CHECK_THAT(msg, Catch::Contains("blue-green"));
  }
  SECTION("persist_map needs the map file's absolute path") {
    std::string yaml = kBase + kBlueGreen + "    persist_map: true\n";
    yaml.replace(yaml.find("/etc/haproxy/rollgate.map"), 25, "rollgate.map");
    auto [path, msg] = only_error(yaml);
    CHECK(path == "router.haproxy.persist_map");
    CHECK_THAT(msg, Catch::Contains("\"rollgate.map\"") && Catch::Contains("absolute"));
  }
  SECTION("persist_map is true or false") {
    auto [path, msg] = only_error(kBase + kBlueGreen + "    persist_map: yes\n");
    CHECK(path == "router.haproxy.persist_map");
  }
  SECTION("batch_size means nothing to blue-green") {
    auto [path, msg] = only_error(kBase +
                                  "container: {ports: [\"8080:80\"]}\n"
                                  "strategy: {type: blue-green, batch_size: 2, ports: {blue: "
                                  "8080, green: 8081}}\n"
                                  "router: {command: /bin/true}\n");
    CHECK(path == "strategy.batch_size");
  }
}

}  // namespace
}  // namespace orch::manifest
