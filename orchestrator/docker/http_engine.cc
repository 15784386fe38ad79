// HttpEngine: docker::Engine over HTTP/1.1 with Boost.Beast, one connection per call.
//
// Shape of a call: build a Request (method, target without the /v1.41 prefix, optional JSON
// body, deadline) -> round_trip() connects over the endpoint's transport -> exchange() writes
// the request and reads the reply (or streams it into a PullStreamParser) -> the caller maps
// the reply to a value or a Status. exchange() is a template over the stream type so that a TLS
// stream (beast::ssl_stream<beast::tcp_stream>) slots in beside the unix and tcp ones.
//
// Errors: no try/catch; every async op uses as_tuple and each error_code becomes a Status
// naming host, method and path. Deadlines come from beast::basic_stream::expires_at (one
// absolute deadline per call), and from a timer raced against name resolution.
#include "orchestrator/docker/http_engine.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
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
#include <chrono>
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
};

struct Reply {
  unsigned status = 0;
  std::string reason;
  std::string body;
  std::string api_version;  // "API-Version" header
  std::string os_type;      // "OSType" header
};

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

  std::string host_name_;
  Endpoint endpoint_;
  HttpEngineOptions options_;
  std::string host_header_;
  // Set by ping() when the daemon is older than rollgate supports; later calls fail fast.
  std::optional<Status> too_old_;
};

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
  return Status(Code::kUnavailable, prefix(req) + ": engine at " + endpoint_.to_string() + ": " +
                                        std::string(phase) + " failed: " + ec.message());
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
  if (endpoint_.tls) {
    co_return Status(Code::kInvalidArgument,
                     prefix(req) + ": TLS to engines is not supported yet (endpoint " +
                         endpoint_.to_string() + " has TLS files configured)");
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
  co_return co_await exchange(stream, req, deadline, sink);
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
  co_return co_await decoded_call(
      make(http::verb::get, "/distribution/" + encode_ref_path(ref) + "/json"),
      &decode_distribution);
}

Task<Status> HttpEngine::pull(std::string ref) {
  Request req = make(http::verb::post, pull_target(ref));
  req.timeout = options_.pull_timeout;
  req.deadline_name = "pull";
  req.what = "pull " + ref;
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
  Request req = make(http::verb::post, "/containers/create?name=" + percent_encode(spec.name));
  req.json_body = encode_create_body(spec);
  co_return co_await decoded_call(std::move(req), &decode_create_response);
}

Task<Status> HttpEngine::start_container(std::string id) {
  co_return co_await simple_call(
      make(http::verb::post, "/containers/" + encode_ref_path(id) + "/start"));
}

Task<Status> HttpEngine::stop_container(std::string id, std::optional<int> timeout_s) {
  std::string target = "/containers/" + encode_ref_path(id) + "/stop";
  Request req = make(http::verb::post, "");
  req.deadline_name = "stop";
  if (timeout_s && *timeout_s >= 0) {
    target += "?t=" + std::to_string(*timeout_s);
    req.timeout = std::chrono::seconds(*timeout_s) + options_.stop_margin;
  } else {
    // The container's own StopTimeout applies and is unknown here (10 s unless set at create);
    // allow an ordinary call's deadline plus the margin. t=-1 ("wait forever") is not passed
    // on: rollgate always wants a bounded stop.
    req.timeout = options_.call_timeout + options_.stop_margin;
  }
  req.target = std::move(target);
  co_return co_await simple_call(std::move(req));
}

Task<Status> HttpEngine::rename_container(std::string id, std::string new_name) {
  co_return co_await simple_call(
      make(http::verb::post,
           "/containers/" + encode_ref_path(id) + "/rename?name=" + percent_encode(new_name)));
}

Task<Status> HttpEngine::remove_container(std::string id, bool force) {
  std::string target = "/containers/" + encode_ref_path(id);
  if (force) {
    target += "?force=1";
  }
  co_return co_await simple_call(make(http::verb::delete_, std::move(target)));
}

Task<Result<ContainerInfo>> HttpEngine::inspect_container(std::string id) {
  co_return co_await decoded_call(
      make(http::verb::get, "/containers/" + encode_ref_path(id) + "/json"), &decode_container);
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
