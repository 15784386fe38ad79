// Time, injected (STYLE.md #6).
//
// Only SystemClock reads the real clocks and arms real timers. Pure code takes a
// `now` argument; components that wait take a Clock&, so unit tests run the whole
// controller on a ManualClock (tests/fakes/manual_clock.h) without sleeping.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>

namespace orch {

template <class T>
using Task = boost::asio::awaitable<T>;

using TimePoint = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
  // Wall-clock time, for journals and events that people read.
  virtual WallTime wall_now() const = 0;
  // Suspends the calling coroutine for `d`. Cancellation (e.g. SIGTERM) ends the wait early.
  virtual Task<void> sleep_for(std::chrono::milliseconds d) = 0;
};

// The real clock: steady_clock for deadlines, a steady_timer on the caller's executor for waits.
class SystemClock final : public Clock {
 public:
  TimePoint now() const override;
  WallTime wall_now() const override;
  Task<void> sleep_for(std::chrono::milliseconds d) override;
};

}  // namespace orch
