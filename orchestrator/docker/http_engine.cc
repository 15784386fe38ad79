// HttpEngine: docker::Engine over HTTP/1.1 with Boost.Beast, one connection per call.
//
// Shape of a call: build a Request (method, target without the /v1.41 prefix, optional JSON
// body, deadline) -> round_trip() connects over the endpoint's transport -> exchange() writes
// the request and reads the reply (or streams it into a PullStreamParser) -> the caller maps
// the reply to a value or a Status. exchange() is a template over the stream type: a unix
// stream, a tcp_stream, or a beast::ssl_stream<beast::tcp_stream> for mutual TLS.
//
// TLS: one ssl::context per engine, built on the first call from the host's files (CA, client
// certificate, key) and kept; TLS 1.2 is the floor. The engine's certificate must chain to the
// CA and name the host we dialled (DNS name or IP SAN). Handshake failures say which side
// refused and which manifest field to check; they never echo file contents.
//
// Errors: no try/catch; every async op uses as_tuple and each error_code becomes a Status
// naming host, method and path. Deadlines come from beast::basic_stream::expires_at (one
// absolute deadline per call), and from a timer raced against name resolution.
#include "orchestrator/docker/http_engine.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "orchestrator/core/duration.h"
#include "orchestrator/docker/api_paths.h"
#include "orchestrator/docker/json_codec.h"
#include "orchestrator/docker/pull_stream.h"

namespace orch::docker {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using net::ip::tcp;
using net::local::stream_protocol;
using Clock = std::chrono::steady_clock;
using UnixStream = beast::basic_stream<stream_protocol>;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;
namespace ssl = net::ssl;

constexpr auto kUseTuple = net::as_tuple(net::use_awaitable);
// Inspect and list replies are small; this only stops a confused peer from exhausting memory.
constexpr uint64_t kMaxBody = 64ull << 20;

struct Request {
  http::verb method = http::verb::get;
  std::string target;  // without the version prefix, e.g. "/containers/json?all=1"
  bool versioned = true;
  std::optional<std::string> json_body;
  std::chrono::milliseconds timeout{0};
  std::string_view deadline_name = "call";  // for timeout messages: "call", "pull", "stop"
  std::string what;  // extra context for messages when the path alone is not enough
  // X-Registry-Auth value. A secret: never put into a message.
  std::optional<std::string> registry_auth;
};

struct Reply {
  unsigned status = 0;
  std::string reason;
  std::string body;
  std::string api_version;  // "API-Version" header
  std::string os_type;      // "OSType" header
};

// The reason OpenSSL recorded for the last failure, or `fallback`.
std::string ssl_reason(beast::error_code ec) {
  if (ec.category() == net::error::get_ssl_category()) {
    const char* reason = ERR_reason_error_string(static_cast<unsigned long>(ec.value()));
    if (reason != nullptr) {
      return reason;
    }
  }
  return ec.message();
}

constexpr const char* kClientCertHint =
    "check tls.cert and tls.key, and that the engine's --tlscacert signed them";

// "/containers/create?name=web" -> "/containers/create": messages name the path, not the query.
std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

class HttpEngine final : public Engine {
 public:
  HttpEngine(std::string host_name, Endpoint endpoint, HttpEngineOptions options)
      : host_name_(std::move(host_name)),
        endpoint_(std::move(endpoint)),
        options_(options),
        host_header_(endpoint_.kind == Endpoint::Kind::kTcp
                         ? endpoint_.host + ":" + std::to_string(endpoint_.port)
                         : std::string("docker")) {}

  const std::string& host_name() const override { return host_name_; }

