#include "orchestrator/journal/records.h"

#include <fmt/format.h>

#include <cstdio>
#include <ctime>
#include <stdexcept>

namespace orch::journal {

using nlohmann::json;

const char* type_name(RecordType t) {
  switch (t) {
    case RecordType::kRolloutStart:
      return "rollout_start";
    case RecordType::kIntent:
      return "intent";
    case RecordType::kOutcome:
      return "outcome";
    case RecordType::kBaseline:
      return "baseline";
    case RecordType::kDecision:
      return "decision";
    case RecordType::kBatchDone:
      return "batch_done";
    case RecordType::kRolloutEnd:
      return "rollout_end";
    case RecordType::kLockTakeover:
      return "lock_takeover";
  }
  return "unknown";
}

bool known_type(uint8_t b) {
  return b >= static_cast<uint8_t>(RecordType::kRolloutStart) &&
         b <= static_cast<uint8_t>(RecordType::kLockTakeover);
}

const char* result_name(EndResult r) {
  switch (r) {
    case EndResult::kDone:
      return "done";
    case EndResult::kRolledBack:
      return "rolled_back";
    case EndResult::kPaused:
      return "paused";
    case EndResult::kFailed:
      return "failed";
    case EndResult::kPreflightFailed:
      return "preflight_failed";
  }
  return "failed";
}

std::optional<EndResult> parse_result(std::string_view name) {
  for (EndResult r : {EndResult::kDone, EndResult::kRolledBack, EndResult::kPaused,
                      EndResult::kFailed, EndResult::kPreflightFailed}) {
    if (name == result_name(r)) {
      return r;
    }
  }
  return std::nullopt;
}

std::string format_ts(WallTime t) {
  using namespace std::chrono;
  auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
  // Floor division, so that times before 1970 (never written, but representable) stay exact.
  long long secs = ms / 1000;
  long long frac = ms % 1000;
  if (frac < 0) {
    frac += 1000;
    secs -= 1;
  }
  std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

std::optional<WallTime> parse_ts(std::string_view s) {
  // Exactly the shape format_ts writes: 24 characters.
  if (s.size() != 24) {
    return std::nullopt;
  }
  std::string text(s);
  int year = 0, mon = 0, day = 0, hour = 0, min = 0, sec = 0, ms = 0;
  char z = 0;
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c%n", &year, &mon, &day, &hour, &min,
                  &sec, &ms, &z, &consumed) != 8 ||
      consumed != 24 || z != 'Z') {
    return std::nullopt;
  }
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60 || ms < 0) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  std::time_t secs = timegm(&tm);
  return WallTime{} + std::chrono::seconds(secs) + std::chrono::milliseconds(ms);
}

namespace {

json header(const std::string& rollout, WallTime ts) {
  return json{{"rollout", rollout}, {"ts", format_ts(ts)}};
}

// Reads the fields every record has. Throws json::exception (caught in parse_record) or
// std::invalid_argument for a malformed timestamp.
template <class R>
void read_header(const json& j, R& r) {
  r.rollout = j.at("rollout").get<std::string>();
  auto ts = parse_ts(j.at("ts").get<std::string>());
  if (!ts) {
    throw std::invalid_argument("field \"ts\" is not an RFC 3339 UTC time");
  }
  r.ts = *ts;
}

// nlohmann's accessors throw; this is the module edge where that becomes a Status.
template <class R, class Fn>
Result<R> parse_record(const json& j, RecordType type, Fn fill) {
  R r;
  try {
    read_header(j, r);
    fill(r);
  } catch (const json::exception& e) {
    return Status(Code::kInternal, fmt::format("journal record {}: {}", type_name(type), e.what()));
  } catch (const std::invalid_argument& e) {
    return Status(Code::kInternal, fmt::format("journal record {}: {}", type_name(type), e.what()));
  }
  return r;
}

}  // namespace

json to_json(const StartRecord& r) {
  json j = header(r.rollout, r.ts);
  j["app"] = r.app;
  j["image"] = r.image;
  j["digest"] = r.digest;
  j["pinned"] = r.pinned;
  j["revision"] = r.revision;
  j["hosts"] = r.hosts;
  j["manifest"] = r.manifest_path;
  j["batches"] = r.batches;
  j["unchanged"] = r.unchanged;
  return j;
}

json to_json(const IntentRecord& r) {
  json j = header(r.rollout, r.ts);
  j["host"] = r.host;
  j["call"] = r.call;
  j["action"] = r.action;
  j["container"] = r.container;
  j["new_name"] = r.new_name;
  return j;
}

json to_json(const OutcomeRecord& r) {
  json j = header(r.rollout, r.ts);
  j["host"] = r.host;
  j["call"] = r.call;
  j["ok"] = r.ok;
  j["error"] = r.error;
  j["container_id"] = r.container_id;
  return j;
}

