#include "orchestrator/cli/commands.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>

#include "healthcheck/observation.h"
#include "orchestrator/core/clock.h"
#include "orchestrator/core/duration.h"
#include "orchestrator/docker/http_engine.h"
#include "orchestrator/docker/image_ref.h"
#include "orchestrator/journal/journal.h"
#include "orchestrator/journal/records.h"
#include "orchestrator/journal/replay.h"
#include "orchestrator/manifest/parse.h"
#include "orchestrator/rollout/async.h"
#include "orchestrator/rollout/control.h"
#include "orchestrator/rollout/controller.h"
#include "orchestrator/rollout/engine_exec.h"
#include "orchestrator/rollout/lock.h"
#include "orchestrator/rollout/plan.h"
#include "orchestrator/rollout/resume.h"
#include "orchestrator/router/router.h"

namespace orch::cli {

namespace {

namespace net = boost::asio;
using nlohmann::json;
using rollout::ExitCode;

int code(ExitCode c) { return static_cast<int>(c); }

std::optional<manifest::Manifest> load(const CommonOptions& o) {
  auto loaded = manifest::load_manifest(o.manifest_path);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) {
      std::fprintf(stderr, "%s: %s\n", o.manifest_path.c_str(), e.to_string().c_str());
    }
    std::fprintf(stderr, "%s: %zu error(s); nothing was changed\n", o.manifest_path.c_str(),
                 loaded.errors.size());
    return std::nullopt;
  }
  return std::move(*loaded.manifest);
}

// The engines of a manifest, connected to one io_context.
struct Fleet {
  net::io_context io;
  std::vector<std::unique_ptr<docker::Engine>> engines;
  std::vector<rollout::HostBinding> bindings;
  SystemClock clock;
  std::unique_ptr<router::Router> router;  // the manifest's router; nullptr: none
};

std::unique_ptr<Fleet> connect(const manifest::Manifest& m) {
  auto fleet = std::make_unique<Fleet>();
  // Registry credentials (docs/tls.md): ~/.docker/config.json, and registry_auth.env for the
  // manifest image's registry. Messages name the file or variable, never the secret.
  auto auth = docker::load_registry_auth(m.image, m.registry_auth ? m.registry_auth->env : "");
  if (!auth) {
    std::fprintf(stderr, "%s\n", auth.status().message().c_str());
    return nullptr;
  }
  docker::HttpEngineOptions options;
  options.registry_auth = std::make_shared<const docker::RegistryAuth>(std::move(*auth));
  for (const auto& h : m.hosts) {
    auto ep = docker::parse_endpoint(h.engine);
    if (!ep) {
      // Validation already checked the syntax; this is the transport's own check.
      std::fprintf(stderr, "hosts[%s].engine: %s\n", h.name.c_str(), ep.status().message().c_str());
      return nullptr;
    }
    if (h.tls) {
      ep->tls = docker::resolve_tls_files(h.tls->ca, h.tls->cert, h.tls->key, h.tls->cert_path);
    }
    fleet->engines.push_back(docker::make_http_engine(fleet->io, h.name, *ep, options));
    fleet->bindings.push_back(rollout::HostBinding{h.name, h.address, fleet->engines.back().get()});
  }
  if (m.router) {
    fleet->router = router::make_router(m, fleet->clock);
  }
  return fleet;
}

// Host name -> engine, for the exec probe (rollout::EngineExec).
std::map<std::string, docker::Engine*> engine_map(const Fleet& fleet) {
  std::map<std::string, docker::Engine*> engines;
  for (const auto& b : fleet.bindings) {
    engines[b.name] = b.engine;
  }
  return engines;
}

// Runs one coroutine to completion on the fleet's io_context.
template <class T>
T run(Fleet& fleet, Task<T> task) {
  std::optional<T> out;
  std::exception_ptr error;
  net::co_spawn(fleet.io, std::move(task), [&](std::exception_ptr e, T value) {
    error = e;
    if (!e) {
      out.emplace(std::move(value));
    }
  });
  fleet.io.restart();  // the fleet's io_context serves several runs in one command
  fleet.io.run();
  if (error) {
    std::rethrow_exception(error);
  }
  return std::move(*out);
}

std::string new_rollout_id() {
  std::random_device rd;
  return fmt::format("{:%Y%m%d-%H%M%S}-{:04x}", fmt::gmtime(std::chrono::system_clock::now()),
                     rd() & 0xffff);
}

std::string short_digest(const std::string& d) {
  return d.size() > 19 ? d.substr(0, 19) : d;  // "sha256:" + 12 hex
}

