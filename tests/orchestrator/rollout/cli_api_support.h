// Shared by the tests of the rollout APIs the CLI calls (session, revisions, fleet status, app
// state): a real temporary state directory with a real journal, and a runner for coroutines.
#pragma once

#include <stdlib.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "orchestrator/journal/journal.h"
#include "orchestrator/journal/records.h"
#include "orchestrator/journal/replay.h"

namespace orch::testing {

// Runs one coroutine to completion on its own io_context.
template <class T>
T run_task(boost::asio::awaitable<T> task) {
  boost::asio::io_context io;
  auto f = boost::asio::co_spawn(io, std::move(task), boost::asio::use_future);
  io.run();
  return f.get();
}

// A fresh directory under the system temp dir, removed with everything in it.
struct TempDir {
  std::string path;
  TempDir() {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "rollgate-rollout-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  journal::Journal open_journal(const std::string& name = "journal.log") const {
    auto j = journal::Journal::open(path + "/" + name);
    REQUIRE(j.is_ok());
    return std::move(*j);
  }
};

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