  Task<Result<PingInfo>> ping() override;
  Task<Result<VersionInfo>> version() override;
  Task<Result<DistributionInfo>> distribution(std::string ref) override;
  Task<Status> pull(std::string ref) override;
  Task<Result<ImageInfo>> inspect_image(std::string ref) override;
  Task<Result<std::vector<ContainerSummary>>> list_containers(
      std::vector<std::string> label_filters) override;
  Task<Result<std::string>> create_container(ContainerSpec spec) override;
  Task<Status> start_container(std::string id) override;
  Task<Status> stop_container(std::string id, std::optional<int> timeout_s) override;
  Task<Status> rename_container(std::string id, std::string new_name) override;
  Task<Status> remove_container(std::string id, bool force) override;
  Task<Result<ContainerInfo>> inspect_container(std::string id) override;
  Task<Result<ExecResult>> exec(std::string container, std::vector<std::string> cmd,
                                std::chrono::milliseconds timeout) override;

 private:
  Request make(http::verb method, std::string target) const {
    Request r;
    r.method = method;
    r.target = std::move(target);
    r.timeout = options_.call_timeout;
    return r;
  }

  // Connects, exchanges one request, closes. `sink`, when set, receives a 200 body as it
  // arrives instead of it being buffered in Reply::body.
  Task<Result<Reply>> round_trip(const Request& req, PullStreamParser* sink);
  template <class Stream>
  Task<Result<Reply>> exchange(Stream& stream, const Request& req, Clock::time_point deadline,
                               PullStreamParser* sink);

  // A call that expects 2xx/304 and no particular body.
  Task<Status> simple_call(Request req);
  // A call that expects 200 and decodes the body with `decode`.
  template <class T>
  Task<Result<T>> decoded_call(Request req, Result<T> (*decode)(std::string_view));

  std::string prefix(const Request& req) const {
    std::string p = host_name_ + ": " + std::string(http::to_string(req.method)) + " " +
                    std::string(path_of(req.target));
    if (!req.what.empty()) {
      p += " (" + req.what + ")";
    }
    return p;
  }
  Status io_error(const Request& req, std::string_view phase, beast::error_code ec) const;
  Status connect_error(const Request& req, std::string_view what) const;
  Status http_error(const Request& req, const Reply& reply) const;
  Status unexpected(const Request& req, const Status& decode_error) const {
    return decode_error.with_context(prefix(req));
  }

  // The TLS context for this engine, built on first use from endpoint_.tls.
  Result<ssl::context*> tls_context();
  Status handshake_error(TlsStream& stream, beast::error_code ec) const;
  // X-Registry-Auth for the registry `ref` pulls from, when rollgate holds a credential.
  std::optional<std::string> registry_auth_for(const std::string& ref) const {
    if (!options_.registry_auth) {
      return std::nullopt;
    }
    return options_.registry_auth->header_for(registry_of(ref));
  }

  std::string host_name_;
  Endpoint endpoint_;
  HttpEngineOptions options_;
  std::string host_header_;
  // Set by ping() when the daemon is older than rollgate supports; later calls fail fast.
  std::optional<Status> too_old_;
  std::unique_ptr<ssl::context> tls_context_;
  // A failure to load the TLS files is kept: the files are not re-read on every call.
  std::optional<Status> tls_load_error_;
};

// Field names for messages: the manifest key whose file failed.
Status tls_file_error(const std::string& host, const char* field, const std::string& path,
                      const std::string& why) {
  return Status(Code::kInvalidArgument,
                host + ": TLS: cannot use " + std::string(field) + " \"" + path + "\": " + why);
}

Result<ssl::context*> HttpEngine::tls_context() {
  if (tls_context_) {
    return tls_context_.get();
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
      tls_load_error_ = tls_file_error(host_name_, item.field, *item.path, "no file given");
      return *tls_load_error_;
    }
    if (::access(item.path->c_str(), R_OK) != 0) {
      tls_load_error_ = tls_file_error(host_name_, item.field, *item.path, std::strerror(errno));
      return *tls_load_error_;
    }
  }
  beast::error_code ec;
  ctx->load_verify_file(files.ca, ec);
  if (ec) {
    tls_load_error_ = tls_file_error(host_name_, "tls.ca", files.ca,
                                     "not a PEM CA certificate (" + ssl_reason(ec) + ")");
    return *tls_load_error_;
  }
  ctx->use_certificate_chain_file(files.cert, ec);
  if (ec) {
    tls_load_error_ = tls_file_error(host_name_, "tls.cert", files.cert,
                                     "not a PEM certificate (" + ssl_reason(ec) + ")");
    return *tls_load_error_;
  }
  ctx->use_private_key_file(files.key, ssl::context::pem, ec);
  if (ec) {
    tls_load_error_ =
        tls_file_error(host_name_, "tls.key", files.key,
                       "not a PEM private key matching tls.cert (" + ssl_reason(ec) + ")");
    return *tls_load_error_;
  }
  tls_context_ = std::move(ctx);
  return tls_context_.get();
}

