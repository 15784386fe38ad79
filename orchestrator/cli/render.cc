#include "orchestrator/cli/render.h"

#include <fmt/format.h>

#include <cstdio>

#include "orchestrator/core/duration.h"
#include "orchestrator/journal/records.h"

namespace orch::cli {

using nlohmann::json;

void print_json(const json& j) {
  std::printf("%s\n", j.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
}

std::string short_digest(const std::string& d) { return d.size() > 19 ? d.substr(0, 19) : d; }

json plan_json(const rollout::Plan& p, const manifest::Manifest& m) {
  json j = {{"app", p.app},
            {"image", p.image},
            {"digest", p.digest},
            {"pinned", p.pinned},
            {"revision", p.revision},
            {"keep", m.keep},
            {"strategy", m.strategy.type},
            {"batches", json::array()},
            {"unchanged", json::array()}};
  if (m.strategy.type == "rolling") {
    j["order"] = manifest::to_string(m.strategy.order);
  }
  if (m.strategy.ports) {
    j["ports"] = {{"blue", m.strategy.ports->blue}, {"green", m.strategy.ports->green}};
  }
  if (p.blue_green) {
    j["live"] = p.live ? json(manifest::to_string(*p.live)) : json(nullptr);
    j["target"] = manifest::to_string(p.target);
    j["router_steps"] = p.router_steps;
    j["phase"] = p.phase == rollout::Plan::Phase::kBake         ? "bake"
                 : p.phase == rollout::Plan::Phase::kSwitchBack ? "switch-back"
                                                                : "deploy";
  }
  for (const auto& hp : p.unchanged) {
    j["unchanged"].push_back(hp.host);
  }
  for (const auto& b : p.batches) {
    json batch = {{"batch", b.index}, {"hosts", json::array()}};
    for (const auto& hp : b.hosts) {
      json h = {{"host", hp.host},
                {"mode", hp.mode == rollout::HostPlan::Mode::kFirstDeploy ? "first-deploy"
                         : hp.mode == rollout::HostPlan::Mode::kAdopt     ? "adopt"
                                                                          : "replace"},
                {"calls", json::array()}};
      if (hp.current) {
        h["current"] = {{"container", hp.current->name},
                        {"revision", hp.current->revision},
                        {"digest", hp.current->digest},
                        {"archive_as", hp.previous_name}};
      }
      if (hp.colour) {
        h["colour"] = manifest::to_string(*hp.colour);
        h["port"] = hp.port;
      }
      for (const auto& a : hp.actions) {
        h["calls"].push_back(rollout::describe(a));
      }
      batch["hosts"].push_back(std::move(h));
    }
    j["batches"].push_back(std::move(batch));
  }
  return j;
}

void print_plan_text(const rollout::Plan& p, const manifest::Manifest& m) {
  std::printf("plan for %s: %s is %s\n", p.app.c_str(), p.image.c_str(), p.pinned.c_str());
  if (p.noop()) {
    std::printf("nothing to do: every host already runs %s\n", p.digest.c_str());
    return;
  }
  if (p.blue_green && p.phase == rollout::Plan::Phase::kBake) {
    std::printf("%s\n", fmt::format("blue-green: {0} is live with this digest and {1} still runs "
                                    "(a bake was interrupted): {0} is baked again, then {1} "
                                    "drains and stops; nothing is pulled or created",
                                    manifest::to_string(p.target),
                                    manifest::to_string(manifest::other(p.target)))
                            .c_str());
    for (const auto& hp : p.batches.front().hosts) {
      std::printf(
          "  %s: bake %s%s\n", hp.host.c_str(), rollout::slot_name(p.app, p.target).c_str(),
          hp.current && hp.current->running() ? (", then stop " + hp.current->name).c_str() : "");
    }
    for (const auto& step : p.router_steps) {
      std::printf("  %s\n", step.c_str());
    }
    return;
  } else if (p.blue_green) {
    const auto& ports = *m.strategy.ports;
    std::printf("blue-green: %s is live%s; %s (port %u) starts beside it on every host\n",
                p.live ? manifest::to_string(*p.live) : "no colour",
                p.live ? fmt::format(" (port {})", ports.of(*p.live)).c_str() : "",
                manifest::to_string(p.target), static_cast<unsigned>(ports.of(p.target)));
  } else if (m.strategy.start_first()) {
    std::printf(
        "rolling, start-first: each host's new container starts on its other port (blue "
        "%u, green %u) before the old one stops\n",
        static_cast<unsigned>(m.strategy.ports->blue),
        static_cast<unsigned>(m.strategy.ports->green));
  }
  std::printf("new revision %d, %zu batch(es), on_failure: %s\n\n", p.revision, p.batches.size(),
              manifest::to_string(m.on_failure));
  std::vector<std::string> changing;
  for (const auto& b : p.batches) {
    for (const auto& hp : b.hosts) {
      changing.push_back(hp.host);
    }
  }
  std::printf("pre-flight (before any container is touched; any failure exits 6):\n");
  std::printf("  every host   GET /_ping\n");
  std::printf("  once         GET /v1.41/distribution/%s/json  -> %s\n", p.image.c_str(),
              p.digest.c_str());
  auto at = p.pinned.find('@');
  std::printf("  %-12s POST /v1.41/images/create?fromImage=%s&tag=%s\n",
              fmt::format("{}", fmt::join(changing, ",")).c_str(), p.pinned.substr(0, at).c_str(),
              p.digest.c_str());
  std::printf("  baseline     probe each host's current container\n\n");
  for (const auto& b : p.batches) {
    std::printf("batch %d/%zu:\n", b.index, p.batches.size());
    for (const auto& hp : b.hosts) {
      if (p.blue_green) {
        std::printf("  %s: start %s beside %s%s\n", hp.host.c_str(),
                    rollout::slot_name(p.app, p.target).c_str(),
                    hp.current ? hp.current->name.c_str() : "nothing",
                    hp.standby ? fmt::format(" (archive the standby {} as {})", hp.standby->name,
                                             hp.standby_archive)
                                     .c_str()
                               : "");
      } else if (hp.current) {
        std::printf("  %s: replace %s (revision %d, %s), archive it as %s\n", hp.host.c_str(),
                    hp.current->name.c_str(), hp.current->revision,
                    short_digest(hp.current->digest).c_str(), hp.previous_name.c_str());
      } else {
        std::printf("  %s: first deploy\n", hp.host.c_str());
      }
      for (const auto& a : hp.actions) {
        std::printf("    %s\n", rollout::describe(a).c_str());
      }
    }
    std::printf("  gate: every host healthy (%s) -> next batch; failing -> %s\n\n",
                m.health.http
                    ? fmt::format("HTTP GET :{}{}",
                                  b.hosts.front().port ? b.hosts.front().port : m.health.http->port,
                                  m.health.http->path)
                          .c_str()
                    : "container running",
                manifest::to_string(m.on_failure));
  }
  for (const auto& hp : p.unchanged) {
    std::printf("unchanged: %s already runs revision %d (%s)\n", hp.host.c_str(),
                hp.current->revision, short_digest(hp.current->digest).c_str());
  }
  if (!p.router_steps.empty()) {
    std::printf("then, for the whole fleet:\n");
    for (const auto& step : p.router_steps) {
      std::printf("  %s\n", step.c_str());
    }
  }
  std::printf("after the last batch: remove containers beyond keep=%d revisions per host\n",
              m.keep);
}

namespace {

// "healthy (http: HTTP 200, docker: healthy)"; "-" when nothing serves on the host.
std::string health_text(const rollout::HostStatus& h) {
  if (!h.live) {
    return "-";
  }
  std::vector<std::string> details;
  for (const auto& p : h.probes) {
    details.push_back(p.probe + ": " + p.detail);
  }
  if (!h.live->state.health_status.empty()) {
    details.push_back("docker: " + h.live->state.health_status);
  }
  return fmt::format("{}{}", h.healthy() ? "healthy" : "unhealthy",
                     details.empty() ? "" : fmt::format(" ({})", fmt::join(details, ", ")));
}

// "router (haproxy): green is live", or why it cannot tell; "" without a router.
std::string router_note(const rollout::FleetStatus& f) {
  if (!f.router_asked) {
    return "";
  }
  if (f.routed) {
    return fmt::format("router ({}): {} is live", f.router_kind, manifest::to_string(*f.routed));
  }
  return fmt::format("router ({}): cannot tell which colour is live{}", f.router_kind,
                     f.router_error ? "" : ": " + f.router_error.message());
}

json colour_or_null(const std::optional<manifest::Colour>& c) {
  return c ? json(manifest::to_string(*c)) : json(nullptr);
}

// The part of status that is about the app, not a host: the same object on every host entry,
// so that the output stays one array of hosts.
json app_state_json(const AppStatus& a) {
  json j = {{"running_apply", a.running_pid ? json(*a.running_pid) : json(nullptr)},
            {"last_rollout", nullptr},
            {"lock", nullptr}};
  if (a.last) {
    const auto& s = *a.last;
    j["last_rollout"] = {{"rollout", s.rollout},
                         {"revision", s.revision},
                         {"state", rollout::to_string(s.phase)},
                         {"result", s.end ? json(journal::result_name(s.end->result)) : json()},
                         {"exit_code", s.end ? json(s.end->exit_code) : json()},
                         {"summary", s.end ? json(s.end->summary) : json()},
                         {"next", rollout::to_string(s.next)}};
  }
  if (a.lock) {
    j["lock"] = {{"host", a.lock->host},
                 {"holder", a.lock->holder},
                 {"rollout", a.lock->rollout},
                 {"started", a.lock->started},
                 {"lease_until", a.lock->lease_until},
                 {"expired", a.lock->expired(a.now)}};
  } else if (!a.lock_error) {
    j["lock"] = {{"error", a.lock_error.message()}};
  }
  return j;
}

// The journal's last rollout and what resume would do with it, as status ends.
void print_rollout_state(const AppStatus& a, const manifest::Manifest& m,
                         const std::string& manifest_path) {
  if (a.running_pid) {
    std::printf(
        "\na rollout of %s is running now (pid %d); steer it with rollgate "
        "pause|resume|rollback|promote\n",
        m.app.c_str(), static_cast<int>(*a.running_pid));
    return;
  }
  if (!a.last) {
    return;
  }
  using Next = rollout::RolloutState::Next;
  const auto& s = *a.last;
  const char* how = s.phase == rollout::RolloutState::Phase::kPaused
                        ? "is paused"
                        : "was interrupted (no end record)";
  switch (s.next) {
    case Next::kNothing:
      std::printf("\nlast rollout %s (revision %d) ended %s\n", s.rollout.c_str(), s.revision,
                  s.end ? journal::result_name(s.end->result) : "before it started");
      return;
    case Next::kResume:
    case Next::kFinishRollback:
      std::printf(
          "\nlast rollout %s (revision %d) %s: `rollgate resume -f %s` would re-read the "
          "engines and %s\n",
          s.rollout.c_str(), s.revision, how, manifest_path.c_str(),
          s.next == Next::kFinishRollback ? "finish its rollback"
                                          : "continue it from where each host is");
      return;
  }
}

}  // namespace

json status_json(const rollout::FleetStatus& fleet, const AppStatus& app,
                 const manifest::Manifest& m) {
  const json app_state = app_state_json(app);
  const bool slots = m.strategy.two_slots();
  json out = json::array();
  for (const auto& h : fleet.hosts) {
    if (!h.error) {
      out.push_back({{"host", h.host}, {"error", h.error.message()}, {"app_state", app_state}});
      continue;
    }
    json host = {{"host", h.host}, {"containers", json::array()}, {"app_state", app_state}};
    if (fleet.blue_green) {
      host["live_colour"] = colour_or_null(fleet.routed);
      host["router"] = router_note(fleet);
    }
    if (slots) {
      host["running_colour"] = colour_or_null(h.running_colour);
    }
    for (const auto& c : h.containers) {
      const bool is_live = c.name == h.live_name;
      json jc = {{"container", c.name}, {"revision", c.revision}, {"digest", c.digest},
                 {"state", c.state},    {"live", is_live},        {"rollout", c.rollout}};
      if (slots) {
        jc["colour"] = manifest::to_string(c.colour);
        jc["port"] = m.strategy.ports->of(c.colour);
      }
      if (is_live && h.live) {
        jc["health"] = health_text(h);
        jc["restart_count"] = h.live->restart_count;
      }
      host["containers"].push_back(std::move(jc));
    }
    out.push_back(std::move(host));
  }
  return out;
}

void print_status_text(const rollout::FleetStatus& fleet, const AppStatus& app,
                       const manifest::Manifest& m, const std::string& manifest_path) {
  const bool slots = m.strategy.two_slots();
  if (auto note = router_note(fleet); !note.empty()) {
    std::printf("%s\n", note.c_str());
  }
  std::printf("%-10s %-16s %-4s %-20s %-10s %s%s\n", "HOST", "CONTAINER", "REV", "DIGEST", "STATE",
              slots ? "SLOT         " : "", "HEALTH");
  for (const auto& h : fleet.hosts) {
    if (!h.error) {
      std::printf("%-10s unreachable: %s\n", h.host.c_str(), h.error.message().c_str());
      continue;
    }
    if (h.containers.empty()) {
      std::printf("%-10s %-16s\n", h.host.c_str(), "(no app container)");
    }
    const std::string health = health_text(h);
    bool first = true;
    for (const auto& c : h.containers) {
      const bool is_live = c.name == h.live_name;
      std::string slot;
      if (slots) {
        slot = fmt::format("{:<13}", fmt::format("{}:{}", manifest::to_string(c.colour),
                                                 m.strategy.ports->of(c.colour)));
      }
      std::printf("%-10s %-16s %-4d %-20s %-10s %s%s\n", first ? h.host.c_str() : "",
                  c.name.c_str(), c.revision, short_digest(c.digest).c_str(), c.state.c_str(),
                  slot.c_str(), is_live ? health.c_str() : "");
      first = false;
    }
  }
  print_rollout_state(app, m, manifest_path);
  if (app.lock) {
    std::printf("\n%s is locked on %s: %s\n", m.app.c_str(), app.lock->host.c_str(),
                app.lock->describe(app.now).c_str());
  }
}

void print_history(const std::vector<journal::HistoryRow>& rows, bool json_output,
                   const std::string& app, const std::string& dir) {
  json out = json::array();
  if (!json_output) {
    std::printf("%-22s %-4s %-20s %-17s %-24s %s\n", "ROLLOUT", "REV", "DIGEST", "RESULT",
                "STARTED (UTC)", "DURATION");
  }
  for (const auto& r : rows) {
    const std::string started = journal::format_ts(r.started);
    if (json_output) {
      out.push_back({{"rollout", r.rollout},
                     {"revision", r.revision},
                     {"digest", r.digest},
                     {"image", r.image},
                     {"result", r.result},
                     {"started", started},
                     {"duration_ms", r.duration.count()}});
    } else {
      std::printf("%-22s %-4d %-20s %-17s %-24s %s\n", r.rollout.c_str(), r.revision,
                  short_digest(r.digest).c_str(), r.result.c_str(), started.c_str(),
                  format_duration(r.duration).c_str());
    }
  }
  if (json_output) {
    print_json(out);
  } else if (rows.empty()) {
    std::printf("no rollouts of %s recorded in %s\n", app.c_str(), dir.c_str());
  }
}

}  // namespace orch::cli
