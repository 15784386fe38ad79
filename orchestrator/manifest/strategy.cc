// The strategy section, and check_strategy: what blue-green and start-first require of the
// other sections.
#include <fmt/format.h>

#include <limits>

#include "orchestrator/manifest/sections.h"

namespace orch::manifest {
namespace {

constexpr std::array<std::string_view, 5> kStrategyKeys = {"type", "batch_size", "order", "ports",
                                                           "pull_concurrency"};
// More pulls at once than this is a registry outage, not a rollout.
constexpr int kMaxPullConcurrency = 256;

}  // namespace

void check_strategy(Validator& v, const Json& doc, Manifest& m) {
  const Strategy& s = m.strategy;
  const std::string mode = s.blue_green() ? "blue-green" : "order: start-first";
  if (s.two_slots()) {
    if (!s.ports) {
      v.missing("strategy.ports",
                "{blue: PORT, green: PORT}: the host ports of the two containers " + mode +
                    " runs side by side");
    }
    if (m.container.ports.size() != 1) {
      v.add("container.ports",
            fmt::format("got {} port mapping(s): {} needs exactly one, the port the router sends "
                        "traffic to (two containers cannot publish the same other host ports)",
                        m.container.ports.size(), mode));
    } else if (s.ports && m.container.ports[0].host_port != s.ports->blue) {
      v.add("strategy.ports.blue",
            fmt::format("got {}: expected {}, the host port of container.ports[0] (blue is that "
                        "port, green the alternate)",
                        s.ports->blue, m.container.ports[0].host_port));
    }
    if (s.ports) {
      if (m.health.http && m.health.http->port != s.ports->blue) {
        v.add("health.http.port",
              fmt::format("got {}: expected {} (strategy.ports.blue); with {} each colour is "
                          "probed on its own port",
                          m.health.http->port, s.ports->blue, mode));
      }
      if (m.health.tcp && m.health.tcp->port != s.ports->blue) {
        v.add("health.tcp.port",
              fmt::format("got {}: expected {} (strategy.ports.blue); with {} each colour is "
                          "probed on its own port",
                          m.health.tcp->port, s.ports->blue, mode));
      }
    }
    if (!m.router) {
      v.missing("router", "a router section: " + mode + " moves traffic between two containers");
    }
    if (m.keep < 2) {
      v.add("keep", fmt::format("got {}: expected at least 2 with {} (the live container and the "
                                "other colour)",
                                m.keep, mode));
    }
  } else if (s.ports) {
    v.add("strategy.ports",
          "only used by strategy.type blue-green and strategy.order start-first; remove it");
  }
  if (s.blue_green() && find(doc["strategy"], "batch_size") != nullptr) {
    v.add("strategy.batch_size", "not used by blue-green, which switches the whole fleet at once");
  }
  if (s.blue_green() && find(doc["strategy"], "order") != nullptr) {
    v.add("strategy.order", "not used by blue-green (green always starts beside blue)");
  }
  if (!m.router || !m.router->haproxy) {
    return;
  }
  HaproxyRouter& hp = *m.router->haproxy;
  if (hp.persist_map && !s.blue_green()) {
    v.add("router.haproxy.persist_map", "only used by strategy.type blue-green; remove it");
  } else if (hp.persist_map && !hp.map.empty() && hp.map.front() != '/') {
    v.add("router.haproxy.persist_map",
          "got true with map " + quote(hp.map) +
              ": expected an absolute map path, the file rollgate rewrites after each switch");
  }
  if (s.blue_green()) {
    if (hp.map.empty()) {
      v.missing("router.haproxy.map",
                "with blue-green, the map whose entry names the live backend");
    }
    if (hp.blue_backend.empty() || hp.green_backend.empty()) {
      v.missing("router.haproxy.backends", "with blue-green, {blue: BACKEND, green: BACKEND}");
    }
    if (hp.map_key.empty()) {
      hp.map_key = m.app;
    }
  } else if (hp.backend.empty()) {
    v.missing("router.haproxy.backend",
              "with a rolling update, the backend whose servers are the hosts (named after them)");
  }
}

void read_strategy(Validator& v, const Json& j, Strategy& out) {
  if (!v.object("strategy", j, kStrategyKeys)) {
    return;
  }
  if (const Json* t = find(j, "type")) {
    constexpr const char* kExpected = "\"rolling\" or \"blue-green\"";
    if (auto s = v.string("strategy.type", *t, kExpected)) {
      if (*s == "rolling" || *s == "blue-green") {
        out.type = *s;
      } else {
        v.fail("strategy.type", *t, kExpected);
      }
    }
  }
  if (const Json* o = find(j, "order")) {
    constexpr const char* kExpected = "\"stop-first\" or \"start-first\"";
    if (auto s = v.string("strategy.order", *o, kExpected)) {
      if (*s == "stop-first") {
        out.order = Order::kStopFirst;
      } else if (*s == "start-first") {
        out.order = Order::kStartFirst;
      } else {
        v.fail("strategy.order", *o, kExpected);
      }
    }
  }
  if (const Json* p = find(j, "ports")) {
    if (v.object("strategy.ports", *p, kColourKeys)) {
      ColourPorts ports;
      bool ok = true;
      for (Colour c : {Colour::kBlue, Colour::kGreen}) {
        const std::string path = std::string("strategy.ports.") + to_string(c);
        const Json* n = find(*p, to_string(c));
        if (n == nullptr) {
          v.missing(path, kPortExpected);
          ok = false;
        } else if (auto port = v.integer(path, *n, 1, 65535, kPortExpected)) {
          (c == Colour::kBlue ? ports.blue : ports.green) = static_cast<uint16_t>(*port);
        } else {
          ok = false;
        }
      }
      if (ok && ports.blue == ports.green) {
        v.fail("strategy.ports.green", *find(*p, "green"),
               "a port different from strategy.ports.blue: both colours run at once");
        ok = false;
      }
      if (ok) {
        out.ports = ports;
      }
    }
  }
  if (const Json* b = find(j, "batch_size")) {
    constexpr const char* kExpected =
        "a positive number of hosts, or a percentage of the fleet like \"25%\" (1%-100%)";
    if (b->is_string()) {
      std::string s = b->get<std::string>();
      auto n = s.size() > 1 && s.back() == '%'
                   ? small_uint(std::string_view(s).substr(0, s.size() - 1))
                   : std::nullopt;
      if (n && *n >= 1 && *n <= 100) {
        out.batch_size = BatchSize{*n, true};
      } else {
        v.fail("strategy.batch_size", *b, kExpected);
      }
    } else if (auto n = v.integer("strategy.batch_size", *b, 1, std::numeric_limits<int>::max(),
                                  kExpected)) {
      out.batch_size = BatchSize{*n, false};
    }
  }
  if (const Json* c = find(j, "pull_concurrency")) {
    if (auto n = v.integer(
            "strategy.pull_concurrency", *c, 1, kMaxPullConcurrency,
            fmt::format("a number of hosts pulling at once, 1-{}", kMaxPullConcurrency))) {
      out.pull_concurrency = *n;
    }
  }
}

}  // namespace orch::manifest
