// Pre-flight: everything apply checks before it touches a container (controller.h).
#include <fmt/format.h>

#include "orchestrator/core/duration.h"
#include "orchestrator/docker/image_ref.h"
#include "orchestrator/journal/records.h"
#include "orchestrator/rollout/async.h"
#include "orchestrator/rollout/controller_internal.h"

namespace orch::rollout {

using nlohmann::json;

Task<Result<Controller::Preflight>> Controller::preflight(std::string image, std::string rollout_id,
                                                          bool pull) {
  // 1. Every engine answers. All hosts at once: a fleet-wide check costs one round trip.
  std::vector<Task<Result<docker::PingInfo>>> pings;
  for (auto& h : hosts_) {
    pings.push_back(h.engine->ping());
  }
  auto ping_results = co_await gather(std::move(pings));
  std::vector<std::string> failures;
  for (size_t i = 0; i < hosts_.size(); ++i) {
    if (!ping_results[i]) {
      failures.push_back(hosts_[i].name + ": " + ping_results[i].status().message());
      emit("preflight", hosts_[i].name, "engine unreachable: " + ping_results[i].status().message(),
           {{"check", "ping"}, {"ok", false}});
    } else {
      emit("preflight", hosts_[i].name, "engine ok (API " + ping_results[i]->api_version + ")",
           {{"check", "ping"}, {"ok", true}, {"api_version", ping_results[i]->api_version}});
    }
  }
  if (!failures.empty()) {
    co_return Status(Code::kUnavailable, fmt::format("engine unreachable: {}",
                                                     fmt::format("{}", fmt::join(failures, "; "))));
  }

  // 2. The tag becomes a digest once; every host then runs exactly those bytes.
  auto ref = docker::parse_image_ref(image);
  if (!ref) {
    co_return Status(Code::kInvalidArgument, "image \"" + image + "\": " + ref.status().message());
  }
  std::string digest = ref->digest;
  if (digest.empty()) {
    auto dist = co_await hosts_.front().engine->distribution(ref->to_string());
    if (!dist) {
      emit("preflight", "", "cannot resolve " + ref->to_string() + ": " + dist.status().message(),
           {{"check", "resolve"}, {"ok", false}});
      co_return Status(Code::kNotFound,
                       "cannot resolve image " + ref->to_string() + ": " + dist.status().message());
    }
    digest = dist->digest;
  }
  const std::string pinned = ref->pinned(digest);
  emit("preflight", "", fmt::format("image {} is {}", ref->to_string(), pinned),
       {{"check", "resolve"}, {"ok", true}, {"digest", digest}, {"pinned", pinned}});

  // 3. What runs now. The live container's name is the app's name; a container of that name
  //    that rollgate did not create would collide with the new one, so it stops us here.
  std::vector<Task<Result<std::vector<docker::ContainerSummary>>>> lists;
  std::vector<Task<Result<docker::ContainerInfo>>> named;
  for (auto& h : hosts_) {
    lists.push_back(h.engine->list_containers({std::string(kLabelApp) + "=" + manifest_.app}));
    named.push_back(h.engine->inspect_container(manifest_.app));
  }
  auto listed = co_await gather(std::move(lists));
  auto by_name = co_await gather(std::move(named));
  std::vector<HostObservation> observed;
  for (size_t i = 0; i < hosts_.size(); ++i) {
    if (!listed[i]) {
      failures.push_back(hosts_[i].name + ": list containers: " + listed[i].status().message());
      continue;
    }
    if (by_name[i]) {
      auto it = by_name[i]->labels.find(kLabelApp);
      if (it == by_name[i]->labels.end() || it->second != manifest_.app) {
        failures.push_back(fmt::format(
            "{}: a container named \"{}\" exists but rollgate does not manage it (no label "
            "{}={}); rename or remove it first",
            hosts_[i].name, manifest_.app, kLabelApp, manifest_.app));
      }
    } else if (by_name[i].status().code() != Code::kNotFound) {
      failures.push_back(hosts_[i].name + ": inspect " + manifest_.app + ": " +
                         by_name[i].status().message());
    }
    observed.push_back(HostObservation{hosts_[i].name, std::move(*listed[i])});
  }
  if (!failures.empty()) {
    co_return Status(Code::kUnavailable, fmt::format("{}", fmt::join(failures, "; ")));
  }

  // An interrupted start-first run may have left <app>-next running and routed to: apply
  // finishes that swap only for the same digest (the planner adopts it).
  if (manifest_.strategy.start_first()) {
    for (const auto& o : observed) {
      for (const auto& c : app_containers(o.containers)) {
        if (c.name == manifest_.app + "-next" && c.running() && c.digest != digest) {
          failures.push_back(fmt::format(
              "{}: {} (revision {}, {}) is running, left by an interrupted start-first rollout, "
              "and the router may send it traffic; apply its image again to finish that "
              "rollout, or stop {} once the router no longer routes to it",
              o.host, c.name, c.revision, c.digest, c.name));
        }
      }
    }
    if (!failures.empty()) {
      co_return Status(Code::kFailedPrecondition, fmt::format("{}", fmt::join(failures, "; ")));
    }
  }

  // 4. The router answers and knows these hosts; with blue-green, it says which colour is live.
  std::optional<manifest::Colour> routed;
  if (router_) {
    std::vector<std::string> names;
    for (const auto& h : hosts_) {
      names.push_back(h.name);
    }
    auto checked = co_await router_->check(names);
    emit("preflight", "",
         checked ? "router (" + router_->kind() + ") ok" : "router: " + checked.message(),
         {{"check", "router"}, {"ok", checked.is_ok()}});
    if (!checked) {
      co_return checked.with_context("router");
    }
    if (manifest_.strategy.blue_green()) {
      auto live = co_await router_->live_colour();
      if (!live) {
        co_return live.status().with_context("router");
      }
      routed = *live;
    }
  }

  Preflight pf;
  if (manifest_.strategy.blue_green()) {
    auto bg = make_blue_green_plan(manifest_, ref->to_string(), pinned, digest, observed,
                                   rollout_id, routed, options_.resume);
    if (!bg) {
      co_return bg.status();
    }
    pf.plan = std::move(*bg);
  } else {
    pf.plan = make_plan(manifest_, ref->to_string(), pinned, digest, observed, rollout_id,
                        options_.resume);
  }
  if (router_) {
    for (auto& b : pf.plan.batches) {
      for (auto& hp : b.hosts) {
        for (auto& a : hp.actions) {
          if (a.type == Action::Type::kDrain) {
            a.router_step = router_->describe_drain(hp.host, a.slot);
          } else if (a.type == Action::Type::kEnable) {
            a.router_step = router_->describe_enable(hp.host, a.slot);
          }
        }
      }
    }
    if (pf.plan.blue_green && !pf.plan.noop()) {
      const std::string to = manifest::to_string(pf.plan.target);
      if (pf.plan.phase == Plan::Phase::kBake) {
        pf.plan.router_steps.push_back("ROUTER already sends to " + to +
                                       " (a bake was interrupted); it is baked again");
      } else {
        pf.plan.router_steps.push_back("ROUTER " + router_->describe_switch(pf.plan.target) +
                                       "   (once " + to + " passed its gate on every host)");
      }
      if (options_.bake.count() > 0 || manifest_.health.bake.count() > 0) {
        pf.plan.router_steps.push_back(
            fmt::format("BAKE watch {} for {}; if it fails, switch back to the previous colour", to,
                        format_duration(std::max(options_.bake, manifest_.health.bake))));
      }
      if (pf.plan.live) {
        const auto from = *pf.plan.live;
        pf.plan.router_steps.push_back("ROUTER " + router_->describe_wait_idle(from));
        pf.plan.router_steps.push_back(
            fmt::format("STOP  the {} container on every host (kept for rollgate switch-back)",
                        manifest::to_string(from)));
      }
    }
  }
  if (pf.plan.noop() || pf.plan.phase == Plan::Phase::kBake) {
    co_return pf;  // nothing to pull: finishing a bake creates nothing
  }
  if (!pull) {
    if (!options_.require_local_image) {
      co_return pf;
    }
    // Returning to an earlier revision uses only what is on the hosts: check it is everywhere
    // before touching anything.
    std::vector<Task<Result<docker::ImageInfo>>> present;
    std::vector<std::string> where;
    for (const auto& b : pf.plan.batches) {
      for (const auto& hp : b.hosts) {
        where.push_back(hp.host);
        present.push_back(binding(hp.host).engine->inspect_image(pinned));
      }
    }
    auto found = co_await gather(std::move(present));
    for (size_t i = 0; i < where.size(); ++i) {
      if (!found[i]) {
        failures.push_back(fmt::format("{}: {} is not on the host ({})", where[i], pinned,
                                       found[i].status().message()));
      }
    }
    if (!failures.empty()) {
      co_return Status(Code::kNotFound, fmt::format("{}", fmt::join(failures, "; ")));
    }
    co_return pf;
  }

  // 4. Pull on every host that changes before touching any container: a pull failure then
  //    changes nothing. Bounded, so a large fleet does not stampede the registry.
  std::vector<const HostPlan*> changing;
  for (const auto& b : pf.plan.batches) {
    for (const auto& hp : b.hosts) {
      changing.push_back(&hp);
    }
  }
  auto pulled = co_await gather_bounded<Status>(
      changing.size(), std::max<size_t>(1, options_.pull_concurrency),
      [&](size_t i) -> Task<Status> {
        const auto& h = binding(changing[i]->host);
        auto st = co_await h.engine->pull(pinned);
        emit("preflight", h.name, st ? "pulled " + pinned : "pull failed: " + st.message(),
             {{"check", "pull"}, {"ok", st.is_ok()}});
        co_return st;
      });
  for (size_t i = 0; i < changing.size(); ++i) {
    if (!pulled[i]) {
      failures.push_back(changing[i]->host + ": pull " + pinned + ": " + pulled[i].message());
    }
  }
  if (!failures.empty()) {
    co_return Status(Code::kUnavailable, fmt::format("{}", fmt::join(failures, "; ")));
  }

  // 5. A rollback target that is gone is no target: check each current container's image.
  std::vector<Task<Result<docker::ImageInfo>>> targets;
  std::vector<const HostPlan*> replacing;
  for (const auto* hp : changing) {
    if (!hp->current) {
      continue;
    }
    const HostObservation* obs = nullptr;
    for (const auto& o : observed) {
      if (o.host == hp->host) {
        obs = &o;
      }
    }
    std::string image_id;
    for (const auto& c : obs->containers) {
      if (c.id == hp->current->id) {
        image_id = c.image_id;
      }
    }
    replacing.push_back(hp);
    targets.push_back(binding(hp->host).engine->inspect_image(image_id));
  }
  auto found = co_await gather(std::move(targets));
  for (size_t i = 0; i < replacing.size(); ++i) {
    if (!found[i]) {
      failures.push_back(fmt::format("{}: rollback target {} (revision {}) has no image: {}",
                                     replacing[i]->host, replacing[i]->current->name,
                                     replacing[i]->current->revision, found[i].status().message()));
    }
  }
  if (!failures.empty()) {
    co_return Status(Code::kNotFound, fmt::format("{}", fmt::join(failures, "; ")));
  }
  co_return pf;
}

Task<Result<Plan>> Controller::preview(std::string image, std::string rollout_id) {
  auto pf = co_await preflight(std::move(image), std::move(rollout_id), /*pull=*/false);
  if (!pf) {
    co_return pf.status();
  }
  co_return std::move(pf->plan);
}
}  // namespace orch::rollout
