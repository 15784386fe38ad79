#include "tools/loadgen/load.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <csignal>
#include <exception>
#include <memory>
#include <string>
#include <tuple>
#include <utility>

#include "orchestrator/core/duration.h"

namespace loadgen {

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

// A body larger than this is a failed request (kProtocol): the tool counts small answers, and
// the limit keeps a runaway body from costing memory. Beast's own default for responses.
constexpr std::uint64_t kBodyLimit = 8 * 1024 * 1024;
// How much of an unexpected response's body a failure detail quotes.
constexpr std::size_t kQuoteLimit = 80;

int64_t unix_ms(orch::WallTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::string host_port(const Url& url) {
  const bool v6 = url.host.find(':') != std::string::npos;
  return (v6 ? "[" + url.host + "]" : url.host) + ":" + std::to_string(url.port);
}

// The first line of a body, printable ASCII only, at most kQuoteLimit bytes: "warming up".
std::string quote_first_line(std::string_view body) {
  std::string out;
  for (char c : body.substr(0, body.find_first_of("\r\n"))) {
    if (out.size() == kQuoteLimit) {
      break;
    }
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  return out;
}

// The peer closed or reset the connection: EOF at a message boundary, EOF, reset, broken pipe.
bool closed_by_peer(const error_code& ec) {
  return ec == http::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::broken_pipe;
}

// The kind of a failure on an established connection (connect failures are always kConnect).
FailureKind kind_of(const error_code& ec) {
  if (ec == beast::error::timeout) {
    return FailureKind::kTimeout;
  }
  if (ec == net::error::connection_reset || ec == net::error::broken_pipe ||
      ec == net::error::connection_aborted) {
    return FailureKind::kReset;
  }
  if (ec == http::error::end_of_stream || ec == http::error::partial_message ||
      ec == net::error::eof) {
    return FailureKind::kEof;
  }
  if (ec.category() == http::make_error_code(http::error::bad_version).category()) {
    return FailureKind::kProtocol;
  }
  return FailureKind::kOther;
}

// One loop's connection and what lives across its requests.
struct Connection {
  explicit Connection(net::io_context& ioc) : stream(ioc), resolver(ioc), resolve_deadline(ioc) {}

  beast::tcp_stream stream;
  tcp::resolver resolver;
  net::steady_timer resolve_deadline;
  beast::flat_buffer buffer;
  bool open = false;
  uint64_t responses = 0;  // complete responses read on the open connection
};

class LoadRun {
 public:
  LoadRun(const Config& config, orch::Clock& clock, const Hooks& hooks)
      : config_(config),
        clock_(clock),
        hooks_(hooks),
        signals_(ioc_, SIGINT, SIGTERM),
        duration_timer_(ioc_) {
    request_.method(http::verb::get);
    request_.target(config_.target.target);
    request_.version(11);
    request_.set(http::field::host, host_port(config_.target));
    request_.set(http::field::user_agent, "rollgate-load");
    port_text_ = std::to_string(config_.target.port);
  }

  Report run() {
    report_.url = config_.url;
    report_.connections = config_.connections;
    report_.started_ms = unix_ms(clock_.wall_now());
    for (int i = 0; i < config_.connections; ++i) {
      connections_.push_back(std::make_unique<Connection>(ioc_));
      net::co_spawn(ioc_, client_loop(*connections_.back()), [this](std::exception_ptr e) {
        if (e) {
          std::rethrow_exception(e);  // a bug: out of ioc_.run(), caught in main
        }
        if (--running_ == 0) {
          signals_.cancel();
          duration_timer_.cancel();
        }
      });
      ++running_;
    }
    signals_.async_wait([this](const error_code& ec, int signo) { on_signal(ec, signo); });
    if (config_.duration) {
      duration_timer_.expires_after(*config_.duration);
      duration_timer_.async_wait([this](const error_code& ec) {
        if (!ec) {
          stop("duration");
        }
      });
    }
    // Posted after the loops' starts, so it runs once each loop is waiting on its first connect.
    net::post(ioc_, [this] { hooks_.started(); });
    ioc_.run();
    report_.ended_ms = unix_ms(clock_.wall_now());
    return std::move(report_);
  }

 private:
  void stop(const char* why) {
    if (stopping_) {
      return;
    }
    stopping_ = true;
    report_.stopped_by = why;
    duration_timer_.cancel();
    hooks_.stopping(report_.stopped_by);
  }

  void on_signal(const error_code& ec, int signo) {
    if (ec) {
      return;
    }
    if (!stopping_) {
      stop(signo == SIGINT ? "SIGINT" : "SIGTERM");
      signals_.async_wait([this](const error_code& e, int s) { on_signal(e, s); });
      return;
    }
    // The second signal: end the requests in flight now. Their handlers see abandoning_.
    abandoning_ = true;
    for (auto& c : connections_) {
      c->resolve_deadline.cancel();
      c->resolver.cancel();
      c->stream.close();
    }
  }

  net::awaitable<void> client_loop(Connection& c) {
    while (!stopping_) {
      co_await one_request(c);
    }
    close(c);
  }

  // One attempt: connect if needed, send the GET, read the response, record the outcome.
  net::awaitable<void> one_request(Connection& c) {
    const orch::TimePoint start = clock_.now();
    const bool reused = c.open;
    // One deadline for connect, write and read together.
    c.stream.expires_after(config_.timeout);
    if (!c.open) {
      std::string error = co_await connect(c);
      if (abandoning_) {
        ++report_.abandoned;
        co_return;
      }
      if (!error.empty()) {
        fail(c, FailureKind::kConnect, std::move(error));
        co_return;
      }
    }

    auto written =
        co_await http::async_write(c.stream, request_, net::as_tuple(net::use_awaitable));
    const error_code wec = std::get<0>(written);
    if (abandoning_) {
      ++report_.abandoned;
      co_return;
    }
    if (wec) {
      // Closed or reset before the request went out: on a reused connection, the idle close.
      const FailureKind kind =
          reused && closed_by_peer(wec) ? FailureKind::kStaleKeepalive : kind_of(wec);
      fail(c, kind, failure_detail("send request", wec, kind, c.responses));
      co_return;
    }

    http::response_parser<http::string_body> parser;
    parser.body_limit(kBodyLimit);
    auto read =
        co_await http::async_read(c.stream, c.buffer, parser, net::as_tuple(net::use_awaitable));
    const error_code rec = std::get<0>(read);
    if (abandoning_) {
      ++report_.abandoned;
      co_return;
    }
    if (rec) {
      // The idle-close race: the server closed the kept-alive connection just as this request
      // went out. Nothing of a response arrived, so the first read sees EOF or a reset.
      const bool nothing = !parser.got_some() && c.buffer.size() == 0;
      const FailureKind kind =
          reused && nothing && closed_by_peer(rec) ? FailureKind::kStaleKeepalive : kind_of(rec);
      fail(c, kind, failure_detail("read response", rec, kind, c.responses));
      co_return;
    }

    const auto latency = std::chrono::duration_cast<Micros>(clock_.now() - start);
    const int64_t at = unix_ms(clock_.wall_now());
    const auto& res = parser.get();
    const int status = static_cast<int>(res.result_int());
    ++c.responses;
    const bool expected = std::find(config_.expect_status.begin(), config_.expect_status.end(),
                                    status) != config_.expect_status.end();
    if (!expected) {
      std::string detail = "HTTP " + std::to_string(status);
      const std::string quote = quote_first_line(res.body());
      if (!quote.empty()) {
        detail += ": " + quote;
      }
      report_.tally.add_failure(at, FailureKind::kStatus, std::move(detail), status);
      close(c);
      co_return;
    }
    report_.tally.add_ok(at, status, res.body(), latency);
    if (!res.keep_alive()) {
      close(c);
    }
  }

  // Resolves (names only) and connects within the deadline already set on c.stream. Returns ""
  // once connected, else what failed: "connect 127.0.0.1:8080: Connection refused".
  net::awaitable<std::string> connect(Connection& c) {
    const std::string where = host_port(config_.target);
    std::vector<tcp::endpoint> endpoints;
    error_code literal_ec;
    const auto address = net::ip::make_address(config_.target.host, literal_ec);
    if (!literal_ec) {
      const tcp::endpoint endpoint(address, config_.target.port);
      endpoints.push_back(endpoint);
    } else {
      // The resolver has no deadline of its own; a timer cancels it.
      c.resolve_deadline.expires_after(config_.timeout);
      c.resolve_deadline.async_wait([&c](const error_code& ec) {
        if (!ec) {
          c.resolver.cancel();
        }
      });
      auto resolved = co_await c.resolver.async_resolve(config_.target.host, port_text_,
                                                        net::as_tuple(net::use_awaitable));
      c.resolve_deadline.cancel();
      const error_code ec = std::get<0>(resolved);
      if (ec == net::error::operation_aborted) {
        co_return "resolve " + config_.target.host + ": timed out after " +
            orch::format_duration(config_.timeout);
      }
      if (ec) {
        co_return "resolve " + config_.target.host + ": " + ec.message();
      }
      for (const auto& entry : std::get<1>(resolved)) {
        endpoints.push_back(entry.endpoint());
      }
    }
    auto connected = co_await c.stream.async_connect(endpoints, net::as_tuple(net::use_awaitable));
    const error_code ec = std::get<0>(connected);
    if (ec == beast::error::timeout) {
      co_return "connect " + where + ": timed out after " + orch::format_duration(config_.timeout);
    }
    if (ec) {
      co_return "connect " + where + ": " + ec.message();
    }
    c.open = true;
    c.responses = 0;
    c.buffer.clear();
    co_return std::string();
  }

  std::string failure_detail(const char* what, const error_code& ec, FailureKind kind,
                             uint64_t responses) const {
    if (kind == FailureKind::kStaleKeepalive) {
      return std::string(what) + ": keep-alive connection closed by the server while idle, after " +
             std::to_string(responses) + " response(s): " + ec.message();
    }
    if (kind == FailureKind::kTimeout) {
      return std::string(what) + ": timed out after " + orch::format_duration(config_.timeout);
    }
    return std::string(what) + ": " + ec.message();
  }

  void fail(Connection& c, FailureKind kind, std::string detail) {
    report_.tally.add_failure(unix_ms(clock_.wall_now()), kind, std::move(detail));
    close(c);
  }

  // Drops the connection (if any); the next request connects anew.
  static void close(Connection& c) {
    error_code ignored;
    c.stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    c.stream.close();
    c.open = false;
    c.responses = 0;
    c.buffer.clear();
  }

  // ioc_ first: the I/O objects below must be destroyed before it.
  net::io_context ioc_{1};
  const Config& config_;
  orch::Clock& clock_;
  const Hooks& hooks_;
  net::signal_set signals_;
  net::steady_timer duration_timer_;
  http::request<http::empty_body> request_;
  std::string port_text_;
  std::vector<std::unique_ptr<Connection>> connections_;
  int running_ = 0;
  bool stopping_ = false;
  bool abandoning_ = false;
  Report report_;
};

bool iequals_prefix(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) {
    return false;
  }
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) {
      return false;
    }
  }
  return true;
}

