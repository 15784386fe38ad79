// ConnectionPool: a stack of idle connections per engine. The newest is reused first, because
// it is the least likely to have been closed by the engine or a proxy in between.
#include "orchestrator/docker/connection_pool.h"

#include <utility>

namespace orch::docker {

ConnectionPool::ConnectionPool(Transport& transport, PoolOptions options)
    : transport_(transport), options_(options) {}

void ConnectionPool::drop_expired(TimePoint now) {
  while (!idle_.empty() && now - idle_.front().since >= options_.idle_timeout) {
    idle_.pop_front();
  }
}

Task<Result<ConnectionPool::Lease>> ConnectionPool::acquire(TimePoint deadline,
                                                            std::string context) {
  drop_expired(transport_.clock().now());
  while (!idle_.empty()) {
    std::unique_ptr<Connection> conn = std::move(idle_.back().conn);
    idle_.pop_back();
    if (conn->looks_open()) {
      ++transport_.stats().reused;
      Lease lease;
      lease.conn = std::move(conn);
      lease.reused = true;
      co_return lease;
    }
  }
  co_return co_await dedicated(deadline, std::move(context));
}

Task<Result<ConnectionPool::Lease>> ConnectionPool::dedicated(TimePoint deadline,
                                                              std::string context) {
  Result<std::unique_ptr<Connection>> conn = co_await transport_.connect(deadline, context);
  if (!conn) {
    co_return conn.status();
  }
  Lease lease;
  lease.conn = std::move(*conn);
  co_return lease;
}

void ConnectionPool::release(std::unique_ptr<Connection> conn) {
  if (options_.max_idle == 0) {
    return;
  }
  const TimePoint now = transport_.clock().now();
  drop_expired(now);
  conn->disarm();
  if (idle_.size() >= options_.max_idle) {
    idle_.pop_front();
  }
  Idle entry;
  entry.conn = std::move(conn);
  entry.since = now;
  idle_.push_back(std::move(entry));
}

}  // namespace orch::docker
