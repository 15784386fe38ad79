// FakeRouter: a router::Router with state, like an HAProxy in memory (STYLE.md #11).
//
// It holds what a real router holds: the live colour (blue-green's map entry) and one entry per
// server, named like HAProxy's ("h1" with stop-first, "h1-blue"/"h1-green" with start-first
// slots), each ready, draining or in maintenance at a port. Every call is logged in order, also
// into a shared log (FakeWorld::log) as "router <call>", so that tests can order router steps
// against engine calls. Failures are configured, not scripted: refuse the next N switches, lose
// a switch's answer, fail a drain or enable of an entry, report in-flight requests that outlast
// the drain. `on_call` runs after each call took effect, for invariant checks.
#pragma once

#include <fmt/format.h>

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "orchestrator/router/router.h"

namespace orch::testing {

class FakeRouter final : public router::Router {
 public:
  using Colour = manifest::Colour;
  enum class State { kReady, kDrain, kMaint };
  struct Entry {
    State state = State::kReady;
    uint16_t port = 0;
  };

  // Blue-green: where new requests go; nullopt when the router cannot tell.
  std::optional<Colour> live = Colour::kBlue;
  // Rolling: the servers, by router::server_name(host, slot).
  std::map<std::string, Entry> entries;
  // Hosts check() accepts; empty: any.
  std::set<std::string> known_hosts;

  // Every call, in order: "check", "live", "switch green", "wait-idle blue", "drain h1",
  // "enable h1-green".
  std::vector<std::string> calls;
  std::vector<std::string>* shared_log = nullptr;  // also appended here as "router <call>"
  std::function<void(const std::string&)> on_call;
  // The endpoints of the last switch_to.
  std::vector<router::Endpoint> switched_endpoints;
  // Calls that reached an endpoint whose port is not its entry's (a wrong Endpoint).
  std::vector<std::string> port_mismatches;

  int refuse_switches = 0;          // the next N switches fail; the live colour stays
  bool lose_switch_answer = false;  // the next switch takes effect but reports an error
  bool live_fails = false;          // live_colour() errors (the router cannot be asked)
  std::set<std::string> failing;    // entries whose drain and enable fail
  int in_flight = 0;  // requests that outlast every drain and wait (drain_timeout passes)

  void add_entry(const std::string& host, std::optional<Colour> slot, State state, uint16_t port) {
    entries[router::server_name(host, slot)] = Entry{state, port};
  }
  State state(const std::string& name) const { return entries.at(name).state; }
  // How many calls equal `call` exactly.
  int count(const std::string& call) const {
    int n = 0;
    for (const auto& c : calls) {
      n += c == call ? 1 : 0;
    }
    return n;
  }

  std::string kind() const override { return "fake"; }

  Task<Status> check(std::vector<std::string> hosts) override {
    log("check");
    std::vector<std::string> missing;
    for (const auto& h : hosts) {
      if (!known_hosts.empty() && !known_hosts.count(h)) {
        missing.push_back(h);
      }
    }
    done("check");
    if (!missing.empty()) {
      co_return Status(Code::kFailedPrecondition,
                       fmt::format("fake router has no entry for {}", fmt::join(missing, ", ")));
    }
    co_return Status::ok();
  }

  Task<Result<std::optional<Colour>>> live_colour() override {
    log("live");
    done("live");
    if (live_fails) {
      co_return Status(Code::kUnavailable, "fake router: cannot be reached");
    }
    co_return live;
  }

  Task<Status> switch_to(Colour colour, std::vector<router::Endpoint> endpoints) override {
    const std::string call = std::string("switch ") + manifest::to_string(colour);
    log(call);
    Status st;
    if (refuse_switches > 0) {
      --refuse_switches;
      st = Status(Code::kFailedPrecondition, "fake router refused the switch");
    } else {
      live = colour;
      switched_endpoints = std::move(endpoints);
      if (lose_switch_answer) {
        lose_switch_answer = false;
        st = Status(Code::kTimeout, "fake router: no answer in time");
      }
    }
    done(call);
    co_return st;
  }

  Task<Result<router::Drained>> wait_idle(Colour colour) override {
    const std::string call = std::string("wait-idle ") + manifest::to_string(colour);
    log(call);
    done(call);
    co_return drained();
  }

  Task<Result<router::Drained>> drain(router::Endpoint host, std::optional<Colour> slot) override {
    // Like HAProxy: out of load balancing, wait, then nothing at all reaches it.
    auto st = set_state("drain", host, slot, State::kMaint);
    if (!st) {
      co_return st;
    }
    co_return drained();
  }

  Task<Status> enable(router::Endpoint host, std::optional<Colour> slot) override {
    co_return set_state("enable", host, slot, State::kReady);
  }

  std::string describe_switch(Colour colour) const override {
    return std::string("fake switch ") + manifest::to_string(colour);
  }
  std::string describe_wait_idle(Colour colour) const override {
    return std::string("fake wait-idle ") + manifest::to_string(colour);
  }
  std::string describe_drain(const std::string& host, std::optional<Colour> slot) const override {
    return "fake drain " + router::server_name(host, slot);
  }
  std::string describe_enable(const std::string& host, std::optional<Colour> slot) const override {
    return "fake enable " + router::server_name(host, slot);
  }

 private:
  void log(const std::string& call) {
    calls.push_back(call);
    if (shared_log) {
      shared_log->push_back("router " + call);
    }
  }
  void done(const std::string& call) {
    if (on_call) {
      on_call(call);
    }
  }
  // drain and enable: the host's entry (its slot) goes to `to`, unless it is unknown or failing.
  Status set_state(const std::string& action, const router::Endpoint& host,
                   std::optional<Colour> slot, State to) {
    const std::string name = router::server_name(host.host, slot);
    const std::string call = action + " " + name;
    log(call);
    Status st;
    auto it = entries.find(name);
    if (it == entries.end()) {
      st = Status(Code::kNotFound, "fake router: no entry " + name);
    } else if (failing.count(name)) {
      st = Status(Code::kUnavailable, "fake router: " + call + " failed");
    } else {
      if (it->second.port != 0 && it->second.port != host.port) {
        port_mismatches.push_back(
            fmt::format("{}: endpoint port {}, entry port {}", call, host.port, it->second.port));
      }
      it->second.state = to;
    }
    done(call);
    return st;
  }
  router::Drained drained() const {
    if (in_flight > 0) {
      return router::Drained{false, in_flight, std::chrono::milliseconds(30000)};
    }
    return router::Drained{true, 0, std::chrono::milliseconds(0)};
  }
};

}  // namespace orch::testing
