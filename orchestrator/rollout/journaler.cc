#include "orchestrator/rollout/journaler.h"

#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "orchestrator/journal/records.h"

namespace orch::rollout {

namespace net = boost::asio;

void Journaler::begin(std::string rollout_id) {
  rollout_ = std::move(rollout_id);
  error_ = Status::ok();
}

// A sync just covered every record written so far, or failed for those not yet covered.
Status Journaler::synced(Status result) {
  if (!result && written_ > synced_) {
    failed_.emplace_back(synced_, written_);
    sync_error_ = result;
  }
  synced_ = written_;
  return result;
}

Status Journaler::flush() {
  if (!journal_ || synced_ == written_) {
    return Status::ok();
  }
  return latch(synced(journal_->sync().with_context("journal sync")));
}

Task<Status> Journaler::durable(uint64_t seq) {
  if (seq == 0) {
    co_return Status::ok();
  }
  // The other hosts of this step are ready to run: let them write theirs first, so that one
  // fdatasync covers all. Whoever resumes first and finds its record unsynced syncs for all.
  auto ex = co_await net::this_coro::executor;
  co_await net::post(ex, net::use_awaitable);
  if (synced_ < seq) {
    (void)latch(synced(journal_->sync().with_context("journal sync")));  // answered below
  }
  for (const auto& [after, upto] : failed_) {
    if (seq > after && seq <= upto) {
      co_return sync_error_;
    }
  }
  co_return Status::ok();
}

// The records are filled field by field: GCC 12 mis-destroys the temporaries of a braced
// initializer in a coroutine.
Task<Status> Journaler::intent(std::string host, std::string call, std::string action,
                               std::string container, std::string new_name) {
  journal::IntentRecord r;
  r.host = std::move(host);
  r.call = std::move(call);
  r.action = std::move(action);
  r.container = std::move(container);
  r.new_name = std::move(new_name);
  auto seq = write_unsynced(std::move(r));
  if (!seq) {
    co_return seq.status();
  }
  co_return co_await durable(*seq);
}

Task<void> Journaler::undo_intent(std::string host, std::string call, std::string action,
                                  std::string container, std::string new_name) {
  auto written = co_await intent(std::move(host), std::move(call), std::move(action),
                                 std::move(container), std::move(new_name));
  (void)written;  // latched; the undo step runs anyway (journaler.h)
}

Task<void> Journaler::outcome(std::string host, std::string call, Status result,
                              std::string container_id) {
  journal::OutcomeRecord r;
  r.host = std::move(host);
  r.call = std::move(call);
  r.ok = result.is_ok();
  if (!result) {
    r.error = result.to_string();
  }
  r.container_id = std::move(container_id);
  auto seq = write_unsynced(std::move(r));
  if (seq) {
    auto durable_now = co_await durable(*seq);
    (void)durable_now;  // latched: checked at the next step boundary
  }
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
