// The HTTP(S) probe: one GET per run, by default on a fresh connection (and TLS session) each
// time ("Connection: close"), so a probe sees what a new client would see; with keep_alive, on
// a kept connection while the app keeps it open (probe.h).
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
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "healthcheck/format.h"
#include "healthcheck/kept_connection.h"
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

using TcpStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// Kept connections per address:port. Two, because a host's probe rounds do not overlap; a
// second covers a baseline round that meets a gate round.
constexpr std::size_t kIdlePerEndpoint = 2;

// The idle connections of one scheme, keyed by "address:port". The newest goes out first.
template <class Stream>
class IdleConnections {
 public:
  // A kept connection to `key` the app has not closed, or null.
  std::unique_ptr<Stream> take(const std::string& key) {
    auto it = idle_.find(key);
    if (it == idle_.end()) {
      return nullptr;
    }
    std::vector<std::unique_ptr<Stream>>& kept = it->second;
    while (!kept.empty()) {
      std::unique_ptr<Stream> s = std::move(kept.back());
      kept.pop_back();
      if (kept_connection_usable(beast::get_lowest_layer(*s).socket().native_handle(),
                                 tls_handle(*s))) {
        return s;
      }
    }
    return nullptr;
  }

  void put(const std::string& key, std::unique_ptr<Stream> s) {
    beast::get_lowest_layer(*s).expires_never();
    std::vector<std::unique_ptr<Stream>>& kept = idle_[key];
    if (kept.size() >= kIdlePerEndpoint) {
      kept.erase(kept.begin());
    }
    kept.push_back(std::move(s));
  }

 private:
  static const ssl_st* tls_handle(Stream& s) {
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      return s.native_handle();
    } else {
      return nullptr;
    }
  }

  std::map<std::string, std::vector<std::unique_ptr<Stream>>> idle_;
};

