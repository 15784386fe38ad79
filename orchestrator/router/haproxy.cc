// HAProxy through its Runtime API. The configuration rollgate expects (docs/blue-green.md):
//
//   blue-green   frontend: use_backend %[str(KEY),map(MAP,BLUE_BACKEND)]
//                backends BLUE_BACKEND and GREEN_BACKEND, each with one server per host, named
//                after it, at the host's blue (resp. green) port.
//   rolling      one backend whose servers are the hosts: "<host>" (stop-first), or
//                "<host>-blue" and "<host>-green" (start-first; the standby one in maintenance).
//
// Why the blue-green switch is atomic: the whole fleet's routing is ONE map entry. HAProxy
// evaluates use_backend once per request, reading that entry under the map's lock, and
// "set map MAP KEY VALUE" replaces the value in a single step. Every request either sees the
// old backend or the new one, for all hosts at once; there is no moment in which some hosts
// serve blue and others green, and requests already in flight finish where they started.
// A per-server flip (N "set server" commands) would not have that property.
#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "orchestrator/core/atomic_file.h"
#include "orchestrator/core/duration.h"
#include "orchestrator/router/haproxy_runtime.h"
#include "orchestrator/router/router.h"

namespace orch::router {

namespace {

// How often a drain polls "show stat": fast enough that a drained host is swapped within a
// tenth of a second of its last request ending, slow enough to cost HAProxy nothing.
constexpr std::chrono::milliseconds kDrainPoll{100};

class HaproxyRouter final : public Router {
 public:
  HaproxyRouter(const manifest::Manifest& m, Clock& clock)
      : config_(*m.router->haproxy),
        strategy_(m.strategy),
        drain_timeout_(m.router->drain_timeout),
        api_(config_.runtime_api, m.router->timeout, clock),
        clock_(clock) {}

  std::string kind() const override { return "haproxy"; }

  Task<Status> check(std::vector<std::string> hosts) override {
    // Which backends and servers this manifest will touch, with the port each must have.
    struct Want {
      std::string backend, server;
      int port;
      std::string colour;  // whose port it must be ("" with stop-first: any)
    };
    std::vector<Want> want;
    if (strategy_.blue_green()) {
      for (Colour c : {Colour::kBlue, Colour::kGreen}) {
        for (const auto& h : hosts) {
          want.push_back(Want{backend_of(c), h, strategy_.ports->of(c), manifest::to_string(c)});
        }
      }
    } else {
      for (const auto& h : hosts) {
        if (strategy_.start_first()) {
          for (Colour c : {Colour::kBlue, Colour::kGreen}) {
            want.push_back(Want{config_.backend, server_name(h, c), strategy_.ports->of(c),
                                manifest::to_string(c)});
          }
        } else {
          want.push_back(Want{config_.backend, server_name(h, std::nullopt), 0, ""});
        }
      }
    }
    std::vector<std::string> backends;
    for (const auto& w : want) {
      if (std::find(backends.begin(), backends.end(), w.backend) == backends.end()) {
        backends.push_back(w.backend);
      }
    }
    std::vector<std::string> problems;
    for (const auto& b : backends) {
      auto answer = co_await api_.send("show servers state " + b);
      if (!answer) {
        co_return answer.status();
      }
      auto servers = parse_servers_state(*answer);
      if (!servers) {
        // HAProxy answers "Can't find backend." for an unknown one.
        problems.push_back(fmt::format("backend \"{}\": {}", b, first_line(*answer)));
        continue;
      }
      for (const auto& w : want) {
        if (w.backend != b) {
          continue;
        }
        auto it = std::find_if(servers->begin(), servers->end(),
                               [&](const ServerState& s) { return s.server == w.server; });
        if (it == servers->end()) {
          problems.push_back(
              fmt::format("backend \"{}\" has no server \"{}\"", w.backend, w.server));
        } else if (w.port != 0 && it->port != w.port) {
          problems.push_back(
              fmt::format("server {}/{} points at port {}, but the manifest's {} port is {}",
                          w.backend, w.server, it->port, w.colour, w.port));
        }
      }
    }
    if (strategy_.blue_green()) {
      auto live = co_await live_colour();
      if (!live) {
        problems.push_back(live.status().message());
      }
    }
    if (!problems.empty()) {
      co_return Status(Code::kFailedPrecondition,
                       fmt::format("HAProxy at {} is not set up for this manifest: {}",
                                   api_.address(), fmt::join(problems, "; ")));
    }
    co_return Status::ok();
  }

  Task<Result<std::optional<Colour>>> live_colour() override {
    auto answer = co_await api_.send("show map " + config_.map);
    if (!answer) {
      co_return answer.status();
    }
    auto value = map_value(*answer, config_.map_key);
    if (!value) {
      co_return Status(Code::kFailedPrecondition,
                       fmt::format("map {} has no entry \"{}\" (HAProxy said: {})", config_.map,
                                   config_.map_key, first_line(*answer)));
    }
    if (*value == config_.blue_backend) {
      co_return std::optional<Colour>(Colour::kBlue);
    }
    if (*value == config_.green_backend) {
      co_return std::optional<Colour>(Colour::kGreen);
    }
    co_return Status(Code::kFailedPrecondition,
                     fmt::format("map {} sends \"{}\" to backend \"{}\", which is neither the "
                                 "blue backend \"{}\" nor the green backend \"{}\"",
                                 config_.map, config_.map_key, *value, config_.blue_backend,
                                 config_.green_backend));
  }

