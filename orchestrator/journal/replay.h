// journal::replay: from a journal's records back to what each rollout did. Pure.
//
// Records are grouped by their "rollout" id, rollouts in order of first appearance. For each,
// replay keeps the start record, per host the baseline and the last intent/outcome (and
// whether the last intent is "in doubt": written, but no outcome followed, so the engine
// call may or may not have happened -- a resume re-reads the engine to find out), every
// decision, finished batches, lock takeovers, and the end record.
//
// A rollout continued under the same id (e.g. resume after a pause) appends to the same
// group; `end` is the rollout's end record only when no other record of it followed, so a
// resume that crashed shows up as interrupted again. A second rollout_start for the same id
// is ignored: `start` says what the rollout first set out to do.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "orchestrator/core/status.h"
#include "orchestrator/journal/journal.h"
#include "orchestrator/journal/records.h"

namespace orch::journal {

struct HostState {
  std::string host;
  std::optional<std::string> baseline;  // the verdict measured before the rollout touched it
  std::optional<IntentRecord> last_intent;
  std::optional<OutcomeRecord> last_outcome;
  // The last intent has no outcome after it: the call may or may not have reached the engine.
  bool in_doubt = false;
};

struct RolloutRecord {
  std::string rollout;
  std::optional<StartRecord> start;  // absent if the journal lost it (e.g. started elsewhere)
  std::vector<HostState> hosts;      // in order of first mention
  std::vector<DecisionRecord> decisions;
  std::vector<int> batches_done;
  std::vector<LockTakeoverRecord> takeovers;
  std::optional<EndRecord> end;  // none: interrupted (crash, kill -9, power loss)
  WallTime started{};            // ts of the rollout's first record
  WallTime last_ts{};            // ts of its last record

  bool interrupted() const { return !end.has_value(); }
  // nullptr when no record named the host.
  const HostState* host(std::string_view name) const;
};

// Errors: kInternal naming the record's offset when a record lacks a field its type needs
// (written by an incompatible version; the checksum already ruled out damage).
Result<std::vector<RolloutRecord>> replay(const std::vector<Record>& records);

// One line of `rollgate history`.
struct HistoryRow {
  std::string rollout;
  int revision = 0;    // 0 when the start record is missing
  std::string digest;  // "" when the start record is missing
  std::string image;   // ""  when the start record is missing
  std::string result;  // result_name(end->result), or "interrupted"
  WallTime started{};
  std::chrono::milliseconds duration{
      0};  // to the end record, or to the last record when interrupted
};

// One row per rollout, oldest first.
std::vector<HistoryRow> history(const std::vector<RolloutRecord>& rollouts);

// The most recent rollout, when it has no end record. An interrupted rollout that a later
// rollout superseded is history, not something to resume, so it is not returned. A paused
// rollout has an end record (result kPaused) and is not "interrupted"; resume looks at both.
std::optional<RolloutRecord> last_interrupted(const std::vector<RolloutRecord>& rollouts);

}  // namespace orch::journal
