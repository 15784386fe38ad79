// cli::render: how commands print rollout API results: text for people, one JSON value per line
// for programs. Formatting only: every value here was computed by a rollout API. The text lines
// and JSON fields are a contract (docs/operations.md, docs/events.md, integration tests).
#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "orchestrator/core/status.h"
#include "orchestrator/journal/replay.h"
#include "orchestrator/manifest/manifest.h"
#include "orchestrator/rollout/fleet_status.h"
#include "orchestrator/rollout/last_rollout.h"
#include "orchestrator/rollout/lock.h"
#include "orchestrator/rollout/plan.h"

namespace orch::cli {

// One line of JSON on stdout (invalid UTF-8 replaced).
void print_json(const nlohmann::json& j);

// "sha256:" + 12 hex.
std::string short_digest(const std::string& digest);

nlohmann::json plan_json(const rollout::Plan& p, const manifest::Manifest& m);
void print_plan_text(const rollout::Plan& p, const manifest::Manifest& m);

// What `status` shows besides the engines: this machine's running apply, the journal's last
// rollout, and the app's lock.
struct AppStatus {
  std::optional<pid_t> running_pid;
  std::optional<rollout::RolloutState> last;
  std::optional<rollout::LockInfo> lock;
  Status lock_error;  // the lock host could not be asked (not "unlocked")
  WallTime now{};     // for the lock's "lease expired"
};

nlohmann::json status_json(const rollout::FleetStatus& fleet, const AppStatus& app,
                           const manifest::Manifest& m);
void print_status_text(const rollout::FleetStatus& fleet, const AppStatus& app,
                       const manifest::Manifest& m, const std::string& manifest_path);

// `history`: the rows, or (text) a note that there are none.
void print_history(const std::vector<journal::HistoryRow>& rows, bool json_output,
                   const std::string& app, const std::string& dir);

}  // namespace orch::cli