Status HttpEngine::handshake_error(TlsStream& stream, beast::error_code ec) const {
  const std::string head =
      host_name_ + ": TLS handshake with " + endpoint_.to_string() + " failed: ";
  if (ec == beast::error::timeout) {
    return Status(Code::kTimeout, head + "no answer within " +
                                      format_duration(options_.connect_timeout) +
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

Status HttpEngine::io_error(const Request& req, std::string_view phase,
                            beast::error_code ec) const {
  if (ec == beast::error::timeout) {
    return Status(Code::kTimeout, prefix(req) + ": no complete answer within " +
                                      format_duration(req.timeout) + " (" +
                                      std::string(req.deadline_name) + " deadline, while " +
                                      std::string(phase) + ")");
  }
  if (ec == net::error::operation_aborted) {
    return Status(Code::kCancelled, prefix(req) + ": cancelled while " + std::string(phase));
  }
  std::string detail = ec.message();
  if (endpoint_.tls && ec.category() == net::error::get_ssl_category()) {
    detail = ssl_reason(ec);
  }
  // With TLS 1.3 the engine checks rollgate's certificate after the client's side of the
  // handshake is done, so a refusal shows up on the first write or read: as an alert, or, when
  // the engine closed first (Go's TLS stack does), as a reset or end of stream.
  const bool first_exchange =
      phase == "sending the request" || phase == "reading the response header";
  const bool closed = ec == net::error::connection_reset || ec == net::error::eof ||
                      ec == ssl::error::stream_truncated ||
                      detail.find("alert") != std::string::npos;
  if (endpoint_.tls && first_exchange && closed) {
    detail +=
        " (the engine closed the TLS connection before answering, most likely refusing "
        "rollgate's client certificate; " +
        std::string(kClientCertHint) + ")";
  }
  return Status(Code::kUnavailable, prefix(req) + ": engine at " + endpoint_.to_string() + ": " +
                                        std::string(phase) + " failed: " + detail);
}

Status HttpEngine::connect_error(const Request& req, std::string_view what) const {
  return Status(Code::kUnavailable, prefix(req) + ": cannot connect to engine at " +
                                        endpoint_.to_string() + ": " + std::string(what));
}

Status HttpEngine::http_error(const Request& req, const Reply& reply) const {
  const std::string message = engine_error_message(reply.body, reply.reason);
  Code code = Code::kEngine;
  if (reply.status == 404) {
    code = Code::kNotFound;
  } else if (reply.status == 409) {
    code = Code::kConflict;
  } else if (reply.status == 502 || reply.status == 503 || reply.status == 504) {
    // The daemon (or a proxy before it) cannot serve right now: worth retrying later.
    code = Code::kUnavailable;
  }
  // A plain 500 stays kEngine: the engine answered, and the failure is about the request
  // (port already allocated, OCI runtime error), so retrying the host would not help.
  return Status(code, prefix(req) + ": HTTP " + std::to_string(reply.status) + ": " + message,
                static_cast<int>(reply.status));
}

template <class Stream>
Task<Result<Reply>> HttpEngine::exchange(Stream& stream, const Request& req,
                                         Clock::time_point deadline, PullStreamParser* sink) {
  http::request<http::string_body> request{
      req.method, req.versioned ? std::string(kApiPrefix) + req.target : req.target, 11};
  request.set(http::field::host, host_header_);
  request.set(http::field::user_agent, "rollgate");
  if (req.registry_auth) {
    request.set("X-Registry-Auth", *req.registry_auth);
  }
  if (req.json_body) {
    request.set(http::field::content_type, "application/json");
    request.body() = *req.json_body;
  }
  // POST /containers/{id}/start must carry no body; an empty string body gives Content-Length: 0.
  request.prepare_payload();

  beast::get_lowest_layer(stream).expires_at(deadline);
  if (auto [ec, n] = co_await http::async_write(stream, request, kUseTuple); ec) {
    co_return io_error(req, "sending the request", ec);
  }

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  if (sink != nullptr) {
    parser.body_limit(boost::none);  // a pull streams for as long as its layers take
  } else {
    parser.body_limit(kMaxBody);
  }
  if (auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, kUseTuple); ec) {
    co_return io_error(req, "reading the response header", ec);
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
        co_return io_error(req, "reading the pull stream", ec);
      }
      std::string& body = parser.get().body();
      Status st = sink->feed(body);
      body.clear();
      if (!st.is_ok()) {
        co_return st.with_context(prefix(req));
      }
    }
    if (Status st = sink->finish(); !st.is_ok()) {
      co_return st.with_context(prefix(req));
    }
  } else {
    if (auto [ec, n] = co_await http::async_read(stream, buffer, parser, kUseTuple); ec) {
      co_return io_error(req, "reading the response body", ec);
    }
    reply.body = std::move(parser.get().body());
  }

  beast::error_code ignored;
  beast::get_lowest_layer(stream).socket().shutdown(net::socket_base::shutdown_both, ignored);
  co_return reply;
}

