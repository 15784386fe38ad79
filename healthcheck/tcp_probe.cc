// The TCP probe: passes when a connection is accepted within the timeout.
#include <boost/asio/this_coro.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <utility>

#include "healthcheck/probe.h"
#include "healthcheck/probe_connect.h"

namespace health {

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;

class TcpProbe final : public Probe {
 public:
  explicit TcpProbe(TcpProbeConfig config) : config_(config) {}

  net::awaitable<ProbeResult> run(Target target) override {
    const auto start = std::chrono::steady_clock::now();
    beast::tcp_stream stream(co_await net::this_coro::executor);
    stream.expires_after(config_.timeout);
    if (auto failed = co_await detail::connect(
            stream, "tcp", target.address, target.port_or(config_.port), config_.timeout, start)) {
      co_return *failed;
    }
    ProbeResult r;
    r.probe = "tcp";
    r.outcome = ProbeResult::Outcome::kPass;
    r.reached = true;
    r.latency = detail::elapsed_since(start);
    r.detail = "TCP connect " +
               detail::endpoint_text(target.address, target.port_or(config_.port)) + " in " +
               detail::format_latency(r.latency);
    boost::system::error_code ignored;
    stream.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
    co_return r;
  }

 private:
  TcpProbeConfig config_;
};

}  // namespace

std::unique_ptr<Probe> make_tcp_probe(TcpProbeConfig config) {
  return std::make_unique<TcpProbe>(config);
}

}  // namespace health
