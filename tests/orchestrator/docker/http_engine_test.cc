// HttpEngine against an in-process HTTP peer on a unix socket (or loopback TCP, port 0).
//
// FakeDockerd is a real HTTP/1.1 server with state: it records every request it receives and
// answers from a route function the test supplies, writing raw bytes so tests can choose chunk
// boundaries, hang (to exercise deadlines) or hold requests until several are in flight. Like
// dockerd it keeps a connection open for the next request unless the request asked to close;
// it counts the connections it accepted and those the client closed, and can drop connections
// the way an engine or a proxy in front of it does, to test keep-alive and its retry rule. It
// tests the transport and the status mapping; the Engine semantics are covered by the [docker]
// integration test against a real dockerd.
#include "orchestrator/docker/http_engine.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <catch2/catch.hpp>
#include <cstdio>
#include <functional>
#include <list>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "orchestrator/core/clock.h"
#include "tests/fakes/manual_clock.h"
#include "tests/support/base64url.h"
#include "tests/support/run_task.h"

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using namespace std::chrono_literals;
using orch::Code;
using orch::Result;
using orch::Status;
using orch::Task;
using namespace orch::docker;

namespace {

// The engines under test measure their deadlines on the real clock.
orch::SystemClock test_clock;

constexpr auto kUseTuple = net::as_tuple(net::use_awaitable);

struct Seen {
  std::string method;
  std::string target;
  std::string body;
  std::string content_type;
  std::string content_length;
  bool chunked = false;
  bool keep_alive = true;                    // no "Connection: close"
  std::optional<std::string> registry_auth;  // X-Registry-Auth, when sent
};

// What the route returns: raw response bytes written in the given pieces (one write each), or
// nullopt to never answer. A final empty piece means: write the others, then stall (keep the
// connection open without sending more) until the client gives up. A final kHangUp piece
// means: write the others, then close the connection.
using Pieces = std::vector<std::string>;
const std::string kHangUp = "\x01hang up";
using Route = std::function<std::optional<Pieces>(const Seen&)>;

std::string reason_for(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 304:
      return "Not Modified";
    case 404:
      return "Not Found";
    case 409:
      return "Conflict";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

Pieces respond(int status, const std::string& body = "", const std::string& extra_headers = "") {
  std::string head = "HTTP/1.1 " + std::to_string(status) + " " + reason_for(status) + "\r\n" +
                     extra_headers + "Content-Type: application/json\r\nApi-Version: 1.41\r\n";
  if (status != 204 && status != 304) {
    head += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  return {head + "\r\n" + body};
}

// A chunked 200 whose chunks are exactly `chunks`; each chunk is written separately.
// kClose leaves out the final zero-size chunk and closes; kStall leaves it out and stalls.
enum class End { kTerminate, kClose, kStall };
Pieces chunked(const std::vector<std::string>& chunks, End end = End::kTerminate) {
  Pieces out{
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"};
  for (const std::string& c : chunks) {
    char size[32];
    std::snprintf(size, sizeof(size), "%zx\r\n", c.size());
    out.push_back(size + c + "\r\n");
  }
  if (end == End::kTerminate) {
    out.push_back("0\r\n\r\n");
  } else if (end == End::kStall) {
    out.push_back("");
  } else {
    out.push_back(kHangUp);
  }
  return out;
}

template <class Protocol>
class FakeDockerd {
 public:
  using Acceptor = typename Protocol::acceptor;
  using Socket = typename Protocol::socket;

  FakeDockerd(net::io_context& io, typename Protocol::endpoint ep, Route route)
      : io_(io), acceptor_(io, ep), route_(std::move(route)) {}

  typename Protocol::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }

  void start() { net::co_spawn(io_, accept_loop(), net::detached); }

  // Requests to `hold_target` are answered only once `n` of them are in flight together.
  void hold_until(std::string target, int n) {
    hold_target_ = std::move(target);
    hold_count_ = n;
  }

  // How the server treats a kept-alive connection once it has answered on it:
  //   kKeep      wait for the next request (dockerd);
  //   kCloseIdle close it at once, without saying "Connection: close" (an idle timeout of 0);
  //   kDropNext  read the next request, then close without answering (an idle close that
  //              crossed the client's request on the wire).
  enum class Idle { kKeep, kCloseIdle, kDropNext };
  Idle idle = Idle::kKeep;

  std::vector<Seen> seen;
  int max_held = 0;
  int accepted = 0;       // connections
  int client_closed = 0;  // connections the client closed while the server waited for a request
  int dropped = 0;        // requests read and never answered because of Idle::kDropNext

 private:
  Task<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(kUseTuple);
      if (ec) {
        co_return;
      }
      ++accepted;
      net::co_spawn(io_, serve(std::move(socket)), net::detached);
    }
  }

  Task<void> serve(Socket socket) {
    beast::flat_buffer buffer;
    for (int served = 0;; ++served) {
      http::request<http::string_body> req;
      if (auto [ec, n] = co_await http::async_read(socket, buffer, req, kUseTuple); ec) {
        if (ec == http::error::end_of_stream || ec == net::error::eof) {
          ++client_closed;
        }
        co_return;
      }
      if (served > 0 && idle == Idle::kDropNext) {
        ++dropped;
        co_return;  // closes the socket: the request is never answered
      }
      const bool keep = co_await answer(socket, buffer, req);
      if (!keep) {
        co_return;
      }
    }
  }

  // Answers one request; true when the connection stays open for another.
  Task<bool> answer(Socket& socket, beast::flat_buffer& buffer,
                    const http::request<http::string_body>& req) {
    Seen s;
    s.method = std::string(req.method_string());
    s.target = std::string(req.target());
    s.body = req.body();
    s.content_type = std::string(req[http::field::content_type]);
    s.content_length = std::string(req[http::field::content_length]);
    s.chunked = req.chunked();
    s.keep_alive = req.keep_alive();
    if (auto it = req.find("X-Registry-Auth"); it != req.end()) {
      s.registry_auth = std::string(it->value());
    }
    seen.push_back(s);

    if (!hold_target_.empty() && s.target == hold_target_) {
      net::steady_timer& gate = held_.emplace_back(io_);
      max_held = std::max(max_held, static_cast<int>(held_.size()));
      if (static_cast<int>(held_.size()) < hold_count_) {
        gate.expires_at(net::steady_timer::time_point::max());
        co_await gate.async_wait(kUseTuple);  // woken by the last arrival below
      } else {
        for (net::steady_timer& t : held_) {
          t.cancel();
        }
      }
    }

    std::optional<Pieces> answer = route_(s);
    if (!answer) {
      // Never answer: wait until the client gives up and closes.
      http::request<http::string_body> next;
      co_await http::async_read(socket, buffer, next, kUseTuple);
      co_return false;
    }
    const bool stall = !answer->empty() && answer->back().empty();
    const bool hang_up = !answer->empty() && answer->back() == kHangUp;
    if (hang_up) {
      answer->pop_back();
    }
    for (const std::string& piece : *answer) {
      if (auto [ec, n] = co_await net::async_write(socket, net::buffer(piece), kUseTuple); ec) {
        co_return false;
      }
    }
    if (stall) {
      // Keep the socket open until the client closes.
      http::request<http::string_body> next;
      co_await http::async_read(socket, buffer, next, kUseTuple);
      co_return false;
    }
    if (hang_up || !req.keep_alive() || idle == Idle::kCloseIdle) {
      beast::error_code ignored;
      socket.shutdown(net::socket_base::shutdown_send, ignored);
      http::request<http::string_body> next;
      co_await http::async_read(socket, buffer, next, kUseTuple);
      co_return false;
    }
    co_return true;
  }

  net::io_context& io_;
  Acceptor acceptor_;
  Route route_;
  std::string hold_target_;
  int hold_count_ = 0;
  std::list<net::steady_timer> held_;
};

// A fresh socket path per server; removed again by the guard.
struct SocketPath {
  SocketPath() {
    static int counter = 0;
    path = "/tmp/rg-docker-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) +
           ".sock";
    ::unlink(path.c_str());
  }
  ~SocketPath() { ::unlink(path.c_str()); }
  std::string path;
};

struct UnixFixture {
  explicit UnixFixture(Route route, HttpEngineOptions options = {}, orch::Clock& clock = test_clock)
      : server(io, net::local::stream_protocol::endpoint(sock.path), std::move(route)) {
    server.start();
    Endpoint ep;
    ep.kind = Endpoint::Kind::kUnix;
    ep.path = sock.path;
    engine = make_http_engine(io, clock, "h1", ep, options);
  }

