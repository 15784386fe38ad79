// PosixFile and the state directory on a real temporary directory.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "orchestrator/journal/file.h"
#include "orchestrator/journal/journal.h"
#include "orchestrator/journal/replay.h"
#include "tests/support/scoped_env.h"
#include "tests/support/temp_dir.h"

namespace orch::journal {
namespace {

namespace fs = std::filesystem;
using testing::ScopedEnv;
using testing::TempDir;

const WallTime kT = WallTime{} + std::chrono::milliseconds(1714564800000);

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

IntentRecord intent(int i) {
  return IntentRecord{"r1", kT, "h" + std::to_string(i), "POST stop", "stop", "web", ""};
}

TEST_CASE("PosixFile appends, reads back and truncates", "[posix]") {
  TempDir dir;
  const std::string path = dir.file("f.log");
  {
    auto f = PosixFile::open(path);
    REQUIRE(f);
    REQUIRE((*f)->append("hello "));
    REQUIRE((*f)->append("world"));
    REQUIRE((*f)->sync());
    CHECK((*f)->size().value() == 11);
    CHECK((*f)->read_all().value() == "hello world");
  }
  CHECK(mode_of(path) == 0600);
  auto f = PosixFile::open(path);
  REQUIRE(f);
  CHECK((*f)->read_all().value() == "hello world");
  REQUIRE((*f)->truncate(5));
  REQUIRE((*f)->append("!"));  // O_APPEND: lands at the new end
  CHECK((*f)->read_all().value() == "hello!");
}

TEST_CASE("PosixFile names the path when it cannot open", "[posix]") {
  TempDir dir;
  auto f = PosixFile::open(dir.file("missing/f.log"));
  REQUIRE_FALSE(f);
  CHECK_THAT(f.status().message(), Catch::Contains("missing/f.log"));
}

TEST_CASE("a journal on disk survives reopen and drops a torn tail", "[posix][journal]") {
  TempDir dir;
  const std::string path = dir.file("journal.log");
  uint64_t good_size = 0;
  {
    auto j = Journal::open(path);
    REQUIRE(j);
    REQUIRE(j->append(intent(1)));
    REQUIRE(j->append(intent(2)));
    good_size = fs::file_size(path);
  }
  // A torn record, written with raw bytes the way a crash mid-write leaves it.
  std::string torn = encode_record(RecordType::kIntent, to_json(intent(3)).dump());
  {
    std::ofstream out(path, std::ios::binary | std::ios::app);
    out.write(torn.data(), static_cast<std::streamsize>(torn.size() / 2));
  }
  REQUIRE(fs::file_size(path) == good_size + torn.size() / 2);

  // Readers without the lock see the good records and leave the file alone.
  auto read = read_records(path);
  REQUIRE(read);
  CHECK(read->size() == 2);
  CHECK(fs::file_size(path) == good_size + torn.size() / 2);

  auto j = Journal::open(path);
  REQUIRE(j);
  CHECK(j->records().size() == 2);
  CHECK(j->dropped_bytes() == torn.size() / 2);
  CHECK(fs::file_size(path) == good_size);
  REQUIRE(j->append(intent(4)));

  auto again = read_records(path);
  REQUIRE(again);
  REQUIRE(again->size() == 3);
  CHECK(again->back().payload.at("host") == "h4");
}

TEST_CASE("read_records of a missing journal is empty - damage is an error", "[posix][journal]") {
  TempDir dir;
  auto none = read_records(dir.file("nope.log"));
  REQUIRE(none);
  CHECK(none->empty());

  const std::string path = dir.file("journal.log");
  {
    auto j = Journal::open(path);
    REQUIRE(j);
    REQUIRE(j->append(intent(1)));
    REQUIRE(j->append(intent(2)));
  }
  {
    std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(12);  // inside the first record's payload
    f.put('#');
  }
  auto damaged = read_records(path);
  REQUIRE_FALSE(damaged);
  CHECK_THAT(damaged.status().message(), Catch::Contains(path) && Catch::Contains("offset 0"));
  auto j = Journal::open(path);
  REQUIRE_FALSE(j);
  CHECK_THAT(j.status().message(), Catch::Contains(path) && Catch::Contains("offset 0"));
}

TEST_CASE("open_app_journal lays out <state>/<app>/journal.log with private modes", "[posix]") {
  TempDir dir;
  const fs::path state = fs::path(dir.path()) / "deep" / "state";
  {
    auto j = open_app_journal(state.string(), "web");
    REQUIRE(j);
    REQUIRE(j->append(StartRecord{"r1",
                                  kT,
                                  "web",
                                  "repo:v1",
                                  "sha256:1",
                                  "repo@sha256:1",
                                  1,
                                  {"h1"},
                                  "web.yaml",
                                  {{"h1"}},
                                  {}}));
    REQUIRE(j->append(EndRecord{"r1", kT, EndResult::kDone, 0, "done"}));
  }
  CHECK(journal_path(state.string(), "web") == (state / "web" / "journal.log").string());
  CHECK(fs::is_regular_file(state / "web" / "journal.log"));
  CHECK(mode_of(fs::path(dir.path()) / "deep") == 0700);
  CHECK(mode_of(state) == 0700);
  CHECK(mode_of(state / "web") == 0700);

  // A second rollout of the same app appends to the same file.
  {
    auto j = open_app_journal(state.string(), "web");
    REQUIRE(j);
    REQUIRE(j->append(StartRecord{"r2",
                                  kT,
                                  "web",
                                  "repo:v2",
                                  "sha256:2",
                                  "repo@sha256:2",
                                  2,
                                  {"h1"},
                                  "web.yaml",
                                  {{"h1"}},
                                  {}}));
  }
  auto records = read_records(journal_path(state.string(), "web"));
  REQUIRE(records);
  auto rows = history(replay(*records).value());
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].result == "done");
  CHECK(rows[1].result == "interrupted");