Task<Result<Reply>> HttpEngine::round_trip(const Request& req, PullStreamParser* sink) {
  ssl::context* tls = nullptr;
  if (endpoint_.tls) {
    Result<ssl::context*> ctx = tls_context();
    if (!ctx) {
      co_return ctx.status();
    }
    tls = *ctx;
  }
  if (too_old_) {
    co_return *too_old_;
  }
  auto executor = co_await net::this_coro::executor;
  const auto start = Clock::now();
  const auto deadline = start + req.timeout;
  const auto connect_deadline = std::min(deadline, start + options_.connect_timeout);

  if (endpoint_.kind == Endpoint::Kind::kUnix) {
    UnixStream stream(executor);
    stream.expires_at(connect_deadline);
    auto [ec] = co_await stream.async_connect(stream_protocol::endpoint(endpoint_.path), kUseTuple);
    if (ec == beast::error::timeout) {
      co_return connect_error(req, "timed out after " + format_duration(options_.connect_timeout));
    }
    if (ec) {
      co_return connect_error(req, ec.message());
    }
    co_return co_await exchange(stream, req, deadline, sink);
  }

  // Name resolution has no deadline of its own, so race it against a timer.
  using namespace net::experimental::awaitable_operators;
  tcp::resolver resolver(executor);
  net::steady_timer timer(executor);
  timer.expires_at(connect_deadline);
  auto resolved =
      co_await (resolver.async_resolve(endpoint_.host, std::to_string(endpoint_.port), kUseTuple) ||
                timer.async_wait(kUseTuple));
  if (resolved.index() == 1) {
    co_return connect_error(req, "resolving " + endpoint_.host + " timed out after " +
                                     format_duration(options_.connect_timeout));
  }
  auto [rec, results] = std::get<0>(std::move(resolved));
  if (rec) {
    co_return connect_error(req, "resolving " + endpoint_.host + ": " + rec.message());
  }

  beast::tcp_stream stream(executor);
  stream.expires_at(connect_deadline);
  auto [ec, connected] = co_await stream.async_connect(results, kUseTuple);
  if (ec == beast::error::timeout) {
    co_return connect_error(req, "timed out after " + format_duration(options_.connect_timeout));
  }
  if (ec) {
    co_return connect_error(req, ec.message());
  }
  if (tls == nullptr) {
    co_return co_await exchange(stream, req, deadline, sink);
  }

  TlsStream tls_stream(std::move(stream), *tls);
  SSL* handle = tls_stream.native_handle();
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
                     host_name_ + ": TLS: cannot set the expected name " + endpoint_.host);
  }
  if (auto [hec] = co_await tls_stream.async_handshake(ssl::stream_base::client, kUseTuple); hec) {
    co_return handshake_error(tls_stream, hec);
  }
  co_return co_await exchange(tls_stream, req, deadline, sink);
}

