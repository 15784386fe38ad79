// ConnectionPool: the kept-alive connections of one engine, over its Transport.
//
// Why: a rollout makes about fifteen engine calls per host, and a new TCP connection per call
// (plus a handshake with TLS) was most of rollgate's CPU time at 1,000 hosts, spent in the
// kernel (docs/performance.md). HTTP/1.1 keeps a connection open by default and dockerd honours
// it, so calls to the same engine share connections.
//
// Rules (the same as Go's net/http client, which is what the docker CLI uses):
//   - acquire() hands out the most recently returned idle connection that still looks open
//     (Connection::looks_open: the engine has not closed it); else it connects anew.
//   - release() takes back a connection whose exchange left it reusable. At most
//     `max_idle` are kept; the oldest goes first. One idle longer than `idle_timeout`, on the
//     injected Clock, is closed instead of used, and so are the expired ones found on release.
//   - A call whose kept-alive connection turns out to be closed by the engine (Exchanged::
//     closed_before_reply) is retried once on a new connection, only when its method is
//     idempotent or the request was never written whole (HttpEngine::round_trip). A POST that
//     may have reached the engine is never sent twice. The retry never takes another idle
//     connection: those are as old as the one the engine dropped.
//   - Nothing here bounds how many connections are open at once: that is the callers'
//     concurrency (a batch, a pull), which the controller already bounds.
//   - Pull streams and attached execs never come here: they run on a connection of their own
//     that is closed afterwards, because the engine streams (or hijacks) them until the end.
//
// Idle connections close when the pool is destroyed with its engine, or when found expired:
// there is no timer, since an idle connection costs only a file descriptor, and the engine
// closes its side when it wants to.
//
// Thread-safety: none; the io_context's one thread. Include from http_engine.cc only (this
// header brings transport.h and so Beast).
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <string>

#include "orchestrator/core/clock.h"
#include "orchestrator/core/status.h"
#include "orchestrator/docker/transport.h"
#include "orchestrator/docker/types.h"

namespace orch::docker {

struct PoolOptions {
  size_t max_idle = 4;  // 0: no keep-alive, one connection per call
  std::chrono::milliseconds idle_timeout{30000};
};

class ConnectionPool {
 public:
  // `transport` is borrowed and must outlive the pool.
  ConnectionPool(Transport& transport, PoolOptions options);

  struct Lease {
    std::unique_ptr<Connection> conn;
    bool reused = false;  // it had carried an earlier request
  };

  // An idle connection that still looks open, else a new one (Transport::connect's errors).
  Task<Result<Lease>> acquire(TimePoint deadline, std::string context);

  // A new connection that never goes back to the pool.
  Task<Result<Lease>> dedicated(TimePoint deadline, std::string context);

  // Keeps `conn` for a later call; with max_idle 0, closes it.
  void release(std::unique_ptr<Connection> conn);

  void count_retry() { ++transport_.stats().retried; }
  size_t idle() const { return idle_.size(); }

 private:
  struct Idle {
    std::unique_ptr<Connection> conn;
    TimePoint since;
  };

  void drop_expired(TimePoint now);

  Transport& transport_;
  PoolOptions options_;
  std::deque<Idle> idle_;  // oldest first; acquire() takes from the back
};

}  // namespace orch::docker
