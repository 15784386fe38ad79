// The router section: HAProxy's Runtime API or a command that moves traffic.
#include <algorithm>
#include <utility>

#include "orchestrator/manifest/sections.h"

namespace orch::manifest {
namespace {

constexpr std::array<std::string_view, 4> kRouterKeys = {"haproxy", "command", "drain_timeout",
                                                         "timeout"};
constexpr std::array<std::string_view, 6> kHaproxyKeys = {"runtime_api", "map",     "map_key",
                                                          "backends",    "backend", "persist_map"};

}  // namespace

// router: {haproxy: {...}} or {command: ...}, plus drain_timeout and timeout.
void read_router(Validator& v, const Json& j, Manifest& m) {
  if (!v.object("router", j, kRouterKeys)) {
    return;
  }
  Router r;
  const Json* h = find(j, "haproxy");
  const Json* c = find(j, "command");
  if ((h == nullptr) == (c == nullptr)) {
    v.fail("router", j, "exactly one of router.haproxy and router.command");
  }
  if (h != nullptr && v.object("router.haproxy", *h, kHaproxyKeys)) {
    HaproxyRouter hp;
    constexpr const char* kApiExpected =
        "unix:///path/to/admin.sock or tcp://host:port (HAProxy's Runtime API, level admin)";
    if (const Json* api = find(*h, "runtime_api")) {
      if (read_endpoint(v, "router.haproxy.runtime_api", *api, kApiExpected)) {
        hp.runtime_api = api->get<std::string>();
      }
    } else {
      v.missing("router.haproxy.runtime_api", kApiExpected);
    }
    // HAProxy names: no spaces or control characters (they would split a runtime command).
    auto name = [&](const std::string& path, const Json& value, const std::string& expected,
                    std::string& out) {
      if (auto s = v.string(path, value, expected)) {
        bool ok = !s->empty() && std::all_of(s->begin(), s->end(), [](char ch) {
          return static_cast<unsigned char>(ch) > 0x20 && ch != 0x7f && ch != ';';
        });
        if (ok) {
          out = *s;
        } else {
          v.fail(path, value, expected + " (no spaces, ';' or control characters)");
        }
      }
    };
    if (const Json* map = find(*h, "map")) {
      name("router.haproxy.map", *map, "the map file's path as haproxy.cfg names it", hp.map);
    }
    if (const Json* key = find(*h, "map_key")) {
      name("router.haproxy.map_key", *key, "the map key whose value is the live backend",
           hp.map_key);
    }
    if (const Json* b = find(*h, "backends")) {
      if (v.object("router.haproxy.backends", *b, kColourKeys)) {
        for (Colour col : {Colour::kBlue, Colour::kGreen}) {
          const std::string path = std::string("router.haproxy.backends.") + to_string(col);
          if (const Json* n = find(*b, to_string(col))) {
            name(path, *n, "a backend name",
                 col == Colour::kBlue ? hp.blue_backend : hp.green_backend);
          } else {
            v.missing(path, "the backend whose servers are the hosts' " +
                                std::string(to_string(col)) + " ports");
          }
        }
      }
    }
    if (const Json* p = find(*h, "persist_map")) {
      if (auto b = v.boolean("router.haproxy.persist_map", *p)) {
        hp.persist_map = *b;
      }
    }
    if (const Json* b = find(*h, "backend")) {
      name("router.haproxy.backend", *b, "a backend name", hp.backend);
    }
    r.haproxy = std::move(hp);
  }
  if (c != nullptr) {
    constexpr const char* kExpected =
        "a list of arguments, or one non-empty string (run as /bin/sh -c \"...\")";
    CommandRouter cmd;
    if (c->is_string() && !c->get<std::string>().empty()) {
      cmd.run = {"/bin/sh", "-c", c->get<std::string>()};
    } else if (c->is_array() && !c->empty()) {
      for (size_t i = 0; i < c->size(); ++i) {
        if (auto s = v.text(index_path("router.command", i), (*c)[i])) {
          cmd.run.push_back(*s);
        }
      }
    } else {
      v.fail("router.command", *c, kExpected);
    }
    r.command = std::move(cmd);
  }
  if (const Json* d = find(j, "drain_timeout")) {
    if (auto ms = v.duration("router.drain_timeout", *d)) {
      r.drain_timeout = *ms;
    }
  }
  if (const Json* t = find(j, "timeout")) {
    if (auto ms = v.duration("router.timeout", *t)) {
      if (ms->count() > 0) {
        r.timeout = *ms;
      } else {
        v.fail("router.timeout", *t, "a duration above zero");
      }
    }
  }
  m.router = std::move(r);
}

}  // namespace orch::manifest
