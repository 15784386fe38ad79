// rollout::last_rollout: what the journal says about the app's last rollout, and what
// `rollgate resume` would do with it, as data. `status` shows it, `resume` and `rollback` act
// on it. Pure functions of the journal's replay (journal/replay.h).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "orchestrator/journal/replay.h"
#include "orchestrator/manifest/manifest.h"

namespace orch::rollout {

// The newest rollout in the journal: the newest group with a start or an end record (a group
// holding only an `unlock`'s takeover record is not a rollout). nullopt when there is none.
std::optional<journal::RolloutRecord> last_rollout(
    const std::vector<journal::RolloutRecord>& rollouts);

// The last rollout's state, and the command that takes it further.
struct RolloutState {
  enum class Phase {
    kEnded,        // it has an end record that is not "paused" (or it never started)
    kPaused,       // it ended paused
    kInterrupted,  // no end record: killed, crashed
  };
  enum class Next {
    kNothing,         // kEnded: nothing to continue
    kResume,          // `resume` re-reads the engines and continues it from where each host is
    kFinishRollback,  // `resume` re-reads the engines and finishes its decided rollback
  };
  std::string rollout;
  int revision = 0;  // 0 when the journal lost its start record
  Phase phase = Phase::kEnded;
  std::optional<journal::EndRecord> end;
  Next next = Next::kNothing;
};

RolloutState rollout_state(const journal::RolloutRecord& r);

// What `rollgate resume` does when no apply of the app is running.
struct ResumeDecision {
  enum class Kind {
    kContinue,  // `last` is resumable: prepare_resume(*last, options) and run it
    kEnded,     // `last` already ended (killed just after its end record): report its end and
                // exit with its code; release the lock it may have left behind
    kNothing,   // nothing to resume; `reason` says why
  };
  Kind kind = Kind::kNothing;
  std::optional<journal::RolloutRecord> last;
  std::string reason;
};

ResumeDecision decide_resume(const std::vector<journal::RolloutRecord>& rollouts);

const char* to_string(RolloutState::Phase p);  // "ended", "paused", "interrupted"
const char* to_string(RolloutState::Next n);   // "nothing", "resume", "finish_rollback", ...

}  // namespace orch::rollout
