// ManualClock: time that moves only when someone waits. Tests never sleep (STYLE.md #6).
#pragma once

#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "orchestrator/core/clock.h"

namespace orch::testing {

class ManualClock final : public Clock {
 public:
  TimePoint now() const override { return now_; }
  WallTime wall_now() const override { return WallTime{} + (now_ - TimePoint{}); }
  // Advances time by `d` and yields once, so that other coroutines run in between.
  Task<void> sleep_for(std::chrono::milliseconds d) override {
    now_ += d;
    slept_ += d;
    co_await boost::asio::post(co_await boost::asio::this_coro::executor,
                               boost::asio::use_awaitable);
  }
  void advance(std::chrono::milliseconds d) { now_ += d; }
  std::chrono::milliseconds slept() const { return slept_; }

 private:
  TimePoint now_ = TimePoint{} + std::chrono::hours(1);
  std::chrono::milliseconds slept_{0};
};

}  // namespace orch::testing
