// rollgate-load end to end: the built binary (ROLLGATE_LOAD_PATH) against real HTTP servers on
// 127.0.0.1, each bound to port 0 inside the test. The servers count what they answered, so the
// tests check the report's numbers exactly against the server's own, not against a guess.
#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/temp_dir.h"

extern char** environ;

namespace {

using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

using orch::testing::TempDir;

struct Finished {
  int exit_code = -1;  // 128+N when killed by signal N
  std::string out;
  std::string err;
};

// rollgate-load running in the background, stdout and stderr going to files in `dir`. The
// destructor SIGKILLs it if it still runs, so a failed REQUIRE leaves nothing behind.
class LoadProcess {
 public:
  LoadProcess(const TempDir& dir, const std::vector<std::string>& args)
      : out_path_(dir.file("stdout")), err_path_(dir.file("stderr")) {
    std::vector<std::string> argv = {ROLLGATE_LOAD_PATH};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargv;
    for (auto& a : argv) {
      cargv.push_back(a.data());
    }
    cargv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    posix_spawn_file_actions_addopen(&actions, 2, err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    const int rc = ::posix_spawn(&pid_, cargv[0], &actions, nullptr, cargv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      pid_ = -1;
      FAIL("cannot start " << ROLLGATE_LOAD_PATH << ": " << std::strerror(rc));
    }
  }
  ~LoadProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      reap(0);
    }
  }
  LoadProcess(const LoadProcess&) = delete;
  LoadProcess& operator=(const LoadProcess&) = delete;

  void signal(int signo) const { REQUIRE(::kill(pid_, signo) == 0); }
  std::string err() const { return read_file(err_path_); }

  // Waits up to `limit` for the exit; past it, SIGKILLs and fails the test.
  Finished wait(std::chrono::milliseconds limit) {
    const auto until = Clock::now() + limit;
    int status = 0;
    while (!reap(WNOHANG, &status)) {
      if (Clock::now() >= until) {
        ::kill(pid_, SIGKILL);
        reap(0);
        FAIL("rollgate-load still ran after " << limit.count() << " ms; stderr:\n" << err());
      }
      std::this_thread::sleep_for(10ms);
    }
    Finished f;
    f.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    f.out = read_file(out_path_);
    f.err = err();
    return f;
  }

 private:
  // True once reaped (pid_ is then -1).
  bool reap(int flags, int* status = nullptr) {
    int s = 0;
    pid_t r = 0;
    while ((r = ::waitpid(pid_, &s, flags)) < 0 && errno == EINTR) {
    }
    if (r != pid_) {
      return false;
    }
    pid_ = -1;
    if (status != nullptr) {
      *status = s;
    }
    return true;
  }

  std::string out_path_;
  std::string err_path_;
  pid_t pid_ = -1;
};

Finished run_load(const std::vector<std::string>& args) {
  TempDir dir;
  LoadProcess p(dir, args);
  return p.wait(20s);
}

// The one JSON line a run printed on stdout; the run must have exited 0.
json report_of(const Finished& f) {
  INFO("exit " << f.exit_code << "\nstdout:\n" << f.out << "stderr:\n" << f.err);
  REQUIRE(f.exit_code == 0);
  REQUIRE(!f.out.empty());
  REQUIRE(f.out.back() == '\n');
  REQUIRE(f.out.find('\n') == f.out.size() - 1);
  auto j = json::parse(f.out, nullptr, false);
  REQUIRE(j.is_object());
  return j;
}

