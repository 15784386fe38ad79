// RouterFleet: the controller against FakeWorld engines and a FakeRouter, for blue-green and
// rolling updates that move traffic. Two invariants are checked at every step, whatever the
// test asserts besides:
//   - no container is stopped or removed while the router sends it traffic (blue-green: its
//     colour is live; rolling: its host's entry for its port is ready);
//   - the router never sends traffic to a port where no container runs that has passed a probe
//     since it last started (switch_to: on every host; enable: on the entry's host).
// The probe answers like the app would: for the container publishing the target's port on the
// host (health::Target.port, else the configured 8080), so gating green probes green.
#pragma once

#include <catch2/catch.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "orchestrator/journal/journal.h"
#include "orchestrator/rollout/controller.h"
#include "tests/fakes/fake_engine.h"
#include "tests/fakes/fake_router.h"
#include "tests/fakes/manual_clock.h"
#include "tests/support/fleet_fixture.h"
#include "tests/support/run_task.h"

namespace orch::rollout::test {

using manifest::Colour;
using testing::FakeEngine;
using testing::FakeRouter;
using testing::FakeWorld;

using testing::kBad;
using testing::kRepo;
using testing::kV1;
using testing::kV2;
inline constexpr uint16_t kBluePort = 8080;
inline constexpr uint16_t kGreenPort = 8081;

enum class Mode { kBlueGreen, kStopFirst, kStartFirst };

// One probe of the fleet as the app would answer it.
struct ProbeSeen {
  std::string host;
  uint16_t port = 0;
  std::string target;  // the container the controller meant (Target.container_id)
  std::string found;   // the running container publishing the port ("" if none)
  bool pass = false;
};

class RouterFleet;

class PortProbe final : public health::Probe {
 public:
  explicit PortProbe(RouterFleet& fleet) : fleet_(fleet) {}
  boost::asio::awaitable<health::ProbeResult> run(health::Target t) override;

 private:
  RouterFleet& fleet_;
};

class RouterFleet : public testing::FakeFleet {
 public:
  RouterFleet(int n, Mode mode, int batch = 1) : FakeFleet(n, kBluePort, 80), mode_(mode) {
    world.registry = {{kRepo + ":v1", kV1}, {kRepo + ":v2", kV2}, {kRepo + ":bad", kBad}};
    world.unhealthy_digests = {kBad};
    m.strategy.batch_size.value = batch;
    if (mode == Mode::kBlueGreen) {
      m.strategy.type = "blue-green";
    } else if (mode == Mode::kStartFirst) {
      m.strategy.order = manifest::Order::kStartFirst;
    }
    if (mode != Mode::kStopFirst) {
      m.strategy.ports = manifest::ColourPorts{kBluePort, kGreenPort};
    }
    m.router = manifest::Router{};
    m.router->command = manifest::CommandRouter{{"/bin/true"}};
    for (const auto& host : m.hosts) {
      const std::string& name = host.name;
      if (mode == Mode::kStopFirst) {
        router.add_entry(name, std::nullopt, FakeRouter::State::kReady, kBluePort);
      } else if (mode == Mode::kStartFirst) {
        router.add_entry(name, Colour::kBlue, FakeRouter::State::kReady, kBluePort);
        router.add_entry(name, Colour::kGreen, FakeRouter::State::kMaint, kGreenPort);
      }
    }
    router.shared_log = &world.log;
    world.after_call = [this] { check_engine_call(world.log.back()); };
    router.on_call = [this](const std::string& call) {
      check_router_call(call);
      if (on_router_call) {
        on_router_call(call);
      }
    };
  }

  // On every host, a container of the app as an earlier rollout left it. `colour` "" seeds a
  // rolling update's container (no colour label, in the blue slot's port).
  std::vector<std::string> seed(const std::string& name, const std::string& digest, int rev,
                                const std::string& status, const std::string& colour = "") {
    std::vector<std::string> ids;
    const uint16_t port = colour == "green" ? kGreenPort : kBluePort;
    for (auto& e : engines) {
      auto id = e->seed(name, kRepo + "@" + digest, rev, "web", status, {{port, 80, "tcp", ""}});
      if (!colour.empty()) {
        e->containers[id].labels[kLabelColour] = colour;
      }
      ids.push_back(id);
    }
    return ids;
  }

  Outcome apply(const std::string& tag, std::chrono::milliseconds bake = {}) {
    return run([&](Controller& c) -> Task<Outcome> {
      ApplyOptions options{kRepo + ":" + tag, "test-rollout"};
      options.bake = bake;
      co_return co_await c.apply(std::move(options));
    });
  }

