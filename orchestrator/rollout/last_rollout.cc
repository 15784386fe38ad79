#include "orchestrator/rollout/last_rollout.h"

#include "orchestrator/rollout/resume.h"

namespace orch::rollout {

std::optional<journal::RolloutRecord> last_rollout(
    const std::vector<journal::RolloutRecord>& rollouts) {
  for (auto it = rollouts.rbegin(); it != rollouts.rend(); ++it) {
    if (it->start || it->end) {
      return *it;
    }
  }
  return std::nullopt;
}

RolloutState rollout_state(const journal::RolloutRecord& r) {
  RolloutState s;
  s.rollout = r.rollout;
  s.revision = r.start ? r.start->revision : 0;
  s.end = r.end;
  if (!resumable(r)) {
    return s;  // kEnded, kNothing
  }
  s.phase = r.end ? RolloutState::Phase::kPaused : RolloutState::Phase::kInterrupted;
  ApplyOptions options;
  prepare_resume(r, options);
  s.next =
      options.rollback_only ? RolloutState::Next::kFinishRollback : RolloutState::Next::kResume;
  return s;
}

ResumeDecision decide_resume(const std::vector<journal::RolloutRecord>& rollouts) {
  ResumeDecision d;
  d.last = last_rollout(rollouts);
  if (!d.last) {
    d.reason = "the journal has no rollout";
  } else if (resumable(*d.last)) {
    d.kind = ResumeDecision::Kind::kContinue;
  } else if (d.last->end) {
    d.kind = ResumeDecision::Kind::kEnded;
  } else {
    d.reason = "the last rollout never started";
  }
  return d;
}

const char* to_string(RolloutState::Phase p) {
  switch (p) {
    case RolloutState::Phase::kEnded:
      return "ended";
    case RolloutState::Phase::kPaused:
      return "paused";
    case RolloutState::Phase::kInterrupted:
      return "interrupted";
  }
  return "ended";
}

const char* to_string(RolloutState::Next n) {
  switch (n) {
    case RolloutState::Next::kNothing:
      return "nothing";
    case RolloutState::Next::kResume:
      return "resume";
    case RolloutState::Next::kFinishRollback:
      return "finish_rollback";
  }
  return "nothing";
}

}  // namespace orch::rollout