  // Runs `task` on the io_context until it completes; the server's pending work is abandoned.
  template <class T>
  T run(Task<T> task) {
    return orch::testing::run_task(io, std::move(task));
  }

  // Lets the server finish what it does after an answer (a close, say) before the next call.
  void settle() {
    io.restart();
    for (int i = 0; i < 10; ++i) {
      io.poll();
    }
  }

  ConnectionStats stats() const { return connection_stats(*engine).value(); }

  net::io_context io;
  SocketPath sock;
  FakeDockerd<net::local::stream_protocol> server;
  std::unique_ptr<Engine> engine;
};

const char* kInspectBody =
    R"({"Id":"abc123","Name":"/web","Image":"sha256:1","RestartCount":0,)"
    R"("State":{"Status":"running","Running":true},"Config":{"Image":"demo:v1","Labels":{"a":"b"}}})";

}  // namespace

TEST_CASE("ping reads the API version - calls are pinned to /v1.41", "[http_engine]") {
  UnixFixture f([](const Seen& s) -> std::optional<Pieces> {
    if (s.target == "/_ping") {
      return Pieces{
          "HTTP/1.1 200 OK\r\nApi-Version: 1.43\r\nOstype: linux\r\nContent-Length: 2\r\n\r\nOK"};
    }
    return respond(200, R"({"Version":"24.0.7","ApiVersion":"1.43","MinAPIVersion":"1.12"})");
  });
  auto ping = f.run(f.engine->ping());
  REQUIRE(ping.is_ok());
  CHECK(ping->api_version == "1.43");
  CHECK(ping->os_type == "linux");
  auto version = f.run(f.engine->version());
  REQUIRE(version.is_ok());
  CHECK(version->version == "24.0.7");
  REQUIRE(f.server.seen.size() == 2);
  CHECK(f.server.seen[0].method == "GET");
  CHECK(f.server.seen[0].target == "/_ping");
  CHECK(f.server.seen[1].target == "/v1.41/version");
}

