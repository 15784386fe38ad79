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
// Group commit: intents and outcomes, which the hosts of a step write at about the same time,
// are written at once and made durable together (journal::Journal::write, sync). Each waits,
// before it returns, for one fdatasync that covers it: the first of them to resume after the
// others have written theirs syncs for all. So an intent is still on disk before its call is
// made, and an outcome before its host goes on; a batch of 100 hosts costs a few fsyncs per
// step instead of one per record.
// Undo steps after such a failure still run even though their intents cannot be written:
// each is idempotent by container id and name, and resume re-reads the engines, which are
// the truth; stopping half-way would leave a host with no live container.
//
// Ownership: borrows the journal (nullptr: nothing is written, nothing fails), the clock and
// the event sink. Thread-safety: none; one io_context thread.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

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
    return synced(latch(journal_ ? journal_->append(r) : Status::ok()));
  }

  // Writes `r` like write(); a failure is latched and checked at the next step boundary.
  template <class R>
  void note(R r) {
    (void)write(std::move(r));  // the error stays in error()
  }

  // Writes `r` now and makes it durable with the next flush() (or any durable write): for the
  // records a loop produces one after another, such as every host's baseline.
  template <class R>
  void stage(R r) {
    (void)write_unsynced(std::move(r));  // latched
  }
  // Syncs what stage() wrote; a failure is latched.
  Status flush();

  // Write-ahead of one engine call or router step, group-committed (see above). On error the
  // call must not be made.
  [[nodiscard]] Task<Status> intent(std::string host, std::string call, std::string action,
                                    std::string container, std::string new_name = "");
  // The intent of an undo step: written ahead like any other, but a failure is latched and
  // does not stop the step (see above).
  Task<void> undo_intent(std::string host, std::string call, std::string action,
                         std::string container, std::string new_name = "");
  // What the call did, group-committed. A failure to write it is latched (see above).
  Task<void> outcome(std::string host, std::string call, Status result,
                     std::string container_id = "");

  // The first write that failed in this rollout; ok while every write succeeded.
  const Status& error() const { return error_; }
  bool failed() const { return !error_.is_ok(); }

 private:
  Status latch(Status written);
  // Group commit bookkeeping: records are numbered as written (written_); synced_ is the last
  // one a sync attempt covered, failed_ the ranges whose sync failed.
  // Stamps `r` and writes it unsynced: its number, 0 when nothing is journaled, or the latched
  // write error.
  template <class R>
  Result<uint64_t> write_unsynced(R r) {
    r.rollout = rollout_;
    r.ts = clock_.wall_now();
    if (!journal_) {
      return uint64_t{0};
    }
    if (Status written = latch(journal_->write(r)); !written) {
      return written;
    }
    return ++written_;
  }
  Status synced(Status result);
  // Waits until record `seq` is covered by a sync (0: nothing to wait for); its result.
  Task<Status> durable(uint64_t seq);

  uint64_t written_ = 0;
  uint64_t synced_ = 0;
  std::vector<std::pair<uint64_t, uint64_t>> failed_;  // (first, last] seq, sync failed
  Status sync_error_;

  journal::Journal* journal_;
  Clock& clock_;
  EventSink& events_;
  std::string rollout_;
  Status error_;
};

}  // namespace orch::rollout
