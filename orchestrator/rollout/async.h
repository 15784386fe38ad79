// Running many coroutines at once on the current executor, and waiting for all of them.
//
// Include only from .cc files: it pulls in Asio. The controller uses gather() to drive every
// host of a batch concurrently, and gather_bounded() to cap concurrent pulls.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstddef>
#include <exception>
#include <functional>
#include <optional>
#include <vector>

#include "orchestrator/core/clock.h"

namespace orch::rollout {

// Runs every task concurrently; returns their results in input order. Waits for all of them
// even if the caller is cancelled, because the tasks write into this frame.
template <class T>
Task<std::vector<T>> gather(std::vector<Task<T>> tasks) {
  namespace net = boost::asio;
  auto ex = co_await net::this_coro::executor;
  std::vector<std::optional<T>> slots(tasks.size());
  size_t remaining = tasks.size();
  std::exception_ptr first_error;
  net::steady_timer all_done(ex, net::steady_timer::time_point::max());
  for (size_t i = 0; i < tasks.size(); ++i) {
    net::co_spawn(ex, std::move(tasks[i]), [&, i](std::exception_ptr e, T value) {
      if (e) {
        if (!first_error) {
          first_error = e;
        }
      } else {
        slots[i].emplace(std::move(value));
      }
      if (--remaining == 0) {
        all_done.cancel();
      }
    });
  }
  while (remaining > 0) {
    co_await all_done.async_wait(net::as_tuple(net::use_awaitable));
  }
  if (first_error) {
    std::rethrow_exception(first_error);
  }
  std::vector<T> out;
  out.reserve(slots.size());
  for (auto& s : slots) {
    out.push_back(std::move(*s));
  }
  co_return out;
}

// Runs make(i) for i in [0, n) with at most `limit` in flight; results in index order.
// A pool of `limit` workers takes the next index as each finishes, so one slow host delays
// only its own slot.
template <class T>
Task<std::vector<T>> gather_bounded(size_t n, size_t limit, std::function<Task<T>(size_t)> make) {
  std::vector<std::optional<T>> slots(n);
  size_t next = 0;
  // The lambda lives in this frame, which outlives every worker (gather waits for them all).
  auto worker = [&]() -> Task<int> {
    while (next < n) {
      size_t i = next++;
      slots[i].emplace(co_await make(i));
    }
    co_return 0;
  };
  std::vector<Task<int>> workers;
  for (size_t k = 0; k < limit && k < n; ++k) {
    workers.push_back(worker());
  }
  co_await gather(std::move(workers));
  std::vector<T> out;
  out.reserve(n);
  for (auto& s : slots) {
    out.push_back(std::move(*s));
  }
  co_return out;
}

}  // namespace orch::rollout