  Task<Status> switch_to(Colour colour, std::vector<Endpoint> /*endpoints*/) override {
    auto st = co_await api_.command(switch_command(colour));
    if (!st) {
      co_return st;
    }
    // Read it back: the switch is the one step a rollout must never believe by accident.
    auto live = co_await live_colour();
    if (!live) {
      co_return live.status().with_context("after the switch");
    }
    if (*live != colour) {
      co_return Status(Code::kInternal,
                       fmt::format("after \"{}\" the map still does not send traffic to {}",
                                   switch_command(colour), manifest::to_string(colour)));
    }
    if (config_.persist_map) {
      // The runtime change is live; the file makes it survive a reload. A failure here is an
      // error of the switch step, named, so that the operator fixes the file.
      std::ifstream in(config_.map);
      if (!in) {
        co_return Status(
            Code::kUnavailable,
            fmt::format("switched, but cannot read the map file {} to persist it", config_.map));
      }
      std::stringstream text;
      text << in.rdbuf();
      auto written = write_file_atomically(
          config_.map, rewrite_map_file(text.str(), config_.map_key, backend_of(colour)));
      if (!written) {
        co_return written.with_context("switched, but persisting the map file failed");
      }
    }
    co_return Status::ok();
  }

  Task<Result<Drained>> wait_idle(Colour colour) override {
    co_return co_await wait_until_idle(backend_of(colour), "BACKEND");
  }

  Task<Result<Drained>> drain(Endpoint host, std::optional<Colour> slot) override {
    const std::string server = server_name(host.host, slot);
    auto st = co_await api_.command(describe_drain(host.host, slot));
    if (!st) {
      co_return st;
    }
    auto waited = co_await wait_until_idle(config_.backend, server);
    if (!waited) {
      co_return waited;
    }
    // Drain still admits persistent (cookie) requests; the container is about to stop, so
    // nothing at all may reach it now.
    auto maint =
        co_await api_.command(fmt::format("set server {}/{} state maint", config_.backend, server));
    if (!maint) {
      co_return maint;
    }
    co_return waited;
  }

  Task<Status> enable(Endpoint host, std::optional<Colour> slot) override {
    co_return co_await api_.command(describe_enable(host.host, slot));
  }

  std::string describe_switch(Colour colour) const override {
    return switch_command(colour) +
           (config_.persist_map ? " (then that line of the map file is rewritten)" : "");
  }
  std::string describe_wait_idle(Colour colour) const override {
    return fmt::format("show stat: wait until backend {} has no request in flight (at most {})",
                       backend_of(colour), format_duration(drain_timeout_));
  }
  std::string describe_drain(const std::string& host, std::optional<Colour> slot) const override {
    return fmt::format("set server {}/{} state drain", config_.backend, server_name(host, slot));
  }
  std::string describe_enable(const std::string& host, std::optional<Colour> slot) const override {
    return fmt::format("set server {}/{} state ready", config_.backend, server_name(host, slot));
  }

 private:
  std::string switch_command(Colour colour) const {
    return fmt::format("set map {} {} {}", config_.map, config_.map_key, backend_of(colour));
  }

  const std::string& backend_of(Colour c) const {
    return c == Colour::kBlue ? config_.blue_backend : config_.green_backend;
  }

  static std::string first_line(const std::string& s) {
    auto nl = s.find('\n');
    return s.substr(0, std::min<size_t>(nl == std::string::npos ? s.size() : nl, 200));
  }

  // Polls "show stat" until the row (proxy, server) has no stream and no queued request.
  Task<Result<Drained>> wait_until_idle(std::string proxy, std::string server) {
    const auto start = clock_.now();
    for (;;) {
      auto answer = co_await api_.send("show stat");
      if (!answer) {
        co_return answer.status();
      }
      auto rows = parse_stat(*answer);
      if (!rows) {
        co_return rows.status();
      }
      auto it = std::find_if(rows->begin(), rows->end(), [&](const StatRow& r) {
        return r.proxy == proxy && r.server == server;
      });
      if (it == rows->end()) {
        co_return Status(Code::kNotFound,
                         fmt::format("show stat has no row for {}/{}", proxy, server));
      }
      // A server's scur counts only the streams it serves; a BACKEND row's scur already
      // includes the requests queued in the backend.
      const int in_flight = server == "BACKEND" ? it->sessions : it->sessions + it->queued;
      const auto waited =
          std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now() - start);
      if (in_flight == 0) {
        co_return Drained{true, 0, waited};
      }
      if (waited >= drain_timeout_) {
        co_return Drained{false, in_flight, waited};
      }
      co_await clock_.sleep_for(kDrainPoll);
    }
  }

  manifest::HaproxyRouter config_;
  manifest::Strategy strategy_;
  std::chrono::milliseconds drain_timeout_;
  RuntimeApi api_;
  Clock& clock_;
};

}  // namespace

std::unique_ptr<Router> make_haproxy_router(const manifest::Manifest& m, Clock& clock) {
  return std::make_unique<HaproxyRouter>(m, clock);
}

}  // namespace orch::router
