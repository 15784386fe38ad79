// The HTTP probe: one GET per run, a fresh connection each time ("Connection: close"), so a
// probe sees what a new client would see.
#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <utility>

#include "healthcheck/probe.h"
#include "healthcheck/probe_connect.h"

namespace health {

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

// Bodies are only read to quote a few words of an unexpected answer; the limit keeps a huge
// or endless body from costing memory. Exceeding it is not a failure.
constexpr std::size_t kBodyLimit = 64 * 1024;
constexpr std::size_t kQuoteLimit = 80;

// "200", "200 or 204", "200, 204 or 301".
std::string expected_text(const std::vector<int>& expect) {
  std::string out;
  for (std::size_t i = 0; i < expect.size(); ++i) {
    if (i > 0) {
      out += (i + 1 == expect.size()) ? " or " : ", ";
    }
    out += std::to_string(expect[i]);
  }
  return out.empty() ? "nothing" : out;
}

// The first line of a body, printable characters only, shortened: "upstream db down".
std::string quote_body(const std::string& body) {
  std::string out;
  for (char c : body) {
    if (c == '\n' || c == '\r' || out.size() >= kQuoteLimit) {
      break;
    }
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  if (out.size() >= kQuoteLimit) {
    out += "...";
  }
  return out;
}

class HttpProbe final : public Probe {
 public:
  explicit HttpProbe(HttpProbeConfig config) : config_(std::move(config)) {
    if (config_.path.empty() || config_.path.front() != '/') {
      config_.path.insert(0, "/");
    }
  }

  net::awaitable<ProbeResult> run(Target target) override {
    const auto start = std::chrono::steady_clock::now();
    beast::tcp_stream stream(co_await net::this_coro::executor);
    // One deadline for the whole exchange: expires_after covers every operation after it.
    stream.expires_after(config_.timeout);
    if (auto failed = co_await detail::connect(stream, "http", target.address, config_.port,
                                               config_.timeout, start)) {
      co_return *failed;
    }

    http::request<http::empty_body> req{http::verb::get, config_.path, 11};
    req.set(http::field::host, detail::endpoint_text(target.address, config_.port));
    req.set(http::field::user_agent, "rollgate-probe");
    req.set(http::field::connection, "close");
    auto [wec, written] =
        co_await http::async_write(stream, req, net::as_tuple(net::use_awaitable));
    if (wec) {
      co_return detail::failure("http", "send request", wec, config_.timeout, start);
    }

    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    // No limit while reading the header: beast would otherwise reject a large Content-Length
    // before we even see the status. The body, if read at all, is limited below.
    parser.body_limit(boost::none);
    auto [hec, header_bytes] =
        co_await http::async_read_header(stream, buffer, parser, net::as_tuple(net::use_awaitable));
    if (hec) {
      co_return detail::failure("http", "waiting for the response", hec, config_.timeout, start);
    }

    ProbeResult r;
    r.probe = "http";
    r.latency = detail::elapsed_since(start);
    const int status = static_cast<int>(parser.get().result_int());
    const bool expected = std::find(config_.expect_status.begin(), config_.expect_status.end(),
                                    status) != config_.expect_status.end();
    if (expected) {
      r.outcome = ProbeResult::Outcome::kPass;
      r.detail = "HTTP " + std::to_string(status) + " in " + detail::format_latency(r.latency);
    } else {
      r.outcome = ProbeResult::Outcome::kFail;
      r.detail = "HTTP " + std::to_string(status) + " (expected " +
                 expected_text(config_.expect_status) + ") in " + detail::format_latency(r.latency);
      // Best effort, within what is left of the deadline: the status alone decides. Past the
      // limit the read stops with body_limit and we quote what arrived before it.
      parser.body_limit(kBodyLimit);
      auto [bec, body_bytes] =
          co_await http::async_read(stream, buffer, parser, net::as_tuple(net::use_awaitable));
      (void)bec;
      std::string quote = quote_body(parser.get().body());
      if (!quote.empty()) {
        r.detail += ": " + quote;
      }
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
    co_return r;
  }

 private:
  HttpProbeConfig config_;
};

}  // namespace

std::unique_ptr<Probe> make_http_probe(HttpProbeConfig config) {
  return std::make_unique<HttpProbe>(std::move(config));
}

}  // namespace health