  for (const std::string& bad :
       std::vector<std::string>{"", ".", "..", "a/b", std::string("a\0b", 3)}) {
    CAPTURE(bad);
    auto j = open_app_journal(state.string(), bad);
    REQUIRE_FALSE(j);
    CHECK(j.status().code() == Code::kInvalidArgument);
  }
}

TEST_CASE("open_app_journal refuses a state dir that is a file", "[posix]") {
  TempDir dir;
  const fs::path file = fs::path(dir.path()) / "plain";
  std::ofstream(file) << "x";
  auto j = open_app_journal(file.string(), "web");
  REQUIRE_FALSE(j);
  CHECK_THAT(j.status().message(), Catch::Contains("not a directory"));
}

TEST_CASE("the state directory follows env precedence", "[state_dir]") {
  SECTION("the pure rule") {
    struct Case {
      StateEnv env;
      const char* expected;  // nullptr: error
    };
    auto [env, expected] = GENERATE(values<Case>({
        {{"/s", "/x", "/home/u", false}, "/s"},
        {{nullptr, "/x", "/home/u", false}, "/x/rollgate"},
        {{"", "/x", "/home/u", false}, "/x/rollgate"},
        {{nullptr, "relative", "/home/u", false}, "/home/u/.local/state/rollgate"},
        {{nullptr, "", "/home/u", false}, "/home/u/.local/state/rollgate"},
        {{nullptr, nullptr, "/home/u", true}, "/home/u/.local/state/rollgate"},
        {{nullptr, nullptr, nullptr, true}, "/var/lib/rollgate"},
        {{nullptr, nullptr, "", true}, "/var/lib/rollgate"},
        {{nullptr, nullptr, nullptr, false}, nullptr},
    }));
    auto dir = state_dir_from(env);
    if (expected == nullptr) {
      REQUIRE_FALSE(dir);
      CHECK(dir.status().code() == Code::kInvalidArgument);
      CHECK_THAT(dir.status().message(), Catch::Contains("ROLLGATE_STATE_DIR"));
    } else {
      REQUIRE(dir);
      CHECK(*dir == expected);
    }
  }
  SECTION("default_state_dir reads the real environment") {
    ScopedEnv state("ROLLGATE_STATE_DIR", "/tmp/rg-state");
    ScopedEnv xdg("XDG_STATE_HOME", "/tmp/xdg");
    ScopedEnv home("HOME", "/tmp/home");
    CHECK(default_state_dir().value() == "/tmp/rg-state");
    state.set(nullptr);
    CHECK(default_state_dir().value() == "/tmp/xdg/rollgate");
    xdg.set(nullptr);
    CHECK(default_state_dir().value() == "/tmp/home/.local/state/rollgate");
    home.set(nullptr);
    auto none = default_state_dir();
    if (::geteuid() == 0) {
      CHECK(none.value() == "/var/lib/rollgate");
    } else {
      CHECK_FALSE(none);
    }
  }
}

}  // namespace
}  // namespace orch::journal
