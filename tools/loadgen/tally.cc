#include "tools/loadgen/tally.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <nlohmann/json.hpp>
#include <utility>

namespace loadgen {

namespace {

constexpr std::size_t kBodyKeyLimit = 200;

// Below kExact microseconds every value has its own bucket; above, each power of two is split
// into kSub buckets. Worked example: 1000us has bit width 10, so shift = 10 - 7 = 3 and
// top = 1000 >> 3 = 125; its bucket holds 125 << 3 = 1000 .. (126 << 3) - 1 = 1007.
constexpr uint64_t kExact = 128;
constexpr uint64_t kSub = 64;

double to_ms(Micros d) { return static_cast<double>(d.count()) / 1000.0; }

}  // namespace

const char* kind_name(FailureKind kind) {
  switch (kind) {
    case FailureKind::kConnect:
      return "connect";
    case FailureKind::kTimeout:
      return "timeout";
    case FailureKind::kStatus:
      return "status";
    case FailureKind::kReset:
      return "reset";
    case FailureKind::kEof:
      return "eof";
    case FailureKind::kStaleKeepalive:
      return "stale_keepalive";
    case FailureKind::kProtocol:
      return "protocol";
    case FailureKind::kOther:
      return "other";
  }
  return "other";
}

std::string body_key(std::string_view body) {
  const auto end = body.find_last_not_of(" \t\r\n\f\v");
  body = end == std::string_view::npos ? std::string_view() : body.substr(0, end + 1);
  return std::string(body.substr(0, kBodyKeyLimit));
}

std::size_t LatencyHistogram::bucket_of(uint64_t us) {
  if (us < kExact) {
    return static_cast<std::size_t>(us);
  }
  const uint64_t shift = std::bit_width(us) - 7;  // >= 1, since us >= 128 has width >= 8
  const uint64_t top = us >> shift;               // in [64, 127]
  return static_cast<std::size_t>(kExact + (shift - 1) * kSub + (top - kSub));
}

uint64_t LatencyHistogram::upper_edge(std::size_t bucket) {
  if (bucket < kExact) {
    return bucket;
  }
  const uint64_t shift = (bucket - kExact) / kSub + 1;
  const uint64_t top = (bucket - kExact) % kSub + kSub;
  return ((top + 1) << shift) - 1;
}

void LatencyHistogram::add(Micros latency) {
  const uint64_t us = static_cast<uint64_t>(std::max<int64_t>(latency.count(), 0));
  const std::size_t b = bucket_of(us);
  if (b >= buckets_.size()) {
    buckets_.resize(b + 1);
  }
  ++buckets_[b];
  ++count_;
  max_ = std::max(max_, Micros(static_cast<int64_t>(us)));
}

Micros LatencyHistogram::percentile(double p) const {
  // Nearest rank: the smallest value with at least p * count values at or below it.
  const auto rank =
      std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(p * static_cast<double>(count_))));
  uint64_t seen = 0;
  for (std::size_t b = 0; b < buckets_.size(); ++b) {
    seen += buckets_[b];
    if (seen >= rank) {
      return std::min(max_, Micros(static_cast<int64_t>(upper_edge(b))));
    }
  }
  return max_;
}

void Tally::add_ok(int64_t at_ms, int status, std::string_view body, Micros latency) {
  ++ok_;
  ++status_counts_[status];
  latency_.add(latency);
  std::string key = body_key(body);
  auto it = bodies_.find(key);
  if (it == bodies_.end()) {
    if (bodies_.size() >= kMaxBodies) {
      ++untracked_bodies_;
      return;
    }
    it = bodies_.emplace(std::move(key), BodySeen{0, at_ms, at_ms}).first;
  }
  ++it->second.count;
  // The wall clock can step back (NTP); min/max keeps first_ms <= last_ms true regardless.
  it->second.first_ms = std::min(it->second.first_ms, at_ms);
  it->second.last_ms = std::max(it->second.last_ms, at_ms);
}

void Tally::add_failure(int64_t at_ms, FailureKind kind, std::string detail, int status) {
  ++failed_;
  ++by_kind_[static_cast<std::size_t>(kind)];
  if (status != 0) {
    ++status_counts_[status];
  }
  if (first_failures_.size() < kMaxFirstFailures) {
    first_failures_.push_back(FailureSample{at_ms, kind, std::move(detail)});
  }
}

uint64_t Tally::failures_of(FailureKind kind) const {
  return by_kind_[static_cast<std::size_t>(kind)];
}

std::string report_json(const Report& report) {
  const Tally& t = report.tally;
  nlohmann::ordered_json by_kind = nlohmann::ordered_json::object();
  for (std::size_t k = 0; k < kFailureKindCount; ++k) {
    by_kind[kind_name(static_cast<FailureKind>(k))] = t.failures_of(static_cast<FailureKind>(k));
  }
  nlohmann::ordered_json statuses = nlohmann::ordered_json::object();
  for (const auto& entry : t.status_counts()) {
    statuses[std::to_string(entry.first)] = entry.second;
  }
  nlohmann::ordered_json bodies = nlohmann::ordered_json::object();
  for (const auto& entry : t.bodies()) {
    bodies[entry.first] = {{"count", entry.second.count},
                           {"first_ms", entry.second.first_ms},
                           {"last_ms", entry.second.last_ms}};
  }
  nlohmann::ordered_json failures = nlohmann::ordered_json::array();
  for (const auto& f : t.first_failures()) {
    failures.push_back({{"at_ms", f.at_ms}, {"kind", kind_name(f.kind)}, {"detail", f.detail}});
  }
  nlohmann::ordered_json latency = {{"p50", nullptr}, {"p99", nullptr}, {"max", nullptr}};
  if (t.latency().count() > 0) {
    latency = {{"p50", to_ms(t.latency().percentile(0.50))},
               {"p99", to_ms(t.latency().percentile(0.99))},
               {"max", to_ms(t.latency().max())}};
  }
  const nlohmann::ordered_json j = {
      {"url", report.url},
      {"connections", report.connections},
      {"started_ms", report.started_ms},
      {"ended_ms", report.ended_ms},
      {"stopped_by", report.stopped_by},
      {"requests", t.requests()},
      {"ok", t.ok()},
      {"failed", t.failed()},
      {"abandoned", report.abandoned},
      {"failures_by_kind", by_kind},
      {"status_counts", statuses},
      {"bodies", bodies},
      {"bodies_untracked", t.untracked_bodies()},
      {"first_failures", failures},
      {"latency_ms", latency},
  };
  // Bodies and details hold whatever the server sent; replace (not throw on) invalid UTF-8.
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace loadgen
