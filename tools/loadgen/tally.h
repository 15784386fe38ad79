// What rollgate-load counts, and the one JSON report it prints (pure: no I/O, no clocks).
//
// The load engine (load.h) hands every finished request to a Tally: a complete response with
// an expected status is "ok", everything else is a failure of one FailureKind. The Tally keeps
// bounded state however long the run: at most kMaxBodies distinct bodies, the first
// kMaxFirstFailures failures, and a fixed-size latency histogram.
//
// Thread-safety: none; the engine runs on one thread.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace loadgen {

using Micros = std::chrono::microseconds;

// Why a request failed. Connect-phase failures (resolve, refused, unreachable, timed out while
// connecting) are all kConnect; kTimeout is an established connection that gave no complete
// response in time. kStaleKeepalive is a reused keep-alive connection that the server had
// closed while it was idle: found when the request cannot be written, or when the first read
// gets EOF or a reset before a single byte. It is still a failed request (a client without
// retries sees it), only told apart because its cause is the server's idle close.
enum class FailureKind {
  kConnect,
  kTimeout,
  kStatus,          // a complete response with a status not in --expect-status
  kReset,           // connection reset or broken pipe on a connection not reused
  kEof,             // EOF before a complete response (and not a stale keep-alive)
  kStaleKeepalive,  // see above
  kProtocol,        // a response Beast's parser rejects (bad syntax, body too large)
  kOther,
};
inline constexpr std::size_t kFailureKindCount = 8;

// "connect", "timeout", "status", "reset", "eof", "stale_keepalive", "protocol", "other".
const char* kind_name(FailureKind kind);

// The key a body is counted under: trailing whitespace removed, then at most 200 bytes.
// "demo v1\n" -> "demo v1".
std::string body_key(std::string_view body);

// Latencies in buckets about 1.6% wide (64 per power of two above 128us, exact below), so
// percentiles cost constant memory. Percentiles are nearest-rank and report the upper edge of
// the bucket holding that rank, never more than the largest value added.
class LatencyHistogram {
 public:
  void add(Micros latency);
  uint64_t count() const { return count_; }
  Micros max() const { return max_; }
  // REQUIRES: count() > 0 and 0 < p <= 1.
  Micros percentile(double p) const;

 private:
  static std::size_t bucket_of(uint64_t us);
  static uint64_t upper_edge(std::size_t bucket);

  std::vector<uint64_t> buckets_;
  uint64_t count_ = 0;
  Micros max_{0};
};

struct BodySeen {
  uint64_t count = 0;
  int64_t first_ms = 0;  // unix milliseconds when the first such response was complete
  int64_t last_ms = 0;   // ... and the last
};

struct FailureSample {
  int64_t at_ms = 0;
  FailureKind kind = FailureKind::kOther;
  std::string detail;  // "HTTP 503: warming up", "connect 127.0.0.1:9: Connection refused"
};

class Tally {
 public:
  static constexpr std::size_t kMaxBodies = 100;
  static constexpr std::size_t kMaxFirstFailures = 20;

  // A complete response with an expected status, complete at `at_ms` (unix ms) after
  // `latency` (from the start of the attempt, connecting included).
  void add_ok(int64_t at_ms, int status, std::string_view body, Micros latency);
  // A failed request. `status` is the response's status for kStatus, 0 when none arrived.
  void add_failure(int64_t at_ms, FailureKind kind, std::string detail, int status = 0);

  uint64_t requests() const { return ok_ + failed_; }
  uint64_t ok() const { return ok_; }
  uint64_t failed() const { return failed_; }
  uint64_t failures_of(FailureKind kind) const;
  // Complete responses by status, expected or not.
  const std::map<int, uint64_t>& status_counts() const { return status_counts_; }
  // Bodies of ok responses, by body_key(). Past kMaxBodies distinct keys, new keys are only
  // counted in untracked_bodies().
  const std::map<std::string, BodySeen>& bodies() const { return bodies_; }
  uint64_t untracked_bodies() const { return untracked_bodies_; }
  const std::vector<FailureSample>& first_failures() const { return first_failures_; }
  // Latencies of ok responses.
  const LatencyHistogram& latency() const { return latency_; }

 private:
  uint64_t ok_ = 0;
  uint64_t failed_ = 0;
  std::array<uint64_t, kFailureKindCount> by_kind_{};
  std::map<int, uint64_t> status_counts_;
  std::map<std::string, BodySeen> bodies_;
  uint64_t untracked_bodies_ = 0;
  std::vector<FailureSample> first_failures_;
  LatencyHistogram latency_;
};

// Everything the report says about one run.
struct Report {
  std::string url;
  int connections = 0;
  int64_t started_ms = 0;  // unix ms when the loops started
  int64_t ended_ms = 0;    // unix ms when the last request in flight had ended
  std::string stopped_by;  // "duration", "SIGINT", "SIGTERM"
  // Requests in flight when a second signal stopped the run at once: neither ok nor failed.
  uint64_t abandoned = 0;
  Tally tally;
};

// The report as one line of JSON (no trailing newline). Every failure kind is present, zero or
// not. latency_ms values are null when no request was ok. Bytes of a body that are not UTF-8
// are replaced with U+FFFD.
std::string report_json(const Report& report);

}  // namespace loadgen
