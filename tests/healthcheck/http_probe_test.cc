// Probes against a real HTTP server (cpp-httplib) bound to 127.0.0.1 port 0.
#include <httplib.h>

#include <atomic>
#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "healthcheck/probe.h"
#include "healthcheck/probe_connect.h"
#include "tests/support/run_task.h"

namespace health {
namespace {

using Outcome = ProbeResult::Outcome;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

// A local app with state: /flip answers 200 on its first request and 503 after; /slow blocks
// until the server is torn down; /echo-host records the Host header it was sent.
class TestServer {
 public:
  TestServer() {
    server_.Get("/flip", [this](const httplib::Request&, httplib::Response& res) {
      if (flips_++ == 0) {
        res.status = 200;
        res.set_content("ok", "text/plain");
      } else {
        res.status = 503;
        res.set_content("warming up\nsecond line", "text/plain");
      }
    });
    server_.Get("/teapot", [](const httplib::Request&, httplib::Response& res) {
      res.status = 418;
      res.set_content("short and stout", "text/plain");
    });
    server_.Get("/big", [this](const httplib::Request& req, httplib::Response& res) {
      res.status = std::stoi(req.get_param_value("status"));
      res.set_content(std::string(256 * 1024, 'x'), "text/plain");
      ++big_;
    });
    server_.Get("/echo-host", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      host_header_ = req.get_header_value("Host");
      path_seen_ = req.path;
      res.status = 204;
    });
    server_.Get("/ok", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      client_ports_.insert(req.remote_port);
      connection_headers_.push_back(req.get_header_value("Connection"));
      res.status = 200;
      res.set_content("ok", "text/plain");
    });
    server_.Get("/slow", [this](const httplib::Request&, httplib::Response& res) {
      std::unique_lock<std::mutex> lock(mu_);
      released_cv_.wait(lock, [this] { return released_; });
      res.status = 200;
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    REQUIRE(port_ > 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() is a no-op until the loop runs, so wait for it (no sleep: it starts at once).
    while (!server_.is_running()) {
      std::this_thread::yield();
    }
  }

  ~TestServer() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      released_ = true;
    }
    released_cv_.notify_all();
    server_.stop();
    thread_.join();
  }

  uint16_t port() const { return static_cast<uint16_t>(port_); }
  int flips() const { return flips_; }
  int big() const { return big_; }
  std::string host_header() {
    std::lock_guard<std::mutex> lock(mu_);
    return host_header_;
  }
  std::string path_seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return path_seen_;
  }
  // /ok: the client ports it was asked from (one per connection), and each Connection header.
  size_t connections_seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return client_ports_.size();
  }
  std::vector<std::string> connection_headers() {
    std::lock_guard<std::mutex> lock(mu_);
    return connection_headers_;
  }
  // How many requests a connection may carry before the server answers "Connection: close".
  void set_keep_alive_max_count(size_t n) { server_.set_keep_alive_max_count(n); }
  // How long an idle kept connection holds up the server's shutdown (cpp-httplib's default: 5s).
  void set_keep_alive_timeout(time_t seconds) { server_.set_keep_alive_timeout(seconds); }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<int> flips_{0};
  std::atomic<int> big_{0};
  std::mutex mu_;
  std::condition_variable released_cv_;
  bool released_ = false;
  std::string host_header_;
  std::string path_seen_;
  std::set<int> client_ports_;
  std::vector<std::string> connection_headers_;
};

ProbeResult run(Probe& probe, const std::string& address = "127.0.0.1") {
  return orch::testing::run_task(probe.run(Target{"h1", address, ""}));
}

// A port that was bound and then closed: connecting to it is refused.
uint16_t closed_port() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor acceptor(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  uint16_t port = acceptor.local_endpoint().port();
  acceptor.close();
  return port;
}

HttpProbeConfig http_config(uint16_t port, std::string path, std::vector<int> expect = {200},
                            Millis timeout = Millis{2000}) {
  HttpProbeConfig c;
  c.port = port;
  c.path = std::move(path);
  c.expect_status = std::move(expect);
  c.timeout = timeout;
  return c;
}

TEST_CASE("HTTP probe: 200 passes, then the same app's 503 fails", "[probe][http]") {
  TestServer server;
  auto probe = make_http_probe(http_config(server.port(), "/flip"));

  ProbeResult first = run(*probe);
  CHECK(first.probe == "http");
  CHECK(first.outcome == Outcome::kPass);
  CHECK_THAT(first.detail, StartsWith("HTTP 200 in "));

  ProbeResult second = run(*probe);
  CHECK(second.outcome == Outcome::kFail);
  CHECK_THAT(second.detail, StartsWith("HTTP 503 (expected 200) in "));
  CHECK_THAT(second.detail, Contains(": warming up"));
  CHECK_THAT(second.detail, !Contains("second line"));
  CHECK(server.flips() == 2);
  // Both answers came from the app: it was reached, whatever it said.
  CHECK(first.reached);
  CHECK(second.reached);
}

