// Events: everything a rollout reports, as values. The controller emits; sinks render.
//
// One Event per step outcome, probe round, decision and phase change. `--output json` prints
// each as one JSON object per line (stable field names, documented in docs/events.md); the
// text sink prints the lines a person follows. Sinks never see credentials: events carry
// container names, digests and probe details only.
#pragma once

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "orchestrator/core/clock.h"

namespace orch::rollout {

struct Event {
  std::string type;     // "preflight", "baseline", "batch", "step", "probe", "decision", ...
  std::string host;     // "" for fleet-wide events
  std::string message;  // one line for people
  nlohmann::json data = nlohmann::json::object();  // structured inputs (probe results, rule, ...)
};

class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void emit(const Event& e) = 0;
};

// One JSON object per line: {"ts": "...", "type": ..., "host": ..., "message": ..., ...data}.
// "ts" is `clock`'s wall time (UTC, milliseconds: "2024-05-01T12:00:00.250Z"); the clock must
// outlive the sink.
class JsonLinesSink final : public EventSink {
 public:
  JsonLinesSink(std::FILE* out, const Clock& clock) : out_(out), clock_(clock) {}
  void emit(const Event& e) override;

 private:
  std::FILE* out_;
  const Clock& clock_;
};

// `t` as events print it: "2024-05-01T12:00:00.250Z" (UTC, milliseconds).
std::string event_timestamp(WallTime t);

// Human text. Probe rounds are shown only when `verbose`; everything else always.
class TextSink final : public EventSink {
 public:
  TextSink(std::FILE* out, bool verbose) : out_(out), verbose_(verbose) {}
  void emit(const Event& e) override;

 private:
  std::FILE* out_;
  bool verbose_;
};

// Keeps events in memory (tests, and the summary at the end of a run).
class RecordingSink final : public EventSink {
 public:
  void emit(const Event& e) override { events.push_back(e); }
  std::vector<Event> events;
};

// Sends each event to several sinks.
class TeeSink final : public EventSink {
 public:
  explicit TeeSink(std::vector<EventSink*> sinks) : sinks_(std::move(sinks)) {}
  void emit(const Event& e) override {
    for (auto* s : sinks_) {
      s->emit(e);
    }
  }

 private:
  std::vector<EventSink*> sinks_;
};

}  // namespace orch::rollout
