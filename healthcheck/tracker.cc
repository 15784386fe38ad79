#include "healthcheck/tracker.h"

#include <algorithm>
#include <utility>

#include "healthcheck/baseline.h"
#include "healthcheck/format.h"

namespace health {

namespace {

using Outcome = ProbeResult::Outcome;

bool container_ok(const ContainerStatus& c) { return c.exists && c.running && !c.restarting; }

// With require_docker_healthy: why the container's Docker HEALTHCHECK does not let the round
// pass, or nullopt when it does (or is not required).
std::optional<std::string> docker_health_problem(const ContainerStatus& c, bool required) {
  if (!required || c.health_status == "healthy") {
    return std::nullopt;
  }
  if (c.health_status.empty() || c.health_status == "none") {
    return std::string("no Docker HEALTHCHECK in the image (health.docker_health requires one)");
  }
  return "Docker HEALTHCHECK " + c.health_status;
}

std::string since(TimePoint start, TimePoint at) {
  return format_millis(std::chrono::duration_cast<Millis>(at - start));
}

// Rule 2: reasons that fail a new container at once, whatever its probes say.
std::optional<std::string> immediate_failure(const ContainerStatus& c, int first_restart_count,
                                             TimePoint started, TimePoint at) {
  if (!c.exists) {
    return "no longer exists";
  }
  if (c.oom_killed) {
    return "was OOM-killed after " + since(started, at);
  }
  if (c.status == "exited") {
    return "exited with code " + std::to_string(c.exit_code) + " after " + since(started, at);
  }
  if (c.status == "dead") {
    return "is dead (exit code " + std::to_string(c.exit_code) + ") after " + since(started, at);
  }
  // With a restart policy, a crashing container comes back "running" between crashes, so its
  // probes may even pass; the rising restart count is what gives the loop away.
  int restarts = c.restart_count - first_restart_count;
  if (restarts > 0) {
    // The engine keeps the last exit code while it restarts the container: say it.
    return (c.exit_code != 0 ? "exited with code " + std::to_string(c.exit_code) + " and " : "") +
           "restarted " + std::to_string(restarts) + (restarts == 1 ? " time" : " times") +
           " (crash loop)";
  }
  if (c.restarting) {
    return "is restarting (crash loop, restart count " + std::to_string(c.restart_count) + ")";
  }
  if (c.health_status == "unhealthy") {
    return "is unhealthy: Docker HEALTHCHECK reports unhealthy (failing streak " +
           std::to_string(c.failing_streak) + ")";
  }
  return std::nullopt;
}

// The detail of the probe that explains a round best: a failure, else an unobservable probe,
// else the first probe.
const ProbeResult* telling_probe(const Observation& obs) {
  for (const auto& p : obs.probes) {
    if (p.outcome == Outcome::kFail) {
      return &p;
    }
  }
  for (const auto& p : obs.probes) {
    if (p.outcome == Outcome::kUnobservable) {
      return &p;
    }
  }
  return obs.probes.empty() ? nullptr : &obs.probes.front();
}

}  // namespace

const char* to_string(RoundOutcome r) {
  switch (r) {
    case RoundOutcome::kPass:
      return "pass";
    case RoundOutcome::kFail:
      return "fail";
    case RoundOutcome::kUnobservable:
      return "unobservable";
  }
  return "?";
}

RoundOutcome classify_round(const Observation& obs, bool require_docker_healthy) {
  bool all_pass = true;
  for (const auto& p : obs.probes) {
    if (p.outcome == Outcome::kFail) {
      // Engine unreachable and the app not reached either: the host may be cut off from
      // rollgate, so this failure is missing data, not evidence (never roll back on it).
      if (!obs.container && !p.reached) {
        all_pass = false;
        continue;
      }
      return RoundOutcome::kFail;
    }
    if (p.outcome != Outcome::kPass) {
      all_pass = false;
    }
  }
  if (obs.container) {
    if (!container_ok(*obs.container) ||
        docker_health_problem(*obs.container, require_docker_healthy)) {
      return RoundOutcome::kFail;
    }
    // The engine says it runs: that is an observation even without probes.
    return all_pass ? RoundOutcome::kPass : RoundOutcome::kUnobservable;
  }
  // No container status: only passing probes can carry the round.
  return (all_pass && !obs.probes.empty()) ? RoundOutcome::kPass : RoundOutcome::kUnobservable;
}

bool is_blind(const Observation& obs) {
  if (obs.container) {
    return false;
  }
  return std::all_of(obs.probes.begin(), obs.probes.end(), [](const ProbeResult& p) {
    return p.outcome == Outcome::kUnobservable || (p.outcome == Outcome::kFail && !p.reached);
  });
}

Baseline baseline_from(const Observation& obs, bool require_docker_healthy) {
  if (obs.container && !obs.container->exists) {
    return Baseline::kAbsent;
  }
  switch (classify_round(obs, require_docker_healthy)) {
    case RoundOutcome::kPass:
      return Baseline::kHealthy;
    case RoundOutcome::kFail:
      return Baseline::kUnhealthy;
    case RoundOutcome::kUnobservable:
      return Baseline::kUnknown;
  }
  return Baseline::kUnknown;
}

Tracker::Tracker(Policy policy, TimePoint started) : policy_(policy), started_(started) {}

int Tracker::healthy_threshold() const { return std::max(1, policy_.healthy_threshold); }
int Tracker::unhealthy_threshold() const { return std::max(1, policy_.unhealthy_threshold); }

std::optional<TimePoint> Tracker::healthy_moment() const {
  if (!passing_since_ || !threshold_at_) {
    return std::nullopt;
  }
  return std::max(*threshold_at_, *passing_since_ + policy_.min_healthy_time);
}

bool Tracker::deadline_met() const {
  if (first_healthy_at_ && *first_healthy_at_ < deadline_at()) {
    return true;
  }
  auto moment = healthy_moment();
  return moment && *moment < deadline_at();
}

Verdict Tracker::evaluate(TimePoint now) const {
  if (failed_) {
    return Verdict::kFailing;
  }
  if (last_ && is_blind(*last_)) {
    return Verdict::kUnknown;
  }
  if (now >= deadline_at() && !deadline_met()) {
    // Never fail on no data at all: the controller did not manage a single observation.
    return last_ ? Verdict::kFailing : Verdict::kUnknown;
  }
  if (passing_since_ && now - *passing_since_ >= policy_.min_healthy_time) {
    return Verdict::kHealthy;
  }
  return Verdict::kPending;
}

Verdict Tracker::verdict(TimePoint now) const {
  Verdict v = evaluate(now);
  if (v == Verdict::kFailing && !failed_) {
    fail(deadline_reason(), now);
  }
  return v;
}

void Tracker::fail(std::string why, TimePoint at) const {
  failed_ = true;
  fail_reason_ = std::move(why);
  failed_at_ = at;
}

void Tracker::latch_if_failing(TimePoint at) {
  // Only the deadline can make evaluate() say Failing while failed_ is unset.
  if (!failed_ && evaluate(at) == Verdict::kFailing) {
    fail(deadline_reason(), at);
  }
}

void Tracker::observe(const Observation& obs) {
  // A verdict of Failing that someone may already have read at an earlier `now` must hold
  // before this observation can change the picture. Not on a blind round: it carries no data,
  // and a deadline that passed while the host was cut off (a round can take the engine's
  // connect timeout) is judged when data comes back, never on missing data.
  if (!is_blind(obs)) {
    latch_if_failing(obs.at);
  }
  last_ = obs;
  if (failed_) {
    return;
  }
  if (obs.container) {
    if (!first_restart_count_) {
      first_restart_count_ = obs.container->restart_count;
    }
    if (auto why = immediate_failure(*obs.container, *first_restart_count_, started_, obs.at)) {
      fail(std::move(*why), obs.at);
      return;
    }
  }
  switch (classify_round(obs, policy_.require_docker_healthy)) {
    case RoundOutcome::kPass:
      if (passes_ == 0) {
        streak_start_ = obs.at;
      }
      ++passes_;
      failures_ = 0;
      if (passes_ >= healthy_threshold() && !passing_since_) {
        passing_since_ = streak_start_;
        threshold_at_ = obs.at;
        ever_passing_ = true;
      }
      break;
    case RoundOutcome::kFail: {
      // The streak ends here. If it had already been Healthy, remember that for the deadline.
      auto moment = healthy_moment();
      if (moment && *moment <= obs.at && (!first_healthy_at_ || *moment < *first_healthy_at_)) {
        first_healthy_at_ = moment;
      }
      passes_ = 0;
      streak_start_.reset();
      threshold_at_.reset();
      passing_since_.reset();
      ++failures_;
      if (ever_passing_ && failures_ >= unhealthy_threshold()) {
        fail("failed " + std::to_string(failures_) +
                 " consecutive probes after passing: " + describe_last(),
             obs.at);
        return;
      }
      break;
    }
    case RoundOutcome::kUnobservable:
      break;
  }
  latch_if_failing(obs.at);
}

std::string Tracker::describe_last() const {
  if (!last_) {
    return "no observation yet";
  }
  const Observation& obs = *last_;
  const ProbeResult* probe = telling_probe(obs);
  if (probe && probe->outcome == Outcome::kFail) {
    return probe->detail;
  }
  if (obs.container && !container_ok(*obs.container)) {
    return "container " +
           (obs.container->status.empty() ? std::string("not running") : obs.container->status);
  }
  if (obs.container) {
    if (auto problem = docker_health_problem(*obs.container, policy_.require_docker_healthy)) {
      return *problem;
    }
  }
  if (probe) {
    return probe->detail;
  }
  if (obs.container) {
    return "container running";
  }
  return "nothing observed";
}

std::string Tracker::deadline_reason() const {
  return "was not healthy within healthy_deadline " + format_millis(policy_.healthy_deadline) +
         " (last probe: " + describe_last() + ")";
}

std::string Tracker::reason(TimePoint now) const {
  switch (evaluate(now)) {
    case Verdict::kFailing:
      return failed_ ? fail_reason_ : deadline_reason();
    case Verdict::kUnknown: {
      if (!last_) {
        return "unknown: no observation within healthy_deadline " +
               format_millis(policy_.healthy_deadline);
      }
      if (last_->probes.empty()) {
        return "unknown: engine unreachable and no probes configured";
      }
      return "unknown: engine unreachable and probes unobservable: " + describe_last();
    }
    case Verdict::kHealthy:
      return "healthy: " + std::to_string(passes_) + " consecutive " +
             (passes_ == 1 ? "pass" : "passes") + ", " + describe_last();
    case Verdict::kPending:
      break;
  }
  if (passing_since_) {
    return "pending: passing for " +
           format_millis(std::chrono::duration_cast<Millis>(now - *passing_since_)) +
           " of min_healthy_time " + format_millis(policy_.min_healthy_time) +
           " (last: " + describe_last() + ")";
  }
  std::string out =
      "pending: " + std::to_string(passes_) + "/" + std::to_string(healthy_threshold()) + " passes";
  if (ever_passing_ && failures_ > 0) {
    out += ", " + std::to_string(failures_) + "/" + std::to_string(unhealthy_threshold()) +
           " failures after passing";
  }
  return out + " (last: " + describe_last() + ")";
}

}  // namespace health
