// The journal on a crashing in-memory file: write-ahead, torn tails, damage in the middle.
#include "orchestrator/journal/journal.h"

#include <catch2/catch.hpp>
#include <random>

#include "orchestrator/journal/crc32c.h"
#include "tests/fakes/mem_file.h"

namespace orch::journal {
namespace {

using nlohmann::json;
using orch::testing::MemFile;

const WallTime kT = WallTime{} + std::chrono::milliseconds(1714564800000);

// A journal over a MemFile the test keeps a handle on.
struct Fixture {
  MemFile* file = nullptr;
  std::optional<Journal> journal;

  explicit Fixture(std::string bytes = {}) {
    auto f = std::make_unique<MemFile>(std::move(bytes));
    file = f.get();
    auto j = Journal::open(std::move(f));
    REQUIRE(j);
    journal.emplace(std::move(j).value());
  }
};

IntentRecord intent(int i) {
  return IntentRecord{"r1",
                      kT + std::chrono::seconds(i),
                      "h" + std::to_string(i),
                      "POST /v1.41/containers/web/stop?t=10",
                      "stop",
                      "web",
                      ""};
}

std::vector<int> hosts_of(const std::vector<Record>& records) {
  std::vector<int> out;
  for (const auto& r : records) {
    out.push_back(std::stoi(r.payload.at("host").get<std::string>().substr(1)));
  }
  return out;
}

// Bytes of a journal holding intents 1..n, and where each record starts.
std::pair<std::string, std::vector<uint64_t>> journal_bytes(int n) {
  Fixture fx;
  for (int i = 1; i <= n; ++i) {
    REQUIRE(fx.journal->append(intent(i)));
  }
  std::vector<uint64_t> offsets;
  for (const auto& r : fx.journal->records()) {
    offsets.push_back(r.offset);
  }
  return {fx.file->synced(), offsets};
}

TEST_CASE("records are encoded as length, crc32c, type, payload", "[journal]") {
  std::string bytes = encode_record(RecordType::kBatchDone, "{}");
  REQUIRE(bytes.size() == kHeaderSize + 2);
  CHECK(bytes.substr(0, 4) == std::string("\x02\x00\x00\x00", 4));
  std::string checked = std::string(1, '\x06') + "{}";
  uint32_t crc = 0;
  for (int i = 0; i < 4; ++i) {
    crc |= static_cast<uint32_t>(static_cast<uint8_t>(bytes[4 + i])) << (8 * i);
  }
  CHECK(crc == crc32c(checked));
  CHECK(bytes[8] == '\x06');
  CHECK(bytes.substr(9) == "{}");
}

TEST_CASE("every record type survives append and reopen", "[journal]") {
  Fixture fx;
  REQUIRE(fx.journal->append(StartRecord{"r1",
                                         kT,
                                         "web",
                                         "repo:v2",
                                         "sha256:b",
                                         "repo@sha256:b",
                                         2,
                                         {"h1"},
                                         "web.yaml",
                                         {{"h1"}},
                                         {}}));
  REQUIRE(fx.journal->append(LockTakeoverRecord{"r1", kT, "pid 1", "pid 2"}));
  REQUIRE(fx.journal->append(BaselineRecord{"r1", kT, "h1", "healthy"}));
  REQUIRE(fx.journal->append(intent(1)));
  REQUIRE(fx.journal->append(OutcomeRecord{"r1", kT, "h1", "stop", true, "", ""}));
  REQUIRE(fx.journal->append(DecisionRecord{"r1", kT, "continue", "healthy", "ok", {}}));
  REQUIRE(fx.journal->append(BatchDoneRecord{"r1", kT, 1}));
  REQUIRE(fx.journal->append(EndRecord{"r1", kT, EndResult::kDone, 0, "done"}));
  const auto written = fx.journal->records();

  Fixture reopened(fx.file->synced());
  const auto& read = reopened.journal->records();
  REQUIRE(read.size() == 8);
  const std::vector<RecordType> types = {RecordType::kRolloutStart, RecordType::kLockTakeover,
                                         RecordType::kBaseline,     RecordType::kIntent,
                                         RecordType::kOutcome,      RecordType::kDecision,
                                         RecordType::kBatchDone,    RecordType::kRolloutEnd};
  for (size_t i = 0; i < read.size(); ++i) {
    CAPTURE(i);
    CHECK(read[i].type == types[i]);
    CHECK(read[i].payload == written[i].payload);
    CHECK(read[i].offset == written[i].offset);
  }
  CHECK(reopened.journal->dropped_bytes() == 0);
  CHECK(parse_start(read[0].payload).value().pinned == "repo@sha256:b");
}

TEST_CASE("append is write-ahead: synced before it returns", "[journal]") {
  Fixture fx;
  for (int n = 1; n <= 5; ++n) {
    REQUIRE(fx.journal->append(intent(n)));
    CHECK(fx.file->unsynced().empty());
  }
  fx.file->crash();
  Fixture after(fx.file->synced());
  CHECK(hosts_of(after.journal->records()) == std::vector<int>{1, 2, 3, 4, 5});
}

TEST_CASE("a torn last record is dropped at every cut, and appends continue", "[journal]") {
  auto [bytes, offsets] = journal_bytes(3);
  const uint64_t last = offsets.back();
  for (uint64_t cut = last; cut < bytes.size(); ++cut) {
    CAPTURE(cut);
    Fixture fx(bytes.substr(0, cut));
    CHECK(hosts_of(fx.journal->records()) == std::vector<int>{1, 2});
    CHECK(fx.journal->dropped_bytes() == cut - last);
    CHECK(fx.file->synced() == bytes.substr(0, last));  // truncated, and durably so
    CHECK(fx.file->unsynced().empty());

    REQUIRE(fx.journal->append(intent(9)));
    Fixture again(fx.file->synced());
    CHECK(hosts_of(again.journal->records()) == std::vector<int>{1, 2, 9});
    CHECK(again.journal->dropped_bytes() == 0);
  }
}

TEST_CASE("a corrupt last record is dropped whichever byte is hit", "[journal]") {
  auto [bytes, offsets] = journal_bytes(3);
  for (uint64_t at = offsets.back(); at < bytes.size(); ++at) {
    CAPTURE(at);
    std::string damaged = bytes;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x5A);
    Fixture fx(damaged);
    CHECK(hosts_of(fx.journal->records()) == std::vector<int>{1, 2});
    CHECK(fx.file->synced() == bytes.substr(0, offsets.back()));
  }
}

TEST_CASE("a zero-filled tail (crash after the size grew) is dropped", "[journal]") {
  auto [bytes, offsets] = journal_bytes(2);
  Fixture fx(bytes + std::string(100, '\0'));
  CHECK(hosts_of(fx.journal->records()) == std::vector<int>{1, 2});
  CHECK(fx.journal->dropped_bytes() == 100);
}

TEST_CASE("damage in the middle is an error naming the offset, never skipped", "[journal]") {
  auto [bytes, offsets] = journal_bytes(3);
  // Every byte of the first and the second record.
  for (size_t rec = 0; rec < 2; ++rec) {
    for (uint64_t at = offsets[rec]; at < offsets[rec + 1]; ++at) {
      CAPTURE(rec, at);
      std::string damaged = bytes;
      damaged[at] = static_cast<char>(damaged[at] ^ 0x5A);
      auto j = Journal::open(std::make_unique<MemFile>(damaged));
      REQUIRE_FALSE(j);
      CHECK(j.status().code() == Code::kInternal);
      CHECK_THAT(j.status().message(), Catch::Contains("offset " + std::to_string(offsets[rec])));
    }
  }
}

TEST_CASE("a length field clobbered to run past the end is still damage", "[journal]") {
  auto [bytes, offsets] = journal_bytes(3);
  std::string damaged = bytes;
  damaged[offsets[1] + 1] = '\x7f';  // the second record now claims ~32 KiB
  auto j = Journal::open(std::make_unique<MemFile>(damaged));
  REQUIRE_FALSE(j);
  CHECK_THAT(j.status().message(), Catch::Contains("offset " + std::to_string(offsets[1])));
}

TEST_CASE("intact records that cannot be understood stop the open", "[journal]") {
  auto [bytes, offsets] = journal_bytes(1);
  SECTION("unknown type, even as the last record") {
    auto j = Journal::open(std::make_unique<MemFile>(bytes + encode_record(RecordType{42}, "{}")));
    REQUIRE_FALSE(j);
    CHECK_THAT(j.status().message(), Catch::Contains("unknown type 42") &&
                                         Catch::Contains("offset " + std::to_string(bytes.size())));
  }
  SECTION("payload that is not a JSON object") {
    for (std::string payload : {"not json", "[1,2]", ""}) {
      CAPTURE(payload);
      auto j = Journal::open(
          std::make_unique<MemFile>(bytes + encode_record(RecordType::kIntent, payload)));
      REQUIRE_FALSE(j);
      CHECK_THAT(j.status().message(), Catch::Contains("not a JSON object"));
    }
  }
}

TEST_CASE("a crash keeps exactly the synced records", "[journal][crash]") {
  // Records written straight to the file, synced or not, the way a writer that batches syncs
  // would; the journal itself always syncs, so this is the harsher case.
  auto n_synced = GENERATE(0, 1, 3);
  auto n_unsynced = GENERATE(0, 1, 3);
  CAPTURE(n_synced, n_unsynced);
  auto record = [](int i) { return encode_record(RecordType::kIntent, to_json(intent(i)).dump()); };
  MemFile file;
  for (int i = 1; i <= n_synced; ++i) {
    REQUIRE(file.append(record(i)));
  }
  REQUIRE(file.sync());
  std::vector<uint64_t> ends;  // unsynced bytes after each unsynced record
  uint64_t unsynced_size = 0;
  for (int i = 1; i <= n_unsynced; ++i) {
    auto r = record(100 + i);
    REQUIRE(file.append(r));
    unsynced_size += r.size();
    ends.push_back(unsynced_size);
  }
  std::vector<int> synced;
  for (int i = 1; i <= n_synced; ++i) {
    synced.push_back(i);
  }

  SECTION("every unsynced byte lost") {
    MemFile crashed = file;
    crashed.crash();
    Fixture fx(crashed.synced());
    CHECK(hosts_of(fx.journal->records()) == synced);
  }
  SECTION("any prefix of the unsynced bytes kept: whole records survive, the torn one goes") {
    for (uint64_t keep = 0; keep <= unsynced_size; ++keep) {
      CAPTURE(keep);
      MemFile crashed = file;
      crashed.crash(keep);
      Fixture fx(crashed.synced());
      std::vector<int> expected = synced;
      for (int i = 0; i < n_unsynced; ++i) {
        if (ends[static_cast<size_t>(i)] <= keep) {
          expected.push_back(101 + i);
        }
      }
      CHECK(hosts_of(fx.journal->records()) == expected);
    }
  }
}

TEST_CASE("random crashes during appends never lose an acknowledged record", "[journal][crash]") {
  std::mt19937 rng(1234);  // fixed seed: failures reproduce
  for (int round = 0; round < 50; ++round) {
    CAPTURE(round);
    Fixture fx;
    int n = static_cast<int>(rng() % 6);
    for (int i = 1; i <= n; ++i) {
      REQUIRE(fx.journal->append(intent(i)));
    }
    // A record half-written when the power went: appended, never synced.
    REQUIRE(fx.file->append(encode_record(RecordType::kIntent, to_json(intent(77)).dump())));
    fx.file->crash_random(rng);
    Fixture after(fx.file->synced());
    auto hosts = hosts_of(after.journal->records());
    REQUIRE(hosts.size() >= static_cast<size_t>(n));
    for (int i = 1; i <= n; ++i) {
      CHECK(hosts[static_cast<size_t>(i - 1)] == i);
    }
  }
}

TEST_CASE("a failed append records nothing and the journal stays usable", "[journal]") {
  Fixture fx;
  REQUIRE(fx.journal->append(intent(1)));
  SECTION("write fails half-way") { fx.file->fail_append_at(2); }
  SECTION("sync fails") { fx.file->fail_sync_at(2); }
  Status s = fx.journal->append(intent(2));
  REQUIRE_FALSE(s);
  CHECK(s.code() == Code::kInternal);
  CHECK_THAT(s.message(), Catch::Contains("journal append intent"));
  CHECK(hosts_of(fx.journal->records()) == std::vector<int>{1});

  REQUIRE(fx.journal->append(intent(3)));
  CHECK(hosts_of(fx.journal->records()) == std::vector<int>{1, 3});
  Fixture after(fx.file->synced());
  CHECK(hosts_of(after.journal->records()) == std::vector<int>{1, 3});
  CHECK(after.journal->dropped_bytes() == 0);
}

TEST_CASE("bad payloads are refused before anything is written", "[journal]") {
  Fixture fx;
  Status not_object = fx.journal->append(RecordType::kIntent, json::array());
  CHECK(not_object.code() == Code::kInvalidArgument);
  json big = to_json(intent(1));
  big["call"] = std::string(kMaxPayload, 'x');
  Status too_big = fx.journal->append(RecordType::kIntent, big);
  CHECK(too_big.code() == Code::kInvalidArgument);
  CHECK(fx.file->appends() == 0);
  CHECK(fx.journal->records().empty());
}

TEST_CASE("invalid UTF-8 from an engine error is stored, not thrown", "[journal]") {
  Fixture fx;
  OutcomeRecord o{"r1", kT, "h1", "start", false, std::string("bad \xff\xfe bytes"), ""};
  REQUIRE(fx.journal->append(o));
  Fixture after(fx.file->synced());
  REQUIRE(after.journal->records().size() == 1);
  CHECK_THAT(parse_outcome(after.journal->records()[0].payload).value().error,
             Catch::StartsWith("bad "));
}

TEST_CASE("group commit: records written together are made durable by one sync",
          "[journal][group]") {
  Fixture fx;
  REQUIRE(fx.journal->append(intent(1)));
  const int syncs = fx.file->syncs();
  for (int i = 2; i <= 4; ++i) {
    REQUIRE(fx.journal->write(intent(i)));
  }
  CHECK(fx.journal->unsynced());
  SECTION("a crash before the sync keeps only what was acknowledged") {
    MemFile crashed = *fx.file;
    crashed.crash();
    Fixture after(crashed.synced());
    CHECK(hosts_of(after.journal->records()) == std::vector<int>{1});
  }
  SECTION("after one sync every record survives a crash") {
    REQUIRE(fx.journal->sync());
    CHECK(fx.file->syncs() == syncs + 1);
    CHECK_FALSE(fx.journal->unsynced());
    REQUIRE(fx.journal->sync());  // nothing new: no fdatasync
    CHECK(fx.file->syncs() == syncs + 1);
    MemFile crashed = *fx.file;
    crashed.crash();
    Fixture after(crashed.synced());
    CHECK(hosts_of(after.journal->records()) == std::vector<int>{1, 2, 3, 4});
  }
  SECTION("a failed sync cuts off every unacknowledged record, durably, and goes on") {
    fx.file->fail_sync_at(fx.file->syncs() + 1);
    Status s = fx.journal->sync();
    REQUIRE_FALSE(s);
    CHECK_THAT(s.message(), Catch::Contains("injected sync failure"));
    CHECK(hosts_of(fx.journal->records()) == std::vector<int>{1});
    CHECK(fx.file->unsynced().empty());
    REQUIRE(fx.journal->append(intent(5)));
    Fixture after(fx.file->synced());
    CHECK(hosts_of(after.journal->records()) == std::vector<int>{1, 5});
    CHECK(after.journal->dropped_bytes() == 0);
  }
}

}  // namespace
}  // namespace orch::journal