void print_json(const json& j) {
  std::printf("%s\n", j.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
}

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
  }
  for (const auto& hp : p.unchanged) {
    j["unchanged"].push_back(hp.host);
  }
  for (const auto& b : p.batches) {
    json batch = {{"batch", b.index}, {"hosts", json::array()}};
    for (const auto& hp : b.hosts) {
      json h = {
          {"host", hp.host},
          {"mode", hp.mode == rollout::HostPlan::Mode::kFirstDeploy ? "first-deploy" : "replace"},
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
  if (p.blue_green) {
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

}  // namespace

int validate(const CommonOptions& o) {
  auto m = load(o);
  if (!m) {
    return code(ExitCode::kBadInput);
  }
  std::printf("%s: ok (app %s, %zu host(s), image %s)\n", o.manifest_path.c_str(), m->app.c_str(),
              m->hosts.size(), m->image.c_str());
  return 0;
}

int plan(const CommonOptions& o, const std::string& image_override) {
  auto m = load(o);
  if (!m) {
    return code(ExitCode::kBadInput);
  }
  auto fleet = connect(*m);
  if (!fleet) {
    return code(ExitCode::kBadInput);
  }
  SystemClock clock;
  rollout::RecordingSink quiet;
  rollout::Controller controller(*m, fleet->bindings, {}, clock, quiet);
  controller.set_router(fleet->router.get());
  const std::string image = image_override.empty() ? m->image : image_override;
  auto result = run(*fleet, controller.preview(image, "planned"));
  if (!result) {
    std::fprintf(stderr, "rollgate plan: %s\n", result.status().message().c_str());
    return code(result.status().code() == Code::kInvalidArgument ? ExitCode::kBadInput
                                                                 : ExitCode::kPreflight);
  }
  if (o.output == "json") {
    print_json(plan_json(*result, *m));
  } else {
    print_plan_text(*result, *m);
  }
  return 0;
}

namespace {

// <state>/<app>: the journal, the control file and the pid of a running apply live here.
Result<std::string> app_state_dir(const CommonOptions& o, const std::string& app) {
  std::string root = o.state_dir;
  if (root.empty()) {
    auto d = journal::default_state_dir();
    if (!d) {
      return d.status();
    }
    root = *d;
  }
  std::string dir = root + "/" + app;
  auto made = journal::make_dirs(dir);
  if (!made) {
    return made;
  }
  return dir;
}

// The manifest and the app's state directory, or nullopt after saying why on stderr.
struct AppContext {
  manifest::Manifest m;
  std::string dir;
};

std::optional<AppContext> load_app(const CommonOptions& o) {
  auto m = load(o);
  if (!m) {
    return std::nullopt;
  }
  auto dir = app_state_dir(o, m->app);
  if (!dir) {
    std::fprintf(stderr, "rollgate: state directory: %s; nothing was changed\n",
                 dir.status().message().c_str());
    return std::nullopt;
  }
  return AppContext{std::move(*m), std::move(*dir)};
}

long long unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The pid of the apply running for this app on this machine, if one is alive.
std::optional<pid_t> running_apply(const std::string& dir) {
  std::ifstream in(dir + "/apply.pid");
  long pid = 0;
  if (!(in >> pid) || pid <= 0) {
    return std::nullopt;
  }
  // Alive means: the process exists, is not a zombie (a parent that never reaps it keeps the
  // pid), and is a rollgate (the pid was not reused by something else).
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) {
    return std::nullopt;
  }
  auto close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size() || line[close + 2] == 'Z' ||
      line.find("(rollgate)") == std::string::npos) {
    return std::nullopt;
  }
  return static_cast<pid_t>(pid);
}

// Records this process as the app's running apply for as long as it lives.
class PidFile {
 public:
  explicit PidFile(std::string path) : path_(std::move(path)) {
    std::ofstream out(path_, std::ios::trunc);
    out << ::getpid() << "\n";
  }
  ~PidFile() { std::remove(path_.c_str()); }
  PidFile(const PidFile&) = delete;
  PidFile& operator=(const PidFile&) = delete;

 private:
  std::string path_;
};

}  // namespace

// Fills the options of one run from the manifest, the journal and the engines; returns an exit
// code instead when there is nothing to run. Used by apply, resume and rollback.
using Prepare = std::function<std::optional<int>(const manifest::Manifest&, Fleet&,
                                                 const journal::Journal&, rollout::ApplyOptions&)>;

// The engine that holds the app's lock (rollout/lock.h: the first host by name), or null.
docker::Engine* lock_engine_of(const manifest::Manifest& m, const Fleet& fleet) {
  auto lock_on = rollout::lock_host(m);
  for (const auto& b : fleet.bindings) {
    if (lock_on && b.name == *lock_on) {
      return b.engine;
    }
  }
  return nullptr;
}

// A rollout that ended but was killed before it released its lock leaves the lock behind:
// resume finds it ended and, instead of continuing, removes that rollout's lock (never another
// rollout's) and journals it.
void release_stale_lock(const manifest::Manifest& m, Fleet& fleet, journal::Journal& journal,
                        const std::string& rollout_id) {
  docker::Engine* engine = lock_engine_of(m, fleet);
  if (!engine) {
    return;
  }
  auto held = run(fleet, rollout::inspect_lock(*engine, m.app));
  if (!held || held->rollout != rollout_id) {
    return;
  }
  auto removed = run(fleet, rollout::force_unlock(*engine, m.app));
  if (removed) {
    const auto now = std::chrono::system_clock::now();
    std::printf("released the lock rollout %s left behind\n", rollout_id.c_str());
    (void)journal.append(journal::LockTakeoverRecord{
        rollout_id, now, removed->describe(now) + " (left behind by the ended rollout)",
        rollout::local_holder()});
  }
}

// What run_apply runs once the lock is held: a rollout, or a blue-green switch-back.
enum class Run { kApply, kSwitchBack };

int run_apply(const CommonOptions& o, const Prepare& prepare, Run what = Run::kApply) {
  auto m = load(o);
  if (!m) {
    return code(ExitCode::kBadInput);
  }
  auto fleet = connect(*m);
  if (!fleet) {
    return code(ExitCode::kBadInput);
  }
  auto dir = app_state_dir(o, m->app);
  if (!dir) {
    std::fprintf(stderr, "rollgate: state directory: %s; nothing was changed\n",
                 dir.status().message().c_str());
    return code(ExitCode::kBadInput);
  }
  auto journal = journal::Journal::open(*dir + "/journal.log");
  if (!journal) {
    std::fprintf(stderr, "rollgate: journal %s/journal.log: %s; nothing was changed\n",
                 dir->c_str(), journal.status().message().c_str());
    return code(ExitCode::kInternal);
  }
  if (auto other = running_apply(*dir)) {
    std::fprintf(stderr,
                 "rollgate: another apply of %s is running on this machine (pid %d); wait for "
                 "it, or steer it with rollgate pause|resume|rollback|promote\n",
                 m->app.c_str(), static_cast<int>(*other));
    return code(ExitCode::kLocked);
  }
  PidFile pid_file(*dir + "/apply.pid");

  SystemClock clock;
  rollout::JsonLinesSink json_sink(stdout);
  rollout::TextSink text_sink(stdout, o.verbose);
  rollout::EventSink& sink =
      o.output == "json" ? static_cast<rollout::EventSink&>(json_sink) : text_sink;
  rollout::FileControl control(*dir + "/control", unix_ms_now());
  rollout::EngineExec exec(engine_map(*fleet));  // outlives the controller and its probes
  rollout::Controller controller(*m, fleet->bindings, rollout::make_probes(m->health, &exec), clock,
                                 sink, &control, &*journal);
  controller.set_router(fleet->router.get());
  rollout::ApplyOptions options;
  options.image = m->image;
  options.rollout_id = new_rollout_id();
  options.progress_deadline = m->health.progress_deadline;
  options.bake = m->health.bake;
  options.max_failure_ratio = m->health.max_failure_ratio;
  options.manifest_path = o.manifest_path;
  if (auto stop = prepare(*m, *fleet, *journal, options)) {
    if (options.resume) {
      release_stale_lock(*m, *fleet, *journal, options.resume->rollout_id);
    }
    return *stop;
  }
  const std::string rollout_id = options.rollout_id;

  // One rollout per app across machines: the lock lives on the manifest's first host (by name)
  // as a labelled container (rollout/lock.h). Taken before pre-flight, so two applies never
  // pull or plan at the same time; released whatever the outcome. (Before the signal handlers
  // are armed: a pending signal wait would keep this run's io_context from returning.)
  docker::Engine* lock_engine = lock_engine_of(*m, *fleet);
  if (!lock_engine) {
    std::fprintf(stderr, "rollgate: no host to hold the lock\n");
    return code(ExitCode::kBadInput);
  }
  auto lock = run(*fleet, [&]() -> Task<Result<rollout::LockHandle>> {
    auto image = co_await rollout::lock_image(*lock_engine, m->app, options.image);
    if (!image) {
      co_return image.status();
    }
    rollout::LockRequest request{m->app, rollout::local_holder(), rollout_id, o.lock_lease, *image};
    auto acquired = co_await rollout::acquire(*lock_engine, request, clock, o.lock_wait);
    if (acquired || acquired.status().code() != Code::kConflict || !options.resume) {
      co_return acquired;
    }
    // Resuming rollout R after a kill: the lock is still held by R's dead process (no apply of
    // the app runs on this machine, checked above). The lock is R's, so R takes it back.
    auto held = co_await rollout::inspect_lock(*lock_engine, m->app);
    if (!held || held->rollout != options.resume->rollout_id) {
      co_return acquired;
    }
    auto removed = co_await rollout::force_unlock(*lock_engine, m->app);
    if (!removed) {
      co_return removed.status();
    }
    const auto now = std::chrono::system_clock::now();
    (void)journal->append(journal::LockTakeoverRecord{
        rollout_id, now, removed->describe(now) + " (the interrupted run of this rollout)",
        rollout::local_holder()});
    co_return co_await rollout::acquire(*lock_engine, std::move(request), clock, o.lock_wait);
  }());
  if (!lock) {
    const bool held = lock.status().code() == Code::kConflict;
    std::fprintf(stderr, "rollgate: %s%s; nothing was changed\n", lock.status().message().c_str(),
                 held ? fmt::format("; wait with --lock-wait DURATION, or if the holder is dead: "
                                    "rollgate unlock -f {} --force",
                                    o.manifest_path)
                            .c_str()
                      : "");
    return code(held ? ExitCode::kLocked : ExitCode::kPreflight);
  }
  if (lock->taken_over) {
    const auto now = std::chrono::system_clock::now();
    std::fprintf(stderr, "rollgate: took over an expired lock: %s\n",
                 lock->taken_over->describe(now).c_str());
    (void)journal->append(journal::LockTakeoverRecord{
        rollout_id, now, lock->taken_over->holder + " (rollout " + lock->taken_over->rollout + ")",
        rollout::local_holder()});
  }

  // SIGINT/SIGTERM (a CI abort): the first finishes or reverts the batch in flight and exits 4;
  // a second stops at once. The journal is fsynced record by record, so it is consistent either
  // way; the second signal adds an end record saying so.
  net::signal_set signals(fleet->io, SIGINT, SIGTERM);
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
        std::fprintf(stderr, "\nrollgate: %s again: stopping now\n", strsignal(signo));
        (void)journal->append(journal::EndRecord{
            rollout_id, std::chrono::system_clock::now(), journal::EndResult::kPaused,
            code(ExitCode::kPaused),
            "stopped at once by a second signal; run rollgate status, then apply again"});
        std::fflush(stdout);
        std::_Exit(code(ExitCode::kPaused));
      };
  signals.async_wait(on_signal);

  auto outcome = run(*fleet, [&]() -> Task<rollout::Outcome> {
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

int unlock(const CommonOptions& o, bool force) {
  auto app = load_app(o);
  if (!app) {
    return code(ExitCode::kBadInput);
  }
  auto fleet = connect(app->m);
  if (!fleet) {
    return code(ExitCode::kBadInput);
  }
  docker::Engine* engine = lock_engine_of(app->m, *fleet);
  if (!engine) {
    std::fprintf(stderr, "rollgate unlock: no host to hold the lock\n");
    return code(ExitCode::kBadInput);
  }
  const auto now = std::chrono::system_clock::now();
  if (!force) {
    auto info = run(*fleet, rollout::inspect_lock(*engine, app->m.app));
    if (!info) {
      std::printf(
          "%s: %s\n", app->m.app.c_str(),
          info.status().code() == Code::kNotFound ? "not locked" : info.status().message().c_str());
      return info.status().code() == Code::kNotFound ? 0 : code(ExitCode::kPreflight);
    }
    std::printf(
        "%s is locked on %s: %s\nTo remove it (only if that holder is dead): rollgate "
        "unlock -f %s --force\n",
        app->m.app.c_str(), info->host.c_str(), info->describe(now).c_str(),
        o.manifest_path.c_str());
    return code(ExitCode::kLocked);
  }
  auto removed = run(*fleet, rollout::force_unlock(*engine, app->m.app));
  if (!removed) {
    std::fprintf(stderr, "rollgate unlock: %s\n", removed.status().message().c_str());
    return removed.status().code() == Code::kNotFound ? 0 : code(ExitCode::kPreflight);
  }
  auto journal = journal::Journal::open(app->dir + "/journal.log");
  if (journal) {
    (void)journal->append(journal::LockTakeoverRecord{"unlock", now, removed->describe(now),
                                                      rollout::local_holder()});
  }
  std::printf("removed the lock of %s on %s: %s\n", app->m.app.c_str(), removed->host.c_str(),
              removed->describe(now).c_str());
  return 0;
}

int apply(const CommonOptions& o, const std::string& image_override) {
  return run_apply(o,
                   [&](const manifest::Manifest&, Fleet&, const journal::Journal&,
                       rollout::ApplyOptions& options) -> std::optional<int> {
                     if (!image_override.empty()) {
                       options.image = image_override;
                     }
                     return std::nullopt;
                   });
}

namespace {

// The newest rollout in the journal, if any.
std::optional<journal::RolloutRecord> last_rollout(const journal::Journal& j) {
  auto rollouts = journal::replay(j.records());
  if (!rollouts) {
    return std::nullopt;
  }
  // The newest group that is a rollout (an unlock's takeover record is not).
  for (auto it = rollouts->rbegin(); it != rollouts->rend(); ++it) {
    if (it->start || it->end) {
      return *it;
    }
  }
  return std::nullopt;
}

}  // namespace

namespace {

std::optional<int> prepare_resume_run(const manifest::Manifest& m, const journal::Journal& j,
                                      rollout::ApplyOptions& options) {
  auto last = last_rollout(j);
  if (last && last->end && !rollout::resumable(*last)) {
    // Already over (e.g. killed just after its end record): report how it ended, with its code,
    // so that `apply || resume` in CI still tells what happened.
    std::printf("nothing to resume: rollout %s of %s already ended %s: %s\n", last->rollout.c_str(),
                m.app.c_str(), journal::result_name(last->end->result), last->end->summary.c_str());
    options.resume = rollout::ResumeOf{last->rollout, last->start ? last->start->revision : 0};
    return last->end->exit_code;
  }
  if (!last || !rollout::resumable(*last)) {
    std::fprintf(stderr, "rollgate resume: nothing to resume for %s: %s\n", m.app.c_str(),
                 !last ? "the journal has no rollout" : "the last rollout never started");
    return code(ExitCode::kBadInput);
  }
  rollout::prepare_resume(*last, options);
  std::printf("resuming rollout %s (revision %d, %s)%s\n", last->rollout.c_str(),
              last->start->revision, last->start->pinned.c_str(),
              options.rollback_only ? ": finishing its rollback" : "");
  return std::nullopt;
}

}  // namespace

int resume(const CommonOptions& o) {
  auto app = load_app(o);
  if (!app) {
    return code(ExitCode::kBadInput);
  }
  if (app->m.strategy.two_slots() && !running_apply(app->dir)) {
    std::fprintf(stderr,
                 "rollgate resume: %s rollouts are not resumed; run apply again: it sets aside "
                 "the new colour's containers the interrupted run left (they never received "
                 "traffic before the switch), or rollgate switch-back to return to the other "
                 "colour; nothing was changed\n",
                 app->m.strategy.blue_green() ? "blue-green" : "start-first");
    return code(ExitCode::kBadInput);
  }
  if (running_apply(app->dir)) {
    return request(o, "resume");
  }
  return run_apply(
      o, [](const manifest::Manifest& m, Fleet&, const journal::Journal& j,
            rollout::ApplyOptions& options) { return prepare_resume_run(m, j, options); });
}

int rollback(const CommonOptions& o, int to_revision) {
  auto app = load_app(o);
  if (!app) {
    return code(ExitCode::kBadInput);
  }
  if (to_revision == 0 && running_apply(app->dir)) {
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
  return run_apply(
      o,
      [&](const manifest::Manifest& m, Fleet& fleet, const journal::Journal& j,
          rollout::ApplyOptions& options) -> std::optional<int> {
        auto last = last_rollout(j);
        if (to_revision == 0 && last && rollout::resumable(*last) && m.strategy.two_slots()) {
          std::fprintf(stderr,
                       "rollgate rollback: the interrupted start-first rollout %s is not rolled "
                       "back from the journal; run apply again (it removes the unrouted new "
                       "container), or rollback --to-revision N; nothing was changed\n",
                       last->rollout.c_str());
          return code(ExitCode::kBadInput);
        }
        if (to_revision == 0 && last && rollout::resumable(*last)) {
          // An interrupted or paused rollout: put every host it touched back.
          std::printf("rolling back rollout %s (revision %d)\n", last->rollout.c_str(),
                      last->start->revision);
          rollout::prepare_resume(*last, options);
          options.rollback_only = true;
          return std::nullopt;
        }
        // Otherwise return to an earlier revision that is still on the hosts: its digest comes from
        // the labels of the containers kept for it.
        std::vector<std::string> filter{std::string(rollout::kLabelApp) + "=" + m.app};
        auto listed =
            run(fleet, [&]() -> Task<std::vector<Result<std::vector<docker::ContainerSummary>>>> {
              std::vector<Task<Result<std::vector<docker::ContainerSummary>>>> work;
              for (const auto& b : fleet.bindings) {
                work.push_back(b.engine->list_containers(filter));
              }
              co_return co_await rollout::gather(std::move(work));
            }());
        std::map<int, std::string> digests;  // revision -> digest, from kept containers
        int live = 0;
        for (size_t i = 0; i < listed.size(); ++i) {
          if (!listed[i]) {
            std::fprintf(stderr, "rollgate rollback: %s: %s; nothing was changed\n",
                         fleet.bindings[i].name.c_str(), listed[i].status().message().c_str());
            return code(ExitCode::kPreflight);
          }
          for (const auto& c : rollout::app_containers(*listed[i])) {
            if (c.failed() || c.digest.empty()) {
              continue;
            }
            digests[c.revision] = c.digest;
            if (c.name == m.app) {
              live = std::max(live, c.revision);
            }
          }
        }
        int target = to_revision;
        if (target == 0) {
          for (const auto& [rev, digest] : digests) {
            if (rev < live) {
              target = rev;
            }
          }
        }
        auto it = digests.find(target);
        if (target == 0 || it == digests.end()) {
          std::string kept;
          for (const auto& [rev, digest] : digests) {
            kept += (kept.empty() ? "" : ", ") + std::to_string(rev);
          }
          std::fprintf(
              stderr,
              "rollgate rollback: %s is not kept on any host (revisions on the hosts: %s); "
              "nothing was changed\n",
              target == 0 ? "no earlier revision" : ("revision " + std::to_string(target)).c_str(),
              kept.empty() ? "none" : kept.c_str());
          return code(ExitCode::kBadInput);
        }
        auto ref = docker::parse_image_ref(m.image);
        if (!ref) {
          std::fprintf(stderr, "rollgate rollback: image: %s\n", ref.status().message().c_str());
          return code(ExitCode::kBadInput);
        }
        options.image = ref->pinned(it->second);
        options.require_local_image = true;
        std::printf("rolling back %s to revision %d (%s)\n", m.app.c_str(), target,
                    options.image.c_str());
        return std::nullopt;
      });
}

int switch_back(const CommonOptions& o) {
  auto app = load_app(o);
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
  return run_apply(
      o,
      [](const manifest::Manifest&, Fleet&, const journal::Journal&,
         rollout::ApplyOptions&) -> std::optional<int> { return std::nullopt; },
      Run::kSwitchBack);
}

int request(const CommonOptions& o, const std::string& command) {
  auto app = load_app(o);
  if (!app) {
    return code(ExitCode::kBadInput);
  }
  const auto* m = &app->m;
  const auto* dir = &app->dir;
  auto pid = running_apply(*dir);
  if (!pid) {
    std::fprintf(stderr,
                 "rollgate %s: no apply of %s is running on this machine (state directory %s); "
                 "nothing to %s\n",
                 command.c_str(), m->app.c_str(), dir->c_str(), command.c_str());
    return code(ExitCode::kBadInput);
  }
  auto err = rollout::write_request(*dir + "/control", rollout::command_from_string(command));
  if (!err.empty()) {
    std::fprintf(stderr, "rollgate %s: %s\n", command.c_str(), err.c_str());
    return code(ExitCode::kInternal);
  }
  std::printf("requested %s of %s's running apply (pid %d); it acts at its next gate check\n",
              command.c_str(), m->app.c_str(), static_cast<int>(*pid));
  return 0;
}

int history(const CommonOptions& o) {
  auto app = load_app(o);
  if (!app) {
    return code(ExitCode::kBadInput);
  }
  const auto* m = &app->m;
  const auto* dir = &app->dir;
  auto records = journal::read_records(*dir + "/journal.log");
  if (!records) {
    std::fprintf(stderr, "rollgate history: %s\n", records.status().message().c_str());
    return code(ExitCode::kInternal);
  }
  auto rollouts = journal::replay(*records);
  if (!rollouts) {
    std::fprintf(stderr, "rollgate history: %s\n", rollouts.status().message().c_str());
    return code(ExitCode::kInternal);
  }
  auto rows = journal::history(*rollouts);
  json out = json::array();
  if (o.output != "json") {
    std::printf("%-22s %-4s %-20s %-17s %-24s %s\n", "ROLLOUT", "REV", "DIGEST", "RESULT",
                "STARTED (UTC)", "DURATION");
  }
  for (const auto& r : rows) {
    const std::string started = journal::format_ts(r.started);
    if (o.output == "json") {
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
  if (o.output == "json") {
    print_json(out);
  } else if (rows.empty()) {
    std::printf("no rollouts of %s recorded in %s\n", m->app.c_str(), dir->c_str());
  }
  return 0;
}

namespace {

// What the journal says about the app's last rollout, and what resume would do with it. Reads
// the journal without opening it for writing, so it never truncates a record being written.
void print_rollout_state(const CommonOptions& o, const manifest::Manifest& m) {
  std::string root = o.state_dir;
  if (root.empty()) {
    auto d = journal::default_state_dir();
    if (!d) {
      return;
    }
    root = *d;
  }
  const std::string dir = root + "/" + m.app;
  if (auto pid = running_apply(dir)) {
    std::printf(
        "\na rollout of %s is running now (pid %d); steer it with rollgate "
        "pause|resume|rollback|promote\n",
        m.app.c_str(), static_cast<int>(*pid));
    return;
  }
  auto records = journal::read_records(dir + "/journal.log");
  if (!records) {
    return;
  }
  auto rollouts = journal::replay(*records);
  if (!rollouts) {
    return;
  }
  for (auto it = rollouts->rbegin(); it != rollouts->rend(); ++it) {
    if (!it->start && !it->end) {
      continue;
    }
    const int revision = it->start ? it->start->revision : 0;
    if (!rollout::resumable(*it)) {
      std::printf("\nlast rollout %s (revision %d) ended %s\n", it->rollout.c_str(), revision,
                  it->end ? journal::result_name(it->end->result) : "before it started");
      return;
    }
    if (m.strategy.two_slots()) {
      // resume refuses these (commands.cc, resume()): say what works instead.
      std::printf("\nlast rollout %s (revision %d) %s: run `rollgate apply -f %s` again%s\n",
                  it->rollout.c_str(), revision,
                  it->end ? "is paused" : "was interrupted (no end record)",
                  o.manifest_path.c_str(),
                  m.strategy.blue_green()
                      ? fmt::format(", or `rollgate switch-back -f {}`", o.manifest_path).c_str()
                      : "");
      return;
    }
    rollout::ApplyOptions options;
    rollout::prepare_resume(*it, options);
    std::printf(
        "\nlast rollout %s (revision %d) %s: `rollgate resume -f %s` would re-read the "
        "engines and %s\n",
        it->rollout.c_str(), revision, it->end ? "is paused" : "was interrupted (no end record)",
        o.manifest_path.c_str(),
        options.rollback_only ? "finish its rollback" : "continue it from where each host is");
    return;
  }
}

}  // namespace

int status(const CommonOptions& o) {
  auto m = load(o);
  if (!m) {
    return code(ExitCode::kBadInput);
  }
  auto fleet = connect(*m);
  if (!fleet) {
    return code(ExitCode::kBadInput);
  }
  rollout::EngineExec exec(engine_map(*fleet));
  auto probes = rollout::make_probes(m->health, &exec);
  // Blue-green: the router says which colour serves (status shows what it says, or why not).
  std::optional<manifest::Colour> routed;
  std::string router_note;
  if (fleet->router && m->strategy.blue_green()) {
    auto live = run(*fleet, fleet->router->live_colour());
    if (live && *live) {
      routed = *live;
      router_note = fmt::format("router ({}): {} is live", fleet->router->kind(),
                                manifest::to_string(**live));
    } else {
      router_note = fmt::format("router ({}): cannot tell which colour is live{}",
                                fleet->router->kind(), live ? "" : ": " + live.status().message());
    }
  }
  struct Row {
    std::string host;
    Result<std::vector<docker::ContainerSummary>> containers;
    std::string live_name;  // the container serving the app on this host
    uint16_t live_port = 0;
    std::optional<docker::ContainerInfo> live;
    std::vector<health::ProbeResult> probes;
  };
  auto rows = run(*fleet, [&]() -> Task<std::vector<Row>> {
    std::vector<Task<Row>> work;
    for (const auto& b : fleet->bindings) {
      work.push_back([](const rollout::HostBinding* b, const manifest::Manifest* m,
                        std::optional<manifest::Colour> routed,
                        std::vector<std::unique_ptr<health::Probe>>* probes) -> Task<Row> {
        Row row{b->name, Status(), m->app, 0, std::nullopt, {}};
        std::vector<std::string> filter;
        filter.push_back(std::string(rollout::kLabelApp) + "=" + m->app);
        row.containers = co_await b->engine->list_containers(std::move(filter));
        if (row.containers && m->strategy.two_slots()) {
          auto apps = rollout::app_containers(*row.containers);
          std::optional<rollout::AppContainer> holder;
          if (m->strategy.blue_green()) {
            holder = routed ? rollout::slot_holder(m->app, *routed, apps) : std::nullopt;
            for (auto c : {manifest::Colour::kBlue, manifest::Colour::kGreen}) {
              auto h = rollout::slot_holder(m->app, c, apps);
              if (!holder && h && h->running()) {
                holder = h;  // the router cannot say: the running one
              }
            }
          } else {
            holder = rollout::live_container(m->app, apps);
          }
          row.live_name = holder ? holder->name : "";
          row.live_port = holder ? m->strategy.ports->of(holder->colour) : 0;
        }
        Result<docker::ContainerInfo> live = Status(Code::kNotFound, "no live container");
        if (!row.live_name.empty()) {
          live = co_await b->engine->inspect_container(row.live_name);
        }
        if (live) {
          row.live = std::move(*live);
          for (auto& p : *probes) {
            // A named argument: GCC 12 destroys a braced temporary inside co_await twice.
            health::Target target{b->name, b->address, row.live_name, row.live_port};
            row.probes.push_back(co_await p->run(std::move(target)));
          }
        }
        co_return row;
      }(&b, &*m, routed, &probes));
    }
    co_return co_await rollout::gather(std::move(work));
  }());

  int rc = 0;
  json out = json::array();
  const bool slots = m->strategy.two_slots();
  if (o.output != "json") {
    if (!router_note.empty()) {
      std::printf("%s\n", router_note.c_str());
    }
    std::printf("%-10s %-16s %-4s %-20s %-10s %s%s\n", "HOST", "CONTAINER", "REV", "DIGEST",
                "STATE", slots ? "SLOT         " : "", "HEALTH");
  }
  for (auto& row : rows) {
    if (!row.containers) {
      rc = code(ExitCode::kPreflight);
      if (o.output == "json") {
        out.push_back({{"host", row.host}, {"error", row.containers.status().message()}});
      } else {
        std::printf("%-10s unreachable: %s\n", row.host.c_str(),
                    row.containers.status().message().c_str());
      }
      continue;
    }
    auto apps = rollout::app_containers(*row.containers);
    // The live container first, then the kept revisions, newest first.
    std::stable_partition(apps.begin(), apps.end(),
                          [&](const rollout::AppContainer& c) { return c.name == row.live_name; });
    std::string health = "-";
    if (row.live) {
      bool pass = std::all_of(row.probes.begin(), row.probes.end(), [](const auto& p) {
        return p.outcome == health::ProbeResult::Outcome::kPass;
      });
      std::vector<std::string> details;
      for (const auto& p : row.probes) {
        details.push_back(p.probe + ": " + p.detail);
      }
      if (!row.live->state.health_status.empty()) {
        details.push_back("docker: " + row.live->state.health_status);
      }
      bool up = row.live->state.running && !row.live->state.restarting;
      health = fmt::format("{}{}", up && pass ? "healthy" : "unhealthy",
                           details.empty() ? "" : fmt::format(" ({})", fmt::join(details, ", ")));
    }
    json host = {{"host", row.host}, {"containers", json::array()}};
    if (m->strategy.blue_green()) {
      host["live_colour"] = routed ? json(manifest::to_string(*routed)) : json(nullptr);
      host["router"] = router_note;
    }
    if (apps.empty() && o.output != "json") {
      std::printf("%-10s %-16s\n", row.host.c_str(), "(no app container)");
    }
    bool first = true;
    for (const auto& c : apps) {
      bool is_live = c.name == row.live_name;
      json jc = {{"container", c.name}, {"revision", c.revision}, {"digest", c.digest},
                 {"state", c.state},    {"live", is_live},        {"rollout", c.rollout}};
      std::string slot;
      if (slots) {
        jc["colour"] = manifest::to_string(c.colour);
        jc["port"] = m->strategy.ports->of(c.colour);
        slot = fmt::format("{:<13}", fmt::format("{}:{}", manifest::to_string(c.colour),
                                                 m->strategy.ports->of(c.colour)));
      }
      if (is_live && row.live) {
        jc["health"] = health;
        jc["restart_count"] = row.live->restart_count;
      }
      host["containers"].push_back(jc);
      if (o.output != "json") {
        std::printf("%-10s %-16s %-4d %-20s %-10s %s%s\n", first ? row.host.c_str() : "",
                    c.name.c_str(), c.revision, short_digest(c.digest).c_str(), c.state.c_str(),
                    slot.c_str(), is_live ? health.c_str() : "");
      }
      first = false;
    }
    out.push_back(std::move(host));
  }
  if (o.output == "json") {
    print_json(out);
  } else {
    print_rollout_state(o, *m);
  }
  return rc;
}

int ping(const CommonOptions& o) {
  auto m = load(o);
  if (!m) {
    return code(ExitCode::kBadInput);
  }
  auto fleet = connect(*m);
  if (!fleet) {
    return code(ExitCode::kBadInput);
  }
  struct Row {
    std::string host;
    std::string engine;
    Status status;
    docker::VersionInfo version;
    double ms = 0;
  };
  auto rows = run(*fleet, [&]() -> Task<std::vector<Row>> {
    std::vector<Task<Row>> work;
    for (size_t i = 0; i < fleet->bindings.size(); ++i) {
      work.push_back([](const rollout::HostBinding* b, std::string engine) -> Task<Row> {
        Row row{b->name, std::move(engine), Status(), {}, 0};
        // Latency is a measurement of I/O, so the real clock is the right one here.
        auto t0 = std::chrono::steady_clock::now();
        auto p = co_await b->engine->ping();
        row.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                     .count();
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
      }(&fleet->bindings[i], m->hosts[i].engine));
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

}  // namespace orch::cli
