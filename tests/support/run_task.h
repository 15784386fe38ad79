// run_task: runs one coroutine to completion from a test and returns its result.
//
// Tests are plain functions; the code under test is `boost::asio::awaitable<T>` (orch::Task<T>,
// health's probes). run_task(task) gives the coroutine a private io_context and runs it until
// everything the coroutine started has finished. run_task(io, task) runs it on `io`, which may
// hold other work (an in-process server, engines connected to it): by default `io` is stopped as
// soon as the task completes (the server's pending work is abandoned); with Until::kIdle it runs
// until `io` has no work left. What the coroutine throws is rethrown; a task that never
// completes is a test failure, not a hang. T must be default-constructible for run_task(io, ..)
// (asio passes a T beside an exception).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>
#include <exception>
#include <optional>
#include <utility>

namespace orch::testing {

template <class T>
T run_task(boost::asio::awaitable<T> task) {
  boost::asio::io_context io;
  auto f = boost::asio::co_spawn(io, std::move(task), boost::asio::use_future);
  io.run();
  return f.get();
}

enum class Until {
  kTaskDone,  // stop `io` when the task completes
  kIdle,      // run `io` until it has no work left
};

template <class T>
T run_task(boost::asio::io_context& io, boost::asio::awaitable<T> task,
           Until until = Until::kTaskDone) {
  std::optional<T> out;
  boost::asio::co_spawn(io, std::move(task), [&](std::exception_ptr e, T value) {
    if (e) {
      std::rethrow_exception(e);
    }
    out.emplace(std::move(value));
    if (until == Until::kTaskDone) {
      io.stop();
    }
  });
  io.restart();
  io.run();
  REQUIRE(out.has_value());
  return std::move(*out);
}

// run_task for a task a simulated kill -9 may end: an exception of type Killed thrown by a
// fake's call stops the io_context at once, so nothing after the call runs, as with the signal;
// nullopt then.
template <class Killed, class T>
std::optional<T> run_unless_killed(boost::asio::awaitable<T> task) {
  boost::asio::io_context io;
  try {
    return run_task(io, std::move(task));
  } catch (const Killed&) {
    return std::nullopt;
  }
}

}  // namespace orch::testing