TEST_CASE("HTTP probe: a status outside the expected list fails and lists them", "[probe][http]") {
  TestServer server;
  auto probe = make_http_probe(http_config(server.port(), "/teapot", {200, 204}));
  ProbeResult r = run(*probe);
  CHECK(r.outcome == Outcome::kFail);
  CHECK_THAT(r.detail, StartsWith("HTTP 418 (expected 200 or 204) in "));
  CHECK_THAT(r.detail, Contains("short and stout"));

  auto accepting = make_http_probe(http_config(server.port(), "/teapot", {200, 204, 418}));
  CHECK(run(*accepting).outcome == Outcome::kPass);
}

TEST_CASE("HTTP probe: sends the path and a Host header", "[probe][http]") {
  TestServer server;
  auto probe = make_http_probe(http_config(server.port(), "echo-host", {204}));
  ProbeResult r = run(*probe);
  CHECK(r.outcome == Outcome::kPass);
  CHECK(server.path_seen() == "/echo-host");
  CHECK(server.host_header() == "127.0.0.1:" + std::to_string(server.port()));
}

TEST_CASE("HTTP probe: a body over the limit does not fail the probe", "[probe][http]") {
  TestServer server;
  auto ok = make_http_probe(http_config(server.port(), "/big?status=200"));
  CHECK(run(*ok).outcome == Outcome::kPass);
  auto bad = make_http_probe(http_config(server.port(), "/big?status=500"));
  ProbeResult r = run(*bad);
  CHECK(r.outcome == Outcome::kFail);
  CHECK_THAT(r.detail, StartsWith("HTTP 500 (expected 200) in "));
  CHECK_THAT(r.detail, Contains("xxx..."));
  CHECK(server.big() == 2);
}

TEST_CASE("HTTP probe: a name is resolved", "[probe][http]") {
  TestServer server;
  auto probe = make_http_probe(http_config(server.port(), "/teapot", {418}));
  ProbeResult r = run(*probe, "localhost");
  INFO(r.detail);
  CHECK(r.outcome == Outcome::kPass);
}

TEST_CASE("HTTP probe: a refused connection fails", "[probe][http]") {
  uint16_t port = closed_port();
  auto probe = make_http_probe(http_config(port, "/"));
  ProbeResult r = run(*probe);
  CHECK(r.outcome == Outcome::kFail);
  CHECK(r.detail == "connect 127.0.0.1:" + std::to_string(port) + ": Connection refused");
  CHECK_FALSE(r.reached);
}

TEST_CASE("HTTP probe: an app that does not answer in time fails", "[probe][http]") {
  TestServer server;
  auto probe = make_http_probe(http_config(server.port(), "/slow", {200}, Millis{200}));
  ProbeResult r = run(*probe);
  CHECK(r.outcome == Outcome::kFail);
  CHECK(r.detail == "timed out after 200ms (waiting for the response)");
}

TEST_CASE("TCP probe: a listening port passes, a closed port fails", "[probe][tcp]") {
  TestServer server;
  TcpProbeConfig config;
  config.port = server.port();
  auto probe = make_tcp_probe(config);
  ProbeResult r = run(*probe);
  CHECK(r.probe == "tcp");
  CHECK(r.outcome == Outcome::kPass);
  CHECK_THAT(r.detail, StartsWith("TCP connect 127.0.0.1:" + std::to_string(server.port())));

  config.port = closed_port();
  auto closed = make_tcp_probe(config);
  ProbeResult c = run(*closed);
  CHECK(c.outcome == Outcome::kFail);
  CHECK(c.detail == "connect 127.0.0.1:" + std::to_string(config.port) + ": Connection refused");
}

TEST_CASE("Network errors: no route means unobservable, the rest fail", "[probe]") {
  namespace err = boost::asio::error;
  CHECK(detail::outcome_for_error(err::host_unreachable) == Outcome::kUnobservable);
  CHECK(detail::outcome_for_error(err::network_unreachable) == Outcome::kUnobservable);
  CHECK(detail::outcome_for_error(err::host_not_found) == Outcome::kUnobservable);
  CHECK(detail::outcome_for_error(err::connection_refused) == Outcome::kFail);
  CHECK(detail::outcome_for_error(err::connection_reset) == Outcome::kFail);
  CHECK(detail::outcome_for_error(boost::beast::error::timeout) == Outcome::kFail);

  auto start = std::chrono::steady_clock::now();
  ProbeResult r =
      detail::failure("http", "connect 10.0.0.1:8080", err::host_unreachable, Millis{2000}, start);
  CHECK(r.outcome == Outcome::kUnobservable);
  CHECK(r.detail == "connect 10.0.0.1:8080: No route to host");
  ProbeResult t = detail::failure("http", "connect 10.0.0.1:8080", boost::beast::error::timeout,
                                  Millis{2000}, start);
  CHECK(t.detail == "timed out after 2s (connect 10.0.0.1:8080)");
  CHECK(detail::endpoint_text("fd00::1", 80) == "[fd00::1]:80");
}

