// Values the health module reasons about. No I/O here.
//
// The health module (namespace `health`) depends on nothing in orchestrator/. Container facts
// reach it as ContainerStatus values, produced by the orchestrator from its Docker client
// (see probe.h, ContainerFacts).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace health {

using Millis = std::chrono::milliseconds;
using TimePoint = std::chrono::steady_clock::time_point;

// One probe's result at one moment. A failed probe is an observation, not an error.
struct ProbeResult {
  enum class Outcome {
    kPass,
    kFail,          // the app answered wrongly, refused, or timed out
    kUnobservable,  // rollgate could not observe at all (e.g. no route to the host)
  };
  std::string probe;  // "http", "container", ...
  Outcome outcome = Outcome::kFail;
  std::string detail;  // "HTTP 503 in 4 ms", "connect: connection refused"
  Millis latency{0};
  // The probe reached the app: a TCP connection was established (an HTTP answer, a TLS
  // handshake, an accepted connect) or the exec ran. A failure that never reached the app says
  // nothing about it when the engine cannot be reached either: the host may be cut off.
  bool reached = false;
};

// What the engine says about a container, as far as health is concerned.
struct ContainerStatus {
  bool exists = true;
  std::string status;  // created|running|paused|restarting|removing|exited|dead
  bool running = false;
  bool restarting = false;
  bool oom_killed = false;
  int exit_code = 0;
  int restart_count = 0;
  std::string health_status;  // Docker HEALTHCHECK: "", "starting", "healthy", "unhealthy"
  int failing_streak = 0;
};

// One round of probing one host.
struct Observation {
  TimePoint at;
  std::vector<ProbeResult> probes;           // every configured probe, in manifest order
  std::optional<ContainerStatus> container;  // nullopt: the engine could not be asked
};

enum class Verdict {
  kPending,  // not yet healthy, not yet failing
  kHealthy,  // passed healthy_threshold and stayed passing for min_healthy_time
  kFailing,  // exited, crash-looping, OOM-killed, failing past thresholds or deadline
  kUnknown,  // could not be observed: neither the engine nor the app answered
};

const char* to_string(Verdict v);

// A host's state before the rollout touched it.
enum class Baseline {
  kHealthy,    // the current container passed the probes
  kUnhealthy,  // a current container exists but fails the probes or is not running
  kAbsent,     // no app container on the host (first deploy)
  kUnknown,    // could not be observed
};

const char* to_string(Baseline b);

}  // namespace health
