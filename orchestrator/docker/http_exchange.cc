// exchange(): a template over the three stream types underneath, chosen by Connection::visit.
// One expiry covers the write and every read (beast::basic_stream applies it to each op until
// it is changed), so a reply that trickles in cannot outlast the call's deadline.
#include "orchestrator/docker/http_exchange.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "healthcheck/kept_connection.h"
#include "orchestrator/core/duration.h"
#include "orchestrator/docker/api_paths.h"

namespace orch::docker {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

constexpr auto kUseTuple = net::as_tuple(net::use_awaitable);
// Inspect and list replies are small; this only stops a confused peer from exhausting memory.
constexpr uint64_t kMaxBody = 64ull << 20;

Status io_error(const Request& req, const Peer& peer, bool tls, std::string_view phase,
                beast::error_code ec) {
  const std::string prefix = req.prefix(peer.host_name);
  if (ec == beast::error::timeout) {
    return Status(Code::kTimeout, prefix + ": no complete answer within " +
                                      format_duration(req.timeout) + " (" +
                                      std::string(req.deadline_name) + " deadline, while " +
                                      std::string(phase) + ")");
  }
  if (ec == net::error::operation_aborted) {
    return Status(Code::kCancelled, prefix + ": cancelled while " + std::string(phase));
  }
  std::string detail = ec.message();
  if (tls && ec.category() == net::error::get_ssl_category()) {
    detail = ssl_reason(ec);
  }
  // With TLS 1.3 the engine checks rollgate's certificate after the client's side of the
  // handshake is done, so a refusal shows up on the first write or read: as an alert, or, when
  // the engine closed first (Go's TLS stack does), as a reset or end of stream.
  const bool first_exchange =
      phase == "sending the request" || phase == "reading the response header";
  const bool closed = ec == net::error::connection_reset || ec == net::error::eof ||
                      ec == net::ssl::error::stream_truncated ||
                      detail.find("alert") != std::string::npos;
  if (tls && first_exchange && closed) {
    detail +=
        " (the engine closed the TLS connection before answering, most likely refusing "
        "rollgate's client certificate; " +
        std::string(kClientCertHint) + ")";
  }
  return Status(Code::kUnavailable, prefix + ": engine at " + peer.endpoint + ": " +
                                        std::string(phase) + " failed: " + detail);
}

template <class Stream>
Task<Exchanged> exchange_on(Stream& stream, bool tls, const Request& req, const Peer& peer,
                            PullStreamParser* sink) {
  Exchanged out;
  http::request<http::string_body> request{
      req.method, req.versioned ? std::string(kApiPrefix) + req.target : req.target, 11};
  request.set(http::field::host, peer.host_header);
  request.set(http::field::user_agent, "rollgate");
  if (req.registry_auth) {
    request.set("X-Registry-Auth", *req.registry_auth);
  }
  if (req.json_body) {
    request.set(http::field::content_type, "application/json");
    request.body() = *req.json_body;
  }
  request.keep_alive(req.keep_alive);
  // POST /containers/{id}/start must carry no body; an empty string body gives Content-Length: 0.
  request.prepare_payload();

  if (auto [ec, n] = co_await http::async_write(stream, request, kUseTuple); ec) {
    out.closed_before_reply = out.unsent = health::is_hang_up(ec);
    out.reply = io_error(req, peer, tls, "sending the request", ec);
    co_return out;
  }

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  if (sink != nullptr) {
    parser.body_limit(boost::none);  // a pull streams for as long as its layers take
  } else {
    parser.body_limit(kMaxBody);
  }
  if (auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, kUseTuple); ec) {
    out.closed_before_reply = health::is_hang_up(ec) && buffer.size() == 0 && !parser.got_some();
    out.reply = io_error(req, peer, tls, "reading the response header", ec);
    co_return out;
  }

  Reply reply;
  const auto& header = parser.get();
  reply.status = header.result_int();
  reply.reason = std::string(header.reason());
  if (auto it = header.find("API-Version"); it != header.end()) {
    reply.api_version = std::string(it->value());
  }
  if (auto it = header.find("OSType"); it != header.end()) {
    reply.os_type = std::string(it->value());
  }

  if (sink != nullptr && reply.status == 200) {
    // Feed the body to the parser chunk by chunk as it arrives; string_body appends, so the
    // body is cleared after each slice. Returning early closes the socket, which cancels the
    // pull on the engine.
    while (!parser.is_done()) {
      auto [ec, n] = co_await http::async_read_some(stream, buffer, parser, kUseTuple);
      if (ec) {
        out.reply = io_error(req, peer, tls, "reading the pull stream", ec);
        co_return out;
      }
      std::string& body = parser.get().body();
      Status st = sink->feed(body);
      body.clear();
      if (!st.is_ok()) {
        out.reply = st.with_context(req.prefix(peer.host_name));
        co_return out;
      }
    }
    if (Status st = sink->finish(); !st.is_ok()) {
      out.reply = st.with_context(req.prefix(peer.host_name));
      co_return out;
    }
  } else {
    if (auto [ec, n] = co_await http::async_read(stream, buffer, parser, kUseTuple); ec) {
      out.reply = io_error(req, peer, tls, "reading the response body", ec);
      co_return out;
    }
    reply.body = std::move(parser.get().body());
  }
  // Bytes after the reply would be read as the next reply's start: such a peer is not reused.
  out.reusable = req.keep_alive && parser.keep_alive() && parser.is_done() && buffer.size() == 0;
  out.reply = std::move(reply);
  co_return out;
}

}  // namespace

std::string Request::prefix(const std::string& host_name) const {
  std::string p = host_name + ": " + std::string(http::to_string(method)) + " " +
                  std::string(std::string_view(target).substr(0, target.find('?')));
  if (!what.empty()) {
    p += " (" + what + ")";
  }
  return p;
}

Task<Exchanged> exchange(Connection& conn, const Request& req, const Peer& peer, const Clock& clock,
                         TimePoint deadline, PullStreamParser* sink) {
  conn.arm(clock, deadline);
  const bool tls = conn.is_tls();
  co_return co_await conn.visit(
      [&](auto& stream) { return exchange_on(stream, tls, req, peer, sink); });
}

}  // namespace orch::docker
