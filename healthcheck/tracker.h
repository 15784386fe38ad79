// health::Tracker: turns a container's stream of observations into a Verdict. Pure.
//
// One Tracker per (host, new container). The controller probes every `interval`, feeds each
// Observation in order, and asks verdict(now). Rules, in order of precedence:
//   1. Unknown: the latest observation has no container status (engine unreachable) AND no
//      probe passed or failed having reached the app (each is unobservable, or failed without
//      a connection: refused, timed out; or there are no probes). A host cut off from rollgate
//      looks exactly like that, so missing data is never treated as failure. (Also Unknown:
//      no observation at all by healthy_deadline.)
//   2. Failing, immediately: the container is gone, exited/dead, OOM-killed, or its restart
//      count rose since the first observation (a crash loop, even if HTTP passes in between),
//      or it is in the "restarting" state, or Docker reports its HEALTHCHECK "unhealthy".
//   3. Passing/failing streaks: a round passes when every probe passes and the container is
//      running (and, with require_docker_healthy, Docker reports its HEALTHCHECK "healthy").
//      `healthy_threshold` consecutive passing rounds make it "passing" (since the first round of
//      that streak). Once it has been passing, `unhealthy_threshold` consecutive failing rounds
//      make it Failing. Before it has ever passed, failures only count against healthy_deadline (a
//      slow start is fine within the deadline).
//   4. Healthy: passing, and now - passing_since >= min_healthy_time. A container that passes
//      and then dies within min_healthy_time is Failing by rule 2 or 3.
//   5. Failing: not Healthy when healthy_deadline has elapsed since `started`. Precisely: the
//      tracker must have been Healthy at some moment strictly before started+healthy_deadline
//      (a first pass exactly at the deadline is too late). Once that is met, later trouble is
//      judged by rules 2 and 3 only.
//   6. Otherwise Pending.
// Once Failing, a tracker stays Failing (a verdict the controller acted on must not flip):
// observe() latches a Failing verdict both at the new observation's time before applying it
// and after applying it.
//
// REQUIRES: observations are fed in time order, and verdict/reason are asked with
// now >= the last observation's time. Not thread-safe (a plain value).
#pragma once

#include <optional>
#include <string>

#include "healthcheck/observation.h"

namespace health {

struct Policy {
  Millis interval{1000};
  Millis timeout{2000};
  int healthy_threshold = 1;    // values below 1 count as 1
  int unhealthy_threshold = 3;  // values below 1 count as 1
  Millis healthy_deadline{60000};
  Millis min_healthy_time{0};
  // The image's Docker HEALTHCHECK must report "healthy" for a round to pass. "starting" (and
  // an image without a HEALTHCHECK) makes the round fail, which before the first pass only
  // counts against healthy_deadline; "unhealthy" fails the container at once (rule 2, which
  // applies whether or not this is set).
  bool require_docker_healthy = false;
  // Rollout-level settings, carried here so that one value describes the health section; the
  // Tracker does not use them (the controller and health::decide do).
  double max_failure_ratio = 0.0;    // fraction of the rollout's hosts that may fail (0..1)
  Millis progress_deadline{600000};  // a batch must reach a decision within this
  Millis bake{0};                    // watch the whole fleet this long after the last batch
};

// How one round (one Observation) counts towards the streaks.
enum class RoundOutcome {
  kPass,          // every probe passed, and the container is running (or was not asked about)
                  // and, when required, its Docker HEALTHCHECK is "healthy"
  kFail,          // a probe failed, or the container is not running / restarting / gone, or
                  // a required Docker HEALTHCHECK is not "healthy" (or absent)
  kUnobservable,  // neither: nothing failed, but something could not be observed. Streaks
                  // are left alone.
};

const char* to_string(RoundOutcome r);

// require_docker_healthy: Policy::require_docker_healthy.
RoundOutcome classify_round(const Observation& obs, bool require_docker_healthy = false);

// True when the round observed nothing at all: no container status and every probe (if any)
// unobservable. A blind latest observation makes the verdict Unknown (rule 1).
bool is_blind(const Observation& obs);

class Tracker {
 public:
  Tracker(Policy policy, TimePoint started);

  void observe(const Observation& obs);
  Verdict verdict(TimePoint now) const;

  // One line a person understands. Failing reasons read as a predicate of "the new container":
  // "exited with code 1 after 2s", "was OOM-killed after 3s", "restarted 2 times (crash loop)",
  // "failed 3 consecutive probes after passing: HTTP 503 (expected 200) in 2ms",
  // "was not healthy within healthy_deadline 10s (last probe: connect ...: Connection refused)".
  // Other verdicts start with their name: "healthy: 3 consecutive passes, HTTP 200 in 2ms",
  // "pending: 1/2 passes (last: HTTP 200 in 2ms)", "unknown: engine unreachable and probes
  // unobservable: connect ...: No route to host".
  std::string reason(TimePoint now) const;
  // The last observation fed, if any (evidence for events).
  const std::optional<Observation>& last() const { return last_; }
  int consecutive_passes() const { return passes_; }
  int consecutive_failures() const { return failures_; }
  // When the sticky Failing verdict was latched (the observation's time); nullopt until then.
  // A deadline failure that was only computed by verdict(now) is latched by the next observe().
  std::optional<TimePoint> failed_at() const {
    return failed_ ? std::optional<TimePoint>(failed_at_) : std::nullopt;
  }

 private:
  int healthy_threshold() const;
  int unhealthy_threshold() const;
  TimePoint deadline_at() const { return started_ + policy_.healthy_deadline; }
  // When the current passing streak becomes (or became) Healthy; nullopt if not passing.
  std::optional<TimePoint> healthy_moment() const;
  bool deadline_met() const;
  Verdict evaluate(TimePoint now) const;
  void latch_if_failing(TimePoint at);
  void fail(std::string why, TimePoint at) const;
  std::string deadline_reason() const;
  std::string describe_last() const;

  Policy policy_;
  TimePoint started_;
  std::optional<Observation> last_;
  std::optional<int> first_restart_count_;
  int passes_ = 0;
  int failures_ = 0;
  bool ever_passing_ = false;
  std::optional<TimePoint> streak_start_;      // first round of the current passing streak
  std::optional<TimePoint> threshold_at_;      // round at which it reached healthy_threshold
  std::optional<TimePoint> passing_since_;     // == streak_start_ once passing
  std::optional<TimePoint> first_healthy_at_;  // earliest Healthy moment of an ended streak
  // Sticky. Mutable because verdict() latches a deadline failure it returns: a Failing verdict
  // someone has read (and may have acted on) never flips back.
  mutable bool failed_ = false;
  mutable std::string fail_reason_;
  mutable TimePoint failed_at_{};
};

}  // namespace health
