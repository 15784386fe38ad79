// rollout::Journaler: the one writer of a rollout's journal records.
//
// Every record a rollout, a rollback or a switch-back writes goes through here: it stamps the
// rollout id and the clock's wall time, appends, and remembers the first failure.
//
// A failed write is never ignored, but it is not always handled where it happens:
//   - an intent that cannot be written stops the engine call it announces (write-ahead:
//     intent() returns the error and the caller must not act);
//   - any other record (outcome, baseline, decision, batch done, end) that cannot be written
//     is latched: error() returns it, and the controller checks it at every step boundary.
//     Before anything was touched the run ends with exit 1; mid-rollout the batch in flight
//     is put back and the run pauses with exit 4. Either way the summary is the journal's own
//     error, naming the file and the errno text ("... /state/web/journal.log: No space left
//     on device"), so the operator is sent to the state directory, not to an engine.
// Undo steps after such a failure still run even though their intents cannot be written:
// each is idempotent by container id and name, and resume re-reads the engines, which are
// the truth; stopping half-way would leave a host with no live container.
//
// Ownership: borrows the journal (nullptr: nothing is written, nothing fails), the clock and
// the event sink. Thread-safety: none; one io_context thread.
#pragma once

#include <string>

#include "orchestrator/core/clock.h"
#include "orchestrator/core/status.h"
#include "orchestrator/journal/journal.h"
#include "orchestrator/rollout/events.h"

namespace orch::rollout {

class Journaler {
 public:
  Journaler(journal::Journal* journal, Clock& clock, EventSink& events)
      : journal_(journal), clock_(clock), events_(events) {}

  // The rollout every later record belongs to; clears an earlier run's latched error.
  void begin(std::string rollout_id);
  const std::string& rollout_id() const { return rollout_; }

  // Writes `r` (any journal record struct) with this rollout's id and the current time.
  template <class R>
  [[nodiscard]] Status write(R r) {
    r.rollout = rollout_;
    r.ts = clock_.wall_now();
    return latch(journal_ ? journal_->append(r) : Status::ok());
  }

  // Writes `r` like write(); a failure is latched and checked at the next step boundary.
  template <class R>
  void note(R r) {
    (void)write(std::move(r));  // the error stays in error()
  }

  // Write-ahead of one engine call or router step. On error the call must not be made.
  [[nodiscard]] Status intent(const std::string& host, const std::string& call,
                              const std::string& action, const std::string& container,
                              const std::string& new_name = "");
  // The intent of an undo step: written ahead like any other, but a failure is latched and
  // does not stop the step (see above).
  void undo_intent(const std::string& host, const std::string& call, const std::string& action,
                   const std::string& container, const std::string& new_name = "");
  // What the call did. A failure to write it is latched (see above).
  void outcome(const std::string& host, const std::string& call, const Status& result,
               const std::string& container_id = "");

  // The first write that failed in this rollout; ok while every write succeeded.
  const Status& error() const { return error_; }
  bool failed() const { return !error_.is_ok(); }

 private:
  Status latch(Status written);

  journal::Journal* journal_;
  Clock& clock_;
  EventSink& events_;
  std::string rollout_;
  Status error_;
};

}  // namespace orch::rollout
