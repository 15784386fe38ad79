// RuntimeApi::send: connect through the shared Transport, write the line, read to EOF. One
// deadline on the injected Clock covers all three, as HAProxy's non-interactive mode answers
// once and closes.
#include "orchestrator/router/haproxy_runtime.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>

#include "orchestrator/core/duration.h"
#include "orchestrator/docker/http_engine.h"
#include "orchestrator/docker/transport.h"

namespace orch::router {

namespace net = boost::asio;
namespace beast = boost::beast;

namespace {

constexpr auto kUseTuple = net::as_tuple(net::use_awaitable);
// Answers are small (a map, a stats CSV of a few hundred servers); more is a wrong socket.
constexpr size_t kMaxAnswer = 4 << 20;

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) {
    s.pop_back();
  }
  size_t i = 0;
  while (i < s.size() && (s[i] == '\n' || s[i] == ' ')) {
    ++i;
  }
  return s.substr(i);
}

// Writes the command, then reads until HAProxy closes the connection.
template <class Stream>
Task<Result<std::string>> exchange(Stream& stream, const std::string& line,
                                   const std::string& where, std::chrono::milliseconds timeout) {
  auto [wec, written] = co_await net::async_write(stream, net::buffer(line), kUseTuple);
  if (wec == beast::error::timeout) {
    co_return Status(Code::kTimeout, where + ": not sent within " + format_duration(timeout));
  }
  if (wec) {
    co_return Status(Code::kUnavailable, where + ": write: " + wec.message());
  }
  std::string answer;
  auto buffer = net::dynamic_buffer(answer, kMaxAnswer);
  auto [rec, read] = co_await net::async_read(stream, buffer, kUseTuple);
  if (rec == beast::error::timeout) {
    co_return Status(Code::kTimeout,
                     where + ": no complete answer within " + format_duration(timeout));
  }
  if (rec && rec != net::error::eof) {
    co_return Status(Code::kUnavailable, where + ": read: " + rec.message());
  }
  co_return answer;
}

}  // namespace

RuntimeApi::RuntimeApi(std::string address, std::chrono::milliseconds timeout, const Clock& clock)
    : address_(std::move(address)), timeout_(timeout), clock_(clock) {
  auto endpoint = docker::parse_endpoint(address_);
  if (!endpoint) {
    address_error_ = Status(Code::kInvalidArgument,
                            "HAProxy runtime API " + address_ + ": " + endpoint.status().message());
    return;
  }
  transport_ = std::make_unique<docker::Transport>("HAProxy runtime API", "HAProxy", *endpoint,
                                                   clock_, timeout_);
}

RuntimeApi::~RuntimeApi() = default;

Task<Result<std::string>> RuntimeApi::send(std::string command) {
  if (!transport_) {
    co_return address_error_;
  }
  const std::string where = "HAProxy runtime API " + address_ + " (\"" + command + "\")";
  const TimePoint deadline = clock_.now() + timeout_;
  auto conn = co_await transport_->connect(deadline, where);
  if (!conn) {
    co_return conn.status();
  }
  (*conn)->arm(clock_, deadline);
  const std::string line = command + "\n";
  co_return co_await (*conn)->visit(
      [&](auto& stream) { return exchange(stream, line, where, timeout_); });
}

Task<Status> RuntimeApi::command(std::string command) {
  auto answer = co_await send(command);
  if (!answer) {
    co_return answer.status();
  }
  std::string text = trim(*answer);
  if (!text.empty()) {
    co_return Status(Code::kFailedPrecondition,
                     "HAProxy refused \"" + command + "\": " + text.substr(0, 300));
  }
  co_return Status::ok();
}

}  // namespace orch::router