TEST_CASE("calls before ping use /v1.41", "[http_engine]") {
  UnixFixture f([](const Seen&) -> std::optional<Pieces> { return respond(200, kInspectBody); });
  auto c = f.run(f.engine->inspect_container("web"));
  REQUIRE(c.is_ok());
  CHECK(c->name == "web");
  CHECK(c->labels.at("a") == "b");
  REQUIRE(f.server.seen.size() == 1);
  CHECK(f.server.seen[0].target == "/v1.41/containers/web/json");
}

TEST_CASE("an engine older than API 1.41 is refused", "[http_engine]") {
  auto header = GENERATE(as<std::string>{}, "Api-Version: 1.40\r\n", "");
  UnixFixture f([header](const Seen&) -> std::optional<Pieces> {
    return Pieces{"HTTP/1.1 200 OK\r\n" + header + "Content-Length: 2\r\n\r\nOK"};
  });
  auto ping = f.run(f.engine->ping());
  REQUIRE_FALSE(ping.is_ok());
  CHECK(ping.status().code() == Code::kEngine);
  CHECK_THAT(ping.status().message(), Catch::Contains("h1"));
  CHECK_THAT(ping.status().message(), Catch::Contains(header.empty() ? "1.24" : "1.40"));
  CHECK_THAT(ping.status().message(), Catch::Contains("1.41"));
  // Later calls fail fast with the same verdict, without another request.
  auto list = f.run(f.engine->list_containers({}));
  REQUIRE_FALSE(list.is_ok());
  CHECK(list.status().message() == ping.status().message());
  CHECK(f.server.seen.size() == 1);
}

TEST_CASE("HTTP errors carry status, code and the engine's message", "[http_engine]") {
  auto [status, code] = GENERATE(table<int, Code>({{400, Code::kEngine},
                                                   {404, Code::kNotFound},
                                                   {409, Code::kConflict},
                                                   {500, Code::kEngine},
                                                   {503, Code::kUnavailable}}));
  UnixFixture f([status](const Seen&) -> std::optional<Pieces> {
    return respond(status,
                   R"({"message":"Conflict. The container name \"/web\" is already in use"})");
  });
  ContainerSpec spec;
  spec.name = "web";
  spec.image = "demo@sha256:1";
  spec.labels = {{"rollgate.app", "web"}};
  auto id = f.run(f.engine->create_container(spec));
  REQUIRE_FALSE(id.is_ok());
  CHECK(id.status().code() == code);
  CHECK(id.status().http_status() == status);
  CHECK(id.status().message() == "h1: POST /containers/create: HTTP " + std::to_string(status) +
                                     ": Conflict. The container name \"/web\" is already in use");
  REQUIRE(f.server.seen.size() == 1);
  CHECK(f.server.seen[0].target == "/v1.41/containers/create?name=web");
  CHECK(f.server.seen[0].content_type == "application/json");
  CHECK_THAT(f.server.seen[0].body, Catch::Contains(R"("rollgate.app":"web")"));
}

TEST_CASE("create returns the id", "[http_engine]") {
  UnixFixture f([](const Seen&) -> std::optional<Pieces> {
    return respond(201, R"({"Id":"4fa6e0f0c678","Warnings":[]})");
  });
  ContainerSpec spec;
  spec.name = "web 1";  // not a valid Docker name, but it must still be encoded safely
  spec.image = "demo@sha256:1";
  auto id = f.run(f.engine->create_container(spec));
  REQUIRE(id.is_ok());
  CHECK(*id == "4fa6e0f0c678");
  CHECK(f.server.seen.at(0).target == "/v1.41/containers/create?name=web%201");
}

TEST_CASE("start and stop: no body, 204 and 304 succeed", "[http_engine]") {
  auto status = GENERATE(204, 304);
  UnixFixture f([status](const Seen&) -> std::optional<Pieces> { return respond(status); });
  REQUIRE(f.run(f.engine->start_container("web")).is_ok());
  REQUIRE(f.run(f.engine->stop_container("web", 5)).is_ok());
  REQUIRE(f.run(f.engine->stop_container("web", std::nullopt)).is_ok());
  REQUIRE(f.run(f.engine->rename_container("web", "web-old")).is_ok());
  REQUIRE(f.run(f.engine->remove_container("web-old", true)).is_ok());
  REQUIRE(f.run(f.engine->remove_container("web-old", false)).is_ok());
  REQUIRE(f.server.seen.size() == 6);
  CHECK(f.server.seen[0].method == "POST");
  CHECK(f.server.seen[0].target == "/v1.41/containers/web/start");
  CHECK(f.server.seen[0].body.empty());
  CHECK(f.server.seen[0].content_type.empty());
  CHECK_FALSE(f.server.seen[0].chunked);
  CHECK(f.server.seen[1].target == "/v1.41/containers/web/stop?t=5");
  CHECK(f.server.seen[2].target == "/v1.41/containers/web/stop");
  CHECK(f.server.seen[3].target == "/v1.41/containers/web/rename?name=web-old");
  CHECK(f.server.seen[4].method == "DELETE");
  CHECK(f.server.seen[4].target == "/v1.41/containers/web-old?force=1");
  CHECK(f.server.seen[5].target == "/v1.41/containers/web-old");
}