// --- keep-alive ----------------------------------------------------------------------------

// Kept connections belong to the io_context that opened them: these probes share one.
ProbeResult run_on(boost::asio::io_context& io, Probe& probe) {
  return orch::testing::run_task(io, probe.run(Target{"h1", "127.0.0.1", ""}));
}

HttpProbeConfig keep_alive_config(uint16_t port) {
  HttpProbeConfig c = http_config(port, "/ok");
  c.keep_alive = true;
  return c;
}

TEST_CASE("HTTP probe: by default every probe is a new connection that says close",
          "[probe][http][keep_alive]") {
  TestServer server;
  auto probe = make_http_probe(http_config(server.port(), "/ok"));
  for (int i = 0; i < 4; ++i) {
    CHECK(run(*probe).outcome == Outcome::kPass);
  }
  CHECK(server.connections_seen() == 4);
  CHECK(server.connection_headers() == std::vector<std::string>(4, "close"));
}

TEST_CASE("HTTP probe: keep_alive sends the next probes on the same connection",
          "[probe][http][keep_alive]") {
  TestServer server;
  boost::asio::io_context io;
  auto probe = make_http_probe(keep_alive_config(server.port()));
  for (int i = 0; i < 4; ++i) {
    ProbeResult r = run_on(io, *probe);
    INFO(r.detail);
    CHECK(r.outcome == Outcome::kPass);
    CHECK(r.reached);
  }
  CHECK(server.connections_seen() == 1);
  CHECK(server.connection_headers() == std::vector<std::string>(4, ""));
}

TEST_CASE("HTTP probe: keep_alive opens a new connection when the app says close",
          "[probe][http][keep_alive]") {
  TestServer server;
  server.set_keep_alive_max_count(2);  // every second answer says "Connection: close"
  boost::asio::io_context io;
  auto probe = make_http_probe(keep_alive_config(server.port()));
  for (int i = 0; i < 4; ++i) {
    CHECK(run_on(io, *probe).outcome == Outcome::kPass);
  }
  CHECK(server.connections_seen() == 2);
}

TEST_CASE("HTTP probe: keep_alive still sees a dead app as a refused connection",
          "[probe][http][keep_alive]") {
  auto server = std::make_unique<TestServer>();
  server->set_keep_alive_timeout(1);
  const uint16_t port = server->port();
  boost::asio::io_context io;
  auto probe = make_http_probe(keep_alive_config(port));
  CHECK(run_on(io, *probe).outcome == Outcome::kPass);
  server.reset();  // the app exits: its listener and the kept connection close
  ProbeResult r = run_on(io, *probe);
  CHECK(r.outcome == Outcome::kFail);
  CHECK(r.detail == "connect 127.0.0.1:" + std::to_string(port) + ": Connection refused");
  CHECK_FALSE(r.reached);
}

// An app that drops a kept connection exactly when the next request arrives (an idle timeout
// crossing the probe on the wire): it reads the second request on the first connection and
// closes it unanswered, then answers on a new one. Blocking sockets on a thread of their own.
class DroppingApp {
 public:
  DroppingApp() : acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread([this] { serve(); });
  }
  ~DroppingApp() { join(); }
  void join() {
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  int accepted = 0;

 private:
  using Socket = boost::asio::ip::tcp::socket;
  static bool read_request(Socket& s) {
    boost::asio::streambuf buf;
    boost::system::error_code ec;
    boost::asio::read_until(s, buf, "\r\n\r\n", ec);
    return !ec;
  }
  static void answer(Socket& s) {
    const std::string ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    boost::system::error_code ec;
    boost::asio::write(s, boost::asio::buffer(ok), ec);
  }
  void serve() {
    Socket first = acceptor_.accept();
    ++accepted;
    if (read_request(first)) {
      answer(first);
    }
    read_request(first);  // the second probe: read, never answered
    first.close();
    Socket second = acceptor_.accept();
    ++accepted;
    if (read_request(second)) {
      answer(second);
    }
    read_request(second);  // until the client closes
  }

  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
};

TEST_CASE("HTTP probe: keep_alive sends a probe again when the app drops the kept connection",
          "[probe][http][keep_alive]") {
  DroppingApp app;
  boost::asio::io_context io;
  auto probe = make_http_probe(keep_alive_config(app.port()));
  ProbeResult first = run_on(io, *probe);
  ProbeResult second = run_on(io, *probe);
  probe.reset();  // closes the kept connection, so the app's thread ends
  app.join();
  CHECK(first.outcome == Outcome::kPass);
  INFO(second.detail);
  CHECK(second.outcome == Outcome::kPass);
  CHECK(second.reached);
  CHECK(app.accepted == 2);
}

}  // namespace
}  // namespace health
