// The `rollgate` commands. main.cc parses arguments (CLI11) into these structs and calls the
// functions; each returns the process exit code from the contract in DESIGN.md.
#pragma once

#include <string>

namespace orch::cli {

struct CommonOptions {
  std::string manifest_path;
  std::string output = "text";  // "text" or "json"
  bool verbose = false;         // text output: also show every probe round
  std::string state_dir;        // "" -> journal::default_state_dir()
};

int validate(const CommonOptions& o);
int plan(const CommonOptions& o, const std::string& image_override);
int apply(const CommonOptions& o, const std::string& image_override);
int status(const CommonOptions& o);
int ping(const CommonOptions& o);
int history(const CommonOptions& o);
// Continue the running apply (if paused) or the journal's interrupted/paused rollout.
int resume(const CommonOptions& o);
// Roll the running apply back; or finish an interrupted/paused rollout's rollback; or return to
// revision `to_revision` (0: the one before the live one) if it is still on the hosts.
int rollback(const CommonOptions& o, int to_revision);
// pause | resume | rollback | promote: a request to the apply running for the app.
int request(const CommonOptions& o, const std::string& command);

}  // namespace orch::cli