Task<Status> HttpEngine::simple_call(Request req) {
  Result<Reply> reply = co_await round_trip(req, nullptr);
  if (!reply) {
    co_return reply.status();
  }
  // 2xx is success; 304 is start on a running / stop on a stopped container: also success.
  if (reply->status >= 400 || (reply->status >= 300 && reply->status != 304)) {
    co_return http_error(req, *reply);
  }
  co_return Status::ok();
}

template <class T>
Task<Result<T>> HttpEngine::decoded_call(Request req, Result<T> (*decode)(std::string_view)) {
  Result<Reply> reply = co_await round_trip(req, nullptr);
  if (!reply) {
    co_return reply.status();
  }
  if (reply->status < 200 || reply->status >= 300) {
    co_return http_error(req, *reply);
  }
  Result<T> decoded = decode(reply->body);
  if (!decoded) {
    co_return unexpected(req, decoded.status());
  }
  co_return decoded;
}

Task<Result<PingInfo>> HttpEngine::ping() {
  Request req = make(http::verb::get, "/_ping");
  req.versioned = false;
  // A ping must not be refused by an earlier too-old verdict: it is how that verdict is made.
  too_old_.reset();
  Result<Reply> reply = co_await round_trip(req, nullptr);
  if (!reply) {
    co_return reply.status();
  }
  if (reply->status != 200) {
    Status st = http_error(req, *reply);
    if (reply->status == 500) {
      // /_ping answers 500 when the daemon itself is unhealthy.
      st = Status(Code::kUnavailable, st.message(), st.http_status());
    }
    co_return st;
  }
  PingInfo info;
  // An engine that sends no API-Version predates the header (API 1.24, as the Go client assumes).
  info.api_version = reply->api_version.empty() ? "1.24" : reply->api_version;
  info.os_type = reply->os_type;
  if (!api_version_supported(info.api_version)) {
    too_old_ =
        Status(Code::kEngine, host_name_ + ": engine at " + endpoint_.to_string() + " speaks API " +
                                  info.api_version + ", older than the " +
                                  std::to_string(kApiMajor) + "." + std::to_string(kApiMinor) +
                                  " rollgate requires (Docker Engine 20.10 or newer)");
    co_return *too_old_;
  }
  co_return info;
}

Task<Result<VersionInfo>> HttpEngine::version() {
  co_return co_await decoded_call(make(http::verb::get, "/version"), &decode_version);
}

Task<Result<DistributionInfo>> HttpEngine::distribution(std::string ref) {
  Request req = make(http::verb::get, "/distribution/" + encode_ref_path(ref) + "/json");
  req.registry_auth = registry_auth_for(ref);
  co_return co_await decoded_call(std::move(req), &decode_distribution);
}

Task<Status> HttpEngine::pull(std::string ref) {
  Request req = make(http::verb::post, pull_target(ref));
  req.timeout = options_.pull_timeout;
  req.deadline_name = "pull";
  req.what = "pull " + ref;
  req.registry_auth = registry_auth_for(ref);
  PullStreamParser parser;
  Result<Reply> reply = co_await round_trip(req, &parser);
  if (!reply) {
    co_return reply.status();
  }
  if (reply->status != 200) {
    co_return http_error(req, *reply);
  }
  co_return Status::ok();
}