  Outcome switch_back() {
    return run([&](Controller& c) -> Task<Outcome> {
      std::string id = "switch-back-1";
      co_return co_await c.switch_back(std::move(id));
    });
  }

  // The index of the first line of world.log equal to `line` at or after `from`; -1 if none.
  int at(const std::string& line, int from = 0) const {
    for (size_t i = static_cast<size_t>(from); i < world.log.size(); ++i) {
      if (world.log[i] == line) {
        return static_cast<int>(i);
      }
    }
    return -1;
  }
  int count(const std::string& line) const {
    int n = 0;
    for (const auto& l : world.log) {
      n += l == line ? 1 : 0;
    }
    return n;
  }

  FakeEngine& engine(int host) { return *engines[host]; }
  const FakeEngine::Container* find(int host, const std::string& name) const {
    return engines[host]->find(name);
  }

  // The running container on `host` publishing `port`, if any.
  const FakeEngine::Container* serving(const std::string& host, uint16_t port) const {
    for (const auto& e : engines) {
      if (e->host_name() != host) {
        continue;
      }
      e->settle();
      for (const auto& [id, c] : e->containers) {
        if (c.status != "running") {
          continue;
        }
        for (const auto& p : c.ports) {
          if (p.host_port == port) {
            return &c;
          }
        }
      }
    }
    return nullptr;
  }

  // Passing probes of a container since it last started (or since the test began).
  int passes(const std::string& id) const {
    auto it = passes_.find(id);
    return it == passes_.end() ? 0 : it->second;
  }

  // Hosts where nothing that runs receives the router's traffic: blue-green, no running
  // container publishes the live colour's port; rolling, no ready entry has a running container
  // at its port. Empty when every host is served.
  std::vector<std::string> unserved() {
    std::vector<std::string> out;
    for (const auto& e : engines) {
      const std::string host = e->host_name();
      bool served = false;
      if (mode_ == Mode::kBlueGreen) {
        served =
            router.live && serving(host, *router.live == Colour::kBlue ? kBluePort : kGreenPort);
      } else {
        for (const auto& [name, entry] : router.entries) {
          if (name.substr(0, name.find('-')) == host && entry.state == FakeRouter::State::kReady &&
              serving(host, entry.port)) {
            served = true;
          }
        }
      }
      if (!served) {
        out.push_back(host);
      }
    }
    return out;
  }

  // The broken invariants, one per line, for INFO.
  std::string report() const {
    std::string out = "invariants broken:";
    for (const auto& v : violations) {
      out += "\n  " + v;
    }
    return violations.empty() ? "invariants held" : out;
  }

  RecordingSink events;
  FakeRouter router;
  std::vector<ProbeSeen> probes;
  std::vector<std::string> violations;  // broken invariants, with the step that broke them
  std::function<void(const std::string&)> on_router_call;  // after the invariant checks
  journal::Journal* journal = nullptr;  // what runs write ahead to; nullptr: not journaled
  bool killed = false;                  // the last run ended in testing::Killed (kill -9)

  // A new process: what the old one learnt from probing is gone, so a router step after a
  // resume must be preceded by probes in that run to count as proven.
  void forget_probes() { passes_.clear(); }

  // Runs `body` (Controller& -> Task<Outcome>) with a controller on this fleet and its router.
  template <class F>
  Outcome run(F body) {
    std::vector<std::unique_ptr<health::Probe>> list;
    list.push_back(std::make_unique<PortProbe>(*this));
    Controller c(m, bindings(), std::move(list), clock, events, nullptr, journal);
    c.set_router(&router);
    auto out = testing::run_unless_killed<testing::Killed>(body(c));
    killed = !out;  // like kill -9: nothing after the call ran
    return out.value_or(Outcome{});
  }

 private:
  friend class PortProbe;

  std::optional<Colour> colour_of(uint16_t port) const {
    if (port == kBluePort) {
      return Colour::kBlue;
    }
    if (port == kGreenPort) {
      return Colour::kGreen;
    }
    return std::nullopt;
  }

