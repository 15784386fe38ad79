// The journal's record types: what a rollout writes down, as plain structs (STYLE.md #9).
//
// Every record carries the rollout id and a wall-clock timestamp ("ts", RFC 3339 UTC with
// milliseconds). The builders (to_json) copy exactly the fields each struct names and
// nothing else, so a record can only hold what the controller put in the struct.
// Callers must not pass credentials: no registry auth, no env values, no TLS material.
// Intents carry the call line from rollout::describe() (method, path, image), never a
// container spec (whose env may hold secrets).
//
// Parsing (from_json) is strict (`j.at()`): a record that passed its checksum but lacks a
// field was written by an incompatible version, and parse returns kInternal naming the field.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "orchestrator/core/clock.h"
#include "orchestrator/core/status.h"

namespace orch::journal {

// The type byte on disk. Values are part of the file format: never renumber, only add.
enum class RecordType : uint8_t {
  kRolloutStart = 1,
  kIntent = 2,
  kOutcome = 3,
  kBaseline = 4,
  kDecision = 5,
  kBatchDone = 6,
  kRolloutEnd = 7,
  kLockTakeover = 8,
};

// "rollout_start", "intent", ...; "unknown" for values outside the enum.
const char* type_name(RecordType t);
// True when `b` is one of the RecordType values above.
bool known_type(uint8_t b);

// The first record of a rollout: what it set out to do.
struct StartRecord {
  std::string rollout;
  WallTime ts{};
  std::string app;
  std::string image;   // as written (or --image)
  std::string digest;  // "sha256:..."
  std::string pinned;  // repo@digest
  int revision = 0;
  std::vector<std::string> hosts;                 // every target host, manifest order
  std::string manifest_path;                      // as given on the command line
  std::vector<std::vector<std::string>> batches;  // plan summary: host names per batch
  std::vector<std::string> unchanged;             // hosts already on the digest
};

// Written and synced BEFORE an engine call (write-ahead).
struct IntentRecord {
  std::string rollout;
  WallTime ts{};
  std::string host;
  std::string call;       // rollout::describe(action): "POST /v1.41/containers/web/stop?t=10"
  std::string action;     // "stop", "rename", "create", "start", "remove", ...
  std::string container;  // the container acted on (name or id at the time of the call)
  std::string new_name;   // rename only; "" otherwise
};

// Written after the engine call returned, ok or not.
struct OutcomeRecord {
  std::string rollout;
  WallTime ts{};
  std::string host;
  std::string call;  // same text as the intent it answers
  bool ok = false;
  std::string error;         // Status::to_string() when !ok
  std::string container_id;  // the new container's id after a successful create
};

struct BaselineRecord {
  std::string rollout;
  WallTime ts{};
  std::string host;
  std::string verdict;  // "healthy", "unhealthy", "absent", ... (healthcheck's names)
};

struct DecisionRecord {
  std::string rollout;
  WallTime ts{};
  std::string action;                           // "continue", "pause", "rollback"
  std::string rule;                             // which row of the decision table fired
  std::string reason;                           // one line for people
  std::map<std::string, std::string> verdicts;  // host -> verdict the decision saw
};

struct BatchDoneRecord {
  std::string rollout;
  WallTime ts{};
  int index = 0;  // 1-based, as in rollout::Batch
};

enum class EndResult { kDone, kRolledBack, kPaused, kFailed, kPreflightFailed };
// "done", "rolled_back", "paused", "failed", "preflight_failed".
const char* result_name(EndResult r);
std::optional<EndResult> parse_result(std::string_view name);

// The last record of a rollout. A rollout without one was interrupted (crash, kill -9).
struct EndRecord {
  std::string rollout;
  WallTime ts{};
  EndResult result = EndResult::kFailed;
  int exit_code = 1;
  std::string summary;
};

// Another process's stale lock on the app was taken over.
struct LockTakeoverRecord {
  std::string rollout;  // the rollout that took the lock
  WallTime ts{};
  std::string holder;  // who held it (as the lock file said)
  std::string by;      // who took it over
};

// RFC 3339 UTC with milliseconds: "2024-05-01T12:00:00.123Z".
std::string format_ts(WallTime t);
std::optional<WallTime> parse_ts(std::string_view s);

// Builders: exactly the named fields, plus "rollout" and "ts".
nlohmann::json to_json(const StartRecord& r);
nlohmann::json to_json(const IntentRecord& r);
nlohmann::json to_json(const OutcomeRecord& r);
nlohmann::json to_json(const BaselineRecord& r);
nlohmann::json to_json(const DecisionRecord& r);
nlohmann::json to_json(const BatchDoneRecord& r);
nlohmann::json to_json(const EndRecord& r);
nlohmann::json to_json(const LockTakeoverRecord& r);

// The RecordType each struct is stored as.
constexpr RecordType type_of(const StartRecord&) { return RecordType::kRolloutStart; }
constexpr RecordType type_of(const IntentRecord&) { return RecordType::kIntent; }
constexpr RecordType type_of(const OutcomeRecord&) { return RecordType::kOutcome; }
constexpr RecordType type_of(const BaselineRecord&) { return RecordType::kBaseline; }
constexpr RecordType type_of(const DecisionRecord&) { return RecordType::kDecision; }
constexpr RecordType type_of(const BatchDoneRecord&) { return RecordType::kBatchDone; }
constexpr RecordType type_of(const EndRecord&) { return RecordType::kRolloutEnd; }
constexpr RecordType type_of(const LockTakeoverRecord&) { return RecordType::kLockTakeover; }

// Parsers; errors are kInternal "journal record <type>: missing or bad field \"x\"".
Result<StartRecord> parse_start(const nlohmann::json& j);
Result<IntentRecord> parse_intent(const nlohmann::json& j);
Result<OutcomeRecord> parse_outcome(const nlohmann::json& j);
Result<BaselineRecord> parse_baseline(const nlohmann::json& j);
Result<DecisionRecord> parse_decision(const nlohmann::json& j);
Result<BatchDoneRecord> parse_batch_done(const nlohmann::json& j);
Result<EndRecord> parse_end(const nlohmann::json& j);
Result<LockTakeoverRecord> parse_lock_takeover(const nlohmann::json& j);

// The "rollout" field every record has; kInternal when missing.
Result<std::string> rollout_of(const nlohmann::json& j);

}  // namespace orch::journal
