// rollout::app_state: an app's state directory on this machine and the apply running there.
//
// <state>/<app>/ holds the journal (journal.log), the control file that steers a running apply
// (control, rollout/control.h) and the pid of that apply (apply.pid). These are the calls
// behind `rollgate pause|resume|rollback|promote` and the "is an apply running?" checks of
// apply, resume, rollback and status. Nothing here prints. Thread-safety: none.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "orchestrator/core/status.h"
#include "orchestrator/rollout/control.h"

namespace orch::rollout {

// "<root>/<app>", root "" meaning journal::default_state_dir(). With `create`, the directory
// is made (0700) if needed. Errors: default_state_dir()'s, make_dirs()'s.
Result<std::string> app_state_dir(const std::string& root, const std::string& app, bool create);

std::string journal_file(const std::string& dir);  // <dir>/journal.log
std::string control_file(const std::string& dir);  // <dir>/control

// The pid in <dir>/apply.pid when that process is alive: it exists, is not a zombie (a parent
// that never reaps it keeps the pid), and its command name is `comm` (so a reused pid is not
// taken for an apply). `comm` is the executable's name; tests pass their own.
std::optional<pid_t> running_apply(const std::string& dir, const std::string& comm = "rollgate");

// Records this process as the app's running apply (<dir>/apply.pid) for as long as it lives.
class PidFile {
 public:
  explicit PidFile(const std::string& dir);
  ~PidFile();
  PidFile(const PidFile&) = delete;
  PidFile& operator=(const PidFile&) = delete;

 private:
  std::string path_;
};

// Asks the apply running for the app (running_apply(dir, comm)) to pause, resume, roll back or
// promote at its next gate check; returns its pid. The request is stamped with `clock`'s wall
// time. kFailedPrecondition when none is running (nothing is written); kInternal when the
// control file cannot be written.
Result<pid_t> request_running_apply(const std::string& dir, Command command, const Clock& clock,
                                    const std::string& comm = "rollgate");

}  // namespace orch::rollout