  // Runs before each engine call takes effect: "h1 stop h1-c3", "h2 remove h2-c5", ...
  void check_engine_call(const std::string& line) {
    const auto sp1 = line.find(' ');
    const auto sp2 = line.find(' ', sp1 + 1);
    if (sp1 == std::string::npos || sp2 == std::string::npos) {
      return;
    }
    const std::string host = line.substr(0, sp1);
    const std::string verb = line.substr(sp1 + 1, sp2 - sp1 - 1);
    const std::string arg = line.substr(sp2 + 1);
    FakeEngine* e = nullptr;
    for (auto& x : engines) {
      if (x->host_name() == host) {
        e = x.get();
      }
    }
    if (verb == "start") {
      if (const auto* c = e->find(arg)) {
        passes_[c->id] = 0;
      }
      return;
    }
    if (verb != "stop" && verb != "remove") {
      return;
    }
    const auto* c = e->find(arg);
    if (!c || c->status != "running" || c->ports.empty()) {
      return;
    }
    const uint16_t port = c->ports.front().host_port;
    const auto colour = colour_of(port);
    bool routed = false;
    if (mode_ == Mode::kBlueGreen) {
      routed = colour && router.live == colour;
    } else {
      const auto slot = mode_ == Mode::kStartFirst ? colour : std::nullopt;
      auto it = router.entries.find(router::server_name(host, slot));
      routed = it != router.entries.end() && it->second.state == FakeRouter::State::kReady;
    }
    if (routed) {
      violations.push_back("'" + line + "' (" + c->name + " on port " + std::to_string(port) +
                           ") while the router sends it traffic");
    }
  }

  // Runs after each router call took effect.
  void check_router_call(const std::string& call) {
    auto needs_proven = [&](const std::string& host, uint16_t port) {
      const auto* c = serving(host, port);
      if (!c) {
        violations.push_back("'" + call + "' routes " + host + ":" + std::to_string(port) +
                             " where nothing runs");
      } else if (passes(c->id) < 1) {
        violations.push_back("'" + call + "' routes " + host + ":" + std::to_string(port) + " to " +
                             c->name + ", which has not passed a probe since it started");
      }
    };
    if (call.rfind("switch ", 0) == 0) {
      const uint16_t port = call == "switch green" ? kGreenPort : kBluePort;
      for (const auto& e : engines) {
        needs_proven(e->host_name(), port);
      }
    } else if (call.rfind("enable ", 0) == 0) {
      const std::string name = call.substr(7);
      const auto& entry = router.entries.at(name);
      needs_proven(name.substr(0, name.find('-')), entry.port);
    }
  }

  Mode mode_;
  std::map<std::string, int> passes_;
};

inline boost::asio::awaitable<health::ProbeResult> PortProbe::run(health::Target t) {
  using Outcome = health::ProbeResult::Outcome;
  const uint16_t port = t.port_or(kBluePort);
  const auto* c = fleet_.serving(t.host, port);
  ProbeSeen seen{t.host, port, t.container_id, c ? c->id : "", false};
  if (!c) {
    fleet_.probes.push_back(seen);
    co_return health::ProbeResult{"http", Outcome::kFail, "connection refused", {}};
  }
  auto on = fleet_.world.unhealthy_on.find(t.host);
  if (fleet_.world.unhealthy_digests.count(c->digest) ||
      (on != fleet_.world.unhealthy_on.end() && on->second == c->digest)) {
    fleet_.probes.push_back(seen);
    co_return health::ProbeResult{"http", Outcome::kFail, "HTTP 500 (expected 200)", {}, true};
  }
  seen.pass = true;
  fleet_.probes.push_back(seen);
  ++fleet_.passes_[c->id];
  co_return health::ProbeResult{"http", Outcome::kPass, "HTTP 200", {}, true};
}

// Exit codes a run with an injected engine failure may end with: it stopped where the fleet is
// consistent (kPaused), before touching anything (kPreflight), or rode the failure out (kDone).
inline bool stopped_consistently(ExitCode c) {
  return c == ExitCode::kDone || c == ExitCode::kPaused || c == ExitCode::kPreflight;
}

// Fails each engine call of a run in turn: `setup` prepares a fleet, `run` drives the controller
// (it must succeed when nothing fails, which counts the calls), then for every N a fresh fleet
// runs with the Nth engine call failing. Every such run must keep the invariants, leave every
// host served, and end with an exit code `expected` accepts.
template <class Setup, class Run, class Expected>
void each_failure(int hosts, Mode mode, Setup setup, Run run, Expected expected) {
  int total = 0;
  {
    RouterFleet clean(hosts, mode);
    setup(clean);
    auto out = run(clean);
    INFO(out.summary);
    REQUIRE(out.code == ExitCode::kDone);
    total = clean.world.calls;
  }
  REQUIRE(total > 0);
  for (int n = 1; n <= total; ++n) {
    CAPTURE(n);
    RouterFleet f(hosts, mode);
    setup(f);
    f.world.fail_at = n;
    auto out = run(f);
    INFO(out.summary);
    CHECK(expected(out.code));
    INFO(f.report());
    CHECK(f.violations.empty());
    CHECK(f.unserved().empty());
  }
}

}  // namespace orch::rollout::test
