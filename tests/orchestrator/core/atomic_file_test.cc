#include "orchestrator/core/atomic_file.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/temp_dir.h"

namespace orch {
namespace {

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using testing::TempDir;

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST_CASE("atomic file: writes, replaces, and leaves no temp file", "[core][atomic_file]") {
  TempDir dir;
  const std::string path = dir.path() + "/report.json";
  REQUIRE(write_file_atomically(path, "first\n"));
  CHECK(read(path) == "first\n");
  REQUIRE(write_file_atomically(path, "second"));
  CHECK(read(path) == "second");
  REQUIRE(write_file_atomically(path, ""));
  CHECK(read(path).empty());
  CHECK((fs::status(path).permissions() & fs::perms::others_read) != fs::perms::none);
  CHECK(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator{}) == 1);
}

TEST_CASE("atomic file: a missing directory is an error naming the path", "[core][atomic_file]") {
  TempDir dir;
  const std::string path = dir.path() + "/no-such-dir/report.json";
  auto st = write_file_atomically(path, "x");
  REQUIRE_FALSE(st);
  CHECK(st.code() == Code::kUnavailable);
  CHECK_THAT(st.message(), Contains(path));
  CHECK_THAT(st.message(), Contains("No such file or directory"));
  CHECK_FALSE(fs::exists(dir.path() + "/no-such-dir"));
  CHECK(fs::is_empty(dir.path()));
}

}  // namespace
}  // namespace orch
