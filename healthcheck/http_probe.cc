// The HTTP(S) probe: one GET per run, a fresh connection (and TLS session) each time
// ("Connection: close"), so a probe sees what a new client would see.
#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

#include "healthcheck/format.h"
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

std::string quoted(const std::string& s) { return "\"" + quote_body(s) + "\""; }

bool is_ip_literal(const std::string& address) {
  boost::system::error_code ec;
  net::ip::make_address(address, ec);
  return !ec;
}

class HttpProbe final : public Probe {
 public:
  explicit HttpProbe(HttpProbeConfig config)
      : config_(std::move(config)), tls_(net::ssl::context::tls_client) {
    if (config_.path.empty() || config_.path.front() != '/') {
      config_.path.insert(0, "/");
    }
    if (https()) {
      // A context that fails to load the system CAs verifies nothing successfully: every https
      // probe then fails its handshake with "certificate verify failed", which names the cause.
      boost::system::error_code ignored;
      tls_.set_default_verify_paths(ignored);
      tls_.set_verify_mode(config_.tls_skip_verify ? net::ssl::verify_none : net::ssl::verify_peer,
                           ignored);
    }
  }

  net::awaitable<ProbeResult> run(Target target) override {
    const auto start = std::chrono::steady_clock::now();
    if (!https()) {
      beast::tcp_stream stream(co_await net::this_coro::executor);
      // One deadline for the whole exchange: expires_after covers every operation after it.
      stream.expires_after(config_.timeout);
      if (auto failed =
              co_await detail::connect(stream, "http", target.address, target.port_or(config_.port),
                                       config_.timeout, start)) {
        co_return *failed;
      }
      ProbeResult r = co_await exchange(stream, target, start);
      r.reached = true;
      boost::system::error_code ignored;
      stream.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
      co_return r;
    }

    beast::ssl_stream<beast::tcp_stream> stream(co_await net::this_coro::executor, tls_);
    auto& tcp = beast::get_lowest_layer(stream);
    tcp.expires_after(config_.timeout);
    if (auto failed = co_await detail::connect(
            tcp, "https", target.address, target.port_or(config_.port), config_.timeout, start)) {
      co_return *failed;
    }
    const bool ip = is_ip_literal(target.address);
    // SNI carries names only (RFC 6066 forbids IP literals there).
    if (!ip) {
      SSL_set_tlsext_host_name(stream.native_handle(), target.address.c_str());
    }
    if (!config_.tls_skip_verify) {
      // Checks the certificate's names against a host name, or its IP SANs against an address.
      stream.set_verify_callback(net::ssl::host_name_verification(target.address));
    }
    auto [hec] = co_await stream.async_handshake(net::ssl::stream_base::client,
                                                 net::as_tuple(net::use_awaitable));
    if (hec) {
      ProbeResult failed =
          detail::failure("https",
                          "TLS handshake with " +
                              detail::endpoint_text(target.address, target.port_or(config_.port)),
                          hec, config_.timeout, start);
      failed.reached = true;
      co_return failed;
    }
    ProbeResult r = co_await exchange(stream, target, start);
    r.reached = true;
    // No TLS close_notify: the request said "Connection: close", and waiting for the peer's
    // close_notify could only cost time. Closing the socket is enough for a probe.
    boost::system::error_code ignored;
    tcp.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
    co_return r;
  }

 private:
  bool https() const { return config_.scheme == "https"; }
  const char* probe_name() const { return https() ? "https" : "http"; }

  // Sends the GET on a connected (and for https, handshaken) stream and judges the answer.
  template <class Stream>
  net::awaitable<ProbeResult> exchange(Stream& stream, const Target& target,
                                       std::chrono::steady_clock::time_point start) {
    http::request<http::empty_body> req{http::verb::get, config_.path, 11};
    req.set(http::field::host, detail::endpoint_text(target.address, target.port_or(config_.port)));
    req.set(http::field::user_agent, "rollgate-probe");
    req.set(http::field::connection, "close");
    auto [wec, written] =
        co_await http::async_write(stream, req, net::as_tuple(net::use_awaitable));
    if (wec) {
      co_return detail::failure(probe_name(), "send request", wec, config_.timeout, start);
    }

    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    // No limit while reading the header: beast would otherwise reject a large Content-Length
    // before we even see the status. The body, if read at all, is limited below.
    parser.body_limit(boost::none);
    auto [hec, header_bytes] =
        co_await http::async_read_header(stream, buffer, parser, net::as_tuple(net::use_awaitable));
    if (hec) {
      co_return detail::failure(probe_name(), "waiting for the response", hec, config_.timeout,
                                start);
    }

    ProbeResult r;
    r.probe = probe_name();
    // Full resolution for the max_latency comparison; milliseconds for the detail.
    const auto elapsed = std::chrono::steady_clock::now() - start;
    r.latency = std::chrono::duration_cast<Millis>(elapsed);
    const int status = static_cast<int>(parser.get().result_int());
    const std::string head =
        "HTTP " + std::to_string(status) + " in " + detail::format_latency(r.latency);
    const bool expected = std::find(config_.expect_status.begin(), config_.expect_status.end(),
                                    status) != config_.expect_status.end();
    if (!expected) {
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
      co_return r;
    }
    if (config_.max_latency && elapsed > *config_.max_latency) {
      r.outcome = ProbeResult::Outcome::kFail;
      r.detail = head + " exceeds max_latency " + format_millis(*config_.max_latency);
      co_return r;
    }
    if (config_.body_contains) {
      // The body decides now, so it must arrive in time. Only its first kBodyLimit bytes are
      // searched: read piece by piece and stop there (beast's body_limit is only checked
      // against a Content-Length when the header is parsed, which has already happened).
      // (The read result is a plain local, not a structured binding: GCC 12 mishandles
      // structured bindings declared inside a loop of a coroutine.)
      boost::system::error_code bec;
      while (!bec && !parser.is_done() && parser.get().body().size() < kBodyLimit) {
        std::tuple<boost::system::error_code, std::size_t> read = co_await http::async_read_some(
            stream, buffer, parser, net::as_tuple(net::use_awaitable));
        bec = std::get<0>(read);
      }
      if (bec) {
        co_return detail::failure(probe_name(), "reading the body", bec, config_.timeout, start);
      }
      const std::string& body = parser.get().body();
      const bool found =
          std::string_view(body).substr(0, kBodyLimit).find(*config_.body_contains) !=
          std::string_view::npos;
      if (!found) {
        r.outcome = ProbeResult::Outcome::kFail;
        r.detail = head + " but the body does not contain " + quoted(*config_.body_contains);
        co_return r;
      }
    }
    r.outcome = ProbeResult::Outcome::kPass;
    r.detail = head;
    co_return r;
  }

  HttpProbeConfig config_;
  net::ssl::context tls_;
};

}  // namespace

std::unique_ptr<Probe> make_http_probe(HttpProbeConfig config) {
  return std::make_unique<HttpProbe>(std::move(config));
}

}  // namespace health
