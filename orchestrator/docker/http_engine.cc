// HttpEngine: docker::Engine over HTTP/1.1 with Boost.Beast, on kept-alive connections.
//
// Shape of a call: build a Request (method, target without the /v1.41 prefix, optional JSON
// body, deadline) -> round_trip() takes a connection from the ConnectionPool, which reuses an
// idle one or connects through the Transport (unix socket, TCP or mutual TLS; transport.h) ->
// exchange() writes the request and reads the reply, or streams it into a PullStreamParser
// (http_exchange.h) -> the connection goes back to the pool when the reply allows it -> the
// caller maps the reply to a value or a Status.
//
// Time: every deadline is clock_.now() + a budget, and exec() polls with clock_.sleep_for, so
// a test on a ManualClock drives the poll loop without waiting.
//
// Errors: no try/catch; every failure is a Status naming host, method and path.
#include "orchestrator/docker/http_engine.h"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <utility>

#include "orchestrator/core/duration.h"
#include "orchestrator/docker/api_paths.h"
#include "orchestrator/docker/connection_pool.h"
#include "orchestrator/docker/exec_codec.h"
#include "orchestrator/docker/http_exchange.h"
#include "orchestrator/docker/json_codec.h"
#include "orchestrator/docker/pull_stream.h"
#include "orchestrator/docker/transport.h"

namespace orch::docker {
namespace {

namespace http = boost::beast::http;

class HttpEngine final : public Engine {
 public:
  HttpEngine(Clock& clock, std::string host_name, Endpoint endpoint, HttpEngineOptions options)
      : clock_(clock),
        host_name_(std::move(host_name)),
        options_(options),
        transport_(host_name_, "engine", endpoint, clock, options.connect_timeout),
        pool_(transport_, PoolOptions{options.max_idle, options.idle_timeout}),
        peer_{host_name_, endpoint.to_string(),
              endpoint.kind == Endpoint::Kind::kTcp
                  ? endpoint.host + ":" + std::to_string(endpoint.port)
                  : std::string("docker")} {}

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

  ConnectionStats stats() const { return transport_.stats(); }

 private:
  Request make(http::verb method, std::string target) const {
    Request r;
    r.method = method;
    r.target = std::move(target);
    r.timeout = options_.call_timeout;
    return r;
  }

  // Exchanges one request on a pooled connection (or, for a request with keep_alive false, a
  // connection of its own). `sink`, when set, receives a 200 body as it arrives instead of it
  // being buffered in Reply::body.
  Task<Result<Reply>> round_trip(const Request& req, PullStreamParser* sink);

  // A call that expects 2xx/304 and no particular body.
  Task<Status> simple_call(Request req);
  // A call that expects 200 and decodes the body with `decode`.
  template <class T>
  Task<Result<T>> decoded_call(Request req, Result<T> (*decode)(std::string_view));

  Status http_error(const Request& req, const Reply& reply) const;
  Status unexpected(const Request& req, const Status& decode_error) const {
    return decode_error.with_context(req.prefix(host_name_));
  }

  // X-Registry-Auth for the registry `ref` pulls from, when rollgate holds a credential.
  std::optional<std::string> registry_auth_for(const std::string& ref) const {
    if (!options_.registry_auth) {
      return std::nullopt;
    }
    return options_.registry_auth->header_for(registry_of(ref));
  }

  Clock& clock_;
  std::string host_name_;
  HttpEngineOptions options_;
  Transport transport_;
  ConnectionPool pool_;
  Peer peer_;
  // Set by ping() when the daemon is older than rollgate supports; later calls fail fast.
  std::optional<Status> too_old_;
};

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
  return Status(code,
                req.prefix(host_name_) + ": HTTP " + std::to_string(reply.status) + ": " + message,
                static_cast<int>(reply.status));
}

Task<Result<Reply>> HttpEngine::round_trip(const Request& req, PullStreamParser* sink) {
  // A bad TLS file is reported before a too-old verdict: it is the thing to fix first.
  if (Status st = transport_.prepare(); !st) {
    co_return st;
  }
  if (too_old_) {
    co_return *too_old_;
  }
  const TimePoint deadline = clock_.now() + req.timeout;
  // A method the engine may see twice without harm. POST is not: a create could run twice.
  const bool idempotent = req.method == http::verb::get || req.method == http::verb::head ||
                          req.method == http::verb::delete_ || req.method == http::verb::put;
  for (bool retried = false;; retried = true) {
    // A retry goes on a new connection: the other idle ones are as old as the one the engine
    // just dropped, and may be dropped too.
    Result<ConnectionPool::Lease> lease;
    if (req.keep_alive && !retried) {
      lease = co_await pool_.acquire(deadline, req.prefix(host_name_));
    } else {
      lease = co_await pool_.dedicated(deadline, req.prefix(host_name_));
    }
    if (!lease) {
      co_return lease.status();
    }
    Connection& conn = *lease->conn;
    Exchanged x = co_await exchange(conn, req, peer_, clock_, deadline, sink);
    // The engine's session ticket comes with the first answer on a connection (TLS 1.3 sends
    // it after the handshake); later answers on the same connection bring nothing new.
    if (x.reply && !lease->reused) {
      transport_.keep_session(conn);
    }
    if (x.reusable) {
      pool_.release(std::move(lease->conn));
    }
    // The engine had closed this kept-alive connection before it read the request: say it
    // again on a new one, once, when that cannot do a thing twice.
    if (!x.reply && lease->reused && !retried && x.closed_before_reply &&
        (idempotent || x.unsent)) {
      pool_.count_retry();
      continue;
    }
    co_return std::move(x.reply);
  }
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
        Status(Code::kEngine, host_name_ + ": engine at " + peer_.endpoint + " speaks API " +
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
  req.keep_alive = false;  // the stream runs until the pull ends; closing it cancels the pull
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
// How often exec() asks for the exit code after the output stream ended.
constexpr std::chrono::milliseconds kExecPoll{20};

Task<Result<ExecResult>> HttpEngine::exec(std::string container, std::vector<std::string> cmd,
                                          std::chrono::milliseconds timeout) {
  // One deadline for the three calls: the caller's timeout bounds the whole command.
  const TimePoint deadline = clock_.now() + timeout;
  const std::string what = "exec in " + container;
  auto remaining = [&] {
    return std::max(std::chrono::milliseconds(1),
                    std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_.now()));
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
  start.keep_alive = false;  // the engine hijacks the connection for the output stream
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
    if (clock_.now() + kExecPoll >= deadline) {
      co_return timed_out();
    }
    co_await clock_.sleep_for(kExecPoll);
  }
}

}  // namespace

std::unique_ptr<Engine> make_http_engine(boost::asio::io_context& /*io*/, Clock& clock,
                                         std::string host_name, Endpoint endpoint,
                                         HttpEngineOptions options) {
  // Calls run on the executor of the coroutine that awaits them (net::this_coro::executor), so
  // the engine keeps no executor of its own; the io_context parameter documents which loop the
  // engine belongs to.
  return std::make_unique<HttpEngine>(clock, std::move(host_name), std::move(endpoint), options);
}

std::optional<ConnectionStats> connection_stats(const Engine& engine) {
  const auto* http = dynamic_cast<const HttpEngine*>(&engine);
  if (http == nullptr) {
    return std::nullopt;
  }
  return http->stats();
}

}  // namespace orch::docker
