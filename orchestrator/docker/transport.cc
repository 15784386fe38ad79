// Transport::connect, one function for the three kinds of endpoint. Name resolution has no
// deadline of its own, so it is raced against a timer for what is left of the connect budget;
// connect and handshake use the stream's own expiry (beast::basic_stream::expires_after).
// Every async op uses as_tuple: each error_code becomes a Status, nothing throws.
#include "orchestrator/docker/transport.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <cerrno>
#include <cstring>
#include <type_traits>
#include <vector>

#include "healthcheck/kept_connection.h"
#include "orchestrator/core/duration.h"

namespace orch::docker {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace ssl = net::ssl;
using net::ip::tcp;
using net::local::stream_protocol;
using std::chrono::milliseconds;

namespace {

constexpr auto kUseTuple = net::as_tuple(net::use_awaitable);

// What is left of `deadline`, at least 1 ms: an expiry of zero would mean "no deadline".
milliseconds left(const Clock& clock, TimePoint deadline) {
  return std::max(milliseconds(1),
                  std::chrono::duration_cast<milliseconds>(deadline - clock.now()));
}

// A message for a TLS file that cannot be used, naming its manifest field.
Status tls_file_error(const std::string& name, const char* field, const std::string& path,
                      const std::string& why) {
  return Status(Code::kInvalidArgument,
                name + ": TLS: cannot use " + std::string(field) + " \"" + path + "\": " + why);
}

}  // namespace

std::string ssl_reason(beast::error_code ec) {
  if (ec.category() == net::error::get_ssl_category()) {
    const char* reason = ERR_reason_error_string(static_cast<unsigned long>(ec.value()));
    if (reason != nullptr) {
      return reason;
    }
  }
  return ec.message();
}

void Connection::arm(const Clock& clock, TimePoint deadline) {
  const milliseconds budget = left(clock, deadline);
  visit([&](auto& s) { beast::get_lowest_layer(s).expires_after(budget); });
}

bool Connection::looks_open() {
  return visit([](auto& s) {
    const SSL* tls = nullptr;
    if constexpr (std::is_same_v<std::decay_t<decltype(s)>, TlsStream>) {
      tls = s.native_handle();
    }
    return health::kept_connection_usable(beast::get_lowest_layer(s).socket().native_handle(), tls);
  });
}

void Connection::disarm() {
  visit([](auto& s) { beast::get_lowest_layer(s).expires_never(); });
}

void Connection::shutdown() {
  visit([](auto& s) {
    beast::error_code ignored;
    beast::get_lowest_layer(s).socket().shutdown(net::socket_base::shutdown_both, ignored);
  });
}

Transport::Transport(std::string name, std::string peer, Endpoint endpoint, const Clock& clock,
                     milliseconds connect_timeout)
    : name_(std::move(name)),
      peer_(std::move(peer)),
      endpoint_(std::move(endpoint)),
      clock_(clock),
      connect_timeout_(connect_timeout) {}

Transport::~Transport() = default;

void Transport::SessionFree::operator()(SSL_SESSION* s) const { SSL_SESSION_free(s); }

void Transport::keep_session(Connection& conn) {
  conn.visit([&](auto& s) {
    if constexpr (std::is_same_v<std::decay_t<decltype(s)>, TlsStream>) {
      const SSL_SESSION* session = SSL_get0_session(s.native_handle());
      if (session == nullptr || SSL_SESSION_is_resumable(session) != 1) {
        return;
      }
      // A copy: OpenSSL marks a connection's own session unresumable when the connection is
      // freed without a close_notify exchange, which is how rollgate drops connections.
      if (SSL_SESSION* copy = SSL_SESSION_dup(session); copy != nullptr) {
        session_.reset(copy);
      }
    }
  });
}

Status Transport::prepare() { return endpoint_.tls ? load_tls() : Status::ok(); }

Status Transport::load_tls() {
  if (tls_context_) {
    return Status::ok();
  }
  if (tls_load_error_) {
    return *tls_load_error_;
  }
  const TlsFiles& files = *endpoint_.tls;
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
  // No SSLv3, TLS 1.0 or 1.1: the floor is TLS 1.2, which every supported dockerd speaks.
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  ctx->set_verify_mode(ssl::verify_peer);
  struct Item {
    const char* field;
    const std::string* path;
  };
  const Item items[] = {{"tls.ca", &files.ca}, {"tls.cert", &files.cert}, {"tls.key", &files.key}};
  for (const Item& item : items) {
    // OpenSSL's message for a missing file is vague ("system lib"); errno is not.
    if (item.path->empty()) {
      tls_load_error_ = tls_file_error(name_, item.field, *item.path, "no file given");
      return *tls_load_error_;
    }
    if (::access(item.path->c_str(), R_OK) != 0) {
      tls_load_error_ = tls_file_error(name_, item.field, *item.path, std::strerror(errno));
      return *tls_load_error_;
    }
  }
  beast::error_code ec;
  ctx->load_verify_file(files.ca, ec);
  if (ec) {
    tls_load_error_ = tls_file_error(name_, "tls.ca", files.ca,
                                     "not a PEM CA certificate (" + ssl_reason(ec) + ")");
    return *tls_load_error_;
  }
  ctx->use_certificate_chain_file(files.cert, ec);
  if (ec) {
    tls_load_error_ = tls_file_error(name_, "tls.cert", files.cert,
                                     "not a PEM certificate (" + ssl_reason(ec) + ")");
    return *tls_load_error_;
  }
  ctx->use_private_key_file(files.key, ssl::context::pem, ec);
  if (ec) {
    tls_load_error_ =
        tls_file_error(name_, "tls.key", files.key,
                       "not a PEM private key matching tls.cert (" + ssl_reason(ec) + ")");
    return *tls_load_error_;
  }
  tls_context_ = std::move(ctx);
  return Status::ok();
}

Status Transport::handshake_error(TlsStream& stream, beast::error_code ec) const {
  const std::string head = name_ + ": TLS handshake with " + endpoint_.to_string() + " failed: ";
  if (ec == beast::error::timeout) {
    return Status(Code::kTimeout, head + "no answer within " + format_duration(connect_timeout_) +
                                      " (is this a TLS port?)");
  }
  std::string why = ssl_reason(ec);
  std::string hint;
  const long verify = SSL_get_verify_result(stream.native_handle());
  if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH) {
    why += ": " + std::string(X509_verify_cert_error_string(verify));
    hint = "the engine's certificate does not name " + endpoint_.host +
           "; check the engine address, or reissue its certificate with that name as a SAN";
  } else if (verify != X509_V_OK) {
    why += ": " + std::string(X509_verify_cert_error_string(verify));
    hint = "check tls.ca: it must be the CA that signed the engine's certificate";
  } else if (why.find("alert") != std::string::npos) {
    // The engine sent an alert: it refused rollgate's client certificate (or had none).
    hint = "the engine refused rollgate's client certificate; " + std::string(kClientCertHint);
  } else if (why.find("wrong version number") != std::string::npos ||
             why.find("packet length too long") != std::string::npos) {
    hint = "the engine does not speak TLS on this port; use its TLS port (usually 2376)";
  }
  return Status(Code::kUnavailable, head + why + (hint.empty() ? "" : " (" + hint + ")"));
}

