// Helpers shared by the router tests: a private temp directory with short paths and the
// coroutine runner (both from tests/support/), and a manifest loaded through the real parser (so
// validation runs).
#pragma once

#include <catch2/catch.hpp>
#include <string>

#include "orchestrator/core/clock.h"
#include "orchestrator/manifest/parse.h"
#include "tests/support/run_task.h"
#include "tests/support/temp_dir.h"

namespace orch::router::test {

// A fresh directory under /tmp (short: unix socket paths are limited to 108 bytes), removed
// with everything in it when the test ends.
class TempDir : public orch::testing::TempDir {
 public:
  TempDir() : orch::testing::TempDir("rgrouter", "/tmp") {}
};

using orch::testing::run_task;

// The manifest `yaml` describes, after the loader validated it (a failure shows every error).
inline manifest::Manifest load(const std::string& yaml) {
  auto r = manifest::parse_manifest(yaml);
  std::string errors;
  for (const auto& e : r.errors) {
    errors += e.to_string() + "\n";
  }
  INFO(yaml);
  INFO(errors);
  REQUIRE(r.ok());
  return *r.manifest;
}

}  // namespace orch::router::test
