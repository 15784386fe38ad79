// Record structs <-> JSON: every type round-trips, and builders copy only the named fields.
#include "orchestrator/journal/records.h"

#include <catch2/catch.hpp>
#include <set>

namespace orch::journal {
namespace {

using nlohmann::json;

const WallTime kT = WallTime{} + std::chrono::milliseconds(1714564800123);  // 2024-05-01

std::set<std::string> keys(const json& j) {
  std::set<std::string> out;
  for (const auto& [k, v] : j.items()) {
    out.insert(k);
  }
  return out;
}

TEST_CASE("timestamps are RFC 3339 UTC with milliseconds and parse back", "[records]") {
  CHECK(format_ts(kT) == "2024-05-01T12:00:00.123Z");
  CHECK(parse_ts("2024-05-01T12:00:00.123Z") == kT);
  CHECK(format_ts(WallTime{}) == "1970-01-01T00:00:00.000Z");
  CHECK(parse_ts(format_ts(WallTime{} + std::chrono::hours(1))) ==
        WallTime{} + std::chrono::hours(1));
  CHECK_FALSE(parse_ts(""));
  CHECK_FALSE(parse_ts("2024-05-01T12:00:00Z"));
  CHECK_FALSE(parse_ts("2024-05-01 12:00:00.123Z"));
  CHECK_FALSE(parse_ts("2024-13-01T12:00:00.123Z"));
  CHECK_FALSE(parse_ts("2024-05-01T12:00:00.123+"));
}

TEST_CASE("end results have stable names", "[records]") {
  for (EndResult r : {EndResult::kDone, EndResult::kRolledBack, EndResult::kPaused,
                      EndResult::kFailed, EndResult::kPreflightFailed}) {
    CHECK(parse_result(result_name(r)) == r);
  }
  CHECK(std::string(result_name(EndResult::kPreflightFailed)) == "preflight_failed");
  CHECK(std::string(result_name(EndResult::kRolledBack)) == "rolled_back");
  CHECK_FALSE(parse_result("exploded"));
}

TEST_CASE("every record type round-trips through JSON", "[records]") {
  SECTION("rollout_start") {
    StartRecord r{"r1",
                  kT,
                  "web",
                  "repo:v2",
                  "sha256:abc",
                  "repo@sha256:abc",
                  7,
                  {"h1", "h2", "h3"},
                  "deploy/web.yaml",
                  {{"h1"}, {"h2", "h3"}},
                  {"h4"}};
    auto j = to_json(r);
    CHECK(type_of(r) == RecordType::kRolloutStart);
    auto back = parse_start(j);
    REQUIRE(back);
    CHECK(back->rollout == "r1");
    CHECK(back->ts == kT);
    CHECK(back->app == "web");
    CHECK(back->image == "repo:v2");
    CHECK(back->digest == "sha256:abc");
    CHECK(back->pinned == "repo@sha256:abc");
    CHECK(back->revision == 7);
    CHECK(back->hosts == std::vector<std::string>{"h1", "h2", "h3"});
    CHECK(back->manifest_path == "deploy/web.yaml");
    CHECK(back->batches == std::vector<std::vector<std::string>>{{"h1"}, {"h2", "h3"}});
    CHECK(back->unchanged == std::vector<std::string>{"h4"});
  }
  SECTION("intent") {
    IntentRecord r{"r1",     kT,    "h1",    "POST /v1.41/containers/web/rename?name=web-r6",
                   "rename", "web", "web-r6"};
    auto back = parse_intent(to_json(r));
    REQUIRE(back);
    CHECK(type_of(r) == RecordType::kIntent);
    CHECK(back->rollout == "r1");
    CHECK(back->ts == kT);
    CHECK(back->host == "h1");
    CHECK(back->call == r.call);
    CHECK(back->action == "rename");
    CHECK(back->container == "web");
    CHECK(back->new_name == "web-r6");
  }
  SECTION("outcome") {
    OutcomeRecord r{"r1",    kT, "h1", "POST create", false, "Conflict (HTTP 409): name in use",
                    "abc123"};
    auto back = parse_outcome(to_json(r));
    REQUIRE(back);
    CHECK(type_of(r) == RecordType::kOutcome);
    CHECK(back->host == "h1");
    CHECK(back->call == "POST create");
    CHECK_FALSE(back->ok);
    CHECK(back->error == r.error);
    CHECK(back->container_id == "abc123");
  }
  SECTION("baseline") {
    BaselineRecord r{"r1", kT, "h2", "healthy"};
    auto back = parse_baseline(to_json(r));
    REQUIRE(back);
    CHECK(type_of(r) == RecordType::kBaseline);
    CHECK(back->host == "h2");
    CHECK(back->verdict == "healthy");
    CHECK(back->ts == kT);
  }
  SECTION("decision") {
    DecisionRecord r{"r1",
                     kT,
                     "rollback",
                     "failing_vs_healthy_baseline",
                     "h1 exited with 1",
                     {{"h1", "failing"}, {"h2", "healthy"}}};
    auto back = parse_decision(to_json(r));
    REQUIRE(back);
    CHECK(type_of(r) == RecordType::kDecision);
    CHECK(back->action == "rollback");
    CHECK(back->rule == r.rule);
    CHECK(back->reason == r.reason);
    CHECK(back->verdicts == r.verdicts);
  }
  SECTION("batch_done") {
    BatchDoneRecord r{"r1", kT, 3};
    auto back = parse_batch_done(to_json(r));
    REQUIRE(back);
    CHECK(type_of(r) == RecordType::kBatchDone);
    CHECK(back->index == 3);
  }
  SECTION("rollout_end") {
    EndRecord r{"r1", kT, EndResult::kRolledBack, 3, "h1 failed the gate; rolled back"};
    auto j = to_json(r);
    CHECK(j.at("result") == "rolled_back");
    auto back = parse_end(j);
    REQUIRE(back);
    CHECK(type_of(r) == RecordType::kRolloutEnd);
    CHECK(back->result == EndResult::kRolledBack);
    CHECK(back->exit_code == 3);
    CHECK(back->summary == r.summary);
  }
  SECTION("lock_takeover") {
    LockTakeoverRecord r{"r2", kT, "pid 41 on ci-7", "pid 99 on ci-8"};
    auto back = parse_lock_takeover(to_json(r));
    REQUIRE(back);
    CHECK(type_of(r) == RecordType::kLockTakeover);
    CHECK(back->rollout == "r2");
    CHECK(back->holder == r.holder);
    CHECK(back->by == r.by);
  }
}

// The journal holds what the builders put in and nothing else: no spec, env or auth can ride
// along, because each builder writes exactly its struct's fields.
TEST_CASE("builders copy only the fields they name", "[records][secrets]") {
  const std::set<std::string> common = {"rollout", "ts"};
  auto with = [&](std::set<std::string> s) {
    s.insert(common.begin(), common.end());
    return s;
  };
  CHECK(keys(to_json(StartRecord{})) == with({"app", "image", "digest", "pinned", "revision",
                                              "hosts", "manifest", "batches", "unchanged"}));
  CHECK(keys(to_json(IntentRecord{})) == with({"host", "call", "action", "container", "new_name"}));
  CHECK(keys(to_json(OutcomeRecord{})) == with({"host", "call", "ok", "error", "container_id"}));
  CHECK(keys(to_json(BaselineRecord{})) == with({"host", "verdict"}));
  CHECK(keys(to_json(DecisionRecord{})) == with({"action", "rule", "reason", "verdicts"}));
  CHECK(keys(to_json(BatchDoneRecord{})) == with({"index"}));
  CHECK(keys(to_json(EndRecord{})) == with({"result", "exit_code", "summary"}));
  CHECK(keys(to_json(LockTakeoverRecord{})) == with({"holder", "by"}));

  // And the values are the ones given: an intent for a create names the call, not the spec.
  IntentRecord create{
      "r1",     kT,    "h1", "POST /v1.41/containers/create?name=web  image=repo@sha",
      "create", "web", ""};
  const std::string text = to_json(create).dump();
  CHECK(text.find("Env") == std::string::npos);
  CHECK(text.find("PASSWORD") == std::string::npos);
}

TEST_CASE("parsers name what is missing or malformed", "[records]") {
  json j = to_json(IntentRecord{"r1", kT, "h1", "call", "stop", "web", ""});
  j.erase("container");
  auto r = parse_intent(j);
  REQUIRE_FALSE(r);
  CHECK(r.status().code() == Code::kInternal);
  CHECK_THAT(r.status().message(), Catch::Contains("intent") && Catch::Contains("container"));

  json bad_ts = to_json(BaselineRecord{"r1", kT, "h1", "healthy"});
  bad_ts["ts"] = "yesterday";
  auto b = parse_baseline(bad_ts);
  REQUIRE_FALSE(b);
  CHECK_THAT(b.status().message(), Catch::Contains("ts"));

  json bad_result = to_json(EndRecord{"r1", kT, EndResult::kDone, 0, "ok"});
  bad_result["result"] = "exploded";
  auto e = parse_end(bad_result);
  REQUIRE_FALSE(e);
  CHECK_THAT(e.status().message(), Catch::Contains("exploded"));

  CHECK_FALSE(rollout_of(json::array()));
  CHECK_FALSE(rollout_of(json{{"rollout", 5}}));
  CHECK(rollout_of(json{{"rollout", "r9"}}).value() == "r9");
}

}  // namespace
}  // namespace orch::journal