TEST_CASE("list sends label filters - distribution and image keep the reference", "[http_engine]") {
  UnixFixture f([](const Seen& s) -> std::optional<Pieces> {
    if (s.target.starts_with("/v1.41/containers/json")) {
      return respond(200, R"([{"Id":"a","Names":["/web"],"State":"running","Labels":{"x":"1"}}])");
    }
    if (s.target.starts_with("/v1.41/distribution/")) {
      return respond(200, R"({"Descriptor":{"mediaType":"m","digest":"sha256:ab","size":1}})");
    }
    return respond(200, R"({"Id":"sha256:cd","RepoTags":["reg:5000/demo:v1"],"RepoDigests":[]})");
  });
  auto list = f.run(f.engine->list_containers({"x=1"}));
  REQUIRE(list.is_ok());
  REQUIRE(list->size() == 1);
  CHECK(list->at(0).name == "web");
  auto dist = f.run(f.engine->distribution("reg:5000/team/demo:v1"));
  REQUIRE(dist.is_ok());
  CHECK(dist->digest == "sha256:ab");
  auto img = f.run(f.engine->inspect_image("reg:5000/demo@sha256:ab"));
  REQUIRE(img.is_ok());
  CHECK(img->id == "sha256:cd");
  CHECK(f.server.seen[0].target ==
        "/v1.41/containers/json?all=1&filters=%7B%22label%22%3A%5B%22x%3D1%22%5D%7D");
  CHECK(f.server.seen[1].target == "/v1.41/distribution/reg:5000/team/demo:v1/json");
  CHECK(f.server.seen[2].target == "/v1.41/images/reg:5000/demo@sha256:ab/json");
}

TEST_CASE("a malformed response is an unexpected-response error with context", "[http_engine]") {
  UnixFixture f([](const Seen&) -> std::optional<Pieces> { return respond(200, "<html>"); });
  auto c = f.run(f.engine->inspect_container("web"));
  REQUIRE_FALSE(c.is_ok());
  CHECK(c.status().code() == Code::kInternal);
  CHECK(c.status().message() ==
        "h1: GET /containers/web/json: unexpected response: body is not valid JSON");
}

TEST_CASE("pull streams chunks that split objects anywhere", "[http_engine]") {
  const std::string stream =
      "{\"status\":\"Pulling from demo\",\"id\":\"v1\"}\r\n"
      "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":1,\"total\":2},\"id\":\"ab\"}"
      "\r\n"
      "{\"status\":\"Digest: sha256:ab\"}\r\n"
      "{\"status\":\"Status: Downloaded newer image for reg:5000/demo:v1\"}\r\n";
  const size_t step = GENERATE(1, 3, 7, 40, 1000);
  std::vector<std::string> chunks;
  for (size_t i = 0; i < stream.size(); i += step) {
    chunks.push_back(stream.substr(i, step));
  }
  UnixFixture f([chunks](const Seen&) -> std::optional<Pieces> { return chunked(chunks); });
  Status st = f.run(f.engine->pull("reg:5000/demo:v1"));
  INFO(st.to_string());
  REQUIRE(st.is_ok());
  REQUIRE(f.server.seen.size() == 1);
  CHECK(f.server.seen[0].method == "POST");
  CHECK(f.server.seen[0].target == "/v1.41/images/create?fromImage=reg%3A5000%2Fdemo&tag=v1");
}

TEST_CASE("an error object inside a 200 pull stream fails the pull", "[http_engine]") {
  const std::string stream =
      "{\"status\":\"Pulling from demo\",\"id\":\"v1\"}\r\n"
      "{\"errorDetail\":{\"message\":\"unexpected EOF\"},\"error\":\"unexpected EOF\"}\r\n";
  UnixFixture f([stream](const Seen&) -> std::optional<Pieces> {
    return chunked({stream.substr(0, 50), stream.substr(50)});
  });
  Status st = f.run(f.engine->pull("reg:5000/demo@sha256:ab"));
  REQUIRE_FALSE(st.is_ok());
  CHECK(st.code() == Code::kEngine);
  CHECK(st.message() ==
        "h1: POST /images/create (pull reg:5000/demo@sha256:ab): pull failed: unexpected EOF");
  CHECK(f.server.seen.at(0).target ==
        "/v1.41/images/create?fromImage=reg%3A5000%2Fdemo&tag=sha256%3Aab");
}

TEST_CASE("a pull refused before streaming carries the engine's message", "[http_engine]") {
  UnixFixture f([](const Seen&) -> std::optional<Pieces> {
    return respond(404,
                   R"({"message":"manifest for reg:5000/demo:nope not found: manifest unknown"})");
  });
  Status st = f.run(f.engine->pull("reg:5000/demo:nope"));
  REQUIRE_FALSE(st.is_ok());
  CHECK(st.code() == Code::kNotFound);
  CHECK(st.http_status() == 404);
  CHECK(st.message() ==
        "h1: POST /images/create (pull reg:5000/demo:nope): HTTP 404: manifest for "
        "reg:5000/demo:nope not found: manifest unknown");
}

