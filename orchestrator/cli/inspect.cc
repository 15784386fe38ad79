// The commands that only look: validate, plan, status, ping, history. They change nothing on
// the engines and write nothing to the state directory.
#include <cstdio>

#include "orchestrator/cli/app.h"
#include "orchestrator/cli/commands.h"
#include "orchestrator/cli/render.h"
#include "orchestrator/journal/journal.h"
#include "orchestrator/rollout/app_state.h"
#include "orchestrator/rollout/async.h"
#include "orchestrator/rollout/engine_exec.h"
#include "orchestrator/rollout/fleet_status.h"
#include "orchestrator/rollout/last_rollout.h"
#include "orchestrator/rollout/probes.h"
#include "orchestrator/rollout/session.h"

namespace orch::cli {

using nlohmann::json;
using rollout::ExitCode;

namespace {

// This machine's running apply and the journal's last rollout (read without opening the journal
// for writing, so a record being written is never truncated), and the app's lock. What cannot be
// read is left out.
AppStatus app_status(const CommonOptions& o, App& app) {
  AppStatus a;
  a.now = app.fleet->clock.wall_now();
  if (auto dir = rollout::app_state_dir(o.state_dir, app.m.app, false)) {
    a.running_pid = rollout::running_apply(*dir);
    if (auto records = journal::read_records(rollout::journal_file(*dir))) {
      if (auto rollouts = journal::replay(*records)) {
        if (auto last = rollout::last_rollout(*rollouts)) {
          a.last = rollout::rollout_state(*last);
        }
      }
    }
  }
  if (auto* engine = rollout::lock_engine_of(app.m, app.fleet->bindings)) {
    auto lock = run(*app.fleet, rollout::inspect_lock(*engine, app.m.app));
    if (lock) {
      a.lock = std::move(*lock);
    } else if (lock.status().code() != Code::kNotFound) {
      a.lock_error = lock.status();
    }
  }
  return a;
}

}  // namespace

int validate(const CommonOptions& o) {
  auto app = load_app(o, {});
  if (!app) {
    return code(ExitCode::kBadInput);
  }
  std::printf("%s: ok (app %s, %zu host(s), image %s)\n", o.manifest_path.c_str(),
              app->m.app.c_str(), app->m.hosts.size(), app->m.image.c_str());
  return 0;
}

int plan(const CommonOptions& o, const std::string& image_override) {
  auto app = load_app(o, {Needs::State::kNone, true});
  if (!app) {
    return code(ExitCode::kBadInput);
  }
  auto& fleet = *app->fleet;
  rollout::RecordingSink quiet;
  rollout::Controller controller(app->m, fleet.bindings, {}, fleet.clock, quiet);
  controller.set_router(fleet.router.get());
  const std::string image = image_override.empty() ? app->m.image : image_override;
  auto result = run(fleet, controller.preview(image, "planned"));
  if (!result) {
    std::fprintf(stderr, "rollgate plan: %s\n", result.status().message().c_str());
    return code(result.status().code() == Code::kInvalidArgument ? ExitCode::kBadInput
                                                                 : ExitCode::kPreflight);
  }
  if (o.output == "json") {
    print_json(plan_json(*result, app->m));
  } else {
    print_plan_text(*result, app->m);
  }
  return 0;
}

int status(const CommonOptions& o) {
  auto app = load_app(o, {Needs::State::kNone, true});
  if (!app) {
    return code(ExitCode::kBadInput);
  }
  auto& fleet = *app->fleet;
  rollout::EngineExec exec(engine_map(fleet));
  auto probes = rollout::make_probes(app->m.health, &exec);
  auto hosts =
      run(fleet, rollout::fleet_status(app->m, fleet.bindings, fleet.router.get(), probes));
  const AppStatus state = app_status(o, *app);
  if (o.output == "json") {
    print_json(status_json(hosts, state, app->m));
  } else {
    print_status_text(hosts, state, app->m, o.manifest_path);
  }
  for (const auto& h : hosts.hosts) {
    if (!h.error) {
      return code(ExitCode::kPreflight);
    }
  }
  return 0;
}

int ping(const CommonOptions& o) {
  auto app = load_app(o, {Needs::State::kNone, true});
  if (!app) {
    return code(ExitCode::kBadInput);
  }
  auto& fleet = *app->fleet;
  struct Row {
    std::string host;
    std::string engine;
    Status status;
    docker::VersionInfo version;
    double ms = 0;
  };
  auto rows = run(fleet, [&]() -> Task<std::vector<Row>> {
    std::vector<Task<Row>> work;
    for (size_t i = 0; i < fleet.bindings.size(); ++i) {
      work.push_back(
          [](const rollout::HostBinding* b, std::string engine, const Clock* clock) -> Task<Row> {
            Row row{b->name, std::move(engine), Status(), {}, 0};
            const auto t0 = clock->now();
            auto p = co_await b->engine->ping();
            row.ms = std::chrono::duration<double, std::milli>(clock->now() - t0).count();
            row.status = p.status();
            if (p) {
              auto v = co_await b->engine->version();
              if (v) {
                row.version = *v;
              } else {
                row.status = v.status();
              }
            }
            co_return row;
          }(&fleet.bindings[i], app->m.hosts[i].engine, &fleet.clock));
    }
    co_return co_await rollout::gather(std::move(work));
  }());
  int failed = 0;
  json out = json::array();
  for (const auto& r : rows) {
    if (!r.status) {
      ++failed;
    }
    if (o.output == "json") {
      json j = {
          {"host", r.host}, {"engine", r.engine}, {"ok", r.status.is_ok()}, {"latency_ms", r.ms}};
      if (r.status) {
        j["version"] = r.version.version;
        j["api_version"] = r.version.api_version;
        j["os"] = r.version.os;
        j["arch"] = r.version.arch;
      } else {
        j["error"] = r.status.message();
      }
      out.push_back(std::move(j));
    } else if (r.status) {
      std::printf("%-10s %-28s ok    docker %s (API %s, %s/%s)  %.1f ms\n", r.host.c_str(),
                  r.engine.c_str(), r.version.version.c_str(), r.version.api_version.c_str(),
                  r.version.os.c_str(), r.version.arch.c_str(), r.ms);
    } else {
      std::printf("%-10s %-28s FAIL  %s\n", r.host.c_str(), r.engine.c_str(),
                  r.status.message().c_str());
    }
  }
  if (o.output == "json") {
    print_json(out);
  } else {
    std::printf("%zu/%zu engine(s) reachable\n", rows.size() - failed, rows.size());
  }
  return failed == 0 ? 0 : code(ExitCode::kPreflight);
}

int history(const CommonOptions& o) {
  auto app = load_app(o, {Needs::State::kCreate, false});
  if (!app) {
    return code(ExitCode::kBadInput);
  }
  auto records = journal::read_records(rollout::journal_file(app->dir));
  if (!records) {
    std::fprintf(stderr, "rollgate history: %s\n", records.status().message().c_str());
    return code(ExitCode::kInternal);
  }
  auto rollouts = journal::replay(*records);
  if (!rollouts) {
    std::fprintf(stderr, "rollgate history: %s\n", rollouts.status().message().c_str());
    return code(ExitCode::kInternal);
  }
  print_history(journal::history(*rollouts), o.output == "json", app->m.app, app->dir);
  return 0;
}

}  // namespace orch::cli
