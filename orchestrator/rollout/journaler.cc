#include "orchestrator/rollout/journaler.h"

#include "orchestrator/journal/records.h"

namespace orch::rollout {

void Journaler::begin(std::string rollout_id) {
  rollout_ = std::move(rollout_id);
  error_ = Status::ok();
}

Status Journaler::intent(const std::string& host, const std::string& call,
                         const std::string& action, const std::string& container,
                         const std::string& new_name) {
  return write(journal::IntentRecord{"", {}, host, call, action, container, new_name});
}

void Journaler::undo_intent(const std::string& host, const std::string& call,
                            const std::string& action, const std::string& container,
                            const std::string& new_name) {
  note(journal::IntentRecord{"", {}, host, call, action, container, new_name});
}

void Journaler::outcome(const std::string& host, const std::string& call, const Status& result,
                        const std::string& container_id) {
  note(journal::OutcomeRecord{
      "", {}, host, call, result.is_ok(), result ? "" : result.to_string(), container_id});
}

Status Journaler::latch(Status written) {
  if (!written && error_.is_ok()) {
    error_ = written;
    events_.emit(Event{"journal",
                       "",
                       "could not write the journal: " + written.message(),
                       {{"ok", false}, {"error", written.message()}}});
  }
  return written;
}

}  // namespace orch::rollout
