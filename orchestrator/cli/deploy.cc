// The commands that change the fleet: apply, resume, rollback, switch-back. Each chooses what to
// run through a rollout API (last_rollout.h, revisions.h), then run_apply() holds the app's lock
// (session.h) and runs it through the controller, with SIGINT/SIGTERM finishing the batch in
// flight.
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <signal.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>

#include "orchestrator/cli/app.h"
#include "orchestrator/cli/commands.h"
#include "orchestrator/journal/journal.h"
#include "orchestrator/journal/replay.h"
#include "orchestrator/rollout/app_state.h"
#include "orchestrator/rollout/control.h"
#include "orchestrator/rollout/engine_exec.h"
#include "orchestrator/rollout/events.h"
#include "orchestrator/rollout/last_rollout.h"
#include "orchestrator/rollout/probes.h"
#include "orchestrator/rollout/resume.h"
#include "orchestrator/rollout/revisions.h"
#include "orchestrator/rollout/session.h"

namespace orch::cli {

namespace {

using rollout::ExitCode;

std::string new_rollout_id(WallTime now) {
  std::random_device rd;
  return fmt::format("{:%Y%m%d-%H%M%S}-{:04x}", fmt::gmtime(now), rd() & 0xffff);
}

// The journal's rollouts; none when it cannot be replayed (then there is nothing to resume).
std::vector<journal::RolloutRecord> rollouts_of(const journal::Journal& j) {
  auto rollouts = journal::replay(j.records());
  return rollouts ? std::move(*rollouts) : std::vector<journal::RolloutRecord>{};
}

// Fills the options of one run from the journal and the engines; returns an exit code instead
// when there is nothing to run. A stop with options.resume set releases the lock that rollout
// left behind.
using Prepare =
    std::function<std::optional<int>(App&, const journal::Journal&, rollout::ApplyOptions&)>;

// What run_apply runs once the lock is held: a rollout, or a blue-green switch-back.
enum class Run { kApply, kSwitchBack };

int run_apply(const CommonOptions& o, App& app, const Prepare& prepare, Run what = Run::kApply) {
  const auto& m = app.m;
  auto& fleet = *app.fleet;
  auto journal = journal::Journal::open(rollout::journal_file(app.dir));
  if (!journal) {
    std::fprintf(stderr, "rollgate: journal %s: %s; nothing was changed\n",
                 rollout::journal_file(app.dir).c_str(), journal.status().message().c_str());
    return code(ExitCode::kInternal);
  }
  if (auto other = rollout::running_apply(app.dir)) {
    std::fprintf(stderr,
                 "rollgate: another apply of %s is running on this machine (pid %d); wait for "
                 "it, or steer it with rollgate pause|resume|rollback|promote\n",
                 m.app.c_str(), static_cast<int>(*other));
    return code(ExitCode::kLocked);
  }
  rollout::PidFile pid_file(app.dir);

  rollout::JsonLinesSink json_sink(stdout, fleet.clock);
  rollout::TextSink text_sink(stdout, o.verbose);
  rollout::EventSink& sink =
      o.output == "json" ? static_cast<rollout::EventSink&>(json_sink) : text_sink;
  rollout::FileControl control(rollout::control_file(app.dir), fleet.clock);
  rollout::EngineExec exec(engine_map(fleet));  // outlives the controller and its probes
  rollout::Controller controller(m, fleet.bindings, rollout::make_probes(m.health, &exec),
                                 fleet.clock, sink, &control, &*journal);
  controller.set_router(fleet.router.get());
  rollout::ApplyOptions options;
  options.image = m.image;
  options.rollout_id = new_rollout_id(fleet.clock.wall_now());
  options.pull_concurrency = static_cast<size_t>(m.strategy.pull_concurrency);
  options.progress_deadline = m.health.progress_deadline;
  options.bake = m.health.bake;
  options.max_failure_ratio = m.health.max_failure_ratio;
  options.manifest_path = o.manifest_path;
  docker::Engine* lock_engine = rollout::lock_engine_of(m, fleet.bindings);
  if (auto stop = prepare(app, *journal, options)) {
    if (options.resume && lock_engine) {
      auto released =
          run(fleet, rollout::release_stale_lock(*lock_engine, m.app, options.resume->rollout_id,
                                                 fleet.clock, *journal));
      if (!released) {
        std::fprintf(stderr, "rollgate: %s\n", released.status().message().c_str());
      } else if (*released) {
        std::printf("released the lock rollout %s left behind\n",
                    options.resume->rollout_id.c_str());
      }
    }
    return *stop;
  }
  const std::string rollout_id = options.rollout_id;

  // One rollout per app across machines: the lock lives on the manifest's first host (by name)
  // as a labelled container (rollout/lock.h). Taken before pre-flight, so two applies never
  // pull or plan at the same time; released whatever the outcome. (Before the signal handlers
  // are armed: a pending signal wait would keep this run's io_context from returning.)
  if (!lock_engine) {
    std::fprintf(stderr, "rollgate: no host to hold the lock\n");
    return code(ExitCode::kBadInput);
  }
  rollout::SessionRequest request{m.app,        options.image, rollout_id,  rollout::local_holder(),
                                  o.lock_lease, o.lock_wait,   std::nullopt};
  if (options.resume) {
    request.resume_of = options.resume->rollout_id;
  }
  auto lock =
      run(fleet, rollout::acquire_session(*lock_engine, std::move(request), fleet.clock, *journal));
  if (!lock) {
    const bool held = lock.status().code() == Code::kConflict;
    std::fprintf(stderr, "rollgate: %s%s; nothing was changed\n", lock.status().message().c_str(),
                 held ? fmt::format("; wait with --lock-wait DURATION, or if the holder is dead: "
                                    "rollgate unlock -f {} --force",
                                    o.manifest_path)
                            .c_str()
                      : "");
    return code(held                                      ? ExitCode::kLocked
                : lock.status().code() == Code::kInternal ? ExitCode::kInternal
                                                          : ExitCode::kPreflight);
  }
  if (lock->taken_over) {
    std::fprintf(stderr, "rollgate: took over an expired lock: %s\n",
                 lock->taken_over->describe(fleet.clock.wall_now()).c_str());
  }
  controller.set_lock(lock_engine, *lock);

  // SIGINT/SIGTERM (a CI abort): the first finishes or reverts the batch in flight and exits 4;
  // a second stops at once. The journal is fsynced record by record, so it is consistent either
  // way; the second signal adds an end record saying so.
  boost::asio::signal_set signals(fleet.io, SIGINT, SIGTERM);
  int signals_seen = 0;
  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& ec, int signo) {
        if (ec) {
          return;
        }
        if (++signals_seen == 1) {
          std::fprintf(stderr,
                       "\nrollgate: %s: finishing or reverting the batch in flight, then "
                       "stopping (send it again to stop at once)\n",
                       strsignal(signo));
          control.request_stop();
          signals.async_wait(on_signal);
          return;
        }
        std::fprintf(stderr,
                     "\nrollgate: %s again: stopping now (releasing the lock first, 2s at "
                     "most)\n",
                     strsignal(signo));
        auto ended = journal->append(journal::EndRecord{
            rollout_id, fleet.clock.wall_now(), journal::EndResult::kPaused,
            code(ExitCode::kPaused),
            "stopped at once by a second signal; run rollgate status, then apply again"});
        if (!ended) {
          std::fprintf(stderr, "rollgate: %s\n", ended.message().c_str());
        }
        std::fflush(stdout);
        // The engine lock outlives this process otherwise, and blocks the next apply until
        // its lease ends. Whichever finishes first, the release or 2 s, ends the process; the
        // revert the first signal started may go on meanwhile, which is no worse than cutting
        // it off earlier.
        boost::asio::co_spawn(
            fleet.io,
            [&]() -> Task<void> {
              using namespace boost::asio::experimental::awaitable_operators;
              auto released = co_await (rollout::release(*lock_engine, *lock) ||
                                        fleet.clock.sleep_for(std::chrono::seconds(2)));
              if (released.index() == 1 || !std::get<0>(released)) {
                std::fprintf(stderr,
                             "rollgate: the lock was not released; rollgate unlock -f "
                             "MANIFEST --force frees it\n");
              }
              std::_Exit(code(ExitCode::kPaused));
            },
            boost::asio::detached);
      };
  signals.async_wait(on_signal);