Task<Result<std::unique_ptr<Connection>>> Transport::connect(TimePoint deadline,
                                                             std::string context) {
  if (Status st = prepare(); !st) {
    co_return st;
  }
  auto failed = [&](const std::string& why) {
    return Status(Code::kUnavailable, context + ": cannot connect to " + peer_ + " at " +
                                          endpoint_.to_string() + ": " + why);
  };
  const std::string timed_out = "timed out after " + format_duration(connect_timeout_);
  const TimePoint connect_deadline = std::min(deadline, clock_.now() + connect_timeout_);
  auto executor = co_await net::this_coro::executor;

  if (endpoint_.kind == Endpoint::Kind::kUnix) {
    UnixStream stream(executor);
    stream.expires_after(left(clock_, connect_deadline));
    auto [ec] = co_await stream.async_connect(stream_protocol::endpoint(endpoint_.path), kUseTuple);
    if (ec == beast::error::timeout) {
      co_return failed(timed_out);
    }
    if (ec) {
      co_return failed(ec.message());
    }
    ++stats_.opened;
    co_return std::make_unique<Connection>(std::move(stream));
  }

  // An address needs no resolver: asio resolves on a thread of its own, and a fleet's engines
  // are mostly addresses, so each connection would cost a thread handoff (docs/performance.md).
  std::vector<tcp::endpoint> targets;
  beast::error_code numeric_ec;
  const auto numeric = net::ip::make_address(endpoint_.host, numeric_ec);
  if (!numeric_ec) {
    targets.emplace_back(numeric, endpoint_.port);
  } else {
    using namespace net::experimental::awaitable_operators;
    tcp::resolver resolver(executor);
    net::steady_timer timer(executor);
    timer.expires_after(left(clock_, connect_deadline));
    auto resolved = co_await (
        resolver.async_resolve(endpoint_.host, std::to_string(endpoint_.port), kUseTuple) ||
        timer.async_wait(kUseTuple));
    if (resolved.index() == 1) {
      co_return failed("resolving " + endpoint_.host + " " + timed_out);
    }
    auto [rec, results] = std::get<0>(std::move(resolved));
    if (rec) {
      co_return failed("resolving " + endpoint_.host + ": " + rec.message());
    }
    for (const auto& r : results) {
      targets.push_back(r.endpoint());
    }
  }

  TcpStream stream(executor);
  stream.expires_after(left(clock_, connect_deadline));
  auto [ec, connected] = co_await stream.async_connect(targets, kUseTuple);
  if (ec == beast::error::timeout) {
    co_return failed(timed_out);
  }
  if (ec) {
    co_return failed(ec.message());
  }
  if (!endpoint_.tls) {
    ++stats_.opened;
    co_return std::make_unique<Connection>(std::move(stream));
  }

  TlsStream tls(std::move(stream), *tls_context_);
  SSL* handle = tls.native_handle();
  beast::error_code addr_ec;
  net::ip::make_address(endpoint_.host, addr_ec);
  const bool is_ip = !addr_ec;
  // SNI carries DNS names only (RFC 6066). The name check is OpenSSL's own, set on the
  // connection's verify parameters (what ssl::host_name_verification does in a callback): a
  // mismatch then reports as "hostname mismatch" / "IP address mismatch" rather than a bare
  // "certificate verify failed", which makes the error actionable.
  if (!is_ip) {
    SSL_set_tlsext_host_name(handle, endpoint_.host.c_str());
  }
  X509_VERIFY_PARAM* param = SSL_get0_param(handle);
  const int set = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, endpoint_.host.c_str())
                        : X509_VERIFY_PARAM_set1_host(param, endpoint_.host.c_str(), 0);
  if (set != 1) {
    co_return Status(Code::kInternal,
                     name_ + ": TLS: cannot set the expected name " + endpoint_.host);
  }
  // The server decides whether to resume; a session it no longer knows means a full handshake.
  if (session_ && SSL_set_session(handle, session_.get()) != 1) {
    session_.reset();
  }
  if (auto [hec] = co_await tls.async_handshake(ssl::stream_base::client, kUseTuple); hec) {
    co_return handshake_error(tls, hec);
  }
  ++stats_.opened;
  if (SSL_session_reused(handle) == 1) {
    ++stats_.tls_resumed;
  }
  co_return std::make_unique<Connection>(std::move(tls));
}

}  // namespace orch::docker