json to_json(const BaselineRecord& r) {
  json j = header(r.rollout, r.ts);
  j["host"] = r.host;
  j["verdict"] = r.verdict;
  return j;
}

json to_json(const DecisionRecord& r) {
  json j = header(r.rollout, r.ts);
  j["action"] = r.action;
  j["rule"] = r.rule;
  j["reason"] = r.reason;
  j["verdicts"] = r.verdicts;
  return j;
}

json to_json(const BatchDoneRecord& r) {
  json j = header(r.rollout, r.ts);
  j["index"] = r.index;
  return j;
}

json to_json(const EndRecord& r) {
  json j = header(r.rollout, r.ts);
  j["result"] = result_name(r.result);
  j["exit_code"] = r.exit_code;
  j["summary"] = r.summary;
  return j;
}

json to_json(const LockTakeoverRecord& r) {
  json j = header(r.rollout, r.ts);
  j["holder"] = r.holder;
  j["by"] = r.by;
  return j;
}

Result<StartRecord> parse_start(const json& j) {
  return parse_record<StartRecord>(j, RecordType::kRolloutStart, [&](StartRecord& r) {
    r.app = j.at("app").get<std::string>();
    r.image = j.at("image").get<std::string>();
    r.digest = j.at("digest").get<std::string>();
    r.pinned = j.at("pinned").get<std::string>();
    r.revision = j.at("revision").get<int>();
    r.hosts = j.at("hosts").get<std::vector<std::string>>();
    r.manifest_path = j.at("manifest").get<std::string>();
    r.batches = j.at("batches").get<std::vector<std::vector<std::string>>>();
    r.unchanged = j.at("unchanged").get<std::vector<std::string>>();
  });
}

Result<IntentRecord> parse_intent(const json& j) {
  return parse_record<IntentRecord>(j, RecordType::kIntent, [&](IntentRecord& r) {
    r.host = j.at("host").get<std::string>();
    r.call = j.at("call").get<std::string>();
    r.action = j.at("action").get<std::string>();
    r.container = j.at("container").get<std::string>();
    r.new_name = j.at("new_name").get<std::string>();
  });
}

Result<OutcomeRecord> parse_outcome(const json& j) {
  return parse_record<OutcomeRecord>(j, RecordType::kOutcome, [&](OutcomeRecord& r) {
    r.host = j.at("host").get<std::string>();
    r.call = j.at("call").get<std::string>();
    r.ok = j.at("ok").get<bool>();
    r.error = j.at("error").get<std::string>();
    r.container_id = j.at("container_id").get<std::string>();
  });
}

Result<BaselineRecord> parse_baseline(const json& j) {
  return parse_record<BaselineRecord>(j, RecordType::kBaseline, [&](BaselineRecord& r) {
    r.host = j.at("host").get<std::string>();
    r.verdict = j.at("verdict").get<std::string>();
  });
}

Result<DecisionRecord> parse_decision(const json& j) {
  return parse_record<DecisionRecord>(j, RecordType::kDecision, [&](DecisionRecord& r) {
    r.action = j.at("action").get<std::string>();
    r.rule = j.at("rule").get<std::string>();
    r.reason = j.at("reason").get<std::string>();
    r.verdicts = j.at("verdicts").get<std::map<std::string, std::string>>();
  });
}

Result<BatchDoneRecord> parse_batch_done(const json& j) {
  return parse_record<BatchDoneRecord>(
      j, RecordType::kBatchDone, [&](BatchDoneRecord& r) { r.index = j.at("index").get<int>(); });
}

Result<EndRecord> parse_end(const json& j) {
  return parse_record<EndRecord>(j, RecordType::kRolloutEnd, [&](EndRecord& r) {
    auto name = j.at("result").get<std::string>();
    auto result = parse_result(name);
    if (!result) {
      throw std::invalid_argument("field \"result\": unknown result \"" + name + "\"");
    }
    r.result = *result;
    r.exit_code = j.at("exit_code").get<int>();
    r.summary = j.at("summary").get<std::string>();
  });
}

Result<LockTakeoverRecord> parse_lock_takeover(const json& j) {
  return parse_record<LockTakeoverRecord>(j, RecordType::kLockTakeover, [&](LockTakeoverRecord& r) {
    r.holder = j.at("holder").get<std::string>();
    r.by = j.at("by").get<std::string>();
  });
}

Result<std::string> rollout_of(const json& j) {
  if (!j.is_object()) {
    return Status(Code::kInternal, "journal record is not a JSON object");
  }
  auto it = j.find("rollout");
  if (it == j.end() || !it->is_string()) {
    return Status(Code::kInternal, "journal record has no \"rollout\" string");
  }
  return it->get<std::string>();
}

}  // namespace orch::journal
