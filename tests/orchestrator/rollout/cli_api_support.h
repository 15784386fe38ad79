// Shared by the tests of the rollout APIs the CLI calls (session, revisions, fleet status, app
// state): a real journal in a temporary state directory (tests/support/temp_dir.h), and
// journalled rollouts to read back.
#pragma once

#include <catch2/catch.hpp>
#include <optional>
#include <string>
#include <vector>

#include "orchestrator/journal/journal.h"
#include "orchestrator/journal/records.h"
#include "orchestrator/journal/replay.h"
#include "tests/support/run_task.h"
#include "tests/support/temp_dir.h"

namespace orch::testing {

// The journal `name` in `dir`, opened (created when missing).
inline journal::Journal open_journal(const TempDir& dir, const std::string& name = "journal.log") {
  auto j = journal::Journal::open(dir.file(name));
  REQUIRE(j.is_ok());
  return std::move(*j);
}

// Journals a rollout of "web" as the controller would: its start record, a decision per
// entry of `decisions` ("continue", "rollback", ...), and an end record when `end` is set.
inline void journal_rollout(journal::Journal& j, const std::string& id, int revision,
                            std::optional<journal::EndResult> end,
                            const std::vector<std::string>& decisions = {}) {
  const WallTime ts{};
  journal::StartRecord start{id,
                             ts,
                             "web",
                             "reg/web:v" + std::to_string(revision),
                             "sha256:v" + std::to_string(revision),
                             "reg/web@sha256:v" + std::to_string(revision),
                             revision,
                             {"h1"},
                             "web.yaml",
                             {{"h1"}},
                             {}};
  REQUIRE(j.append(start).is_ok());
  for (const auto& action : decisions) {
    REQUIRE(j.append(journal::DecisionRecord{id, ts, action, "rule", "reason", {}}).is_ok());
  }
  if (end) {
    const int code = *end == journal::EndResult::kDone ? 0 : 4;
    REQUIRE(j.append(journal::EndRecord{id, ts, *end, code, "summary of " + id}).is_ok());
  }
}

// The journal's rollouts as replay() reads them back from disk.
inline std::vector<journal::RolloutRecord> replayed(const std::string& journal_path) {
  auto records = journal::read_records(journal_path);
  REQUIRE(records.is_ok());
  auto rollouts = journal::replay(*records);
  REQUIRE(rollouts.is_ok());
  return std::move(*rollouts);
}

}  // namespace orch::testing
