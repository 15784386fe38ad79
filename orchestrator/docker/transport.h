// Transport: one connection to an Endpoint -- a unix socket, TCP, or mutual TLS over TCP --
// opened within a deadline. It is the only connect code in rollgate: HttpEngine (the Engine
// API) and the HAProxy runtime client (router/haproxy_runtime.cc) both dial through it, so they
// time out and report an unreachable peer the same way.
//
// This header brings Asio, Beast and OpenSSL stream types. Include it only from the .cc files
// that read and write a connection (transport.cc, http_exchange.cc, http_engine.cc,
// router/haproxy_runtime.cc), never from a header that other modules include.
//
// Deadlines: a caller passes an absolute deadline on its Clock (clock.now() + its budget).
// Every phase (resolve, connect, handshake, then the caller's reads and writes after
// Connection::arm) gets what is left of that deadline, and Asio's socket timers enforce it: a
// socket cannot wait on a ManualClock, so under one the whole budget stays available while
// real I/O runs. Connecting is further capped by the connect timeout.
//
// TLS (docs/tls.md): TLS 1.2 or newer; the peer's certificate must chain to TlsFiles::ca and
// name the host dialled (SNI and OpenSSL's host-name check for DNS names, the IP SAN check for
// addresses); rollgate's certificate and key are presented. The files are read on the first
// connect and the context kept; a failure to load them is kept too, so they are not re-read.
// Session resumption: the Transport keeps the last resumable session its connections were
// given (keep_session) and offers it on the next handshake, so a new connection to the same
// engine skips the certificate exchange. The session is per Transport, so per endpoint.
//
// Errors (values, never exceptions):
//   "CONTEXT: cannot connect to PEER at ENDPOINT: WHY"  kUnavailable (refused, missing socket,
//                                                       resolution failed or timed out)
//   "NAME: TLS: cannot use tls.ca \"PATH\": WHY"         kInvalidArgument (a TLS file)
//   "NAME: TLS handshake with ENDPOINT failed: WHY (HINT)"  kUnavailable, or kTimeout when the
//                                                       peer does not answer the handshake
// Thread-safety: none; one io_context thread. A Transport outlives its connects.
#pragma once

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "orchestrator/core/clock.h"
#include "orchestrator/core/status.h"
#include "orchestrator/docker/types.h"

namespace orch::docker {

using UnixStream = boost::beast::basic_stream<boost::asio::local::stream_protocol>;
using TcpStream = boost::beast::tcp_stream;
using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

// An open connection: exactly one of the three stream kinds. Closed when destroyed.
class Connection {
 public:
  explicit Connection(UnixStream s) : stream_(std::move(s)) {}
  explicit Connection(TcpStream s) : stream_(std::move(s)) {}
  explicit Connection(TlsStream s) : stream_(std::move(s)) {}

  // The reads and writes that follow must finish by `deadline` on `clock` (at least 1 ms is
  // given, so that a spent budget fails as a timeout rather than not at all).
  void arm(const Clock& clock, TimePoint deadline);

  // Calls f(stream) with the concrete stream; `f` is a generic lambda, typically returning a
  // Task that reads and writes it. The stream must outlive that Task.
  template <class F>
  decltype(auto) visit(F&& f) {
    return std::visit(std::forward<F>(f), stream_);
  }

  bool is_tls() const { return std::holds_alternative<TlsStream>(stream_); }

  // For a connection that sat idle: true when the socket is open, the peer has not closed it,
  // and nothing unread is waiting (a non-blocking peek). A kept-alive connection the engine
  // closed is found here, before a request is written to it.
  bool looks_open();

  // Clears the deadline set by arm(), for a connection that goes back to a pool.
  void disarm();

  // Shuts the socket down in both directions; errors are ignored (the peer may be gone).
  void shutdown();

 private:
  std::variant<UnixStream, TcpStream, TlsStream> stream_;
};

class Transport {
 public:
  // `name`: whom TLS messages name (the manifest host, "h1"). `peer`: what is dialled, for
  // connect messages ("engine", "HAProxy"). The Clock is borrowed and must outlive this.
  Transport(std::string name, std::string peer, Endpoint endpoint, const Clock& clock,
            std::chrono::milliseconds connect_timeout);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Connects (and, with TLS files, handshakes) by min(deadline, now + connect timeout).
  // `context` starts connect failures' messages (the caller's call, "h1: GET /_ping").
  Task<Result<std::unique_ptr<Connection>>> connect(TimePoint deadline, std::string context);

  // Loads the TLS files now, if the endpoint has them (connect does it too). For callers that
  // want a bad file reported before anything else.
  Status prepare();

  // Keeps `conn`'s TLS session for the next handshake, when it can be resumed. Call it after
  // an exchange that succeeded: with TLS 1.3 the engine's session ticket arrives after the
  // handshake, and a connection that failed has no session worth offering again.
  void keep_session(Connection& conn);

  const Endpoint& endpoint() const { return endpoint_; }
  const Clock& clock() const { return clock_; }
  // `opened` and `tls_resumed` are counted here; ConnectionPool counts the rest.
  ConnectionStats& stats() { return stats_; }
  const ConnectionStats& stats() const { return stats_; }

 private:
  struct SessionFree {
    void operator()(SSL_SESSION* s) const;
  };

  Status handshake_error(TlsStream& stream, boost::beast::error_code ec) const;
  Status load_tls();

  std::string name_;
  std::string peer_;
  Endpoint endpoint_;
  const Clock& clock_;
  std::chrono::milliseconds connect_timeout_;
  std::unique_ptr<boost::asio::ssl::context> tls_context_;
  std::optional<Status> tls_load_error_;
  std::unique_ptr<SSL_SESSION, SessionFree> session_;
  ConnectionStats stats_;
};

// The reason OpenSSL recorded for an SSL-category error, else the error's own message.
std::string ssl_reason(boost::beast::error_code ec);

// What to check when a TLS peer refuses rollgate's client certificate.
inline constexpr const char* kClientCertHint =
    "check tls.cert and tls.key, and that the engine's --tlscacert signed them";

}  // namespace orch::docker