  auto outcome = run(fleet, [&]() -> Task<rollout::Outcome> {
    rollout::Outcome out;
    if (what == Run::kSwitchBack) {
      out = co_await controller.switch_back(rollout_id);
    } else {
      out = co_await controller.apply(std::move(options));
    }
    signals.cancel();
    auto released = co_await rollout::release(*lock_engine, *lock);
    if (!released) {
      std::fprintf(stderr, "rollgate: warning: releasing the lock: %s\n",
                   released.message().c_str());
    }
    co_return out;
  }());
  if (o.output != "json") {
    std::printf("\nrollgate: exit %d: %s\n", code(outcome.code), outcome.summary.c_str());
  }
  return code(outcome.code);
}

constexpr Needs kDeploy{Needs::State::kCreate, true};

}  // namespace

int apply(const CommonOptions& o, const std::string& image_override) {
  auto app = load_app(o, kDeploy);
  if (!app) {
    return code(ExitCode::kBadInput);
  }
  return run_apply(
      o, *app,
      [&](App&, const journal::Journal&, rollout::ApplyOptions& options) -> std::optional<int> {
        if (!image_override.empty()) {
          options.image = image_override;
        }
        return std::nullopt;
      });
}

int resume(const CommonOptions& o) {
  auto app = load_app(o, {Needs::State::kCreate, false});
  if (!app) {
    return code(ExitCode::kBadInput);
  }
  if (rollout::running_apply(app->dir)) {
    return request(o, "resume");
  }
  if (!connect(*app)) {
    return code(ExitCode::kBadInput);
  }
  return run_apply(
      o, *app,
      [](App& app, const journal::Journal& j,
         rollout::ApplyOptions& options) -> std::optional<int> {
        auto d = rollout::decide_resume(rollouts_of(j));
        using Kind = rollout::ResumeDecision::Kind;
        if (d.kind == Kind::kEnded) {
          // Already over (e.g. killed just after its end record): report how it
          // ended, with its code, so that `apply || resume` in CI still tells what
          // happened.
          std::printf("nothing to resume: rollout %s of %s already ended %s: %s\n",
                      d.last->rollout.c_str(), app.m.app.c_str(),
                      journal::result_name(d.last->end->result), d.last->end->summary.c_str());
          options.resume =
              rollout::ResumeOf{d.last->rollout, d.last->start ? d.last->start->revision : 0};
          return d.last->end->exit_code;
        }
        if (d.kind == Kind::kNothing) {
          std::fprintf(stderr, "rollgate resume: nothing to resume for %s: %s\n", app.m.app.c_str(),
                       d.reason.c_str());
          return code(ExitCode::kBadInput);
        }
        rollout::prepare_resume(*d.last, options);
        std::printf("resuming rollout %s (revision %d, %s)%s\n", d.last->rollout.c_str(),
                    d.last->start->revision, d.last->start->pinned.c_str(),
                    options.rollback_only ? ": finishing its rollback" : "");
        return std::nullopt;
      });
}

