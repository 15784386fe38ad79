#include "orchestrator/rollout/plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace orch::rollout {

namespace {

constexpr char kApi[] = "/v1.41";
constexpr char kFailedSuffix[] = "-failed";

int parse_revision(const docker::Labels& labels) {
  auto it = labels.find(kLabelRevision);
  if (it == labels.end()) {
    return 0;
  }
  int rev = 0;
  auto [ptr, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), rev);
  if (ec != std::errc() || ptr != it->second.data() + it->second.size() || rev < 0) {
    return 0;
  }
  return rev;
}

std::string label_or_empty(const docker::Labels& labels, const char* key) {
  auto it = labels.find(key);
  return it == labels.end() ? std::string() : it->second;
}

}  // namespace

bool AppContainer::failed() const {
  return name.size() > sizeof(kFailedSuffix) - 1 &&
         name.compare(name.size() - (sizeof(kFailedSuffix) - 1), std::string::npos,
                      kFailedSuffix) == 0;
}

std::vector<AppContainer> app_containers(const std::vector<docker::ContainerSummary>& list) {
  std::vector<AppContainer> out;
  out.reserve(list.size());
  for (const auto& c : list) {
    out.push_back(AppContainer{c.id, c.name, parse_revision(c.labels),
                               label_or_empty(c.labels, kLabelDigest),
                               label_or_empty(c.labels, kLabelRollout), c.state});
  }
  std::sort(out.begin(), out.end(), [](const AppContainer& a, const AppContainer& b) {
    return a.revision != b.revision ? a.revision > b.revision : a.name < b.name;
  });
  return out;
}

std::string describe(const Action& a) {
  switch (a.type) {
    case Action::Type::kStop:
      return a.stop_timeout_s ? fmt::format("POST {}/containers/{}/stop?t={}", kApi, a.container,
                                            *a.stop_timeout_s)
                              : fmt::format("POST {}/containers/{}/stop", kApi, a.container);
    case Action::Type::kRename:
      return fmt::format("POST {}/containers/{}/rename?name={}", kApi, a.container, a.new_name);
    case Action::Type::kCreate:
      return fmt::format("POST {}/containers/create?name={}  image={}", kApi, a.container,
                         a.spec ? a.spec->image : "?");
    case Action::Type::kStart:
      return fmt::format("POST {}/containers/{}/start", kApi, a.container);
    case Action::Type::kGate:
      return fmt::format("GATE {}: probe until healthy, failing or past the deadline", a.container);
    case Action::Type::kRemove:
      return fmt::format("DELETE {}/containers/{}?force=1", kApi, a.container);
  }
  return "?";
}

docker::ContainerSpec container_spec(const manifest::Manifest& m, const std::string& pinned,
                                     const std::string& digest, int revision,
                                     const std::string& rollout_id) {
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
  // "on-failure:5" is one manifest value; the engine wants the name and the count apart.
  const std::string& restart = m.container.restart;
  if (auto colon = restart.find(':'); colon != std::string::npos) {
    spec.restart_policy = restart.substr(0, colon);
    spec.restart_max_retries = std::atoi(restart.c_str() + colon + 1);
  } else {
    spec.restart_policy = restart;
  }
  spec.stop_timeout_s = static_cast<int>(
      std::chrono::duration_cast<std::chrono::seconds>(m.container.stop_timeout).count());
  return spec;
}

std::optional<AppContainer> live_container(const std::string& app,
                                           const std::vector<AppContainer>& containers) {
  for (const auto& c : containers) {
    if (c.name == app) {
      return c;
    }
  }
  return std::nullopt;
}

std::vector<AppContainer> containers_to_prune(const std::string& app,
                                              std::vector<AppContainer> containers, int keep) {
  std::sort(containers.begin(), containers.end(),
            [](const AppContainer& a, const AppContainer& b) { return a.revision > b.revision; });
  std::vector<AppContainer> prune;
  // The live container always stays and uses one of the `keep` slots.
  int kept = live_container(app, containers) ? 1 : 0;
  for (const auto& c : containers) {
    if (c.name == app) {
      continue;
    }
    if (!c.failed() && kept < keep) {
      ++kept;
      continue;
    }
    prune.push_back(c);
  }
  return prune;
}

Plan make_plan(const manifest::Manifest& m, const std::string& image, const std::string& pinned,
               const std::string& digest, const std::vector<HostObservation>& observed,
               const std::string& rollout_id, const std::optional<ResumeOf>& resume) {
  Plan plan;
  plan.app = m.app;
  plan.image = image;
  plan.digest = digest;
  plan.pinned = pinned;
  plan.rollout_id = rollout_id;

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

  const int stop_timeout_s = static_cast<int>(
      std::chrono::duration_cast<std::chrono::seconds>(m.container.stop_timeout).count());
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
      if (hp.current && hp.current->rollout == resume->rollout_id && hp.current->digest == digest) {
        hp.mode = HostPlan::Mode::kAdopt;
        hp.adopt_id = hp.current->id;
        const bool running = hp.current->running();
        hp.current = archived;
        hp.current_archived = archived.has_value();
        hp.previous_name = archived ? archived->name : "";
        if (!running) {
          hp.actions.push_back(Action{Action::Type::kStart, m.app});
        }
        hp.actions.push_back(Action{Action::Type::kGate, m.app});
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
      hp.previous_name = fmt::format("{}-r{}", m.app, hp.current->revision);
      // A live container that somehow already carries its archive name (a crashed earlier
      // run) must not collide: archive it under its id-derived name instead.
      for (const auto& c : per_host[i]) {
        if (c.name == hp.previous_name) {
          hp.previous_name =
              fmt::format("{}-r{}-{}", m.app, hp.current->revision, hp.current->id.substr(0, 12));
        }
      }
      hp.actions.push_back(Action{Action::Type::kStop, m.app, "", std::nullopt, stop_timeout_s});
      hp.actions.push_back(Action{Action::Type::kRename, m.app, hp.previous_name});
    } else {
      hp.mode = HostPlan::Mode::kFirstDeploy;
    }
    hp.actions.push_back(Action{Action::Type::kCreate, m.app, "",
                                container_spec(m, pinned, digest, plan.revision, rollout_id)});
    hp.actions.push_back(Action{Action::Type::kStart, m.app});
    hp.actions.push_back(Action{Action::Type::kGate, m.app});
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