Task<Result<ImageInfo>> HttpEngine::inspect_image(std::string ref) {
  co_return co_await decoded_call(
      make(http::verb::get, "/images/" + encode_ref_path(ref) + "/json"), &decode_image);
}

Task<Result<std::vector<ContainerSummary>>> HttpEngine::list_containers(
    std::vector<std::string> label_filters) {
  co_return co_await decoded_call(make(http::verb::get, list_containers_target(label_filters)),
                                  &decode_container_list);
}

Task<Result<std::string>> HttpEngine::create_container(ContainerSpec spec) {
  Request req = make(http::verb::post, create_target(spec.name));
  req.json_body = encode_create_body(spec);
  co_return co_await decoded_call(std::move(req), &decode_create_response);
}

Task<Status> HttpEngine::start_container(std::string id) {
  co_return co_await simple_call(make(http::verb::post, start_target(id)));
}

Task<Status> HttpEngine::stop_container(std::string id, std::optional<int> timeout_s) {
  Request req = make(http::verb::post, stop_target(id, timeout_s));
  req.deadline_name = "stop";
  if (timeout_s && *timeout_s >= 0) {
    req.timeout = std::chrono::seconds(*timeout_s) + options_.stop_margin;
  } else {
    // The container's own StopTimeout applies and is unknown here (10 s unless set at create);
    // allow an ordinary call's deadline plus the margin. t=-1 ("wait forever") is not passed
    // on: rollgate always wants a bounded stop.
    req.timeout = options_.call_timeout + options_.stop_margin;
  }
  co_return co_await simple_call(std::move(req));
}

Task<Status> HttpEngine::rename_container(std::string id, std::string new_name) {
  co_return co_await simple_call(make(http::verb::post, rename_target(id, new_name)));
}

Task<Status> HttpEngine::remove_container(std::string id, bool force) {
  co_return co_await simple_call(make(http::verb::delete_, remove_target(id, force)));
}

Task<Result<ContainerInfo>> HttpEngine::inspect_container(std::string id) {
  co_return co_await decoded_call(
      make(http::verb::get, "/containers/" + encode_ref_path(id) + "/json"), &decode_container);
}

// --- exec: create, start attached, inspect -------------------------------------------------

// Exec output kept for messages; the rest of the stream is read and dropped.
constexpr size_t kExecOutputLimit = 4096;

// The body of POST /containers/{id}/exec: attach stdout and stderr, no TTY (so the stream is
// multiplexed and ends when the process exits), no stdin.
std::string encode_exec_body(const std::vector<std::string>& cmd) {
  nlohmann::json j = {{"AttachStdin", false},
                      {"AttachStdout", true},
                      {"AttachStderr", true},
                      {"Tty", false},
                      {"Cmd", cmd}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// POST /containers/{id}/exec (201): {"Id": "..."}.
Result<std::string> decode_exec_create(std::string_view body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("Id") || !j.at("Id").is_string() ||
      j.at("Id").get<std::string>().empty()) {
    return Status(Code::kInternal, "unexpected response: exec create without an Id");
  }
  return j.at("Id").get<std::string>();
}

struct ExecState {
  bool running = false;
  int exit_code = 0;
};

// GET /exec/{id}/json: {"Running": false, "ExitCode": 0, ...}; ExitCode is null while running.
Result<ExecState> decode_exec_inspect(std::string_view body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("Running") ||
      !j.at("Running").is_boolean()) {
    return Status(Code::kInternal, "unexpected response: exec inspect without Running");
  }
  ExecState st;
  st.running = j.at("Running").get<bool>();
  if (!st.running) {
    if (!j.contains("ExitCode") || !j.at("ExitCode").is_number_integer()) {
      return Status(Code::kInternal, "unexpected response: finished exec without an ExitCode");
    }
    st.exit_code = j.at("ExitCode").get<int>();
  }
  return st;
}