int rollback(const CommonOptions& o, int to_revision) {
  auto app = load_app(o, {Needs::State::kCreate, false});
  if (!app) {
    return code(ExitCode::kBadInput);
  }
  if (to_revision == 0 && rollout::running_apply(app->dir)) {
    return request(o, "rollback");
  }
  if (to_revision == 0 && app->m.strategy.blue_green()) {
    std::fprintf(stderr,
                 "rollgate rollback: %s is blue-green: the previous colour is kept beside the live "
                 "one, so use rollgate switch-back -f %s (or rollback --to-revision N to deploy "
                 "an earlier revision as a new colour); nothing was changed\n",
                 app->m.app.c_str(), o.manifest_path.c_str());
    return code(ExitCode::kBadInput);
  }
  if (!connect(*app)) {
    return code(ExitCode::kBadInput);
  }
  return run_apply(
      o, *app,
      [&](App& app, const journal::Journal& j,
          rollout::ApplyOptions& options) -> std::optional<int> {
        const auto rollouts = rollouts_of(j);
        auto choice = run(*app.fleet, rollout::choose_rollback(app.m, app.fleet->bindings, rollouts,
                                                               to_revision));
        if (!choice) {
          const auto c = choice.status().code();
          std::fprintf(stderr, "rollgate rollback: %s\n", choice.status().message().c_str());
          return code(c == Code::kFailedPrecondition || c == Code::kInvalidArgument
                          ? ExitCode::kBadInput
                          : ExitCode::kPreflight);
        }
        if (choice->kind == rollout::RollbackChoice::Kind::kFinishRollout) {
          std::printf("rolling back rollout %s (revision %d)\n", choice->rollout.c_str(),
                      choice->revision);
          rollout::prepare_resume(*rollout::last_rollout(rollouts), options);
          options.rollback_only = true;
          return std::nullopt;
        }
        options.image = choice->pinned;
        options.require_local_image = true;
        std::printf("rolling back %s to revision %d (%s)\n", app.m.app.c_str(), choice->revision,
                    options.image.c_str());
        return std::nullopt;
      });
}

int switch_back(const CommonOptions& o) {
  auto app = load_app(o, {Needs::State::kCreate, false});
  if (!app) {
    return code(ExitCode::kBadInput);
  }
  if (!app->m.strategy.blue_green()) {
    std::fprintf(stderr,
                 "rollgate switch-back: %s: strategy.type is %s; switch-back needs blue-green "
                 "(use rollgate rollback for a rolling update); nothing was changed\n",
                 o.manifest_path.c_str(), app->m.strategy.type.c_str());
    return code(ExitCode::kBadInput);
  }
  if (!connect(*app)) {
    return code(ExitCode::kBadInput);
  }
  return run_apply(
      o, *app,
      [](App&, const journal::Journal&, rollout::ApplyOptions&) -> std::optional<int> {
        return std::nullopt;
      },
      Run::kSwitchBack);
}

}  // namespace orch::cli
