#include "orchestrator/rollout/controller.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <stdexcept>

#include "healthcheck/baseline.h"
#include "healthcheck/gate.h"
#include "healthcheck/tracker.h"
#include "orchestrator/core/duration.h"
#include "orchestrator/docker/image_ref.h"
#include "orchestrator/journal/records.h"
#include "orchestrator/rollout/async.h"
#include "orchestrator/rollout/controller_internal.h"

namespace orch::rollout {

using nlohmann::json;

namespace {

health::ContainerStatus to_health(const docker::ContainerInfo& info) {
  health::ContainerStatus s;
  s.exists = true;
  s.status = info.state.status;
  s.running = info.state.running;
  s.restarting = info.state.restarting;
  s.oom_killed = info.state.oom_killed;
  s.exit_code = info.state.exit_code;
  s.restart_count = info.restart_count;
  s.health_status = info.state.health_status;
  s.failing_streak = info.state.failing_streak;
  return s;
}

json probe_json(const health::ProbeResult& p) {
  const char* outcome = p.outcome == health::ProbeResult::Outcome::kPass   ? "pass"
                        : p.outcome == health::ProbeResult::Outcome::kFail ? "fail"
                                                                           : "unobservable";
  return json{{"probe", p.probe},
              {"outcome", outcome},
              {"detail", p.detail},
              {"latency_ms", p.latency.count()}};
}

json observation_json(const health::Observation& o) {
  json j = json::object();
  j["probes"] = json::array();
  for (const auto& p : o.probes) {
    j["probes"].push_back(probe_json(p));
  }
  if (o.container) {
    j["container"] =
        json{{"exists", o.container->exists},         {"status", o.container->status},
             {"exit_code", o.container->exit_code},   {"restart_count", o.container->restart_count},
             {"oom_killed", o.container->oom_killed}, {"health", o.container->health_status}};
  } else {
    j["container"] = nullptr;
  }
  return j;
}

}  // namespace

struct Controller::Preflight {
  Plan plan;
};

Controller::Controller(const manifest::Manifest& manifest, std::vector<HostBinding> hosts,
                       std::vector<std::unique_ptr<health::Probe>> probes, Clock& clock,
                       EventSink& events, Control* control, journal::Journal* journal)
    : manifest_(manifest),
      hosts_(std::move(hosts)),
      probes_(std::move(probes)),
      clock_(clock),
      events_(events),
      journal_(journal),
      control_(control ? control : &no_control_) {}

void Controller::emit(std::string type, std::string host, std::string message, json data) {
  events_.emit(Event{std::move(type), std::move(host), std::move(message), std::move(data)});
}

const HostBinding& Controller::binding(const std::string& host) const {
  for (const auto& h : hosts_) {
    if (h.name == host) {
      return h;
    }
  }
  // The plan is built from hosts_, so a miss is a bug.
  throw std::logic_error("no binding for host " + host);
}

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
                                   rollout_id, routed);
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
      pf.plan.router_steps.push_back("ROUTER " + router_->describe_switch(pf.plan.target) +
                                     "   (once " + to + " passed its gate on every host)");
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
  if (pf.plan.noop()) {
    co_return pf;
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

Task<health::Observation> Controller::observe(const HostBinding& host, std::string container,
                                              uint16_t port) {
  health::Observation obs;
  auto info = co_await host.engine->inspect_container(container);
  if (info) {
    obs.container = to_health(*info);
  } else if (info.status().code() == Code::kNotFound) {
    health::ContainerStatus gone;
    gone.exists = false;
    obs.container = gone;
  }
  std::vector<Task<health::ProbeResult>> runs;
  for (auto& p : probes_) {
    health::Target target{host.name, host.address, container, port};
    runs.push_back(p->run(target));
  }
  obs.probes = co_await gather(std::move(runs));
  obs.at = clock_.now();
  co_return obs;
}

Task<std::vector<health::Baseline>> Controller::measure_baseline(const Plan& plan) {
  std::vector<const HostPlan*> hosts;
  for (const auto& b : plan.batches) {
    for (const auto& hp : b.hosts) {
      hosts.push_back(&hp);
    }
  }
  // Two rounds at most: one failed probe on a healthy app should not brand it unhealthy, and a
  // fleet that is down should not delay the fix by more than one interval.
  std::vector<health::Baseline> out(hosts.size(), health::Baseline::kAbsent);
  // On resume, the baseline is what was measured before the interrupted run touched anything:
  // the previous container may be stopped now only because that run stopped it.
  std::vector<bool> known(hosts.size(), false);
  for (size_t i = 0; i < hosts.size(); ++i) {
    auto it = options_.baselines.find(hosts[i]->host);
    if (it != options_.baselines.end()) {
      for (auto b : {health::Baseline::kHealthy, health::Baseline::kUnhealthy,
                     health::Baseline::kAbsent, health::Baseline::kUnknown}) {
        if (it->second == health::to_string(b)) {
          out[i] = b;
          known[i] = true;
        }
      }
      emit("baseline", hosts[i]->host,
           fmt::format("baseline: {} (measured before the interrupted run)", it->second),
           {{"baseline", it->second}, {"from", "journal"}});
    }
  }
  for (int round = 0; round < 2; ++round) {
    std::vector<Task<health::Observation>> obs;
    std::vector<size_t> index;
    for (size_t i = 0; i < hosts.size(); ++i) {
      if (hosts[i]->current && !known[i] && out[i] != health::Baseline::kHealthy) {
        index.push_back(i);
        obs.push_back(
            observe(binding(hosts[i]->host), hosts[i]->current->id, hosts[i]->current_port));
      }
    }
    if (obs.empty()) {
      break;
    }
    if (round > 0) {
      co_await clock_.sleep_for(manifest_.health.interval);
    }
    auto results = co_await gather(std::move(obs));
    for (size_t k = 0; k < index.size(); ++k) {
      auto b = health::baseline_from(results[k], manifest_.health.docker_health);
      // A second look can only improve the verdict (the app answered once), never worsen it.
      if (round == 0 || b == health::Baseline::kHealthy) {
        out[index[k]] = b;
      }
      if (round == 1 || b == health::Baseline::kHealthy) {
        const auto& hp = *hosts[index[k]];
        json data = observation_json(results[k]);
        data["baseline"] = health::to_string(out[index[k]]);
        data["container"] = hp.current->name;
        data["revision"] = hp.current->revision;
        emit("baseline", hp.host,
             fmt::format("baseline: revision {} is {}", hp.current->revision,
                         health::to_string(out[index[k]])),
             std::move(data));
      }
    }
  }
  for (size_t i = 0; i < hosts.size(); ++i) {
    if (!hosts[i]->current && !known[i]) {
      emit("baseline", hosts[i]->host, "baseline: no app container (first deploy)",
           {{"baseline", "absent"}});
    }
  }
  co_return out;
}

router::Endpoint Controller::endpoint(const HostRun& run, bool new_container) const {
  uint16_t port = new_container ? run.plan.port : run.plan.current_port;
  if (port == 0 && !manifest_.container.ports.empty()) {
    port = manifest_.container.ports.front().host_port;
  }
  return router::Endpoint{run.plan.host, run.host->address, port};
}

// One step of a host's plan: an engine call or a router step, journaled ahead and reported.
Task<Status> Controller::run_action(HostRun& run, const Action& a) {
  auto* engine = run.host->engine;
  if (a.type == Action::Type::kGate) {
    run.gating = run.new_id;
    run.gate_port = run.plan.port;
    run.gate_started = clock_.now();
    co_return Status::ok();
  }
  // Write-ahead: no engine call or router step without its intent on disk.
  auto written =
      record_intent(run.plan.host, describe(a), action_name(a.type), a.container, a.new_name);
  if (!written) {
    co_return written.with_context("journal");
  }
  // The container a stop or rename acts on.
  std::string target;
  switch (a.on) {
    case Action::On::kCurrent:
      target = run.plan.current ? run.plan.current->id : a.container;
      break;
    case Action::On::kNew:
      target = run.new_id;
      break;
    case Action::On::kStandby:
      target = run.plan.standby ? run.plan.standby->id : a.container;
      break;
  }
  Status st;
  json extra = json::object();
  switch (a.type) {
    case Action::Type::kStop:
      st = co_await engine->stop_container(target, a.stop_timeout_s);
      if (st) {
        (a.on == Action::On::kStandby ? run.standby_stopped : run.stopped_old) = true;
      }
      break;
    case Action::Type::kRename:
      st = co_await engine->rename_container(target, a.new_name);
      if (st) {
        (a.on == Action::On::kStandby ? run.standby_renamed
         : a.on == Action::On::kNew   ? run.renamed_new
                                      : run.renamed_old) = true;
      }
      break;
    case Action::Type::kCreate: {
      auto id = co_await engine->create_container(*a.spec);
      if (id) {
        run.new_id = *id;
      }
      st = id.status();
      break;
    }
    case Action::Type::kStart:
      st = co_await engine->start_container(run.new_id);
      break;
    case Action::Type::kRemove:
      st = co_await engine->remove_container(a.container, true);
      break;
    case Action::Type::kDrain: {
      // A drain that times out is reported and the swap goes on: drain_timeout is the
      // operator's bound on how long a slow request may hold a rollout up.
      const bool current_slot = a.slot.has_value();
      auto drained = co_await router_->drain(endpoint(run, !current_slot), a.slot);
      st = drained.status();
      if (drained) {
        run.drained = true;
        extra = {{"idle", drained->idle},
                 {"in_flight", drained->in_flight},
                 {"waited_ms", drained->waited.count()}};
        if (!drained->idle) {
          emit("drain", run.plan.host,
               fmt::format("drain timed out after {} with {} request(s) still in flight; going on",
                           format_duration(drained->waited), drained->in_flight),
               extra);
        }
      }
      break;
    }
    case Action::Type::kEnable:
      st = co_await router_->enable(endpoint(run, true), a.slot);
      if (st) {
        run.enabled_new = true;
      }
      break;
    case Action::Type::kGate:
      break;
  }
  record_outcome(run.plan.host, describe(a), st,
                 a.type == Action::Type::kCreate ? run.new_id : std::string());
  json data = {{"call", describe(a)}, {"ok", st.is_ok()}, {"error", st ? "" : st.message()}};
  data.update(extra);
  emit("step", run.plan.host, (st ? "ok    " : "FAIL  ") + describe(a), std::move(data));
  if (!st) {
    co_return st.with_context(describe(a));
  }
  co_return Status::ok();
}

// The host's plan up to and including its gate.
Task<Status> Controller::swap_host(HostRun& run) {
  for (const auto& a : run.plan.actions) {
    auto st = co_await run_action(run, a);
    if (!st) {
      co_return st;
    }
    if (a.type == Action::Type::kGate) {
      break;
    }
  }
  co_return Status::ok();
}

// The host's plan after its gate passed: router steps, and start-first's retirement of the
// old container.
Task<Status> Controller::complete_host(HostRun& run) {
  bool after_gate = false;
  for (const auto& a : run.plan.actions) {
    if (after_gate) {
      auto st = co_await run_action(run, a);
      if (!st) {
        co_return st;
      }
    }
    after_gate = after_gate || a.type == Action::Type::kGate;
  }
  co_return Status::ok();
}

const char* Controller::action_name(Action::Type t) {
  switch (t) {
    case Action::Type::kStop:
      return "stop";
    case Action::Type::kRename:
      return "rename";
    case Action::Type::kCreate:
      return "create";
    case Action::Type::kStart:
      return "start";
    case Action::Type::kGate:
      return "gate";
    case Action::Type::kRemove:
      return "remove";
    case Action::Type::kDrain:
      return "drain";
    case Action::Type::kEnable:
      return "enable";
  }
  return "?";
}

Status Controller::record_intent(const std::string& host, const std::string& call,
                                 const std::string& action, const std::string& container,
                                 const std::string& new_name) {
  if (!journal_) {
    return Status::ok();
  }
  return journal_->append(journal::IntentRecord{options_.rollout_id, clock_.wall_now(), host, call,
                                                action, container, new_name});
}

void Controller::record_outcome(const std::string& host, const std::string& call, const Status& st,
                                const std::string& container_id) {
  if (!journal_) {
    return;
  }
  // An outcome that cannot be written is recovered on resume from the engines' labels, which
  // are the truth; the intent before it already says what was attempted.
  auto written =
      journal_->append(journal::OutcomeRecord{options_.rollout_id, clock_.wall_now(), host, call,
                                              st.is_ok(), st ? "" : st.to_string(), container_id});
  if (!written) {
    emit("journal", host, "could not journal an outcome: " + written.message(), {{"ok", false}});
  }
}

void Controller::record(const std::function<Status(journal::Journal&)>& write) {
  if (!journal_) {
    return;
  }
  auto written = write(*journal_);
  if (!written) {
    emit("journal", "", "could not write the journal: " + written.message(), {{"ok", false}});
  }
}

// Undoes a swap that did not complete (an engine error mid-way): the new container, if any,
// is removed; the old one gets its name back and is started again.
Task<Status> Controller::revert_host(HostRun& run) {
  auto* engine = run.host->engine;
  const auto pause = manifest_.health.interval;
  if (!run.new_id.empty()) {
    auto st = co_await with_retries(clock_, pause, [&]() -> Task<Status> {
      auto r = co_await engine->remove_container(run.new_id, true);
      co_return r.code() == Code::kNotFound ? Status::ok() : r;
    });
    if (!st) {
      co_return st.with_context("remove new container");
    }
    run.new_id.clear();
  }
  if (run.renamed_old) {
    auto st = co_await with_retries(clock_, pause, [&]() -> Task<Status> {
      co_return co_await engine->rename_container(run.plan.current->id, manifest_.app);
    });
    if (!st) {
      co_return st.with_context("rename previous container back");
    }
    run.renamed_old = false;
  }
  if (run.stopped_old) {
    auto st = co_await with_retries(clock_, pause, [&]() -> Task<Status> {
      co_return co_await engine->start_container(run.plan.current->id);
    });
    if (!st) {
      co_return st.with_context("restart previous container");
    }
    run.stopped_old = false;
  }
  emit("step", run.plan.host, "reverted: previous container is live again",
       {{"call", "revert"}, {"ok", true}});
  co_return Status::ok();
}

Task<Command> Controller::hold(std::string where) {
  emit("control", "",
       fmt::format("paused by an operator {}; waiting for `rollgate resume` or `rollgate "
                   "rollback`",
                   where),
       {{"command", "pause"}});
  for (;;) {
    co_await clock_.sleep_for(manifest_.health.interval);
    Command c = control_->poll();
    if (c == Command::kResume) {
      emit("control", "", "resumed by an operator", {{"command", "resume"}});
      co_return c;
    }
    if (c == Command::kRollback || c == Command::kStop) {
      co_return c;
    }
  }
}

namespace {

health::Decision operator_decision(Command c) {
  health::Decision d;
  switch (c) {
    case Command::kRollback:
      d.action = health::Decision::Action::kRollback;
      d.rule = "operator-rollback";
      d.reason = "rolled back: an operator asked for it (rollgate rollback)";
      break;
    case Command::kStop:
      d.action = health::Decision::Action::kPause;
      d.rule = "interrupted";
      d.reason = "paused: interrupted by a signal";
      break;
    default:
      d.action = health::Decision::Action::kContinue;
      d.rule = "operator-promote";
      d.reason = "continuing: an operator promoted the rollout (rollgate promote), ending the bake";
      break;
  }
  return d;
}

}  // namespace

Task<health::Decision> Controller::gate(std::vector<HostRun*> runs, GateSpec spec) {
  const auto policy = to_policy(manifest_.health);
  health::GatePolicy gate_policy;
  gate_policy.on_failure = manifest_.on_failure == manifest::OnFailure::kRollback
                               ? health::FailureAction::kRollback
                               : health::FailureAction::kPause;
  if (spec.progress) {
    gate_policy.progress_deadline = options_.progress_deadline;
  }
  if (spec.budget) {
    gate_policy.failure_budget = failure_budget_;
    gate_policy.failures_so_far = failures_so_far_;
  }
  const TimePoint gate_start = clock_.now();
  if (spec.fresh) {
    for (auto* r : runs) {
      r->tracker.emplace(policy, r->gate_started);
    }
  }
  for (;;) {
    if (spec.controllable) {
      Command c = control_->poll();
      if (c == Command::kPause) {
        c = co_await hold("at the " + spec.what + " gate");
      }
      if (c == Command::kRollback || c == Command::kStop ||
          (c == Command::kPromote && spec.bake.count() > 0)) {
        auto d = operator_decision(c);
        record([&](journal::Journal& j) {
          return j.append(journal::DecisionRecord{options_.rollout_id,
                                                  clock_.wall_now(),
                                                  health::to_string(d.action),
                                                  d.rule,
                                                  d.reason,
                                                  {}});
        });
        emit("decision", "", fmt::format("decision: {} ({})", d.reason, d.rule),
             {{"action", health::to_string(d.action)},
              {"rule", d.rule},
              {"reason", d.reason},
              {"gate", spec.what},
              {"hosts", json::array()}});
        co_return d;
      }
    }
    std::vector<Task<health::Observation>> obs;
    for (auto* r : runs) {
      obs.push_back(observe(*r->host, r->gating, r->gate_port));
    }
    auto results = co_await gather(std::move(obs));
    const TimePoint now = clock_.now();
    std::vector<health::HostInput> inputs;
    for (size_t i = 0; i < runs.size(); ++i) {
      auto& r = *runs[i];
      r.tracker->observe(results[i]);
      auto verdict = r.tracker->verdict(now);
      json data = observation_json(results[i]);
      data["verdict"] = health::to_string(verdict);
      emit("probe", r.plan.host,
           fmt::format("{} {}: {}", spec.what, health::to_string(verdict), r.tracker->reason(now)),
           std::move(data));
      if (verdict != r.verdict && verdict != health::Verdict::kPending) {
        emit("health", r.plan.host,
             fmt::format("{} is {}: {}", spec.what, health::to_string(verdict),
                         r.tracker->reason(now)),
             {{"verdict", health::to_string(verdict)}});
      }
      r.verdict = verdict;
      inputs.push_back(health::HostInput{r.plan.host, r.baseline, verdict, r.tracker->reason(now)});
    }
    // progress_deadline bounds the time without progress: it runs from the start of this
    // gate, i.e. since the previous batch was accepted.
    auto decision =
        health::decide(gate_policy, inputs,
                       std::chrono::duration_cast<std::chrono::milliseconds>(now - gate_start));
    // During a bake, a healthy fleet keeps being watched until the bake is over.
    const bool baking = decision.action == health::Decision::Action::kContinue &&
                        spec.bake.count() > 0 && now - gate_start < spec.bake;
    if (decision.action != health::Decision::Action::kWait && !baking) {
      json hosts = json::array();
      for (size_t i = 0; i < runs.size(); ++i) {
        json h = observation_json(results[i]);
        h["host"] = inputs[i].host;
        h["baseline"] = health::to_string(inputs[i].baseline);
        h["verdict"] = health::to_string(inputs[i].verdict);
        h["reason"] = inputs[i].reason;
        hosts.push_back(std::move(h));
      }
      std::map<std::string, std::string> verdicts;
      for (const auto& in : inputs) {
        verdicts[in.host] = health::to_string(in.verdict);
      }
      record([&](journal::Journal& j) {
        return j.append(journal::DecisionRecord{options_.rollout_id, clock_.wall_now(),
                                                health::to_string(decision.action), decision.rule,
                                                decision.reason, verdicts});
      });
      emit("decision", "", fmt::format("decision: {} ({})", decision.reason, decision.rule),
           {{"action", health::to_string(decision.action)},
            {"rule", decision.rule},
            {"reason", decision.reason},
            {"gate", spec.what},
            {"revert_hosts", decision.revert_hosts},
            {"hosts", std::move(hosts)}});
      co_return decision;
    }
    co_await clock_.sleep_for(policy.interval);
  }
}

// Puts one host back exactly as it was before this rollout touched it: the new container is
// stopped and kept as <app>-r<rev>-failed, the previous one gets its name back and is started.
// Each step is retried; the host's flags say which steps are still to undo.
Task<Status> Controller::restore_host(HostRun* r) {
  auto* engine = r->host->engine;
  const auto pause = manifest_.health.interval;
  const std::string failed_name = fmt::format("{}-r{}-failed", manifest_.app, plan_revision_);
  if (!r->new_id.empty()) {
    const std::string call = "restore: stop " + r->new_id + ", rename it " + failed_name;
    (void)record_intent(r->plan.host, call, "retire", r->new_id, failed_name);
    auto st = co_await with_retries(clock_, pause, [&]() -> Task<Status> {
      co_return co_await engine->stop_container(r->new_id, std::nullopt);
    });
    if (st) {
      st = co_await with_retries(clock_, pause, [&]() -> Task<Status> {
        auto renamed = co_await engine->rename_container(r->new_id, failed_name);
        if (!renamed) {
          // A retry after a rename that took effect but whose answer was lost.
          auto info = co_await engine->inspect_container(r->new_id);
          if (info && info->name == failed_name) {
            co_return Status::ok();
          }
          // The name is held by an older failed container of the same revision (an earlier,
          // interrupted attempt at this rollout): it is junk kept for inspection; the newer
          // one replaces it.
          if (renamed.code() == Code::kConflict) {
            auto holder = co_await engine->inspect_container(failed_name);
            if (holder && holder->id != r->new_id && !holder->state.running &&
                holder->labels.count(kLabelApp) && holder->labels.at(kLabelApp) == manifest_.app) {
              auto removed = co_await engine->remove_container(holder->id, true);
              if (removed) {
                co_return co_await engine->rename_container(r->new_id, failed_name);
              }
            }
          }
        }
        co_return renamed;
      });
    }
    record_outcome(r->plan.host, call, st);
    emit("step", r->plan.host,
         st ? "ok    stopped the new container and kept it as " + failed_name
            : "FAIL  stop/rename the new container: " + st.message(),
         {{"call", "restore: retire new container"}, {"ok", st.is_ok()}});
    if (!st) {
      co_return st;
    }
    r->new_id.clear();
  }
  if (r->renamed_old) {
    const std::string call = "restore: rename " + r->plan.previous_name + " to " + manifest_.app;
    (void)record_intent(r->plan.host, call, "rename", r->plan.current->id, manifest_.app);
    auto st = co_await with_retries(clock_, pause, [&]() -> Task<Status> {
      co_return co_await engine->rename_container(r->plan.current->id, manifest_.app);
    });
    record_outcome(r->plan.host, call, st);
    emit("step", r->plan.host,
         (st ? "ok    " : "FAIL  ") +
             fmt::format("rename {} back to {}", r->plan.previous_name, manifest_.app),
         {{"call", "restore: rename previous"}, {"ok", st.is_ok()}});
    if (!st) {
      co_return st;
    }
    r->renamed_old = false;
  }
  if (r->stopped_old) {
    const std::string call = "restore: start " + manifest_.app;
    (void)record_intent(r->plan.host, call, "start", r->plan.current->id, "");
    auto st = co_await with_retries(clock_, pause, [&]() -> Task<Status> {
      co_return co_await engine->start_container(r->plan.current->id);
    });
    record_outcome(r->plan.host, call, st);
    emit("step", r->plan.host,
         (st ? "ok    " : "FAIL  ") +
             fmt::format("start {} (revision {})", manifest_.app, r->plan.current->revision),
         {{"call", "restore: start previous"}, {"ok", st.is_ok()}});
    if (!st) {
      co_return st;
    }
    r->stopped_old = false;
  }
  r->reverted = true;
  co_return Status::ok();
}

// Restores the given hosts concurrently, then gates the previous containers of those whose
// baseline was healthy. Returns the problems, empty when every host is back and healthy.
Task<std::vector<std::string>> Controller::restore(std::vector<HostRun*> runs) {
  std::vector<std::string> problems;
  if (router_) {
    // No request may reach a container while it is being stopped: take the new container's
    // entry out first (with start-first the old one's entry may still serve meanwhile).
    std::vector<Task<Status>> drains;
    std::vector<HostRun*> draining;
    for (auto* r : runs) {
      if (r->enabled_new) {
        draining.push_back(r);
        drains.push_back([](Controller* self, HostRun* run) -> Task<Status> {
          auto d = co_await self->router_->drain(self->endpoint(*run, true), run->plan.colour);
          co_return d.status();
        }(this, r));
      }
    }
    auto drained = co_await gather(std::move(drains));
    for (size_t i = 0; i < draining.size(); ++i) {
      if (!drained[i]) {
        problems.push_back(draining[i]->plan.host + ": router drain: " + drained[i].message());
      } else {
        draining[i]->enabled_new = false;
        draining[i]->drained = true;
      }
    }
    if (!problems.empty()) {
      co_return problems;
    }
  }
  std::vector<Task<Status>> undo;
  for (auto* r : runs) {
    undo.push_back(restore_host(r));
  }
  auto results = co_await gather(std::move(undo));
  std::vector<HostRun*> restored;
  for (size_t i = 0; i < runs.size(); ++i) {
    if (!results[i]) {
      problems.push_back(runs[i]->plan.host + ": " + results[i].message());
    } else {
      restored.push_back(runs[i]);
    }
  }
  auto more = co_await settle(restored, problems.empty());
  problems.insert(problems.end(), more.begin(), more.end());
  co_return problems;
}

// Hosts whose previous container is back: those whose baseline was healthy are gated again,
// and then (with a router, when `enable` and every check passed) the entries this rollout
// drained go back into load balancing, each pointing at its previous container: never before it
// has proven itself again.
Task<std::vector<std::string>> Controller::settle(std::vector<HostRun*> runs, bool enable) {
  std::vector<std::string> problems;
  std::vector<HostRun*> verify;
  for (auto* r : runs) {
    if (r->plan.current && r->baseline == health::Baseline::kHealthy) {
      r->gating = r->plan.current->id;
      r->gate_port = r->plan.current_port;
      r->gate_started = clock_.now();
      r->verdict = health::Verdict::kPending;
      verify.push_back(r);
    }
  }
  if (!verify.empty()) {
    GateSpec spec;
    spec.what = "previous container";
    spec.progress = false;
    spec.budget = false;
    spec.controllable = false;
    auto check = co_await gate(verify, spec);
    if (check.action != health::Decision::Action::kContinue) {
      problems.push_back("the previous revision is not healthy again: " + check.reason);
    }
  }
  if (router_ && enable && problems.empty()) {
    std::vector<Task<Status>> enables;
    std::vector<HostRun*> enabling;
    for (auto* r : runs) {
      // Only a host this rollout took out of load balancing goes back in.
      if (r->plan.current && r->drained) {
        enabling.push_back(r);
        const auto slot = r->plan.colour ? std::optional<manifest::Colour>(r->plan.current->colour)
                                         : std::nullopt;
        enables.push_back(router_->enable(endpoint(*r, false), slot));
      }
    }
    auto enabled = co_await gather(std::move(enables));
    for (size_t i = 0; i < enabling.size(); ++i) {
      emit("step", enabling[i]->plan.host,
           (enabled[i] ? "ok    " : "FAIL  ") + std::string("router: previous container back in"),
           {{"call", "restore: enable"}, {"ok", enabled[i].is_ok()}});
      if (!enabled[i]) {
        problems.push_back(enabling[i]->plan.host + ": router enable: " + enabled[i].message());
      } else {
        enabling[i]->drained = false;
      }
    }
  }
  co_return problems;
}

// Puts touched hosts back on their previous container, then gates those containers again.
// A host whose baseline was not healthy but whose new container is healthy stays on the new
// revision: rolling it back would make it worse, and rollgate never rolls back to a version
// that was itself unhealthy.
Task<Outcome> Controller::roll_back(std::vector<HostRun*> touched, std::string why) {
  emit("rollback", "", "rolling back every touched host to its previous container",
       {{"reason", why}});
  std::vector<HostRun*> undo;
  std::vector<std::string> kept_new;
  for (auto* r : touched) {
    if (r->reverted) {
      continue;
    }
    if (r->verdict == health::Verdict::kHealthy && r->baseline != health::Baseline::kHealthy) {
      kept_new.push_back(r->plan.host);
      continue;
    }
    undo.push_back(r);
  }
  // Like a rolling update in reverse: the batch in flight first, then each earlier batch, each
  // restored and gated before the next, so no more hosts are down at once than one batch.
  // A batch that cannot be restored stops the rollback there: the fleet is consistent per host
  // and journaled, and `rollgate rollback` (or resume) finishes it.
  std::stable_sort(undo.begin(), undo.end(),
                   [](const HostRun* a, const HostRun* b) { return a->batch > b->batch; });
  for (size_t i = 0; i < undo.size();) {
    std::vector<HostRun*> batch;
    const int index = undo[i]->batch;
    while (i < undo.size() && undo[i]->batch == index) {
      batch.push_back(undo[i++]);
    }
    auto problems = co_await restore(batch);
    if (!problems.empty()) {
      co_return Outcome{
          ExitCode::kPaused,
          fmt::format("rollback incomplete: {}; run rollgate rollback -f MANIFEST to finish it "
                      "(rolling back because {})",
                      fmt::join(problems, "; "), why)};
    }
  }
  std::string note;
  if (!kept_new.empty()) {
    note = fmt::format("; {} stayed on revision {} (healthy now, unhealthy before the rollout)",
                       fmt::join(kept_new, ", "), plan_revision_);
  }
  co_return Outcome{ExitCode::kRolledBack, why + note};
}

Task<Status> Controller::prune_host(const HostBinding* h) {
  std::vector<std::string> filter;
  filter.push_back(std::string(kLabelApp) + "=" + manifest_.app);
  auto list = co_await h->engine->list_containers(std::move(filter));
  if (!list) {
    co_return list.status();
  }
  auto prune = containers_to_prune(manifest_.app, app_containers(*list), manifest_.keep);
  for (const auto& c : prune) {
    auto st = co_await h->engine->remove_container(c.id, true);
    json data = {{"container", c.name}, {"revision", c.revision}, {"ok", st.is_ok()}};
    emit("prune", h->name,
         st ? fmt::format("removed {} (revision {})", c.name, c.revision)
            : fmt::format("could not remove {}: {}", c.name, st.message()),
         std::move(data));
  }
  co_return Status::ok();
}

Task<void> Controller::prune(const Plan& plan) {
  std::vector<Task<Status>> work;
  for (const auto& b : plan.batches) {
    for (const auto& hp : b.hosts) {
      work.push_back(prune_host(&binding(hp.host)));
    }
  }
  auto results = co_await gather(std::move(work));
  for (const auto& st : results) {
    if (!st) {
      // Pruning is housekeeping: the rollout already succeeded, so a failure is only reported.
      emit("prune", "", "could not list containers to prune: " + st.message(), {{"ok", false}});
    }
  }
}

Outcome Controller::finish(Outcome out) {
  journal::EndResult result = journal::EndResult::kFailed;
  switch (out.code) {
    case ExitCode::kDone:
      result = journal::EndResult::kDone;
      break;
    case ExitCode::kRolledBack:
      result = journal::EndResult::kRolledBack;
      break;
    case ExitCode::kPaused:
      result = journal::EndResult::kPaused;
      break;
    case ExitCode::kPreflight:
    case ExitCode::kBadInput:
      result = journal::EndResult::kPreflightFailed;
      break;
    default:
      break;
  }
  record([&](journal::Journal& j) {
    return j.append(journal::EndRecord{options_.rollout_id, clock_.wall_now(), result,
                                       static_cast<int>(out.code), out.summary});
  });
  emit("rollout", "", out.summary, {{"phase", "done"}, {"exit_code", static_cast<int>(out.code)}});
  return out;
}

Task<Outcome> Controller::apply(ApplyOptions options) {
  options_ = options;
  emit("rollout", "",
       fmt::format("rollout {} of {}: {} to {} host(s)", options.rollout_id, manifest_.app,
                   options.image, hosts_.size()),
       {{"phase", "start"}, {"rollout", options.rollout_id}, {"image", options.image}});

  auto pf = co_await preflight(options.image, options.rollout_id,
                               /*pull=*/!options.require_local_image);
  if (!pf) {
    auto code =
        pf.status().code() == Code::kInvalidArgument ? ExitCode::kBadInput : ExitCode::kPreflight;
    co_return finish(
        Outcome{code, "pre-flight failed, nothing was changed: " + pf.status().message()});
  }
  Plan& plan = pf->plan;
  plan_revision_ = plan.revision;
  for (const auto& hp : plan.unchanged) {
    emit("plan", hp.host,
         fmt::format("already runs {} (revision {}): unchanged", plan.digest, hp.current->revision),
         {{"mode", "unchanged"}});
  }
  if (plan.noop() && plan.blue_green) {
    // The digest is live everywhere; a bake that was interrupted or paused may have left the
    // previous colour running: finish that bake.
    if (auto finished = co_await finish_bake(plan)) {
      co_return finish(std::move(*finished));
    }
  }
  if (plan.noop()) {
    std::string summary =
        fmt::format("nothing to do: every host already runs {} ({}); no container was recreated",
                    plan.pinned, plan.image);
    co_return finish(Outcome{ExitCode::kDone, summary});
  }
  size_t changing = 0;
  for (const auto& b : plan.batches) {
    changing += b.hosts.size();
  }
  // max_failure_ratio of the hosts this rollout changes, rounded down: 0.34 of 3 hosts is 1.
  failure_budget_ =
      static_cast<int>(options.max_failure_ratio * static_cast<double>(changing) + 1e-9);
  failures_so_far_ = 0;
  emit("plan", "",
       fmt::format("revision {}: {} batch(es), {} host(s) to change, {} unchanged", plan.revision,
                   plan.batches.size(), changing, plan.unchanged.size()),
       {{"revision", plan.revision},
        {"digest", plan.digest},
        {"batches", plan.batches.size()},
        {"failure_budget", failure_budget_}});

  record([&](journal::Journal& j) {
    journal::StartRecord start{options_.rollout_id, clock_.wall_now(), manifest_.app, plan.image,
                               plan.digest,         plan.pinned,       plan.revision};
    for (const auto& h : hosts_) {
      start.hosts.push_back(h.name);
    }
    start.manifest_path = options_.manifest_path;
    for (const auto& b : plan.batches) {
      start.batches.emplace_back();
      for (const auto& hp : b.hosts) {
        start.batches.back().push_back(hp.host);
      }
    }
    for (const auto& hp : plan.unchanged) {
      start.unchanged.push_back(hp.host);
    }
    return j.append(start);
  });
  auto baselines = co_await measure_baseline(plan);
  {
    size_t k = 0;
    for (const auto& b : plan.batches) {
      for (const auto& hp : b.hosts) {
        const auto verdict = health::to_string(baselines[k++]);
        record([&](journal::Journal& j) {
          return j.append(
              journal::BaselineRecord{options_.rollout_id, clock_.wall_now(), hp.host, verdict});
        });
      }
    }
  }
  std::vector<std::unique_ptr<HostRun>> runs;
  {
    size_t k = 0;
    for (const auto& b : plan.batches) {
      for (const auto& hp : b.hosts) {
        auto r = std::make_unique<HostRun>();
        r->plan = hp;
        r->batch = b.index;
        r->host = &binding(hp.host);
        r->baseline = baselines[k++];
        // What an interrupted run already did to this host (resume): undo must know it.
        r->stopped_old = r->renamed_old = hp.current_archived;
        // A previous container that was healthy before the interrupted run and is stopped now
        // was stopped by that run (killed between its stop and its restart): undo restarts it.
        if (options.resume && hp.current && !hp.current_archived && !hp.current->running() &&
            r->baseline == health::Baseline::kHealthy) {
          r->stopped_old = true;
        }
        if (hp.mode == HostPlan::Mode::kAdopt) {
          r->new_id = hp.adopt_id;
        }
        runs.push_back(std::move(r));
      }
    }
  }

  if (plan.blue_green) {
    co_return finish(co_await blue_green(plan, runs));
  }
  std::vector<HostRun*> touched;
  if (options.rollback_only) {
    for (auto& r : runs) {
      if (r->touched()) {
        touched.push_back(r.get());
      }
    }
    co_return finish(co_await roll_back(
        touched, fmt::format("finishing the rollback of rollout {} that was interrupted",
                             options.rollout_id)));
  }
  size_t next = 0;
  for (const auto& b : plan.batches) {
    // Between batches is a safe point: nothing is in flight.
    Command c = control_->poll();
    if (c == Command::kPause) {
      c = co_await hold(fmt::format("before batch {}", b.index));
    }
    if (c == Command::kStop) {
      co_return finish(Outcome{
          ExitCode::kPaused,
          fmt::format("interrupted before batch {}: {} host(s) already run revision {}, the "
                      "rest are untouched; run apply again to continue",
                      b.index, touched.size(), plan.revision)});
    }
    if (c == Command::kRollback) {
      co_return finish(co_await roll_back(touched, "an operator asked for it (rollgate rollback)"));
    }

    std::vector<HostRun*> batch;
    std::vector<std::string> names;
    for (size_t i = 0; i < b.hosts.size(); ++i) {
      batch.push_back(runs[next + i].get());
      names.push_back(b.hosts[i].host);
    }
    next += b.hosts.size();
    emit("batch", "",
         fmt::format("batch {}/{}: {}", b.index, plan.batches.size(), fmt::join(names, ", ")),
         {{"batch", b.index}, {"hosts", names}});

    std::vector<Task<Status>> swaps;
    for (auto* r : batch) {
      swaps.push_back(swap_host(*r));
    }
    auto swapped = co_await gather(std::move(swaps));
    for (auto* r : batch) {
      touched.push_back(r);
    }
    std::vector<std::string> errors;
    for (size_t i = 0; i < batch.size(); ++i) {
      if (!swapped[i]) {
        errors.push_back(batch[i]->plan.host + ": " + swapped[i].message());
      }
    }
    if (!errors.empty()) {
      // The engine failed us, not the image: undo the batch in flight and stop where the
      // fleet is consistent. Earlier batches passed their gate and stay.
      std::string why = fmt::format("engine error: {}", fmt::join(errors, "; "));
      std::vector<Task<Status>> reverts;
      for (auto* r : batch) {
        reverts.push_back(revert_host(*r));
      }
      auto reverted = co_await gather(std::move(reverts));
      std::vector<std::string> revert_errors;
      for (size_t i = 0; i < batch.size(); ++i) {
        if (!reverted[i]) {
          revert_errors.push_back(batch[i]->plan.host + ": " + reverted[i].message());
        }
      }
      if (router_ && revert_errors.empty()) {
        // A drained host serves again only once its restarted container passed a gate.
        revert_errors = co_await settle(batch, true);
      }
      co_return finish(
          revert_errors.empty()
              ? Outcome{ExitCode::kPaused,
                        fmt::format("paused: {}; batch {} was reverted. Fix the engine, then run "
                                    "apply again",
                                    why, b.index)}
              : Outcome{ExitCode::kInternal,
                        fmt::format("{}; revert failed: {}", why, fmt::join(revert_errors, "; "))});
    }

    GateSpec spec;
    spec.what = "new container";
    auto decision = co_await gate(batch, spec);
    if (decision.action == health::Decision::Action::kContinue) {
      if (!decision.revert_hosts.empty()) {
        std::vector<HostRun*> absorbed;
        for (auto* r : batch) {
          if (std::find(decision.revert_hosts.begin(), decision.revert_hosts.end(), r->plan.host) !=
              decision.revert_hosts.end()) {
            absorbed.push_back(r);
          }
        }
        failures_so_far_ += static_cast<int>(absorbed.size());
        auto problems = co_await restore(absorbed);
        if (!problems.empty()) {
          co_return finish(
              Outcome{ExitCode::kInternal,
                      fmt::format("could not revert a host within the failure budget: {}",
                                  fmt::join(problems, "; "))});
        }
      }
      std::vector<Task<Status>> completions;
      std::vector<HostRun*> completing;
      for (auto* r : batch) {
        if (!r->reverted) {
          completing.push_back(r);
          completions.push_back(complete_host(*r));
        }
      }
      auto completed = co_await gather(std::move(completions));
      std::vector<std::string> incomplete;
      for (size_t i = 0; i < completing.size(); ++i) {
        if (!completed[i]) {
          incomplete.push_back(completing[i]->plan.host + ": " + completed[i].message());
        }
      }
      if (!incomplete.empty()) {
        co_return finish(Outcome{
            ExitCode::kPaused,
            fmt::format("paused: batch {} passed its gate but finishing it failed: {}. The new "
                        "containers are healthy; fix the router, then apply again",
                        b.index, fmt::join(incomplete, "; "))});
      }
      record([&](journal::Journal& j) {
        return j.append(journal::BatchDoneRecord{options_.rollout_id, clock_.wall_now(), b.index});
      });
      continue;
    }
    if (decision.rule == "interrupted") {
      // A signal: the batch in flight has not passed its gate, so it goes back to where it was.
      auto problems = co_await restore(batch);
      co_return finish(
          problems.empty()
              ? Outcome{ExitCode::kPaused,
                        fmt::format("interrupted: batch {} was reverted; the fleet is consistent "
                                    "({} host(s) on revision {}). Run apply again to continue",
                                    b.index, touched.size() - batch.size(), plan.revision)}
              : Outcome{ExitCode::kInternal, fmt::format("interrupted, and reverting batch {} "
                                                         "failed: {}",
                                                         b.index, fmt::join(problems, "; "))});
    }
    if (decision.action == health::Decision::Action::kRollback) {
      co_return finish(co_await roll_back(touched, decision.reason));
    }
    co_return finish(Outcome{ExitCode::kPaused, decision.reason +
                                                    ". The fleet is left as it is: fix and apply "
                                                    "again, or roll back"});
  }

  if (options.bake.count() > 0) {
    std::vector<HostRun*> live;
    for (auto* r : touched) {
      if (!r->reverted) {
        live.push_back(r);
      }
    }
    emit("bake", "",
         fmt::format("baking: watching {} host(s) for {} before declaring success", live.size(),
                     format_duration(options.bake)),
         {{"bake_ms", options.bake.count()}});
    GateSpec spec;
    spec.what = "bake";
    spec.fresh = false;
    spec.budget = false;
    spec.progress = false;
    spec.bake = options.bake;
    auto decision = co_await gate(live, spec);
    if (decision.rule == "interrupted") {
      co_return finish(
          Outcome{ExitCode::kPaused,
                  fmt::format("interrupted during the bake: every host runs revision {}, not yet "
                              "declared good; run apply again to re-check, or roll back",
                              plan.revision)});
    }
    if (decision.action == health::Decision::Action::kRollback) {
      co_return finish(co_await roll_back(touched, decision.reason + " (during the bake)"));
    }
    if (decision.action == health::Decision::Action::kPause) {
      co_return finish(Outcome{ExitCode::kPaused, decision.reason + " (during the bake)"});
    }
  }

  co_await prune(plan);
  co_return finish(Outcome{
      ExitCode::kDone,
      fmt::format(
          "done: {} host(s) run revision {} ({}){}{}", touched.size() - failures_so_far_,
          plan.revision, plan.pinned,
          plan.unchanged.empty() ? "" : fmt::format(", {} already did", plan.unchanged.size()),
          failures_so_far_ == 0
              ? ""
              : fmt::format("; {} host(s) failed within the failure budget and stay on "
                            "their previous revision",
                            failures_so_far_))});
}

}  // namespace orch::rollout
