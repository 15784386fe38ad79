// The blue-green planner (plan.h: make_blue_green_plan, running_colour). Pure.
#include <fmt/format.h>

#include <algorithm>

#include "orchestrator/rollout/plan.h"
#include "orchestrator/rollout/plan_internal.h"

namespace orch::rollout {

Result<manifest::Colour> running_colour(const std::string& app,
                                        const std::vector<std::string>& hosts,
                                        const std::vector<std::vector<AppContainer>>& per_host) {
  using manifest::Colour;
  std::optional<Colour> live;
  std::vector<std::string> disagree;
  for (size_t i = 0; i < hosts.size(); ++i) {
    auto blue = slot_holder(app, Colour::kBlue, per_host[i]);
    auto green = slot_holder(app, Colour::kGreen, per_host[i]);
    const bool b = blue && blue->running();
    const bool g = green && green->running();
    if (b == g) {
      disagree.push_back(
          fmt::format("{} runs {}", hosts[i], b ? "both colours" : "neither colour"));
      continue;
    }
    const Colour here = b ? Colour::kBlue : Colour::kGreen;
    if (live && *live != here) {
      disagree.push_back(fmt::format("{} runs {} where others run {}", hosts[i],
                                     manifest::to_string(here), manifest::to_string(*live)));
      continue;
    }
    live = here;
  }
  if (!disagree.empty() || !live) {
    return Status(Code::kFailedPrecondition,
                  fmt::format("cannot tell which colour is live (the router does not say): {}",
                              fmt::join(disagree, "; ")));
  }
  return *live;
}

namespace {

// Resume: the standby an interrupted blue-green run archived to free the target slot: the
// newest archived (not failed) container of that colour from before the rollout. A slot is
// only ever emptied by this (a discard renames the standby back), so when the slot is empty or
// holds the rollout's own container, that archive is the one it displaced.
std::optional<AppContainer> displaced_standby(const std::string& app, manifest::Colour target,
                                              const std::vector<AppContainer>& containers,
                                              int revision) {
  for (const auto& c : containers) {  // newest first
    if (c.colour == target && !c.failed() && c.revision < revision && c.name != app &&
        c.name != slot_name(app, manifest::Colour::kBlue) &&
        c.name != slot_name(app, manifest::Colour::kGreen) && c.name != app + kNextSuffix) {
      return c;
    }
  }
  return std::nullopt;
}

// A host whose `colour` slot holder this run adopts rather than creates: started if stopped,
// then gated; the other colour's slot holder is what it replaces (HostPlan::current).
HostPlan adopt_slot(const manifest::Manifest& m, const std::string& host,
                    const AppContainer& holder, manifest::Colour colour,
                    const std::vector<AppContainer>& containers) {
  const manifest::Colour other = manifest::other(colour);
  HostPlan hp;
  hp.host = host;
  hp.mode = HostPlan::Mode::kAdopt;
  hp.adopt_id = holder.id;
  hp.colour = colour;
  hp.port = m.strategy.ports->of(colour);
  hp.current = slot_holder(m.app, other, containers);
  hp.current_port = m.strategy.ports->of(other);
  if (!holder.running()) {
    hp.actions.push_back(Action{Action::Type::kStart, holder.name});
  }
  hp.actions.push_back(Action{Action::Type::kGate, holder.name});
  return hp;
}

// Plan::Phase::kBake: `baked` serves the digest on every host and the other colour still runs
// on some. Every host is in the one batch, so that a switch back sends the whole fleet.
Plan finishing_bake(const manifest::Manifest& m, Plan plan,
                    const std::vector<HostObservation>& observed,
                    const std::vector<std::vector<AppContainer>>& per_host,
                    manifest::Colour baked) {
  plan.phase = Plan::Phase::kBake;
  plan.target = baked;
  plan.live.reset();
  Batch batch{1, {}};
  for (size_t i = 0; i < observed.size(); ++i) {
    auto holder = slot_holder(m.app, baked, per_host[i]);  // running: every host serves it
    HostPlan hp = adopt_slot(m, observed[i].host, *holder, baked, per_host[i]);
    if (hp.current) {
      plan.live = manifest::other(baked);
    }
    plan.revision = holder->revision;
    batch.hosts.push_back(std::move(hp));
  }
  plan.batches.push_back(std::move(batch));
  return plan;
}

}  // namespace

Result<Plan> make_switch_back_plan(const manifest::Manifest& m,
                                   const std::vector<HostObservation>& observed,
                                   std::optional<manifest::Colour> routed,
                                   const std::string& rollout_id) {
  std::vector<std::vector<AppContainer>> per_host;
  std::vector<std::string> hosts;
  for (const auto& o : observed) {
    per_host.push_back(app_containers(o.containers));
    hosts.push_back(o.host);
  }
  std::optional<manifest::Colour> live = routed;
  if (!live) {
    auto running = running_colour(m.app, hosts, per_host);
    if (!running) {
      return running.status();
    }
    live = *running;
  }
  const manifest::Colour back = manifest::other(*live);
  Plan plan =
      empty_plan(m, "switch-back to " + std::string(manifest::to_string(back)), "", "", rollout_id);
  plan.blue_green = true;
  plan.phase = Plan::Phase::kSwitchBack;
  plan.live = live;
  plan.target = back;
  std::vector<std::string> missing;
  Batch batch{1, {}};
  for (size_t i = 0; i < observed.size(); ++i) {
    auto holder = slot_holder(m.app, back, per_host[i]);
    if (!holder) {
      missing.push_back(fmt::format("{} has no {} container ({})", hosts[i],
                                    manifest::to_string(back), slot_name(m.app, back)));
      continue;
    }
    if (batch.hosts.empty()) {
      // The journal's history shows a switch-back as a rollout to the revision it makes live.
      plan.revision = holder->revision;
      plan.digest = holder->digest;
    }
    batch.hosts.push_back(adopt_slot(m, hosts[i], *holder, back, per_host[i]));
  }
  if (!missing.empty()) {
    return Status(Code::kFailedPrecondition,
                  fmt::format("nothing to switch back to: {}", fmt::join(missing, "; ")));
  }
  plan.batches.push_back(std::move(batch));
  return plan;
}

Result<Plan> make_blue_green_plan(const manifest::Manifest& m, const std::string& image,
                                  const std::string& pinned, const std::string& digest,
                                  const std::vector<HostObservation>& observed,
                                  const std::string& rollout_id,
                                  std::optional<manifest::Colour> routed,
                                  const std::optional<ResumeOf>& resume) {
  using manifest::Colour;
  Plan plan = empty_plan(m, image, pinned, digest, rollout_id);
  plan.blue_green = true;

  int max_revision = 0;
  std::vector<std::vector<AppContainer>> per_host;
  bool any_holder = false;
  for (const auto& h : observed) {
    per_host.push_back(app_containers(h.containers));
    for (const auto& c : per_host.back()) {
      max_revision = std::max(max_revision, c.revision);
    }
    const auto& list = per_host.back();
    const bool legacy = std::any_of(list.begin(), list.end(),
                                    [&](const AppContainer& c) { return c.name == m.app; });
    const bool blue = std::any_of(list.begin(), list.end(), [&](const AppContainer& c) {
      return c.name == slot_name(m.app, Colour::kBlue);
    });
    if (legacy && blue) {
      return Status(Code::kFailedPrecondition,
                    fmt::format("{}: both {} and {} exist, and both would be the blue slot; "
                                "remove the one that is not serving",
                                h.host, m.app, slot_name(m.app, Colour::kBlue)));
    }
    any_holder = any_holder || slot_holder(m.app, Colour::kBlue, list) ||
                 slot_holder(m.app, Colour::kGreen, list);
  }
  plan.revision = resume ? resume->revision : max_revision + 1;

  // Which colour serves now: the router's word, else what runs (hosts must agree).
  std::optional<Colour> live = routed;
  if (!live && any_holder) {
    std::vector<std::string> hosts;
    for (const auto& o : observed) {
      hosts.push_back(o.host);
    }
    auto running = running_colour(m.app, hosts, per_host);
    if (!running) {
      return Status(running.status().code(), running.status().message() +
                                                 "; stop the colour that is not serving, then "
                                                 "apply again");
    }
    live = *running;
  }
  plan.target = live ? manifest::other(*live) : Colour::kBlue;
  // A live colour with no container anywhere serves nothing: there is nothing to keep serving,
  // switch back to, or stop. (The target stays the colour the router does not send to.)
  bool live_exists = false;
  for (size_t i = 0; live && i < observed.size(); ++i) {
    live_exists = live_exists || slot_holder(m.app, *live, per_host[i]).has_value();
  }
  plan.live = live_exists ? live : std::nullopt;

  // Nothing to do when every host already serves the digest from the live colour.
  bool all_current = live.has_value();
  for (size_t i = 0; i < observed.size() && all_current; ++i) {
    auto holder = slot_holder(m.app, *live, per_host[i]);
    all_current = holder && holder->running() && holder->digest == digest;
  }

  if (all_current) {
    // The other colour still runs somewhere: a bake was interrupted or paused after the switch.
    // Finishing it is the rest of that rollout: the live colour is adopted and baked.
    bool other_runs = false;
    for (size_t i = 0; i < observed.size(); ++i) {
      auto other = slot_holder(m.app, plan.target, per_host[i]);
      other_runs = other_runs || (other && other->running());
    }
    if (other_runs) {
      return finishing_bake(m, std::move(plan), observed, per_host, *live);
    }
  }

  const int stop_timeout_s = stop_timeout_seconds(m.container);
  Batch batch{1, {}};
  for (size_t i = 0; i < observed.size(); ++i) {
    HostPlan hp;
    hp.host = observed[i].host;
    hp.colour = plan.target;
    hp.port = m.strategy.ports->of(plan.target);
    if (live) {
      hp.current = slot_holder(m.app, *live, per_host[i]);
      hp.current_port = m.strategy.ports->of(*live);
    }
    if (all_current) {
      hp.mode = HostPlan::Mode::kUnchanged;
      // The other colour, which an interrupted or paused bake can leave running.
      hp.standby = slot_holder(m.app, plan.target, per_host[i]);
      plan.unchanged.push_back(std::move(hp));
      continue;
    }
    hp.mode = hp.current ? HostPlan::Mode::kReplace : HostPlan::Mode::kFirstDeploy;
    hp.standby = slot_holder(m.app, plan.target, per_host[i]);
    const std::string name = slot_name(m.app, plan.target);
    if (resume && hp.standby && hp.standby->rollout == resume->rollout_id &&
        hp.standby->digest == digest) {
      // The interrupted run already created the new colour here. It is adopted, started if
      // need be, and gated again in this run: the switch never trusts a gate from before the
      // crash.
      hp.mode = HostPlan::Mode::kAdopt;
      hp.adopt_id = hp.standby->id;
      const bool running = hp.standby->running();
      hp.standby.reset();
      if (!running) {
        hp.actions.push_back(Action{Action::Type::kStart, name});
      }
      hp.actions.push_back(Action{Action::Type::kGate, name});
    }
    if (resume && !hp.standby) {
      // What the interrupted run archived, so that undo gives it the slot's name back.
      hp.standby = displaced_standby(m.app, plan.target, per_host[i], resume->revision);
      hp.standby_archived = hp.standby.has_value();
      hp.standby_archive = hp.standby ? hp.standby->name : "";
      if (hp.standby) {
        hp.standby->name = name;
      }
    }
    if (hp.mode == HostPlan::Mode::kAdopt) {
      batch.hosts.push_back(std::move(hp));
      continue;
    }
    if (hp.standby && !hp.standby_archived) {
      hp.standby_archive = archive_name(m.app, *hp.standby, per_host[i]);
      if (hp.standby->running()) {
        Action stop{Action::Type::kStop, hp.standby->name, "", std::nullopt, stop_timeout_s};
        stop.on = Action::On::kStandby;
        hp.actions.push_back(std::move(stop));
      }
      Action rename{Action::Type::kRename, hp.standby->name, hp.standby_archive};
      rename.on = Action::On::kStandby;
      hp.actions.push_back(std::move(rename));
    }
    auto spec = container_spec(m, pinned, digest, plan.revision, rollout_id, plan.target);
    hp.actions.push_back(Action{Action::Type::kCreate, name, "", std::move(spec)});
    hp.actions.push_back(Action{Action::Type::kStart, name});
    hp.actions.push_back(Action{Action::Type::kGate, name});
    batch.hosts.push_back(std::move(hp));
  }
  if (!batch.hosts.empty()) {
    plan.batches.push_back(std::move(batch));
  }
  return plan;
}

}  // namespace orch::rollout
