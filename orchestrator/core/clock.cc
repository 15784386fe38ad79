#include "orchestrator/core/clock.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace orch {

namespace net = boost::asio;

TimePoint SystemClock::now() const { return std::chrono::steady_clock::now(); }

WallTime SystemClock::wall_now() const { return std::chrono::system_clock::now(); }

Task<void> SystemClock::sleep_for(std::chrono::milliseconds d) {
  net::steady_timer timer(co_await net::this_coro::executor);
  timer.expires_after(d);
  // A cancelled wait is not an error here: the caller re-checks its own state.
  co_await timer.async_wait(net::as_tuple(net::use_awaitable));
}

}  // namespace orch
