#include "healthcheck/probe_connect.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>

#include "healthcheck/format.h"

namespace health::detail {

namespace net = boost::asio;
namespace beast = boost::beast;
using net::ip::tcp;

ProbeResult::Outcome outcome_for_error(const boost::system::error_code& ec) {
  if (ec == net::error::host_unreachable || ec == net::error::network_unreachable ||
      ec == net::error::network_down || ec == net::error::host_not_found ||
      ec == net::error::host_not_found_try_again || ec == net::error::no_data) {
    return ProbeResult::Outcome::kUnobservable;
  }
  return ProbeResult::Outcome::kFail;
}

std::string endpoint_text(const std::string& address, uint16_t port) {
  if (address.find(':') != std::string::npos) {
    return "[" + address + "]:" + std::to_string(port);
  }
  return address + ":" + std::to_string(port);
}

std::string format_latency(Millis latency) {
  return latency.count() == 0 ? "0ms" : format_millis(latency);
}

Millis elapsed_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - start);
}

ProbeResult failure(std::string probe, const std::string& what, const boost::system::error_code& ec,
                    Millis timeout, std::chrono::steady_clock::time_point start) {
  ProbeResult r;
  r.probe = std::move(probe);
  r.latency = elapsed_since(start);
  if (ec == beast::error::timeout) {
    r.outcome = ProbeResult::Outcome::kFail;
    r.detail = "timed out after " + format_millis(timeout) + " (" + what + ")";
    return r;
  }
  r.outcome = outcome_for_error(ec);
  r.detail = what + ": " + ec.message();
  return r;
}

net::awaitable<std::optional<ProbeResult>> connect(beast::tcp_stream& stream,
                                                   const std::string& probe,
                                                   const std::string& address, uint16_t port,
                                                   Millis timeout,
                                                   std::chrono::steady_clock::time_point start) {
  const std::string where = "connect " + endpoint_text(address, port);
  boost::system::error_code ec;
  net::ip::address ip = net::ip::make_address(address, ec);
  if (!ec) {
    auto [cec] =
        co_await stream.async_connect(tcp::endpoint(ip, port), net::as_tuple(net::use_awaitable));
    if (cec) {
      co_return failure(probe, where, cec, timeout, start);
    }
    co_return std::nullopt;
  }
  tcp::resolver resolver(co_await net::this_coro::executor);
  auto [rec, results] = co_await resolver.async_resolve(address, std::to_string(port),
                                                        net::as_tuple(net::use_awaitable));
  if (rec) {
    co_return failure(probe, "resolve " + address, rec, timeout, start);
  }
  auto [cec, endpoint] = co_await stream.async_connect(results, net::as_tuple(net::use_awaitable));
  if (cec) {
    co_return failure(probe, where, cec, timeout, start);
  }
  co_return std::nullopt;
}

}  // namespace health::detail