TEST_CASE("a call past its deadline is a timeout naming host, method, path", "[http_engine]") {
  HttpEngineOptions options;
  options.call_timeout = 200ms;
  UnixFixture f([](const Seen&) -> std::optional<Pieces> { return std::nullopt; }, options);
  auto c = f.run(f.engine->inspect_container("web"));
  REQUIRE_FALSE(c.is_ok());
  CHECK(c.status().code() == Code::kTimeout);
  CHECK_THAT(c.status().message(), Catch::StartsWith("h1: GET /containers/web/json: "));
  CHECK_THAT(c.status().message(), Catch::Contains("200ms"));
}

TEST_CASE("a pull stream that stalls hits the pull deadline", "[http_engine]") {
  HttpEngineOptions options;
  options.call_timeout = 10ms;  // must not apply to the pull
  options.pull_timeout = 300ms;
  UnixFixture f(
      [](const Seen&) -> std::optional<Pieces> {
        return chunked({"{\"status\":\"Pulling from demo\"}\r\n"}, End::kStall);
      },
      options);
  Status st = f.run(f.engine->pull("reg:5000/demo:v1"));
  REQUIRE_FALSE(st.is_ok());
  CHECK(st.code() == Code::kTimeout);
  CHECK_THAT(st.message(), Catch::Contains("300ms"));
  CHECK_THAT(st.message(), Catch::Contains("pull deadline"));
}

TEST_CASE("a pull stream cut off mid-way is unavailable", "[http_engine]") {
  UnixFixture f([](const Seen&) -> std::optional<Pieces> {
    return chunked({"{\"status\":\"Pulling from demo\"}\r\n{\"status\":\"Downlo"}, End::kClose);
  });
  Status st = f.run(f.engine->pull("reg:5000/demo:v1"));
  REQUIRE_FALSE(st.is_ok());
  CHECK(st.code() == Code::kUnavailable);
  CHECK_THAT(st.message(), Catch::Contains("reading the pull stream failed"));
}

TEST_CASE("several calls are in flight at once", "[http_engine]") {
  constexpr int kCalls = 5;
  HttpEngineOptions options;
  options.call_timeout = 20s;  // a serialising engine would deadlock until this fires
  UnixFixture f([](const Seen&) -> std::optional<Pieces> { return respond(200, kInspectBody); },
                options);
  f.server.hold_until("/v1.41/containers/web/json", kCalls);
  auto all = [&]() -> Task<int> {
    auto ex = co_await net::this_coro::executor;
    std::vector<std::optional<Result<ContainerInfo>>> results(kCalls);
    int done = 0;
    net::steady_timer finished(ex, net::steady_timer::time_point::max());
    for (int i = 0; i < kCalls; ++i) {
      net::co_spawn(
          ex,
          [&, i]() -> Task<void> {
            results[i].emplace(co_await f.engine->inspect_container("web"));
            if (++done == kCalls) {
              finished.cancel();
            }
          },
          net::detached);
    }
    co_await finished.async_wait(kUseTuple);
    int ok = 0;
    for (auto& r : results) {
      ok += (r && r->is_ok()) ? 1 : 0;
    }
    co_return ok;
  };
  CHECK(f.run(all()) == kCalls);
  CHECK(f.server.max_held == kCalls);
}

TEST_CASE("a missing socket is unavailable, naming the endpoint", "[http_engine]") {
  net::io_context io;
  Endpoint ep;
  ep.kind = Endpoint::Kind::kUnix;
  ep.path = "/tmp/rg-docker-test-does-not-exist.sock";
  auto engine = make_http_engine(io, test_clock, "h3", ep);
  std::optional<Result<PingInfo>> out;
  net::co_spawn(io, engine->ping(),
                [&](std::exception_ptr, Result<PingInfo> r) { out.emplace(r); });
  io.run();
  REQUIRE(out.has_value());
  REQUIRE_FALSE(out->is_ok());
  CHECK(out->status().code() == Code::kUnavailable);
  CHECK_THAT(out->status().message(),
             Catch::StartsWith("h3: GET /_ping: cannot connect to engine at "
                               "unix:///tmp/rg-docker-test-does-not-exist.sock: "));
  CHECK(out->status().http_status() == 0);
}

TEST_CASE("tcp endpoints connect - a closed port is unavailable", "[http_engine]") {
  net::io_context io;
  FakeDockerd<net::ip::tcp> server(
      io, {net::ip::make_address("127.0.0.1"), 0}, [](const Seen&) -> std::optional<Pieces> {
        return respond(200, R"({"Version":"20.10.24","ApiVersion":"1.41"})");
      });
  server.start();
  Endpoint ep;
  ep.kind = Endpoint::Kind::kTcp;
  ep.host = "127.0.0.1";
  ep.port = server.local_endpoint().port();
  auto engine = make_http_engine(io, test_clock, "h2", ep);

  // A port that was free a moment ago: bind, read the number, close.
  uint16_t closed_port = 0;
  {
    net::ip::tcp::acceptor probe(io, {net::ip::make_address("127.0.0.1"), 0});
    closed_port = probe.local_endpoint().port();
  }
  Endpoint closed = ep;
  closed.port = closed_port;
  auto refused = make_http_engine(io, test_clock, "h4", closed);

  std::optional<Result<VersionInfo>> good;
  std::optional<Result<VersionInfo>> bad;
  net::co_spawn(io, engine->version(), [&](std::exception_ptr, Result<VersionInfo> r) {
    good.emplace(r);
    if (bad) {
      io.stop();
    }
  });
  net::co_spawn(io, refused->version(), [&](std::exception_ptr, Result<VersionInfo> r) {
    bad.emplace(r);
    if (good) {
      io.stop();
    }
  });
  io.run();
  REQUIRE(good.has_value());
  REQUIRE(good->is_ok());
  CHECK((*good)->version == "20.10.24");
  REQUIRE(bad.has_value());
  REQUIRE_FALSE(bad->is_ok());
  CHECK(bad->status().code() == Code::kUnavailable);
  CHECK_THAT(bad->status().message(),
             Catch::Contains("cannot connect to engine at tcp://127.0.0.1:" +
                             std::to_string(closed_port)));
}

