#include "orchestrator/router/haproxy_runtime.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <cerrno>
#include <cstring>
#include <sstream>

#include "orchestrator/core/duration.h"
#include "orchestrator/docker/http_engine.h"

namespace orch::router {

namespace net = boost::asio;
namespace beast = boost::beast;
using net::ip::tcp;
using net::local::stream_protocol;

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
                                   const std::string& where) {
  auto [wec, written] = co_await net::async_write(stream, net::buffer(line), kUseTuple);
  if (wec) {
    co_return Status(Code::kUnavailable, where + ": write: " + wec.message());
  }
  std::string answer;
  auto buffer = net::dynamic_buffer(answer, kMaxAnswer);
  auto [rec, read] = co_await net::async_read(stream, buffer, kUseTuple);
  if (rec == beast::error::timeout) {
    co_return Status(Code::kTimeout, where + ": no complete answer in time");
  }
  if (rec && rec != net::error::eof) {
    co_return Status(Code::kUnavailable, where + ": read: " + rec.message());
  }
  co_return answer;
}

}  // namespace

RuntimeApi::RuntimeApi(std::string address, std::chrono::milliseconds timeout)
    : address_(std::move(address)), timeout_(timeout) {}

Task<Result<std::string>> RuntimeApi::send(std::string command) const {
  auto endpoint = docker::parse_endpoint(address_);
  if (!endpoint) {
    co_return Status(Code::kInvalidArgument,
                     "HAProxy runtime API " + address_ + ": " + endpoint.status().message());
  }
  const std::string where = "HAProxy runtime API " + address_ + " (\"" + command + "\")";
  const std::string line = command + "\n";
  auto executor = co_await net::this_coro::executor;
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  if (endpoint->kind == docker::Endpoint::Kind::kUnix) {
    beast::basic_stream<stream_protocol> stream(executor);
    stream.expires_at(deadline);
    auto [ec] = co_await stream.async_connect(stream_protocol::endpoint(endpoint->path), kUseTuple);
    if (ec) {
      co_return Status(Code::kUnavailable, where + ": connect: " + ec.message());
    }
    co_return co_await exchange(stream, line, where);
  }
  using namespace net::experimental::awaitable_operators;
  tcp::resolver resolver(executor);
  net::steady_timer timer(executor);
  timer.expires_at(deadline);
  auto resolved =
      co_await (resolver.async_resolve(endpoint->host, std::to_string(endpoint->port), kUseTuple) ||
                timer.async_wait(kUseTuple));
  if (resolved.index() == 1) {
    co_return Status(Code::kUnavailable, where + ": resolving " + endpoint->host + " timed out");
  }
  auto [rec, results] = std::get<0>(std::move(resolved));
  if (rec) {
    co_return Status(Code::kUnavailable, where + ": resolving: " + rec.message());
  }
  beast::tcp_stream stream(executor);
  stream.expires_at(deadline);
  auto [ec, connected] = co_await stream.async_connect(results, kUseTuple);
  if (ec) {
    co_return Status(Code::kUnavailable, where + ": connect: " + ec.message());
  }
  co_return co_await exchange(stream, line, where);
}

Task<Status> RuntimeApi::command(std::string command) const {
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