orch::Status bad_url(const std::string& why) {
  return orch::Status(orch::Code::kInvalidArgument, why);
}

}  // namespace

orch::Result<Url> parse_url(std::string_view text) {
  constexpr std::string_view kScheme = "http://";
  if (iequals_prefix(text, "https://")) {
    return bad_url("https is not supported, only http://");
  }
  if (!iequals_prefix(text, kScheme)) {
    return bad_url("expected http://HOST:PORT/PATH");
  }
  std::string_view rest = text.substr(kScheme.size());
  // A fragment is never sent to the server.
  rest = rest.substr(0, rest.find('#'));
  const std::size_t path_at = rest.find_first_of("/?");
  const std::string_view authority = rest.substr(0, path_at);
  Url url;
  if (path_at != std::string_view::npos) {
    const std::string_view target = rest.substr(path_at);
    url.target = (target.front() == '?' ? "/" : "") + std::string(target);
  }
  if (authority.find('@') != std::string_view::npos) {
    return bad_url("user info (user@host) is not supported");
  }
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return bad_url("missing ']' after the IPv6 address");
    }
    url.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') {
      return bad_url("expected ':PORT' after ']'");
    }
    port_text = after.empty() ? after : after.substr(1);
  } else {
    const std::size_t colon = authority.find(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.find(':') != std::string_view::npos) {
        return bad_url("an IPv6 address needs brackets: http://[::1]:8080/");
      }
    }
  }
  if (url.host.empty()) {
    return bad_url("no host");
  }
  if (port_text.empty() && authority.back() == ':') {
    return bad_url("empty port");
  }
  if (!port_text.empty()) {
    unsigned long port = 0;
    for (char ch : port_text) {
      if (!std::isdigit(static_cast<unsigned char>(ch)) || port > 65535) {
        return bad_url("bad port \"" + std::string(port_text) + "\"");
      }
      port = port * 10 + static_cast<unsigned long>(ch - '0');
    }
    if (port == 0 || port > 65535) {
      return bad_url("bad port \"" + std::string(port_text) + "\"");
    }
    url.port = static_cast<uint16_t>(port);
  }
  return url;
}

Report run_load(const Config& config, orch::Clock& clock, const Hooks& hooks) {
  LoadRun run(config, clock, hooks);
  return run.run();
}

}  // namespace loadgen