TEST_CASE("a TLS endpoint whose files are missing fails before connecting", "[http_engine]") {
  net::io_context io;
  auto ep = parse_endpoint("tcp://127.0.0.1:2376");
  REQUIRE(ep.is_ok());
  ep->tls = TlsFiles{"/nonexistent/ca.pem", "/nonexistent/cert.pem", "/nonexistent/key.pem"};
  auto engine = make_http_engine(io, test_clock, "h5", *ep);
  std::optional<Status> out;
  net::co_spawn(io, engine->start_container("web"), [&](std::exception_ptr, Status s) { out = s; });
  io.run();
  REQUIRE(out.has_value());
  CHECK(out->code() == Code::kInvalidArgument);
  CHECK_THAT(out->message(),
             Catch::Contains("h5: TLS: cannot use tls.ca \"/nonexistent/ca.pem\": No such file"));
}

namespace {

using orch::testing::decode_base64url;

}  // namespace

TEST_CASE("distribution and pull send X-Registry-Auth for the image's registry",
          "[http_engine][registry_auth]") {
  constexpr const char* kSecret = "pa55-w0rd/with+chars?";
  auto auth = std::make_shared<RegistryAuth>();
  auth->set("10.0.0.1:5000", RegistryCredential{"deployer", kSecret});
  HttpEngineOptions options;
  options.registry_auth = auth;
  UnixFixture f(
      [](const Seen& s) -> std::optional<Pieces> {
        if (s.target.find("/distribution/") != std::string::npos) {
          if (s.target.find("denied") != std::string::npos) {
            return respond(401, R"({"message":"unauthorized: authentication required"})");
          }
          return respond(200, R"({"Descriptor":{"digest":"sha256:)" + std::string(64, 'a') +
                                  R"(","mediaType":"m","size":1}})");
        }
        return chunked({R"({"status":"Pulling"})"});
      },
      options);

  REQUIRE(f.run(f.engine->distribution("10.0.0.1:5000/demo:v1")).is_ok());
  REQUIRE(f.run(f.engine->pull("10.0.0.1:5000/demo@sha256:" + std::string(64, 'a'))).is_ok());
  // Another registry gets no credential; neither do calls that do not talk to a registry.
  REQUIRE(f.run(f.engine->distribution("other.example:5000/demo:v1")).is_ok());
  REQUIRE(f.run(f.engine->inspect_container("web")).status().code() != Code::kOk);
  auto denied = f.run(f.engine->distribution("10.0.0.1:5000/denied:v1"));

  REQUIRE(f.server.seen.size() == 5);
  for (int i : {0, 1}) {
    REQUIRE(f.server.seen[i].registry_auth.has_value());
    auto body = nlohmann::json::parse(decode_base64url(*f.server.seen[i].registry_auth));
    CHECK(body.at("username") == "deployer");
    CHECK(body.at("password") == kSecret);
    CHECK(body.at("serveraddress") == "10.0.0.1:5000");
  }
  CHECK_FALSE(f.server.seen[2].registry_auth.has_value());
  CHECK_FALSE(f.server.seen[3].registry_auth.has_value());
  // A refused pull names the registry's message, never the credential.
  REQUIRE_FALSE(denied.is_ok());
  CHECK(denied.status().http_status() == 401);
  CHECK_THAT(denied.status().message(), Catch::Contains("authentication required"));
  CHECK_THAT(denied.status().message(), !Catch::Contains(kSecret));
  CHECK_THAT(denied.status().message(), !Catch::Contains(*f.server.seen[4].registry_auth));
}

