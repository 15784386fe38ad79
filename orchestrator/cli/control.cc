// The commands that steer from another terminal: pause | resume | rollback | promote requests to
// the apply running for the app, and unlock (show or break the app's lock).
#include <cstdio>

#include "orchestrator/cli/app.h"
#include "orchestrator/cli/commands.h"
#include "orchestrator/journal/journal.h"
#include "orchestrator/rollout/app_state.h"
#include "orchestrator/rollout/session.h"

namespace orch::cli {

using rollout::ExitCode;

int request(const CommonOptions& o, const std::string& command) {
  auto app = load_app(o, {Needs::State::kCreate, false});
  if (!app) {
    return code(ExitCode::kBadInput);
  }
  // No fleet: a request touches only the state directory. Its own clock stamps the request.
  SystemClock clock;
  auto pid = rollout::request_running_apply(app->dir, rollout::command_from_string(command), clock);
  if (!pid) {
    if (pid.status().code() == Code::kFailedPrecondition) {
      std::fprintf(stderr,
                   "rollgate %s: no apply of %s is running on this machine (state directory "
                   "%s); nothing to %s\n",
                   command.c_str(), app->m.app.c_str(), app->dir.c_str(), command.c_str());
      return code(ExitCode::kBadInput);
    }
    std::fprintf(stderr, "rollgate %s: %s\n", command.c_str(), pid.status().message().c_str());
    return code(ExitCode::kInternal);
  }
  std::printf("requested %s of %s's running apply (pid %d); it acts at its next gate check\n",
              command.c_str(), app->m.app.c_str(), static_cast<int>(*pid));
  return 0;
}

int unlock(const CommonOptions& o, bool force) {
  auto app = load_app(o, {Needs::State::kCreate, true});
  if (!app) {
    return code(ExitCode::kBadInput);
  }
  auto& fleet = *app->fleet;
  const std::string& name = app->m.app;
  docker::Engine* engine = rollout::lock_engine_of(app->m, fleet.bindings);
  if (!engine) {
    std::fprintf(stderr, "rollgate unlock: no host to hold the lock\n");
    return code(ExitCode::kBadInput);
  }
  const auto now = fleet.clock.wall_now();
  if (!force) {
    auto info = run(fleet, rollout::inspect_lock(*engine, name));
    if (!info) {
      const bool free = info.status().code() == Code::kNotFound;
      std::printf("%s: %s\n", name.c_str(), free ? "not locked" : info.status().message().c_str());
      return free ? 0 : code(ExitCode::kPreflight);
    }
    std::printf(
        "%s is locked on %s: %s\nTo remove it (only if that holder is dead): rollgate "
        "unlock -f %s --force\n",
        name.c_str(), info->host.c_str(), info->describe(now).c_str(), o.manifest_path.c_str());
    return code(ExitCode::kLocked);
  }
  auto journal = journal::Journal::open(rollout::journal_file(app->dir));
  auto removed =
      run(fleet, rollout::break_lock(*engine, name, fleet.clock, journal ? &*journal : nullptr));
  if (!removed) {
    std::fprintf(stderr, "rollgate unlock: %s\n", removed.status().message().c_str());
    const auto c = removed.status().code();
    return c == Code::kNotFound   ? 0
           : c == Code::kInternal ? code(ExitCode::kInternal)
                                  : code(ExitCode::kPreflight);
  }
  std::printf("removed the lock of %s on %s: %s\n", name.c_str(), removed->host.c_str(),
              removed->describe(now).c_str());
  return 0;
}

}  // namespace orch::cli
