// health::Tracker: turns a container's stream of observations into a Verdict. Pure.
//
// One Tracker per (host, new container). The controller probes every `interval`, feeds each
// Observation in order, and asks verdict(now). Rules, in order of precedence:
//   1. Unknown: the latest observation has no container status (engine unreachable) AND no
//      probe passed or failed (all unobservable). Missing data is never treated as failure.
//   2. Failing, immediately: the container is gone, exited/dead, OOM-killed, or its restart
//      count rose since the first observation (a crash loop, even if HTTP passes in between),
//      or Docker reports its HEALTHCHECK "unhealthy".
//   3. Passing/failing streaks: a round passes when every probe passes and the container is
//      running. `healthy_threshold` consecutive passing rounds make it "passing" (since the
//      first round of that streak). Once it has been passing, `unhealthy_threshold`
//      consecutive failing rounds make it Failing. Before it has ever passed, failures only
//      count against healthy_deadline (a slow start is fine within the deadline).
//   4. Healthy: passing, and now - passing_since >= min_healthy_time. A container that passes
//      and then dies within min_healthy_time is Failing by rule 2 or 3.
//   5. Failing: not Healthy when healthy_deadline has elapsed since `started`.
//   6. Otherwise Pending.
// Once Failing, a tracker stays Failing (a verdict the controller acted on must not flip).
#pragma once

#include <string>

#include "healthcheck/observation.h"

namespace health {

struct Policy {
  Millis interval{1000};
  Millis timeout{2000};
  int healthy_threshold = 1;
  int unhealthy_threshold = 3;
  Millis healthy_deadline{60000};
  Millis min_healthy_time{0};
};

class Tracker {
 public:
  Tracker(Policy policy, TimePoint started);

  void observe(const Observation& obs);
  Verdict verdict(TimePoint now) const;

  // One line a person understands: "exited with code 1 after 2s",
  // "HTTP 503 on 3 consecutive probes", "not healthy within healthy_deadline 10s".
  std::string reason(TimePoint now) const;
  // The last observation fed, if any (evidence for events).
  const std::optional<Observation>& last() const { return last_; }
  int consecutive_passes() const { return passes_; }
  int consecutive_failures() const { return failures_; }

 private:
  Policy policy_;
  TimePoint started_;
  std::optional<Observation> last_;
  std::optional<int> first_restart_count_;
  int passes_ = 0;
  int failures_ = 0;
  bool ever_passing_ = false;
  std::optional<TimePoint> passing_since_;
  bool failed_ = false;  // sticky
  std::string fail_reason_;
  TimePoint failed_at_{};
};

}  // namespace health
