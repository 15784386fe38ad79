// The `rollgate` commands. main.cc parses arguments (CLI11) into these structs and calls the
// functions; each returns the process exit code from the contract in DESIGN.md. They only parse,
// call rollout APIs and print: inspect.cc (validate, plan, status, ping, history), deploy.cc
// (apply, resume, rollback, switch-back), control.cc (requests to a running apply, unlock);
// app.h loads and connects, render.h prints.
#pragma once

#include <chrono>
#include <string>

namespace orch::cli {

struct CommonOptions {
  std::string manifest_path;
  std::string output = "text";             // "text" or "json"
  bool verbose = false;                    // text output: also show every probe round
  std::string state_dir;                   // "" -> journal::default_state_dir()
  std::chrono::milliseconds lock_wait{0};  // wait this long for the app's lock
  std::chrono::seconds lock_lease{3600};   // how long the lock is ours without question
};

int validate(const CommonOptions& o);
int plan(const CommonOptions& o, const std::string& image_override);
int apply(const CommonOptions& o, const std::string& image_override);
int status(const CommonOptions& o);
int ping(const CommonOptions& o);
int history(const CommonOptions& o);
// Shows the app's lock; with `force`, removes it (only when its holder is dead).
int unlock(const CommonOptions& o, bool force);
// Continue the running apply (if paused) or the journal's interrupted/paused rollout.
int resume(const CommonOptions& o);
// Roll the running apply back; or finish an interrupted/paused rollout's rollback; or return to
// revision `to_revision` (0: the one before the live one) if it is still on the hosts.
int rollback(const CommonOptions& o, int to_revision);

// Blue-green: make the other colour live again (restart, gate, switch the router, stop the
// colour that was live). Exit 0 switched, 3 abandoned (the live colour kept serving), 6 nothing
// to switch back to.
int switch_back(const CommonOptions& o);
// pause | resume | rollback | promote: a request to the apply running for the app.
int request(const CommonOptions& o, const std::string& command);

}  // namespace orch::cli