// The attached stream without a TTY is multiplexed: frames of an 8-byte header {stream, 0, 0,
// 0, size as big-endian uint32} followed by `size` bytes. Returns the payloads concatenated,
// at most `limit` bytes. A stream that does not start like a frame is taken as raw output.
std::string demultiplex(std::string_view raw, size_t limit) {
  auto is_header = [&](size_t at) {
    return at + 8 <= raw.size() && static_cast<unsigned char>(raw[at]) <= 2 && raw[at + 1] == 0 &&
           raw[at + 2] == 0 && raw[at + 3] == 0;
  };
  if (!raw.empty() && !is_header(0)) {
    return std::string(raw.substr(0, limit));
  }
  std::string out;
  size_t at = 0;
  while (is_header(at) && out.size() < limit) {
    const auto byte = [&](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(raw[i])); };
    const size_t size =
        (byte(at + 4) << 24) | (byte(at + 5) << 16) | (byte(at + 6) << 8) | byte(at + 7);
    const std::string_view payload = raw.substr(at + 8, size);
    out.append(payload.substr(0, limit - out.size()));
    at += 8 + size;
  }
  return out;
}

Task<Result<ExecResult>> HttpEngine::exec(std::string container, std::vector<std::string> cmd,
                                          std::chrono::milliseconds timeout) {
  // One deadline for the three calls: the caller's timeout bounds the whole command.
  const auto deadline = Clock::now() + timeout;
  const std::string what = "exec in " + container;
  auto remaining = [&] {
    return std::max(std::chrono::milliseconds(1),
                    std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
  };
  auto timed_out = [&] {
    return Status(Code::kTimeout, host_name_ + ": " + what + ": did not finish within " +
                                      format_duration(timeout) +
                                      " (the process may still run in the container)");
  };
  auto call = [&](http::verb method, std::string target) {
    Request r = make(method, std::move(target));
    r.timeout = remaining();
    r.deadline_name = "exec";
    r.what = what;
    return r;
  };

  Request create = call(http::verb::post, "/containers/" + encode_ref_path(container) + "/exec");
  create.json_body = encode_exec_body(cmd);
  Result<std::string> id = co_await decoded_call(std::move(create), &decode_exec_create);
  if (!id) {
    co_return id.status().code() == Code::kTimeout ? timed_out() : id.status();
  }

  // Attached start: the engine answers 200 and streams the output until the process exits,
  // then closes the connection, so the body is read to EOF.
  Request start = call(http::verb::post, "/exec/" + percent_encode(*id) + "/start");
  start.json_body = R"({"Detach":false,"Tty":false})";
  Result<Reply> started = co_await round_trip(start, nullptr);
  if (!started) {
    co_return started.status().code() == Code::kTimeout ? timed_out() : started.status();
  }
  if (started->status != 200) {
    co_return http_error(start, *started);
  }
  ExecResult result;
  result.output = demultiplex(started->body, kExecOutputLimit);

  // The stream can end a moment before the engine records the exit code: ask again briefly.
  auto executor = co_await net::this_coro::executor;
  while (true) {
    Result<ExecState> state = co_await decoded_call(
        call(http::verb::get, "/exec/" + percent_encode(*id) + "/json"), &decode_exec_inspect);
    if (!state) {
      co_return state.status().code() == Code::kTimeout ? timed_out() : state.status();
    }
    if (!state->running) {
      result.exit_code = state->exit_code;
      co_return result;
    }
    if (Clock::now() + std::chrono::milliseconds(20) >= deadline) {
      co_return timed_out();
    }
    net::steady_timer pause(executor, std::chrono::milliseconds(20));
    co_await pause.async_wait(kUseTuple);
  }
}

}  // namespace

std::unique_ptr<Engine> make_http_engine(boost::asio::io_context& /*io*/, std::string host_name,
                                         Endpoint endpoint, HttpEngineOptions options) {
  // Calls run on the executor of the coroutine that awaits them (net::this_coro::executor), so
  // the engine keeps no executor of its own; the io_context parameter documents which loop the
  // engine belongs to.
  return std::make_unique<HttpEngine>(std::move(host_name), std::move(endpoint), options);
}

}  // namespace orch::docker
