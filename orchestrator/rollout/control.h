// Operator control of a running apply: pause, resume, rollback, promote, and stop (a signal).
//
// `rollgate pause|resume|rollback|promote -f M`, run from another terminal, writes a request
// file in the app's state directory (atomically: temp file + rename). The running apply polls
// its Control at every gate check and between batches, so a request takes effect within one
// probe interval. A signal (SIGINT/SIGTERM, e.g. a CI abort) arrives as kStop through the same
// seam. Requests written before the apply started are ignored, so a stale file cannot steer a
// new rollout.
#pragma once

#include <atomic>
#include <string>

#include "orchestrator/core/clock.h"

namespace orch::rollout {

enum class Command { kNone, kPause, kResume, kRollback, kPromote, kStop };

const char* to_string(Command c);
// "pause" -> kPause, ...; kNone for anything else.
Command command_from_string(const std::string& s);

class Control {
 public:
  virtual ~Control() = default;
  // The next pending command, consumed; kNone when there is none.
  virtual Command poll() = 0;
};

// No operator: only what the controller decides itself.
class NoControl final : public Control {
 public:
  Command poll() override { return Command::kNone; }
};

// Requests from a file (written by write_request) plus stop requests from signal handlers.
// Thread-safety: request_stop() may be called from any thread or a signal handler; poll() from
// the io_context thread only.
class FileControl final : public Control {
 public:
  // `path`: the request file, e.g. <state>/<app>/control. Requests written before `clock`'s
  // wall time at construction are ignored (and removed).
  FileControl(std::string path, const Clock& clock);

  Command poll() override;
  void request_stop() { stop_.store(true); }

 private:
  std::string path_;
  long long since_ms_;
  std::atomic<bool> stop_{false};
  bool stop_reported_ = false;
};

// Writes a request for the running apply of an app, stamped with `clock`'s wall time. Returns ""
// or an error message.
std::string write_request(const std::string& path, Command c, const Clock& clock);

}  // namespace orch::rollout