// Polls `pred` every 5 ms until true (returns true) or `limit` passes (false).
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds limit) {
  const auto until = Clock::now() + limit;
  while (!pred()) {
    if (Clock::now() >= until) {
      return false;
    }
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// The numbers every report must agree with itself on.
void check_consistent(const json& r) {
  INFO(r.dump());
  const auto ok = r.at("ok").get<uint64_t>();
  const auto failed = r.at("failed").get<uint64_t>();
  CHECK(r.at("requests").get<uint64_t>() == ok + failed);
  uint64_t by_kind = 0;
  for (const auto& n : r.at("failures_by_kind")) {
    by_kind += n.get<uint64_t>();
  }
  CHECK(by_kind == failed);
  auto bodies = r.at("bodies_untracked").get<uint64_t>();
  for (const auto& b : r.at("bodies")) {
    bodies += b.at("count").get<uint64_t>();
    CHECK(b.at("first_ms").get<int64_t>() <= b.at("last_ms").get<int64_t>());
    CHECK(b.at("first_ms").get<int64_t>() >= r.at("started_ms").get<int64_t>());
    CHECK(b.at("last_ms").get<int64_t>() <= r.at("ended_ms").get<int64_t>());
  }
  CHECK(bodies == ok);
  CHECK(r.at("first_failures").size() == std::min<uint64_t>(failed, 20));
  if (ok > 0) {
    const auto& lat = r.at("latency_ms");
    CHECK(lat.at("p50").get<double>() <= lat.at("p99").get<double>());
    CHECK(lat.at("p99").get<double>() <= lat.at("max").get<double>());
  }
}

// A cpp-httplib server on 127.0.0.1:<ephemeral> answering GET / with `handler`. stop() ends
// it (idempotent); once it returns, every response the server will ever send has been sent.
class AppServer {
 public:
  using Handler = std::function<void(httplib::Response&)>;

  explicit AppServer(Handler handler) : handler_(std::move(handler)) {
    server_.Get("/", [this](const httplib::Request&, httplib::Response& res) { handler_(res); });
    port_ = server_.bind_to_any_port("127.0.0.1");
    REQUIRE(port_ > 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() is a no-op until the loop runs.
    while (!server_.is_running()) {
      std::this_thread::yield();
    }
  }
  ~AppServer() { stop(); }
  AppServer(const AppServer&) = delete;
  AppServer& operator=(const AppServer&) = delete;

  void stop() {
    if (thread_.joinable()) {
      server_.stop();
      thread_.join();  // listen_after_bind returns once every worker has finished
    }
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }

 private:
  Handler handler_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

void answer(httplib::Response& res, int status, const std::string& body) {
  res.status = status;
  res.set_content(body, "text/plain");
}

// A handler that counts what it answers (before sending it) and answers 200 `body`, after
// `delay` when given.
AppServer::Handler counting(std::atomic<uint64_t>& served, std::string body,
                            std::chrono::milliseconds delay = 0ms) {
  return [&served, body, delay](httplib::Response& res) {
    std::this_thread::sleep_for(delay);
    ++served;
    answer(res, 200, body);
  };
}

// Holds the handlers that wait() on it until open(), and 10 s at most, so that a failed test
// cannot hang in the server's stop().
class Gate {
 public:
  void wait() {
    std::unique_lock<std::mutex> lock(mu_);
    ++waiting_;
    cv_.wait_for(lock, 10s, [this] { return open_; });
  }
  void open() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  int waiting() {
    std::lock_guard<std::mutex> lock(mu_);
    return waiting_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  int waiting_ = 0;
};

// A port that was bound and closed again: connecting to it is refused.
uint16_t closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// A raw HTTP server that answers one request per connection as HTTP/1.1 keep-alive (no
// "Connection: close") and then closes the connection: every reuse of a connection meets a
// connection the server closed while it was idle. Serves one connection at a time.
class CloseAfterOneServer {
 public:
  CloseAfterOneServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd_, 64) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~CloseAfterOneServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  CloseAfterOneServer(const CloseAfterOneServer&) = delete;
  CloseAfterOneServer& operator=(const CloseAfterOneServer&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }
  uint64_t served() const { return served_; }

 private:
  void serve() {
    static constexpr char kResponse[] =
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 7\r\n\r\ndemo v1";
    while (!stop_) {
      pollfd listening{fd_, POLLIN, 0};
      if (::poll(&listening, 1, 20) <= 0) {
        continue;
      }
      const int conn = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn < 0) {
        continue;
      }
      std::string request;
      char buf[1024];
      while (request.find("\r\n\r\n") == std::string::npos) {
        pollfd in{conn, POLLIN, 0};
        if (::poll(&in, 1, 1000) <= 0) {
          break;
        }
        const ssize_t n = ::read(conn, buf, sizeof buf);
        if (n <= 0) {
          break;
        }
        request.append(buf, static_cast<size_t>(n));
      }
      // Counted before it is sent: once the client has read it, the count must be final.
      if (request.find("\r\n\r\n") != std::string::npos) {
        ++served_;
        (void)::write(conn, kResponse, sizeof kResponse - 1);
      }
      ::close(conn);
    }
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> served_{0};
  std::thread thread_;
};

TEST_CASE("rollgate-load against a healthy server counts every answer as ok", "[loadgen]") {
  std::atomic<uint64_t> served{0};
  AppServer app(counting(served, "demo v1\n"));
  TempDir dir;
  const std::string output = dir.file("report.json");
  const std::string ready = dir.file("ready");
  LoadProcess load(dir, {"--url", app.url(), "--connections", "4", "--duration", "1s", "--output",
                         output, "--ready-file", ready});
  const Finished f = load.wait(10s);
  app.stop();
  const json r = report_of(f);
  INFO(r.dump());
  check_consistent(r);

  CHECK(r.at("url") == app.url());
  CHECK(r.at("connections") == 4);
  CHECK(r.at("stopped_by") == "duration");
  CHECK(r.at("ended_ms").get<int64_t>() - r.at("started_ms").get<int64_t>() >= 1000);
  CHECK(r.at("requests").get<uint64_t>() > 0);
  CHECK(r.at("failed") == 0);
  CHECK(r.at("ok") == served.load());
  CHECK(r.at("status_counts") == json{{"200", served.load()}});
  CHECK(r.at("bodies").size() == 1);
  CHECK(r.at("bodies").at("demo v1").at("count") == r.at("ok"));
  CHECK(r.at("first_failures").empty());
  CHECK(r.at("latency_ms").at("p50").is_number());

  // Readiness: the line on stderr and the file; the report on stdout and in --output.
  CHECK_THAT(f.err, Contains("rollgate-load: started\n"));
  CHECK(std::filesystem::exists(ready));
  CHECK(json::parse(read_file(output), nullptr, false) == r);
}

TEST_CASE("rollgate-load counts each 503 as a status failure", "[loadgen]") {
  std::mutex mu;
  uint64_t served = 0;
  uint64_t served_503 = 0;
  AppServer app([&](httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu);
    if (++served % 3 == 0) {
      ++served_503;
      answer(res, 503, "unavailable\nretry later");
    } else {
      answer(res, 200, "demo v1");
    }
  });
  const json r = report_of(run_load({"--url", app.url(), "--duration", "1s"}));
  app.stop();
  INFO(r.dump());
  check_consistent(r);
  REQUIRE(served_503 > 0);
  CHECK(r.at("requests") == served);
  CHECK(r.at("failed") == served_503);
  CHECK(r.at("failed") == r.at("requests").get<uint64_t>() / 3);
  CHECK(r.at("failures_by_kind").at("status") == served_503);
  CHECK(r.at("ok") == served - served_503);
  CHECK(r.at("status_counts") == json{{"200", served - served_503}, {"503", served_503}});
  REQUIRE(!r.at("first_failures").empty());
  for (const auto& failure : r.at("first_failures")) {
    CHECK(failure.at("kind") == "status");
    CHECK(failure.at("detail") == "HTTP 503: unavailable");
  }
}

TEST_CASE("rollgate-load tells when each body was served", "[loadgen]") {
  // The app answers "demo v1" until 500 ms after its start, then "demo v2". Under the lock the
  // decisions are ordered: every v1 decision comes before every v2 decision.
  std::mutex mu;
  uint64_t v1 = 0;
  uint64_t v2 = 0;
  int64_t last_v1_ms = 0;
  int64_t first_v2_ms = 0;
  const int64_t switch_ms = now_unix_ms() + 500;
  AppServer app([&](httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu);
    const int64_t now = now_unix_ms();
    if (now < switch_ms) {
      ++v1;
      last_v1_ms = now;
      answer(res, 200, "demo v1\n");
    } else {
      if (v2++ == 0) {
        first_v2_ms = now;
      }
      answer(res, 200, "demo v2\n");
    }
  });
  const json r = report_of(run_load({"--url", app.url(), "--duration", "1200ms"}));
  app.stop();
  INFO(r.dump());
  check_consistent(r);
  CHECK(r.at("failed") == 0);
  REQUIRE(r.at("bodies").contains("demo v1"));
  REQUIRE(r.at("bodies").contains("demo v2"));
  const json& b1 = r.at("bodies").at("demo v1");
  const json& b2 = r.at("bodies").at("demo v2");
  CHECK(b1.at("count") == v1);
  CHECK(b2.at("count") == v2);

  // A response is complete after the server decided it (same clock, both floored to ms).
  CHECK(b1.at("last_ms").get<int64_t>() >= last_v1_ms);
  CHECK(b2.at("first_ms").get<int64_t>() >= first_v2_ms);
  // Connections are concurrent, so a slow v1 answer may complete after a fast v2 one: v1's
  // last_ms is not always <= v2's first_ms. What holds: every v1 request started before the
  // switch, and every v2 answer completed after it, so the last v1 completion is at most one
  // latency later than the first v2 completion. +1 ms for flooring the two times to ms.
  const auto max_latency_ms =
      static_cast<int64_t>(std::ceil(r.at("latency_ms").at("max").get<double>()));
  CHECK(b1.at("last_ms").get<int64_t>() <= b2.at("first_ms").get<int64_t>() + max_latency_ms + 1);
  CHECK(b1.at("first_ms").get<int64_t>() <= b1.at("last_ms").get<int64_t>());
}

TEST_CASE("rollgate-load against a port where nothing listens fails every connect", "[loadgen]") {
  const std::string url = "http://127.0.0.1:" + std::to_string(closed_port()) + "/";
  const json r = report_of(run_load({"--url", url, "--connections", "2", "--duration", "300ms"}));
  INFO(r.dump());
  check_consistent(r);
  CHECK(r.at("ok") == 0);
  CHECK(r.at("requests").get<uint64_t>() > 0);
  CHECK(r.at("failures_by_kind").at("connect") == r.at("requests"));
  CHECK(r.at("status_counts").empty());
  CHECK(r.at("bodies").empty());
  CHECK(r.at("latency_ms").at("p50").is_null());
  for (const auto& failure : r.at("first_failures")) {
    CHECK(failure.at("kind") == "connect");
    CHECK_THAT(failure.at("detail").get<std::string>(), Contains("refused"));
  }
}

TEST_CASE("rollgate-load counts the failures after the server stops mid-run", "[loadgen]") {
  std::atomic<uint64_t> served{0};
  AppServer app(counting(served, "demo v1"));
  TempDir dir;
  const std::string ready = dir.file("ready");
  LoadProcess load(dir, {"--url", app.url(), "--duration", "1500ms", "--ready-file", ready});
  REQUIRE(wait_until([&] { return std::filesystem::exists(ready); }, 5s));
  REQUIRE(wait_until([&] { return served >= 100; }, 5s));
  app.stop();
  const uint64_t served_before_stop = served;
  const json r = report_of(load.wait(10s));
  INFO(r.dump());
  check_consistent(r);
  // Every answer the server sent was read; everything after it stopped failed.
  CHECK(r.at("ok") == served_before_stop);
  CHECK(r.at("failed").get<uint64_t>() > 0);
  CHECK(r.at("failures_by_kind").at("connect").get<uint64_t>() > 0);
  CHECK(r.at("bodies").at("demo v1").at("count") == served_before_stop);
}

TEST_CASE("rollgate-load counts a reused connection the server closed as stale_keepalive",
          "[loadgen]") {
  CloseAfterOneServer app;
  const json r =
      report_of(run_load({"--url", app.url(), "--connections", "2", "--duration", "500ms"}));
  INFO(r.dump());
  check_consistent(r);
  const auto ok = r.at("ok").get<uint64_t>();
  const auto failed = r.at("failed").get<uint64_t>();
  CHECK(ok == app.served());
  CHECK(ok > 0);
  // Each connection: one ok, then one stale failure on reuse, then a new connection. A loop
  // stops after either, so per loop failed is ok or ok - 1.
  CHECK(r.at("failures_by_kind").at("stale_keepalive") == failed);
  CHECK(failed <= ok);
  CHECK(failed + 2 >= ok);
  REQUIRE(!r.at("first_failures").empty());
  CHECK_THAT(r.at("first_failures")[0].at("detail").get<std::string>(),
             Contains("closed by the server while idle"));
}

TEST_CASE("rollgate-load counts a server that does not answer in time as timeouts", "[loadgen]") {
  Gate gate;
  AppServer app([&](httplib::Response& res) {
    gate.wait();
    answer(res, 200, "late");
  });
  const Finished f = run_load(
      {"--url", app.url(), "--connections", "2", "--duration", "500ms", "--timeout", "150ms"});
  gate.open();
  app.stop();
  const json r = report_of(f);
  INFO(r.dump());
  check_consistent(r);
  CHECK(r.at("ok") == 0);
  CHECK(r.at("failed").get<uint64_t>() >= 2);
  CHECK(r.at("failures_by_kind").at("timeout") == r.at("failed"));
  CHECK(r.at("first_failures")[0].at("detail") == "read response: timed out after 150ms");
}

TEST_CASE("SIGTERM ends a run without duration after the requests in flight", "[loadgen]") {
  std::atomic<uint64_t> served{0};
  // Slow enough that requests are in flight when the signal arrives.
  AppServer app(counting(served, "demo v1", 20ms));
  TempDir dir;
  const std::string ready = dir.file("ready");
  LoadProcess load(dir, {"--url", app.url(), "--ready-file", ready});
  REQUIRE(wait_until([&] { return std::filesystem::exists(ready); }, 5s));
  REQUIRE(wait_until([&] { return served >= 20; }, 5s));
  const auto signalled = Clock::now();
  load.signal(SIGTERM);
  const Finished f = load.wait(5s);
  CHECK(Clock::now() - signalled < 2s);
  app.stop();
  const json r = report_of(f);
  INFO(r.dump());
  check_consistent(r);
  CHECK(r.at("stopped_by") == "SIGTERM");
  CHECK(r.at("failed") == 0);
  CHECK(r.at("abandoned") == 0);
  CHECK(r.at("ok") == served.load());
}

TEST_CASE("a second signal abandons the requests in flight and still reports", "[loadgen]") {
  Gate gate;
  AppServer app([&](httplib::Response& res) {
    gate.wait();
    answer(res, 200, "late");
  });
  TempDir dir;
  LoadProcess load(dir, {"--url", app.url(), "--connections", "2", "--timeout", "30s"});
  REQUIRE(wait_until([&] { return gate.waiting() == 2; }, 5s));
  load.signal(SIGINT);
  REQUIRE(wait_until([&] { return load.err().find("SIGINT") != std::string::npos; }, 5s));
  load.signal(SIGINT);
  const Finished f = load.wait(5s);
  gate.open();
  app.stop();
  const json r = report_of(f);
  INFO(r.dump());
  CHECK(r.at("stopped_by") == "SIGINT");
  CHECK(r.at("requests") == 0);
  CHECK(r.at("abandoned") == 2);
}

TEST_CASE("rollgate-load rejects bad arguments with exit 2 naming the option", "[loadgen]") {
  struct Row {
    std::vector<std::string> args;
    const char* option;
    const char* value;
  };
  const Row row = GENERATE(
      Row{{"--url", "ftp://127.0.0.1/"}, "--url", "ftp://127.0.0.1/"},
      Row{{"--url", "https://127.0.0.1/"}, "--url", "https is not supported"},
      Row{{"--url", "http://127.0.0.1:99999/"}, "--url", "99999"},
      Row{{"--url", "http://127.0.0.1/", "--connections", "0"}, "--connections", "0"},
      Row{{"--url", "http://127.0.0.1/", "--connections", "many"}, "--connections", "many"},
      Row{{"--url", "http://127.0.0.1/", "--duration", "5x"}, "--duration", "5x"},
      Row{{"--url", "http://127.0.0.1/", "--duration", "0"}, "--duration", "0"},
      Row{{"--url", "http://127.0.0.1/", "--timeout", "10"}, "--timeout", "\"10\""},
      Row{{"--url", "http://127.0.0.1/", "--expect-status", "999"}, "--expect-status", "999"},
      Row{{"--url", "http://127.0.0.1/", "--output", "/nonexistent-dir/r.json"},
          "--output",
          "/nonexistent-dir"},
      Row{{"--connections", "2"}, "--url", "required"});
  const Finished f = run_load(row.args);
  INFO("stderr: " << f.err);
  CHECK(f.exit_code == 2);
  CHECK(f.out.empty());
  CHECK_THAT(f.err, Contains(row.option));
  CHECK_THAT(f.err, Contains(row.value));
}

}  // namespace
