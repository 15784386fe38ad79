#include "orchestrator/rollout/plan.h"

#include <fmt/format.h>

#include <algorithm>

#include "orchestrator/docker/api_paths.h"
#include "orchestrator/rollout/plan_internal.h"

namespace orch::rollout {

namespace {

constexpr std::string_view kApi = docker::kApiPrefix;

}  // namespace

std::string describe(const Action& a) {
  switch (a.type) {
    case Action::Type::kStop:
      return fmt::format("POST {}{}", kApi, docker::stop_target(a.container, a.stop_timeout_s));
    case Action::Type::kRename:
      return fmt::format("POST {}{}", kApi, docker::rename_target(a.container, a.new_name));
    case Action::Type::kCreate:
      return fmt::format("POST {}{}  image={}", kApi, docker::create_target(a.container),
                         a.spec ? a.spec->image : "?");
    case Action::Type::kStart:
      return fmt::format("POST {}{}", kApi, docker::start_target(a.container));
    case Action::Type::kGate:
      return fmt::format("GATE {}: probe until healthy, failing or past the deadline", a.container);
    case Action::Type::kRemove:
      return fmt::format("DELETE {}{}", kApi, docker::remove_target(a.container, true));
    case Action::Type::kDrain:
      return fmt::format("ROUTER {}, then wait for in-flight requests", a.router_step);
    case Action::Type::kEnable:
      return fmt::format("ROUTER {}", a.router_step);
  }
  return "?";
}

docker::ContainerSpec container_spec(const manifest::Manifest& m, const std::string& pinned,
                                     const std::string& digest, int revision,
                                     const std::string& rollout_id,
                                     std::optional<manifest::Colour> colour) {
  docker::ContainerSpec spec;
  spec.name = m.app;
  spec.image = pinned;
  for (const auto& [k, v] : m.container.env) {
    spec.env.push_back(k + "=" + v);
  }
  spec.cmd = m.container.command;
  spec.labels = m.container.labels;
  spec.labels[kLabelApp] = m.app;
  spec.labels[kLabelRevision] = std::to_string(revision);
  spec.labels[kLabelDigest] = digest;
  spec.labels[kLabelRollout] = rollout_id;
  for (const auto& p : m.container.ports) {
    spec.ports.push_back(docker::PortBinding{p.host_port, p.container_port, p.protocol, ""});
  }
  if (colour && m.strategy.ports && !spec.ports.empty()) {
    spec.labels[kLabelColour] = manifest::to_string(*colour);
    spec.ports[0].host_port = m.strategy.ports->of(*colour);
    spec.name = m.strategy.blue_green() ? slot_name(m.app, *colour) : m.app + kNextSuffix;
  }
  // "on-failure:5" is one manifest value; the engine wants the name and the count apart.
  const std::string& restart = m.container.restart;
  if (auto colon = restart.find(':'); colon != std::string::npos) {
    spec.restart_policy = restart.substr(0, colon);
    spec.restart_max_retries = std::atoi(restart.c_str() + colon + 1);
  } else {
    spec.restart_policy = restart;
  }
  spec.stop_timeout_s = stop_timeout_seconds(m.container);
  return spec;
}

Plan empty_plan(const manifest::Manifest& m, const std::string& image, const std::string& pinned,
                const std::string& digest, const std::string& rollout_id) {
  Plan plan;
  plan.app = m.app;
  plan.image = image;
  plan.digest = digest;
  plan.pinned = pinned;
  plan.rollout_id = rollout_id;
  return plan;
}

// "<app>-r<rev>", or with the id's prefix when a container already has that name: a live
// container that somehow carries its archive name (a crashed earlier run) must not collide.
std::string archive_name(const std::string& app, const AppContainer& c,
                         const std::vector<AppContainer>& containers) {
  std::string name = fmt::format("{}-r{}", app, c.revision);
  for (const auto& other : containers) {
    if (other.name == name) {
      return fmt::format("{}-r{}-{}", app, c.revision, c.id.substr(0, 12));
    }
  }
  return name;
}

namespace {

Action router_action(Action::Type type, std::optional<manifest::Colour> slot, uint16_t port) {
  Action a{type, ""};
  a.slot = slot;
  a.port = port;
  return a;
}

// start-first: the new container starts in the other slot (named <app>-next), is gated, gets
// the host's traffic at the router, and only then is the old one drained, stopped and
// archived, and the new one takes the app's name.
void start_first_actions(const manifest::Manifest& m, const std::string& pinned,
                         const std::string& digest, int revision, const std::string& rollout_id,
                         const std::vector<AppContainer>& containers, HostPlan& hp,
                         const std::optional<ResumeOf>& resume) {
  using manifest::Colour;
  const auto& ports = *m.strategy.ports;
  const std::string next_name = m.app + kNextSuffix;
  const Colour current = hp.current ? hp.current->colour : Colour::kBlue;
  hp.current_port = ports.of(current);
  const int stop_timeout_s = stop_timeout_seconds(m.container);
  for (const auto& c : containers) {
    if (c.name != next_name) {
      continue;
    }
    // Resume: the rollout's own, stopped by its interrupted undo or never started, is adopted
    // like a running one, so that a rollback being finished retires it.
    const bool ours = resume && c.rollout == resume->rollout_id && c.digest == digest;
    if (!c.running() && !ours) {
      // Left stopped by an interrupted run: it serves nothing.
      hp.actions.push_back(Action{Action::Type::kRemove, next_name});
      continue;
    }
    // Left running by an interrupted run, which may have routed traffic to it already (the
    // controller refuses one of another digest): it is adopted, gated, and the swap finished.
    hp.mode = HostPlan::Mode::kAdopt;
    hp.adopt_id = c.id;
    hp.colour = c.colour;
    hp.port = ports.of(c.colour);
    if (!c.running()) {
      hp.actions.push_back(Action{Action::Type::kStart, next_name});
    }
    hp.actions.push_back(Action{Action::Type::kGate, next_name});
    hp.actions.push_back(router_action(Action::Type::kEnable, c.colour, hp.port));
    if (hp.current) {
      hp.actions.push_back(router_action(Action::Type::kDrain, current, hp.current_port));
      hp.actions.push_back(Action{Action::Type::kStop, m.app, "", std::nullopt, stop_timeout_s});
      hp.actions.push_back(Action{Action::Type::kRename, m.app, hp.previous_name});
    }
    Action rename_new{Action::Type::kRename, next_name, m.app};
    rename_new.on = Action::On::kNew;
    hp.actions.push_back(std::move(rename_new));
    return;
  }
  const Colour next = hp.current ? manifest::other(current) : Colour::kBlue;
  hp.colour = next;
  hp.port = ports.of(next);
  auto spec = container_spec(m, pinned, digest, revision, rollout_id, next);
  if (!hp.current) {
    spec.name = m.app;  // nothing to overlap with: the first one takes the app's name at once
  }
  const std::string created = spec.name;
  hp.actions.push_back(Action{Action::Type::kCreate, created, "", std::move(spec)});
  hp.actions.push_back(Action{Action::Type::kStart, created});
  hp.actions.push_back(Action{Action::Type::kGate, created});
  hp.actions.push_back(router_action(Action::Type::kEnable, next, hp.port));
  if (!hp.current) {
    return;
  }
  hp.actions.push_back(router_action(Action::Type::kDrain, current, hp.current_port));
  hp.actions.push_back(Action{Action::Type::kStop, m.app, "", std::nullopt, stop_timeout_s});
  hp.actions.push_back(Action{Action::Type::kRename, m.app, hp.previous_name});
  Action rename_new{Action::Type::kRename, created, m.app};
  rename_new.on = Action::On::kNew;
  hp.actions.push_back(std::move(rename_new));
}

}  // namespace

Plan make_plan(const manifest::Manifest& m, const std::string& image, const std::string& pinned,
               const std::string& digest, const std::vector<HostObservation>& observed,
               const std::string& rollout_id, const std::optional<ResumeOf>& resume) {
  Plan plan = empty_plan(m, image, pinned, digest, rollout_id);

  // Revisions are numbered fleet-wide: one rollout, one number, on every host it touches.
  int max_revision = 0;
  std::vector<std::vector<AppContainer>> per_host;
  for (const auto& h : observed) {
    per_host.push_back(app_containers(h.containers));
    for (const auto& c : per_host.back()) {
      max_revision = std::max(max_revision, c.revision);
    }
  }
  plan.revision = resume ? resume->revision : max_revision + 1;

  const int stop_timeout_s = stop_timeout_seconds(m.container);
  std::vector<HostPlan> to_change;
  for (size_t i = 0; i < observed.size(); ++i) {
    HostPlan hp;
    hp.host = observed[i].host;
    hp.current = live_container(m.app, per_host[i]);
    if (resume) {
      // The rollback target an interrupted swap left behind: the newest earlier revision that
      // is archived (stopped and renamed), not a failed one.
      std::optional<AppContainer> archived;
      for (const auto& c : per_host[i]) {
        if (c.name != m.app && !c.failed() && c.revision < resume->revision) {
          archived = c;
          break;  // per_host is sorted newest first
        }
      }
      // start-first: the new container, still named <app>-next when the interrupted run
      // archived the old one but had not yet given the new one the app's name.
      std::optional<AppContainer> next;
      if (m.strategy.start_first() && !hp.current) {
        for (const auto& c : per_host[i]) {
          if (c.name == m.app + kNextSuffix && c.rollout == resume->rollout_id &&
              c.digest == digest) {
            next = c;
          }
        }
      }
      const std::optional<AppContainer> ours = next ? next : hp.current;
      if (ours && ours->rollout == resume->rollout_id && ours->digest == digest) {
        hp.mode = HostPlan::Mode::kAdopt;
        hp.adopt_id = ours->id;
        hp.current = archived;
        hp.current_archived = archived.has_value();
        hp.previous_name = archived ? archived->name : "";
        std::optional<manifest::Colour> slot;
        if (m.strategy.start_first()) {
          slot = ours->colour;
          hp.colour = ours->colour;
          hp.port = m.strategy.ports->of(ours->colour);
          hp.current_port = m.strategy.ports->of(archived ? archived->colour : ours->colour);
        }
        if (!ours->running()) {
          hp.actions.push_back(Action{Action::Type::kStart, ours->name});
        }
        hp.actions.push_back(Action{Action::Type::kGate, ours->name});
        if (m.router) {
          hp.actions.push_back(router_action(Action::Type::kEnable, slot, hp.port));
        }
        if (next) {
          Action rename_new{Action::Type::kRename, next->name, m.app};
          rename_new.on = Action::On::kNew;
          hp.actions.push_back(std::move(rename_new));
        }
        to_change.push_back(std::move(hp));
        continue;
      }
      if (!hp.current && archived) {
        hp.mode = HostPlan::Mode::kReplace;
        hp.current = archived;
        hp.current_archived = true;
        hp.previous_name = archived->name;
        hp.actions.push_back(Action{Action::Type::kCreate, m.app, "",
                                    container_spec(m, pinned, digest, plan.revision, rollout_id)});
        hp.actions.push_back(Action{Action::Type::kStart, m.app});
        hp.actions.push_back(Action{Action::Type::kGate, m.app});
        if (m.router) {
          hp.actions.push_back(router_action(Action::Type::kEnable, std::nullopt, 0));
        }
        to_change.push_back(std::move(hp));
        continue;
      }
    }
    if (hp.current && hp.current->digest == digest && hp.current->running()) {
      hp.mode = HostPlan::Mode::kUnchanged;
      plan.unchanged.push_back(std::move(hp));
      continue;
    }
    if (hp.current) {
      hp.mode = HostPlan::Mode::kReplace;
      hp.previous_name = archive_name(m.app, *hp.current, per_host[i]);
    } else {
      hp.mode = HostPlan::Mode::kFirstDeploy;
    }
    if (m.strategy.start_first()) {
      start_first_actions(m, pinned, digest, plan.revision, rollout_id, per_host[i], hp, resume);
      to_change.push_back(std::move(hp));
      continue;
    }
    if (hp.current) {
      if (m.router) {
        hp.actions.push_back(router_action(Action::Type::kDrain, std::nullopt, 0));
      }
      hp.actions.push_back(Action{Action::Type::kStop, m.app, "", std::nullopt, stop_timeout_s});
      hp.actions.push_back(Action{Action::Type::kRename, m.app, hp.previous_name});
    }
    hp.actions.push_back(Action{Action::Type::kCreate, m.app, "",
                                container_spec(m, pinned, digest, plan.revision, rollout_id)});
    hp.actions.push_back(Action{Action::Type::kStart, m.app});
    hp.actions.push_back(Action{Action::Type::kGate, m.app});
    if (m.router) {
      hp.actions.push_back(router_action(Action::Type::kEnable, std::nullopt, 0));
    }
    to_change.push_back(std::move(hp));
  }

  const int per_batch = m.strategy.batch_size.hosts_per_batch(static_cast<int>(m.hosts.size()));
  for (size_t i = 0; i < to_change.size(); ++i) {
    if (i % per_batch == 0) {
      plan.batches.push_back(Batch{static_cast<int>(plan.batches.size()) + 1, {}});
    }
    plan.batches.back().hosts.push_back(std::move(to_change[i]));
  }
  return plan;
}

}  // namespace orch::rollout
