#include "orchestrator/journal/replay.h"

#include <fmt/format.h>

#include <map>

namespace orch::journal {

const HostState* RolloutRecord::host(std::string_view name) const {
  for (const auto& h : hosts) {
    if (h.host == name) {
      return &h;
    }
  }
  return nullptr;
}

namespace {

HostState& host_of(RolloutRecord& r, const std::string& name) {
  for (auto& h : r.hosts) {
    if (h.host == name) {
      return h;
    }
  }
  r.hosts.push_back(HostState{name, std::nullopt, std::nullopt, std::nullopt, false});
  return r.hosts.back();
}

// Applies one record to its rollout. Every record of a rollout moves last_ts and, unless it
// is the end record itself, reopens an ended rollout (see replay.h).
Status apply(RolloutRecord& r, const Record& rec) {
  auto fail = [&](const Status& s) {
    return s.with_context(fmt::format("record at offset {}", rec.offset));
  };
  switch (rec.type) {
    case RecordType::kRolloutStart: {
      auto x = parse_start(rec.payload);
      if (!x) {
        return fail(x.status());
      }
      r.last_ts = x->ts;
      if (!r.start) {
        r.start = std::move(*x);
      }
      break;
    }
    case RecordType::kIntent: {
      auto x = parse_intent(rec.payload);
      if (!x) {
        return fail(x.status());
      }
      r.last_ts = x->ts;
      HostState& h = host_of(r, x->host);
      h.last_intent = std::move(*x);
      h.in_doubt = true;
      break;
    }
    case RecordType::kOutcome: {
      auto x = parse_outcome(rec.payload);
      if (!x) {
        return fail(x.status());
      }
      r.last_ts = x->ts;
      HostState& h = host_of(r, x->host);
      h.last_outcome = std::move(*x);
      h.in_doubt = false;
      break;
    }
    case RecordType::kBaseline: {
      auto x = parse_baseline(rec.payload);
      if (!x) {
        return fail(x.status());
      }
      r.last_ts = x->ts;
      host_of(r, x->host).baseline = x->verdict;
      break;
    }
    case RecordType::kDecision: {
      auto x = parse_decision(rec.payload);
      if (!x) {
        return fail(x.status());
      }
      r.last_ts = x->ts;
      r.decisions.push_back(std::move(*x));
      break;
    }
    case RecordType::kBatchDone: {
      auto x = parse_batch_done(rec.payload);
      if (!x) {
        return fail(x.status());
      }
      r.last_ts = x->ts;
      r.batches_done.push_back(x->index);
      break;
    }
    case RecordType::kRolloutEnd: {
      auto x = parse_end(rec.payload);
      if (!x) {
        return fail(x.status());
      }
      r.last_ts = x->ts;
      r.end = std::move(*x);
      return Status::ok();  // the only record that does not reopen the rollout
    }
    case RecordType::kLockTakeover: {
      auto x = parse_lock_takeover(rec.payload);
      if (!x) {
        return fail(x.status());
      }
      r.last_ts = x->ts;
      r.takeovers.push_back(std::move(*x));
      break;
    }
    default:
      // decode_records only lets known types through.
      return Status(Code::kInternal, fmt::format("record at offset {}: unknown type {}", rec.offset,
                                                 static_cast<int>(rec.type)));
  }
  r.end.reset();
  return Status::ok();
}

}  // namespace

Result<std::vector<RolloutRecord>> replay(const std::vector<Record>& records) {
  std::vector<RolloutRecord> out;
  std::map<std::string, size_t> index;  // rollout id -> position in out
  for (const auto& rec : records) {
    auto id = rollout_of(rec.payload);
    if (!id) {
      return id.status().with_context(fmt::format("record at offset {}", rec.offset));
    }
    auto [it, inserted] = index.try_emplace(*id, out.size());
    if (inserted) {
      out.push_back(RolloutRecord{});
      out.back().rollout = *id;
    }
    RolloutRecord& r = out[it->second];
    if (Status s = apply(r, rec); !s) {
      return s;
    }
    if (inserted) {
      r.started = r.last_ts;
    }
  }
  return out;
}

std::vector<HistoryRow> history(const std::vector<RolloutRecord>& rollouts) {
  std::vector<HistoryRow> rows;
  rows.reserve(rollouts.size());
  for (const auto& r : rollouts) {
    // Records outside any rollout (e.g. `rollgate unlock --force` journals a takeover under
    // its own id) are not rollouts.
    if (!r.start && !r.end) {
      continue;
    }
    HistoryRow row;
    row.rollout = r.rollout;
    if (r.start) {
      row.revision = r.start->revision;
      row.digest = r.start->digest;
      row.image = r.start->image;
    }
    row.result = r.end ? result_name(r.end->result) : "interrupted";
    row.started = r.started;
    row.duration = std::chrono::duration_cast<std::chrono::milliseconds>(r.last_ts - r.started);
    rows.push_back(std::move(row));
  }
  return rows;
}

std::optional<RolloutRecord> last_interrupted(const std::vector<RolloutRecord>& rollouts) {
  if (rollouts.empty() || !rollouts.back().interrupted()) {
    return std::nullopt;
  }
  return rollouts.back();
}

}  // namespace orch::journal
