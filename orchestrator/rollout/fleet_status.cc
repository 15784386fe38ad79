#include "orchestrator/rollout/fleet_status.h"

#include <algorithm>

#include "orchestrator/rollout/async.h"
#include "orchestrator/rollout/observe.h"

namespace orch::rollout {

namespace {

// The colour whose slot serves on one host, by plan.h's rule, when the router does not say.
// The fleet-wide answer wins; a host that disagrees with the rest (or a fleet that cannot tell)
// falls back to that host's own answer, running_colour() over it alone.
std::optional<manifest::Colour> serving_colour(const FleetStatus& fleet, const HostStatus& h) {
  if (fleet.routed) {
    return fleet.routed;
  }
  if (fleet.running_colour && h.running_colour == fleet.running_colour) {
    return fleet.running_colour;
  }
  return h.running_colour;
}

// Returns 0: gather() collects values.
Task<int> inspect_and_probe(const HostBinding& b, HostStatus& h,
                            const std::vector<std::unique_ptr<health::Probe>>& probes) {
  if (h.live_name.empty()) {
    co_return 0;
  }
  auto live = co_await b.engine->inspect_container(h.live_name);
  if (!live) {
    co_return 0;  // gone since the listing, or the engine stopped answering: no health to show
  }
  h.live = std::move(*live);
  for (const auto& p : probes) {
    // A named argument: GCC 12 destroys a braced temporary inside co_await twice.
    health::Target target{b.name, b.address, h.live_name, h.live_port};
    h.probes.push_back(co_await p->run(std::move(target)));
  }
  co_return 0;
}

}  // namespace

bool HostStatus::healthy() const {
  if (!live || !live->state.running || live->state.restarting) {
    return false;
  }
  return std::all_of(probes.begin(), probes.end(), [](const health::ProbeResult& p) {
    return p.outcome == health::ProbeResult::Outcome::kPass;
  });
}

Task<FleetStatus> fleet_status(const manifest::Manifest& m,
                               const std::vector<HostBinding>& bindings, router::Router* router,
                               const std::vector<std::unique_ptr<health::Probe>>& probes) {
  FleetStatus fleet;
  fleet.blue_green = m.strategy.blue_green();
  if (router && fleet.blue_green) {
    fleet.router_asked = true;
    fleet.router_kind = router->kind();
    auto live = co_await router->live_colour();
    if (live) {
      fleet.routed = *live;
    } else {
      fleet.router_error = live.status();
    }
  }

  auto listed = co_await list_app(bindings, m.app);
  std::vector<std::string> names;                   // reachable hosts, for running_colour()
  std::vector<std::vector<AppContainer>> per_host;  // their containers
  for (size_t i = 0; i < bindings.size(); ++i) {
    HostStatus h;
    h.host = bindings[i].name;
    if (!listed[i]) {
      h.error = listed[i].status();
    } else {
      h.containers = app_containers(*listed[i]);
      if (m.strategy.two_slots()) {
        auto own = rollout::running_colour(m.app, {h.host}, {h.containers});
        h.running_colour = own ? std::optional<manifest::Colour>(*own) : std::nullopt;
        names.push_back(h.host);
        per_host.push_back(h.containers);
      }
    }
    fleet.hosts.push_back(std::move(h));
  }
  if (m.strategy.two_slots() && !names.empty()) {
    auto colour = rollout::running_colour(m.app, names, per_host);
    if (colour) {
      fleet.running_colour = *colour;
    } else {
      fleet.colour_error = colour.status();
    }
  }

  for (auto& h : fleet.hosts) {
    if (!h.error.is_ok()) {
      continue;
    }
    std::optional<AppContainer> holder;
    if (m.strategy.blue_green()) {
      if (auto colour = serving_colour(fleet, h)) {
        holder = slot_holder(m.app, *colour, h.containers);
      }
    } else if (m.strategy.two_slots()) {
      holder = live_container(m.app, h.containers);
    }
    if (m.strategy.two_slots()) {
      h.live_name = holder ? holder->name : "";
      h.live_port = holder ? m.strategy.ports->of(holder->colour) : 0;
    } else {
      h.live_name = m.app;
    }
    std::stable_partition(h.containers.begin(), h.containers.end(),
                          [&](const AppContainer& c) { return c.name == h.live_name; });
  }

  std::vector<Task<int>> work;
  for (size_t i = 0; i < bindings.size(); ++i) {
    work.push_back(inspect_and_probe(bindings[i], fleet.hosts[i], probes));
  }
  co_await gather(std::move(work));
  co_return fleet;
}

}  // namespace orch::rollout