// One GET on one connection.
struct Exchanged {
  ProbeResult result;
  // The answer was read to its end and both sides allow another request on the connection.
  bool reusable = false;
  // The app closed the connection before any byte of an answer: on a kept connection that is
  // the app dropping an idle connection, not an answer.
  bool closed_before_reply = false;
};

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
    if (https()) {
      co_return co_await probe(target, start, idle_tls_);
    }
    co_return co_await probe(target, start, idle_tcp_);
  }

 private:
  bool https() const { return config_.scheme == "https"; }
  const char* probe_name() const { return https() ? "https" : "http"; }

  // What is left of the probe's timeout, at least 1 ms (0 would mean no deadline).
  Millis remaining(std::chrono::steady_clock::time_point start) const {
    return std::max(Millis(1), config_.timeout - detail::elapsed_since(start));
  }

  template <class Stream>
  net::awaitable<ProbeResult> probe(const Target& target,
                                    std::chrono::steady_clock::time_point start,
                                    IdleConnections<Stream>& idle) {
    // Only a kept connection needs the key: the default path builds no string for it.
    const std::string key =
        config_.keep_alive ? detail::endpoint_text(target.address, target.port_or(config_.port))
                           : std::string();
    if (config_.keep_alive) {
      if (std::unique_ptr<Stream> kept = idle.take(key)) {
        // One deadline for the whole exchange: expires_after covers every operation after it.
        beast::get_lowest_layer(*kept).expires_after(config_.timeout);
        Exchanged x = co_await exchange(*kept, target, start);
        if (!x.closed_before_reply) {
          x.result.reached = true;
          if (x.reusable) {
            idle.put(key, std::move(kept));
          }
          co_return x.result;
        }
        // The app closed the kept connection as the probe went out. A GET may go again: on a
        // new connection, within what is left of the timeout.
      }
    }
    std::unique_ptr<Stream> stream = make_stream<Stream>(co_await net::this_coro::executor);
    beast::get_lowest_layer(*stream).expires_after(remaining(start));
    if (std::optional<ProbeResult> failed = co_await open(*stream, target, start)) {
      co_return *failed;
    }
    Exchanged x = co_await exchange(*stream, target, start);
    x.result.reached = true;
    if (config_.keep_alive && x.reusable) {
      idle.put(key, std::move(stream));
    } else {
      // No TLS close_notify: the request said "Connection: close", and waiting for the peer's
      // close_notify could only cost time. Closing the socket is enough for a probe.
      boost::system::error_code ignored;
      beast::get_lowest_layer(*stream).socket().shutdown(net::ip::tcp::socket::shutdown_both,
                                                         ignored);
    }
    co_return x.result;
  }

  template <class Stream>
  std::unique_ptr<Stream> make_stream(const net::any_io_executor& ex) {
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      return std::make_unique<TlsStream>(ex, tls_);
    } else {
      return std::make_unique<TcpStream>(ex);
    }
  }

  // Connects `stream`, whose deadline is set; nullopt once connected, else the failed result.
  net::awaitable<std::optional<ProbeResult>> open(TcpStream& stream, const Target& target,
                                                  std::chrono::steady_clock::time_point start) {
    co_return co_await detail::connect(stream, "http", target.address, target.port_or(config_.port),
                                       config_.timeout, start);
  }

  // Connects and handshakes `stream` (SNI for names, the name or IP checked unless
  // tls_skip_verify).
  net::awaitable<std::optional<ProbeResult>> open(TlsStream& stream, const Target& target,
                                                  std::chrono::steady_clock::time_point start) {
    const uint16_t port = target.port_or(config_.port);
    if (auto failed = co_await detail::connect(beast::get_lowest_layer(stream), "https",
                                               target.address, port, config_.timeout, start)) {
      co_return failed;
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
      ProbeResult failed = detail::failure(
          "https", "TLS handshake with " + detail::endpoint_text(target.address, port), hec,
          config_.timeout, start);
      failed.reached = true;
      co_return failed;
    }
    co_return std::nullopt;
  }

  // Reads the body on until it ends or passes kBodyLimit; the error that stopped it, if any.
  // (The read result is a plain local, not a structured binding: GCC 12 mishandles structured
  // bindings declared inside a loop of a coroutine.)
  template <class Stream>
  net::awaitable<boost::system::error_code> read_body(
      Stream& stream, beast::flat_buffer& buffer,
      http::response_parser<http::string_body>& parser) {
    boost::system::error_code bec;
    while (!bec && !parser.is_done() && parser.get().body().size() < kBodyLimit) {
      std::tuple<boost::system::error_code, std::size_t> read =
          co_await http::async_read_some(stream, buffer, parser, net::as_tuple(net::use_awaitable));
      bec = std::get<0>(read);
    }
    co_return bec;
  }

  // With keep_alive, whether the connection can carry the next probe: the rest of the answer is
  // read (a body over kBodyLimit is not: the connection is dropped instead), and neither side
  // asked to close. `r` is the verdict, already made.
  template <class Stream>
  net::awaitable<Exchanged> finish(Stream& stream, beast::flat_buffer& buffer,
                                   http::response_parser<http::string_body>& parser,
                                   ProbeResult r) {
    Exchanged x;
    x.result = std::move(r);
    if (!config_.keep_alive) {
      co_return x;
    }
    if (!parser.is_done()) {
      if (boost::system::error_code bec = co_await read_body(stream, buffer, parser); bec) {
        co_return x;
      }
    }
    x.reusable = parser.is_done() && parser.keep_alive() && buffer.size() == 0;
    co_return x;
  }

  // Sends the GET on a connected (and for https, handshaken) stream and judges the answer.
  template <class Stream>
  net::awaitable<Exchanged> exchange(Stream& stream, const Target& target,
                                     std::chrono::steady_clock::time_point start) {
    http::request<http::empty_body> req{http::verb::get, config_.path, 11};
    req.set(http::field::host, detail::endpoint_text(target.address, target.port_or(config_.port)));
    req.set(http::field::user_agent, "rollgate-probe");
    if (!config_.keep_alive) {
      req.set(http::field::connection, "close");
    }
    auto [wec, written] =
        co_await http::async_write(stream, req, net::as_tuple(net::use_awaitable));
    if (wec) {
      Exchanged x;
      x.closed_before_reply = is_hang_up(wec);
      x.result = detail::failure(probe_name(), "send request", wec, config_.timeout, start);
      co_return x;
    }

    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    // No limit while reading the header: beast would otherwise reject a large Content-Length
    // before we even see the status. The body, if read at all, is limited below.
    parser.body_limit(boost::none);
    auto [hec, header_bytes] =
        co_await http::async_read_header(stream, buffer, parser, net::as_tuple(net::use_awaitable));
    if (hec) {
      Exchanged x;
      x.closed_before_reply = is_hang_up(hec) && !parser.got_some() && buffer.size() == 0;
      x.result =
          detail::failure(probe_name(), "waiting for the response", hec, config_.timeout, start);
      co_return x;
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
      // limit the read stops and we quote what arrived before it.
      (void)co_await read_body(stream, buffer, parser);
      std::string quote = quote_body(parser.get().body());
      if (!quote.empty()) {
        r.detail += ": " + quote;
      }
      co_return co_await finish(stream, buffer, parser, std::move(r));
    }
    if (config_.max_latency && elapsed > *config_.max_latency) {
      r.outcome = ProbeResult::Outcome::kFail;
      r.detail = head + " exceeds max_latency " + format_millis(*config_.max_latency);
      co_return co_await finish(stream, buffer, parser, std::move(r));
    }
    if (config_.body_contains) {
      // The body decides now, so it must arrive in time. Only its first kBodyLimit bytes are
      // searched: read piece by piece and stop there (beast's body_limit is only checked
      // against a Content-Length when the header is parsed, which has already happened).
      if (boost::system::error_code bec = co_await read_body(stream, buffer, parser); bec) {
        Exchanged x;
        x.result = detail::failure(probe_name(), "reading the body", bec, config_.timeout, start);
        co_return x;
      }
      const std::string& body = parser.get().body();
      const bool found =
          std::string_view(body).substr(0, kBodyLimit).find(*config_.body_contains) !=
          std::string_view::npos;
      if (!found) {
        r.outcome = ProbeResult::Outcome::kFail;
        r.detail = head + " but the body does not contain " + quoted(*config_.body_contains);
        co_return co_await finish(stream, buffer, parser, std::move(r));
      }
    }
    r.outcome = ProbeResult::Outcome::kPass;
    r.detail = head;
    co_return co_await finish(stream, buffer, parser, std::move(r));
  }

  HttpProbeConfig config_;
  net::ssl::context tls_;
  IdleConnections<TcpStream> idle_tcp_;
  IdleConnections<TlsStream> idle_tls_;
};

}  // namespace

std::unique_ptr<Probe> make_http_probe(HttpProbeConfig config) {
  return std::make_unique<HttpProbe>(std::move(config));
}

}  // namespace health
