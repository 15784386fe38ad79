// cli::app: what every command starts with, written once. Load the manifest (printing every
// error), find the app's state directory, and connect the manifest's engines and router to one
// io_context; then run rollout API coroutines on it. Messages go to stderr; callers exit 2
// (bad input) when a step fails.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "orchestrator/cli/commands.h"
#include "orchestrator/core/clock.h"
#include "orchestrator/docker/engine.h"
#include "orchestrator/manifest/manifest.h"
#include "orchestrator/rollout/controller.h"
#include "orchestrator/router/router.h"

namespace orch::cli {

inline int code(rollout::ExitCode c) { return static_cast<int>(c); }

// The engines of a manifest, connected to one io_context, and the one clock of the process.
struct Fleet {
  boost::asio::io_context io;
  SystemClock clock;
  std::vector<std::unique_ptr<docker::Engine>> engines;
  std::vector<rollout::HostBinding> bindings;  // manifest order
  std::unique_ptr<router::Router> router;      // the manifest's router; nullptr: none
};

struct App {
  manifest::Manifest m;
  std::string dir;               // <state>/<app>; "" unless asked for
  std::unique_ptr<Fleet> fleet;  // null unless connected
};

// What load_app does beyond loading the manifest.
struct Needs {
  enum class State { kNone, kCreate } state = State::kNone;  // the state directory
  bool connect = false;                                      // the fleet
};

// The manifest, then (per `needs`) the state directory and the fleet; nullopt after saying on
// stderr why not.
std::optional<App> load_app(const CommonOptions& o, Needs needs);

// Connects the manifest's engines and router (registry credentials included); false after
// saying why on stderr.
bool connect(App& app);

// Host name -> engine, for the exec probe (rollout::EngineExec).
std::map<std::string, docker::Engine*> engine_map(const Fleet& fleet);

// Runs one coroutine to completion on the fleet's io_context (which serves several runs in one
// command). Rethrows what the coroutine threw: a bug, caught in main.
template <class T>
T run(Fleet& fleet, Task<T> task) {
  std::optional<T> out;
  std::exception_ptr error;
  boost::asio::co_spawn(fleet.io, std::move(task), [&](std::exception_ptr e, T value) {
    error = e;
    if (!e) {
      out.emplace(std::move(value));
    }
  });
  fleet.io.restart();
  fleet.io.run();
  if (error) {
    std::rethrow_exception(error);
  }
  return std::move(*out);
}

}  // namespace orch::cli