namespace {

// --- exec -----------------------------------------------------------------------------------

// A fake engine's exec endpoints for exec "e1" in container "web": the attached start answers
// `output` as one stdout frame; inspect answers Running until `running_for` inspections passed,
// then exit code 7 (never, when running_for < 0).
Route exec_route(const std::string& output, int running_for, int& inspections) {
  return [&inspections, output, running_for](const Seen& s) -> std::optional<Pieces> {
    if (s.method == "POST" && s.target == "/v1.41/containers/web/exec") {
      return respond(201, R"({"Id":"e1"})");
    }
    if (s.method == "POST" && s.target == "/v1.41/exec/e1/start") {
      std::string frame("\x01\0\0\0\0\0\0", 7);
      frame.push_back(static_cast<char>(output.size()));
      return respond(200, frame + output);
    }
    if (s.method == "GET" && s.target == "/v1.41/exec/e1/json") {
      ++inspections;
      const bool running = running_for < 0 || inspections <= running_for;
      return respond(200, running ? R"({"Running":true,"ExitCode":null})"
                                  : R"({"Running":false,"ExitCode":7})");
    }
    return respond(404, R"({"message":"no such route"})");
  };
}

TEST_CASE("exec polls for the exit code on the injected clock", "[http_engine][exec]") {
  orch::testing::ManualClock clock;
  int inspections = 0;
  UnixFixture f(exec_route("ok\n", 2, inspections), {}, clock);
  auto r = f.run(f.engine->exec("web", {"true"}, 5s));
  INFO(r.status().message());
  REQUIRE(r);
  CHECK(r->exit_code == 7);
  CHECK(r->output == "ok\n");
  CHECK(inspections == 3);
  CHECK(clock.slept() == 40ms);  // two pauses of 20ms between the three inspections
}

TEST_CASE("exec whose exit code never comes times out on the injected clock",
          "[http_engine][exec]") {
  orch::testing::ManualClock clock;
  int inspections = 0;
  UnixFixture f(exec_route("", -1, inspections), {}, clock);
  auto r = f.run(f.engine->exec("web", {"sleep", "60"}, 1s));
  REQUIRE_FALSE(r);
  CHECK(r.status().code() == Code::kTimeout);
  CHECK_THAT(r.status().message(), Catch::Contains("h1: exec in web: did not finish within 1s"));
  // It stops asking once another pause would pass the deadline: 49 pauses of 20ms.
  CHECK(clock.slept() == 980ms);
  CHECK(inspections == 50);
}

// --- keep-alive --------------------------------------------------------------------------

Route inspect_or_create() {
  return [](const Seen& s) -> std::optional<Pieces> {
    if (s.target == "/_ping") {
      return Pieces{"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Length: 2\r\n\r\nOK"};
    }
    if (s.method == "POST" && s.target.rfind("/v1.41/containers/create", 0) == 0) {
      return respond(201, R"({"Id":"new1","Warnings":[]})");
    }
    if (s.method == "POST") {
      return respond(204);
    }
    return respond(200, kInspectBody);
  };
}

ContainerSpec web_spec() {
  ContainerSpec spec;
  spec.name = "web";
  spec.image = "demo:v1";
  return spec;
}

// `n` inspect calls in flight at once; how many succeeded.
Task<int> inspect_at_once(Engine& engine, int n) {
  auto ex = co_await net::this_coro::executor;
  int done = 0;
  int ok = 0;
  net::steady_timer finished(ex, net::steady_timer::time_point::max());
  for (int i = 0; i < n; ++i) {
    net::co_spawn(
        ex,
        [&]() -> Task<void> {
          Result<ContainerInfo> r = co_await engine.inspect_container("web");
          ok += r.is_ok() ? 1 : 0;
          if (++done == n) {
            finished.cancel();
          }
        },
        net::detached);
  }
  co_await finished.async_wait(kUseTuple);
  co_return ok;
}

void check_stats(const ConnectionStats& st, uint64_t opened, uint64_t reused, uint64_t retried) {
  CHECK(st.opened == opened);
  CHECK(st.reused == reused);
  CHECK(st.retried == retried);
}

TEST_CASE("calls to one engine share one kept-alive connection", "[http_engine][keep_alive]") {
  UnixFixture f(inspect_or_create());
  REQUIRE(f.run(f.engine->ping()).is_ok());
  REQUIRE(f.run(f.engine->inspect_container("web")).is_ok());
  const ContainerSpec spec = web_spec();
  REQUIRE(f.run(f.engine->create_container(spec)).is_ok());
  REQUIRE(f.run(f.engine->start_container("new1")).is_ok());
  REQUIRE(f.run(f.engine->inspect_container("web")).is_ok());
  f.settle();
  CHECK(f.server.seen.size() == 5);
  CHECK(f.server.accepted == 1);
  CHECK(f.server.client_closed == 0);
  check_stats(f.stats(), 1, 4, 0);
}

TEST_CASE("a kept-alive connection the engine closed while idle is never written to",
          "[http_engine][keep_alive]") {
  UnixFixture f(inspect_or_create());
  f.server.idle = FakeDockerd<net::local::stream_protocol>::Idle::kCloseIdle;
  REQUIRE(f.run(f.engine->ping()).is_ok());
  f.settle();
  const ContainerSpec spec = web_spec();
  // A POST, which is never sent twice: it must go on a new connection from the start.
  REQUIRE(f.run(f.engine->create_container(spec)).is_ok());
  f.settle();
  REQUIRE(f.run(f.engine->inspect_container("web")).is_ok());
  CHECK(f.server.accepted == 3);
  CHECK(f.server.seen.size() == 3);
  check_stats(f.stats(), 3, 0, 0);
}

TEST_CASE("a request the engine dropped on a kept-alive connection: GET again, POST never",
          "[http_engine][keep_alive]") {
  UnixFixture f(inspect_or_create());
  f.server.idle = FakeDockerd<net::local::stream_protocol>::Idle::kDropNext;
  REQUIRE(f.run(f.engine->ping()).is_ok());

  // The GET lands on the kept-alive connection, which the engine closes unanswered: it is
  // idempotent, so it is sent once more, on a new connection.
  auto inspected = f.run(f.engine->inspect_container("web"));
  INFO(inspected.status().message());
  REQUIRE(inspected.is_ok());
  CHECK(f.server.dropped == 1);
  CHECK(f.server.accepted == 2);
  CHECK(f.stats().retried == 1);

  // The POST may have reached the engine before the close (it was read there): not resent.
  const ContainerSpec spec = web_spec();
  auto created = f.run(f.engine->create_container(spec));
  REQUIRE_FALSE(created.is_ok());
  CHECK(created.status().code() == Code::kUnavailable);
  CHECK_THAT(created.status().message(),
             Catch::StartsWith("h1: POST /containers/create: engine at unix://"));
  CHECK_THAT(created.status().message(), Catch::Contains("reading the response header failed"));
  CHECK(f.server.dropped == 2);
  CHECK(f.server.accepted == 2);
  CHECK(f.stats().retried == 1);

  // The broken connection was not kept: the next call starts afresh.
  REQUIRE(f.run(f.engine->create_container(spec)).is_ok());
  CHECK(f.server.accepted == 3);
}

TEST_CASE("a dropped request is sent again on a new connection, not another idle one",
          "[http_engine][keep_alive]") {
  UnixFixture f(inspect_or_create());
  // Two calls at once leave two idle connections behind.
  f.server.hold_until("/v1.41/containers/web/json", 2);
  REQUIRE(f.run(inspect_at_once(*f.engine, 2)) == 2);
  REQUIRE(f.server.accepted == 2);
  f.server.hold_until("", 0);

  // Now the engine drops whatever arrives on a connection it has answered on before: both idle
  // connections are bad. The GET fails on the first and must not be retried on the second.
  f.server.idle = FakeDockerd<net::local::stream_protocol>::Idle::kDropNext;
  auto r = f.run(f.engine->inspect_container("web"));
  INFO(r.status().message());
  REQUIRE(r.is_ok());
  CHECK(f.server.dropped == 1);
  CHECK(f.server.accepted == 3);
  CHECK(f.stats().retried == 1);
}

TEST_CASE("pull streams and attached execs run on connections of their own",
          "[http_engine][keep_alive]") {
  int inspections = 0;
  Route exec = exec_route("ok\n", 0, inspections);
  UnixFixture f([&exec](const Seen& s) -> std::optional<Pieces> {
    if (s.target.rfind("/v1.41/images/create", 0) == 0) {
      return chunked({"{\"status\":\"Pulling from demo\"}\r\n"});
    }
    return exec(s);
  });
  REQUIRE(f.run(f.engine->pull("reg:5000/demo:v1")).is_ok());
  auto r = f.run(f.engine->exec("web", {"true"}, 5s));
  INFO(r.status().message());
  REQUIRE(r.is_ok());
  f.settle();
  REQUIRE(f.server.seen.size() == 4);  // pull; exec create, start, inspect
  CHECK_FALSE(f.server.seen[0].keep_alive);
  CHECK(f.server.seen[1].keep_alive);
  CHECK_FALSE(f.server.seen[2].keep_alive);
  CHECK(f.server.seen[3].keep_alive);
  // The pull's and the start's connections are closed after them; create and inspect share one.
  CHECK(f.server.accepted == 3);
  CHECK(f.stats().reused == 1);
}

TEST_CASE("an idle connection older than idle_timeout is closed, not reused",
          "[http_engine][keep_alive]") {
  orch::testing::ManualClock clock;
  HttpEngineOptions options;
  options.idle_timeout = 30s;
  UnixFixture f(inspect_or_create(), options, clock);
  REQUIRE(f.run(f.engine->ping()).is_ok());
  clock.advance(29s);
  REQUIRE(f.run(f.engine->inspect_container("web")).is_ok());
  CHECK(f.server.accepted == 1);
  clock.advance(30s);
  REQUIRE(f.run(f.engine->inspect_container("web")).is_ok());
  f.settle();
  CHECK(f.server.accepted == 2);
  CHECK(f.server.client_closed == 1);
}

TEST_CASE("at most max_idle connections are kept per engine, and 0 turns keep-alive off",
          "[http_engine][keep_alive]") {
  const size_t max_idle = GENERATE(as<size_t>{}, 0, 2, 4);
  constexpr int kCalls = 5;
  HttpEngineOptions options;
  options.max_idle = max_idle;
  UnixFixture f(inspect_or_create(), options);
  f.server.hold_until("/v1.41/containers/web/json", kCalls);
  REQUIRE(f.run(inspect_at_once(*f.engine, kCalls)) == kCalls);
  f.settle();
  CHECK(f.server.accepted == kCalls);  // five at once need five connections
  CHECK(f.server.client_closed == kCalls - static_cast<int>(max_idle));

  // Sequential calls from now on use the kept connections, or one each without keep-alive.
  f.server.hold_until("", 0);
  for (int i = 0; i < 3; ++i) {
    REQUIRE(f.run(f.engine->ping()).is_ok());
  }
  f.settle();
  CHECK(f.server.accepted == kCalls + (max_idle == 0 ? 3 : 0));
  CHECK(f.stats().reused == (max_idle == 0 ? 0u : 3u));
}

}  // namespace
