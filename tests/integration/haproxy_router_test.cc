// HaproxyRouter against a real, private HAProxy 2.6 that each test starts itself, in front of
// real HTTP servers (cpp-httplib): one per host and colour, h1 on 127.0.0.1 and h2 on
// 127.0.0.2, so that both hosts use the same blue and green ports as the manifest says.
// Every router is made by make_router() from a manifest that went through the loader.
//
// An integration test ([docker] label, no dockerd needed): HAProxy and the apps run in real
// time, drains wait for requests that really are in flight, and the test waits for HAProxy to
// count them. Unit tests never sleep; these do, so they live here.
#include <fcntl.h>
#include <fmt/format.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "orchestrator/router/haproxy_runtime.h"
#include "orchestrator/router/router.h"
#include "tests/orchestrator/router/router_test_support.h"

extern char** environ;

namespace orch::router {
namespace {

using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using manifest::Colour;
using test::load;
using test::run_task;
using test::TempDir;
using SteadyTime = std::chrono::steady_clock::time_point;

constexpr const char* kHaproxy = "/usr/sbin/haproxy";

// A port nobody listens on right now (bound to port 0, then released).
uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

// One host's app in one colour: "/" answers the colour, "/slow?ms=N" answers it after N ms.
// Every answer names the host in X-Host. Each connection serves one request, so that stopping
// the server never waits for an idle keep-alive connection.
class App {
 public:
  App(std::string colour, std::string host) : colour_(std::move(colour)), host_(std::move(host)) {
    server_.set_keep_alive_max_count(1);
    server_.Get("/", [this](const httplib::Request&, httplib::Response& res) {
      res.set_header("X-Host", host_);
      res.set_content(colour_, "text/plain");
    });
    server_.Get("/slow", [this](const httplib::Request& req, httplib::Response& res) {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::stoi(req.get_param_value("ms"))));
      slow_finished_at_ = std::chrono::steady_clock::now().time_since_epoch().count();
      res.set_header("X-Host", host_);
      res.set_content(colour_, "text/plain");
    });
  }
  ~App() {
    if (thread_.joinable()) {
      server_.stop();
      thread_.join();
    }
  }

  bool bind(const std::string& address, int port) { return server_.bind_to_port(address, port); }
  int bind_any(const std::string& address) { return server_.bind_to_any_port(address); }
  void start() {
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) {
      std::this_thread::yield();
    }
  }

  // When the last /slow handler finished sleeping; the epoch of steady_clock if none did.
  SteadyTime slow_finished_at() const {
    return SteadyTime(SteadyTime::duration(slow_finished_at_.load()));
  }

 private:
  std::string colour_;
  std::string host_;
  httplib::Server server_;
  std::thread thread_;
  std::atomic<SteadyTime::rep> slow_finished_at_{0};
};

// A GET through HAProxy on a thread of its own, for requests that must be in flight while the
// test drives the router.
class Request {
 public:
  Request(uint16_t port, std::string path)
      : thread_([this, port, path] {
          httplib::Client client("127.0.0.1", port);
          client.set_read_timeout(10, 0);
          auto res = client.Get(path.c_str());
          if (res) {
            status_ = res->status;
            body_ = res->body;
            host_ = res->get_header_value("X-Host");
          }
        }) {}
  ~Request() {
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  void join() { thread_.join(); }
  int status() const { return status_; }
  const std::string& body() const { return body_; }
  const std::string& host() const { return host_; }

 private:
  int status_ = 0;
  std::string body_;
  std::string host_;
  std::thread thread_;  // last: starts once the fields above exist
};

struct Answer {
  int status = 0;
  std::string body;  // the colour
  std::string host;  // X-Host
};

Answer get(uint16_t port, const std::string& path = "/") {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(5, 0);
  auto res = client.Get(path.c_str());
  if (!res) {
    return Answer{};
  }
  return Answer{res->status, res->body, res->get_header_value("X-Host")};
}

// The whole setup: four apps, an haproxy.cfg with the blue-green frontend and backends, a
// stop-first backend `roll` and a start-first backend `rollsf` (each behind its own frontend,
// `balance first` so that which server gets a request is known), and HAProxy itself running
// in the foreground as our child.
class Lab {
 public:
  Lab() {
    // Both hosts use the same ports, as in the manifest: find a blue and a green port that are
    // free on 127.0.0.1 and 127.0.0.2.
    for (int attempt = 0; attempt < 20 && green_port == 0; ++attempt) {
      apps_.clear();
      auto b1 = std::make_unique<App>("blue", "h1");
      auto b2 = std::make_unique<App>("blue", "h2");
      auto g1 = std::make_unique<App>("green", "h1");
      auto g2 = std::make_unique<App>("green", "h2");
      const int b = b1->bind_any("127.0.0.1");
      if (b <= 0 || !b2->bind("127.0.0.2", b)) {
        continue;
      }
      const int g = g1->bind_any("127.0.0.1");
      if (g <= 0 || !g2->bind("127.0.0.2", g)) {
        continue;
      }
      blue_port = static_cast<uint16_t>(b);
      green_port = static_cast<uint16_t>(g);
      apps_.push_back(std::move(b1));
      apps_.push_back(std::move(b2));
      apps_.push_back(std::move(g1));
      apps_.push_back(std::move(g2));
    }
    REQUIRE(green_port != 0);
    for (auto& a : apps_) {
      a->start();
    }
    stats_port = free_port();
    bg_port = free_port();
    roll_port = free_port();
    sf_port = free_port();
    dir.write("rollgate.map", "web web_blue\n");
    const std::string cfg = dir.write("haproxy.cfg", config());
    start(cfg);
  }

  ~Lab() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }

  App& app(Colour c, int host) { return *apps_[(c == Colour::kBlue ? 0 : 2) + host - 1]; }

  std::string unix_api() const { return "unix://" + dir.file("admin.sock"); }
  std::string tcp_api() const { return "tcp://127.0.0.1:" + std::to_string(stats_port); }
  std::string map_path() const { return dir.file("rollgate.map"); }

  std::string hosts_yaml() const {
    return "hosts:\n"
           "  - {name: h1, engine: unix:///var/run/docker.sock, address: 127.0.0.1}\n"
           "  - {name: h2, engine: unix:///var/run/docker.sock, address: 127.0.0.2}\n";
  }

  // A blue-green manifest for this lab; `green` overrides the green port.
  std::string blue_green(const std::string& api, uint16_t green = 0,
                         const std::string& green_backend = "web_green",
                         const std::string& drain = "5s") const {
    return "app: web\nimage: web:1\n" + hosts_yaml() + "container: {ports: [\"" +
           std::to_string(blue_port) + ":80\"]}\n" +
           "strategy: {type: blue-green, ports: {blue: " + std::to_string(blue_port) +
           ", green: " + std::to_string(green != 0 ? green : green_port) + "}}\n" +
           "router:\n  drain_timeout: " + drain + "\n  timeout: 2s\n  haproxy:\n" +
           "    runtime_api: " + api + "\n    map: " + map_path() + "\n" +
           "    backends: {blue: web_blue, green: " + green_backend + "}\n";
  }

  // A rolling manifest: stop-first on backend `roll`, or start-first on `rollsf`.
  std::string rolling(const std::string& api, bool start_first, const std::string& drain = "5s",
                      const std::string& backend = "", uint16_t green = 0) const {
    const std::string be = !backend.empty() ? backend : start_first ? "rollsf" : "roll";
    std::string strategy =
        start_first ? "strategy: {order: start-first, ports: {blue: " + std::to_string(blue_port) +
                          ", green: " + std::to_string(green != 0 ? green : green_port) + "}}\n"
                    : "strategy: {order: stop-first}\n";
    return "app: web\nimage: web:1\n" + hosts_yaml() + "container: {ports: [\"" +
           std::to_string(blue_port) + ":80\"]}\n" + strategy +
           "router:\n  drain_timeout: " + drain +
           "\n  timeout: 2s\n  haproxy:\n    runtime_api: " + api + "\n    backend: " + be + "\n";
  }

  // Sends one command straight to the Runtime API (not through the router under test).
  std::string admin(const std::string& command) {
    SystemClock clock;
    RuntimeApi api(unix_api(), 2s, clock);
    auto answer = run_task(api.send(command));
    INFO(command);
    INFO(answer.status().message());
    REQUIRE(answer);
    return *answer;
  }

  // The (proxy, server) row of show stat.
  StatRow stat(const std::string& proxy, const std::string& server) {
    auto rows = parse_stat(admin("show stat"));
    REQUIRE(rows);
    for (const auto& r : *rows) {
      if (r.proxy == proxy && r.server == server) {
        return r;
      }
    }
    FAIL("show stat has no row " << proxy << "/" << server);
    return {};
  }

  ServerState server_state(const std::string& backend, const std::string& server) {
    auto servers = parse_servers_state(admin("show servers state " + backend));
    REQUIRE(servers);
    for (const auto& s : *servers) {
      if (s.server == server) {
        return s;
      }
    }
    FAIL("no server " << backend << "/" << server);
    return {};
  }

  // Waits (bounded) until HAProxy counts `n` requests in flight on a row.
  void wait_in_flight(const std::string& proxy, const std::string& server, int n) {
    const auto until = std::chrono::steady_clock::now() + 5s;
    for (;;) {
      auto r = stat(proxy, server);
      if (r.sessions + r.queued >= n) {
        return;
      }
      REQUIRE(std::chrono::steady_clock::now() < until);
      std::this_thread::sleep_for(10ms);
    }
  }

  TempDir dir;
  uint16_t blue_port = 0;
  uint16_t green_port = 0;
  uint16_t stats_port = 0;
  uint16_t bg_port = 0;    // blue-green frontend
  uint16_t roll_port = 0;  // stop-first frontend
  uint16_t sf_port = 0;    // start-first frontend

 private:
  // web_blue's servers take one connection each (maxconn 1), so that a request can wait in the
  // backend's queue; the rolling backends use `balance first`, so that every request goes to the
  // first server that is in.
  std::string config() const {
    return fmt::format(R"(global
  stats socket {dir}/admin.sock mode 600 level admin
  stats socket ipv4@127.0.0.1:{stats} level admin
defaults
  mode http
  timeout connect 2s
  timeout client 10s
  timeout server 10s
  retries 0
frontend fe_bg
  bind 127.0.0.1:{bg}
  use_backend %[str(web),map({map},web_blue)]
backend web_blue
  server h1 127.0.0.1:{blue} maxconn 1
  server h2 127.0.0.2:{blue} maxconn 1
backend web_green
  server h1 127.0.0.1:{green}
  server h2 127.0.0.2:{green}
frontend fe_roll
  bind 127.0.0.1:{roll}
  default_backend roll
backend roll
  balance first
  server h1 127.0.0.1:{blue}
  server h2 127.0.0.2:{blue}
frontend fe_sf
  bind 127.0.0.1:{sf}
  default_backend rollsf
backend rollsf
  balance first
  server h1-blue 127.0.0.1:{blue}
  server h1-green 127.0.0.1:{green} disabled
  server h2-blue 127.0.0.2:{blue}
  server h2-green 127.0.0.2:{green} disabled
)",
                       fmt::arg("dir", dir.path()), fmt::arg("stats", stats_port),
                       fmt::arg("bg", bg_port), fmt::arg("map", map_path()),
                       fmt::arg("blue", blue_port), fmt::arg("green", green_port),
                       fmt::arg("roll", roll_port), fmt::arg("sf", sf_port));
  }

  // haproxy -f cfg -db (foreground), output to haproxy.log; returns once the socket answers.
  void start(const std::string& cfg) {
    const std::string log = dir.file("haproxy.log");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<std::string> args = {kHaproxy, "-f", cfg, "-db"};
    std::vector<char*> argv;
    for (auto& a : args) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    const int spawned = ::posix_spawn(&pid_, kHaproxy, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    REQUIRE(spawned == 0);
    const auto until = std::chrono::steady_clock::now() + 10s;
    for (;;) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = 0;
        FAIL("haproxy exited at start:\n" << dir.read("haproxy.log"));
      }
      if (socket_answers()) {
        return;
      }
      REQUIRE(std::chrono::steady_clock::now() < until);
      std::this_thread::sleep_for(10ms);
    }
  }

  bool socket_answers() const {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    const std::string path = dir.file("admin.sock");
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
  }

  std::vector<std::unique_ptr<App>> apps_;
  pid_t pid_ = 0;
};

std::vector<Endpoint> endpoints(const Lab& lab, Colour c) {
  const uint16_t port = c == Colour::kBlue ? lab.blue_port : lab.green_port;
  return {Endpoint{"h1", "127.0.0.1", port}, Endpoint{"h2", "127.0.0.2", port}};
}

std::vector<std::string> two_hosts() { return {"h1", "h2"}; }

// ---- blue-green ------------------------------------------------------------------------------

TEST_CASE("HAProxy check passes for a config that matches the manifest",
          "[docker][router][haproxy]") {
  Lab lab;
  const bool tcp = GENERATE(false, true);
  const std::string api = tcp ? lab.tcp_api() : lab.unix_api();
  CAPTURE(api);
  SystemClock clock;
  SECTION("blue-green") {
    auto m = load(lab.blue_green(api));
    auto r = make_router(m, clock);
    CHECK(r->kind() == "haproxy");
    auto st = run_task(r->check(two_hosts()));
    INFO(st.message());
    CHECK(st);
  }
  SECTION("rolling stop-first") {
    auto m = load(lab.rolling(api, false));
    auto st = run_task(make_router(m, clock)->check(two_hosts()));
    INFO(st.message());
    CHECK(st);
  }
  SECTION("rolling start-first") {
    auto m = load(lab.rolling(api, true));
    auto st = run_task(make_router(m, clock)->check(two_hosts()));
    INFO(st.message());
    CHECK(st);
  }
}

TEST_CASE("HAProxy check names every server the config lacks", "[docker][router][haproxy]") {
  Lab lab;
  SystemClock clock;
  SECTION("blue-green") {
    auto m = load(lab.blue_green(lab.unix_api()));
    std::vector<std::string> hosts = {"h1", "h2", "h3"};
    auto st = run_task(make_router(m, clock)->check(hosts));
    REQUIRE_FALSE(st);
    CHECK(st.code() == Code::kFailedPrecondition);
    CHECK_THAT(st.message(), Contains(lab.unix_api()));
    CHECK_THAT(st.message(), Contains("backend \"web_blue\" has no server \"h3\""));
    CHECK_THAT(st.message(), Contains("backend \"web_green\" has no server \"h3\""));
    CHECK_THAT(st.message(), !Contains("\"h1\"") && !Contains("\"h2\""));
  }
  SECTION("start-first slots") {
    auto m = load(lab.rolling(lab.unix_api(), true));
    std::vector<std::string> hosts = {"h1", "h3"};
    auto st = run_task(make_router(m, clock)->check(hosts));
    REQUIRE_FALSE(st);
    CHECK_THAT(st.message(), Contains("backend \"rollsf\" has no server \"h3-blue\""));
    CHECK_THAT(st.message(), Contains("backend \"rollsf\" has no server \"h3-green\""));
  }
}

TEST_CASE("HAProxy check names a blue-green server whose port is not the colour's port",
          "[docker][router][haproxy]") {
  Lab lab;
  SystemClock clock;
  const uint16_t wrong = lab.green_port == 65535 ? lab.green_port - 1 : lab.green_port + 1;
  auto m = load(lab.blue_green(lab.unix_api(), wrong));
  auto st = run_task(make_router(m, clock)->check(two_hosts()));
  REQUIRE_FALSE(st);
  CHECK(st.code() == Code::kFailedPrecondition);
  const std::string g = std::to_string(lab.green_port);
  const std::string w = std::to_string(wrong);
  CHECK_THAT(st.message(), Contains("server web_green/h1 points at port " + g));
  CHECK_THAT(st.message(), Contains("server web_green/h2 points at port " + g));
  // The port that differs is the manifest's green port (strategy.ports.green).
  CHECK_THAT(st.message(), Contains("the manifest's green port is " + w));
  CHECK_THAT(st.message(), !Contains("web_blue/"));
}

TEST_CASE("HAProxy check names a start-first slot whose port is not the colour's port",
          "[docker][router][haproxy]") {
  Lab lab;
  SystemClock clock;
  const uint16_t wrong = lab.green_port == 65535 ? lab.green_port - 1 : lab.green_port + 1;
  auto m = load(lab.rolling(lab.unix_api(), true, "5s", "", wrong));
  auto st = run_task(make_router(m, clock)->check(two_hosts()));
  REQUIRE_FALSE(st);
  CHECK_THAT(st.message(),
             Contains("server rollsf/h1-green points at port " + std::to_string(lab.green_port) +
                      ", but the manifest's green port is " + std::to_string(wrong)));
  CHECK_THAT(st.message(), Contains("rollsf/h2-green"));
  CHECK_THAT(st.message(), !Contains("-blue"));
}

TEST_CASE("HAProxy check names a backend HAProxy does not have", "[docker][router][haproxy]") {
  Lab lab;
  SystemClock clock;
  SECTION("blue-green") {
    auto m = load(lab.blue_green(lab.unix_api(), 0, "web_purple"));
    auto st = run_task(make_router(m, clock)->check(two_hosts()));
    REQUIRE_FALSE(st);
    CHECK_THAT(st.message(), Contains("backend \"web_purple\": Can't find backend."));
    CHECK_THAT(st.message(), !Contains("web_blue"));
  }
  SECTION("rolling") {
    auto m = load(lab.rolling(lab.unix_api(), false, "5s", "nosuch"));
    auto st = run_task(make_router(m, clock)->check(two_hosts()));
    REQUIRE_FALSE(st);
    CHECK_THAT(st.message(), Contains("backend \"nosuch\": Can't find backend."));
  }
}

TEST_CASE("HAProxy check names a map HAProxy does not know", "[docker][router][haproxy]") {
  Lab lab;
  SystemClock clock;
  std::string yaml = lab.blue_green(lab.unix_api());
  const std::string other = lab.dir.file("other.map");
  yaml.replace(yaml.find(lab.map_path()), lab.map_path().size(), other);
  auto m = load(yaml);
  auto st = run_task(make_router(m, clock)->check(two_hosts()));
  REQUIRE_FALSE(st);
  CHECK_THAT(st.message(), Contains(other));
  CHECK_THAT(st.message(), Contains("Unknown map identifier"));
}

TEST_CASE("HAProxy live_colour reads the map entry", "[docker][router][haproxy]") {
  Lab lab;
  SystemClock clock;
  auto m = load(lab.blue_green(lab.unix_api()));
  auto r = make_router(m, clock);
  auto live = run_task(r->live_colour());
  REQUIRE(live);
  CHECK(*live == std::optional<Colour>(Colour::kBlue));

  lab.admin("set map " + lab.map_path() + " web web_green");
  live = run_task(r->live_colour());
  REQUIRE(live);
  CHECK(*live == std::optional<Colour>(Colour::kGreen));

  lab.admin("set map " + lab.map_path() + " web web_orange");
  live = run_task(r->live_colour());
  REQUIRE_FALSE(live);
  CHECK_THAT(live.status().message(), Contains("web_orange"));

  lab.admin("del map " + lab.map_path() + " web");
  live = run_task(r->live_colour());
  REQUIRE_FALSE(live);
  CHECK_THAT(live.status().message(), Contains("no entry \"web\""));
}

TEST_CASE("HAProxy switch_to flips the map and real requests follow it",
          "[docker][router][haproxy]") {
  Lab lab;
  const bool tcp = GENERATE(false, true);
  const std::string api = tcp ? lab.tcp_api() : lab.unix_api();
  CAPTURE(api);
  SystemClock clock;
  auto m = load(lab.blue_green(api));
  auto r = make_router(m, clock);
  for (int i = 0; i < 4; ++i) {
    auto a = get(lab.bg_port);
    CHECK(a.status == 200);
    CHECK(a.body == "blue");
  }

  auto st = run_task(r->switch_to(Colour::kGreen, endpoints(lab, Colour::kGreen)));
  INFO(st.message());
  REQUIRE(st);
  CHECK(map_value(lab.admin("show map " + lab.map_path()), "web") ==
        std::optional<std::string>("web_green"));
  auto live = run_task(r->live_colour());
  REQUIRE(live);
  CHECK(*live == std::optional<Colour>(Colour::kGreen));
  std::set<std::string> hosts;
  for (int i = 0; i < 4; ++i) {
    auto a = get(lab.bg_port);
    CHECK(a.status == 200);
    CHECK(a.body == "green");
    hosts.insert(a.host);
  }
  CHECK(hosts == std::set<std::string>{"h1", "h2"});  // the whole fleet switched

  st = run_task(r->switch_to(Colour::kBlue, endpoints(lab, Colour::kBlue)));
  REQUIRE(st);
  for (int i = 0; i < 4; ++i) {
    CHECK(get(lab.bg_port).body == "blue");
  }
  CHECK(r->describe_switch(Colour::kGreen) == "set map " + lab.map_path() + " web web_green");
}

TEST_CASE("HAProxy persist_map rewrites the map file's line after the switch",
          "[docker][router][haproxy]") {
  Lab lab;
  // Other entries and comments in the file stay as they are.
  {
    std::ofstream out(lab.map_path(), std::ios::app);
    out << "# routed by rollgate\nother other_backend\n";
  }
  SystemClock clock;
  auto m = load(lab.blue_green(lab.unix_api()) + "    persist_map: true\n");
  REQUIRE(m.router->haproxy->persist_map);
  auto r = make_router(m, clock);
  auto st = run_task(r->switch_to(Colour::kGreen, endpoints(lab, Colour::kGreen)));
  INFO(st.message());
  REQUIRE(st);
  std::ifstream in(lab.map_path());
  std::stringstream text;
  text << in.rdbuf();
  CHECK(map_value("0x0 " + text.str().substr(0, text.str().find('\n')), "web") ==
        std::optional<std::string>("web_green"));
  CHECK_THAT(text.str(), Contains("# routed by rollgate\n") && Contains("other other_backend\n"));
  CHECK(text.str().find("web_blue") == std::string::npos);
  // What `plan` prints says so; the command sent is the plain set map.
  CHECK_THAT(r->describe_switch(Colour::kBlue), Contains("map file is rewritten"));
  CHECK(map_value(lab.admin("show map " + lab.map_path()), "web") ==
        std::optional<std::string>("web_green"));
}

TEST_CASE("HAProxy wait_idle waits for the colour's requests in flight",
          "[docker][router][haproxy]") {
  Lab lab;
  SystemClock clock;
  auto m = load(lab.blue_green(lab.unix_api()));
  auto r = make_router(m, clock);
  Request slow(lab.bg_port, "/slow?ms=800");
  lab.wait_in_flight("web_blue", "BACKEND", 1);
  REQUIRE(run_task(r->switch_to(Colour::kGreen, endpoints(lab, Colour::kGreen))));
  CHECK(get(lab.bg_port).body == "green");  // new requests: green, the slow one still on blue

  auto idle = run_task(r->wait_idle(Colour::kBlue));
  const auto returned = std::chrono::steady_clock::now();
  INFO(idle.status().message());
  REQUIRE(idle);
  CHECK(idle->idle);
  CHECK(idle->in_flight == 0);
  CHECK(idle->waited >= 500ms);
  const auto finished = std::max(lab.app(Colour::kBlue, 1).slow_finished_at(),
                                 lab.app(Colour::kBlue, 2).slow_finished_at());
  CHECK(finished <= returned);
  slow.join();
  CHECK(slow.status() == 200);
  CHECK(slow.body() == "blue");  // it finished where it started

  // Green has nothing in flight: no wait.
  auto green = run_task(r->wait_idle(Colour::kGreen));
  REQUIRE(green);
  CHECK(green->idle);
  CHECK(green->waited < 200ms);
}

TEST_CASE("HAProxy wait_idle counts each request in flight once", "[docker][router][haproxy]") {
  // web_blue's servers take one connection each (maxconn 1): of three slow requests two run and
  // one waits in the backend's queue.
  Lab lab;
  SystemClock clock;
  auto m = load(lab.blue_green(lab.unix_api(), 0, "web_green", "300ms"));
  auto r = make_router(m, clock);
  Request a(lab.bg_port, "/slow?ms=700");
  Request b(lab.bg_port, "/slow?ms=700");
  Request c(lab.bg_port, "/slow?ms=700");
  lab.wait_in_flight("web_blue", "h1", 1);
  lab.wait_in_flight("web_blue", "h2", 1);
  const auto backend = lab.stat("web_blue", "BACKEND");
  CAPTURE(backend.sessions, backend.queued);
  auto idle = run_task(r->wait_idle(Colour::kBlue));
  REQUIRE(idle);
  CHECK_FALSE(idle->idle);
  CHECK(idle->in_flight == 3);
}

// ---- rolling ---------------------------------------------------------------------------------

TEST_CASE("HAProxy drain waits for the host's request in flight", "[docker][router][haproxy]") {
  Lab lab;
  SystemClock clock;
  auto m = load(lab.rolling(lab.unix_api(), false));
  auto r = make_router(m, clock);
  // balance first: every request goes to h1 while it is in.
  CHECK(get(lab.roll_port).host == "h1");
  Request slow(lab.roll_port, "/slow?ms=800");
  lab.wait_in_flight("roll", "h1", 1);

  const Endpoint h1{"h1", "127.0.0.1", lab.blue_port};
  auto drained = run_task(r->drain(h1, std::nullopt));
  const auto returned = std::chrono::steady_clock::now();
  INFO(drained.status().message());
  REQUIRE(drained);
  CHECK(drained->idle);
  CHECK(drained->in_flight == 0);
  CHECK(drained->waited >= 500ms);
  CHECK(lab.app(Colour::kBlue, 1).slow_finished_at() <= returned);
  slow.join();
  CHECK(slow.status() == 200);
  CHECK(slow.host() == "h1");

  // Out of load balancing, and in maintenance so that nothing at all reaches it.
  CHECK((lab.server_state("roll", "h1").admin_state & 0x01) != 0);
  for (int i = 0; i < 4; ++i) {
    auto a = get(lab.roll_port);
    CHECK(a.status == 200);
    CHECK(a.host == "h2");
  }

  REQUIRE(run_task(r->enable(h1, std::nullopt)));
  CHECK(lab.server_state("roll", "h1").admin_state == 0);
  CHECK(get(lab.roll_port).host == "h1");
  CHECK(r->describe_drain("h1", std::nullopt) == "set server roll/h1 state drain");
  CHECK(r->describe_enable("h1", std::nullopt) == "set server roll/h1 state ready");
}

TEST_CASE("HAProxy drain gives up after drain_timeout", "[docker][router][haproxy]") {
  Lab lab;
  SystemClock clock;
  auto m = load(lab.rolling(lab.unix_api(), false, "300ms"));
  auto r = make_router(m, clock);
  Request slow(lab.roll_port, "/slow?ms=2000");
  lab.wait_in_flight("roll", "h1", 1);
  const auto start = std::chrono::steady_clock::now();
  auto drained = run_task(r->drain(Endpoint{"h1", "127.0.0.1", lab.blue_port}, std::nullopt));
  const auto took = std::chrono::steady_clock::now() - start;
  INFO(drained.status().message());
  REQUIRE(drained);
  CHECK_FALSE(drained->idle);
  CHECK(drained->in_flight == 1);
  CHECK(drained->waited >= 300ms);
  CHECK(took < 1500ms);
  CHECK((lab.server_state("roll", "h1").admin_state & 0x01) != 0);
  CHECK(get(lab.roll_port).host == "h2");
  // Maintenance does not cut the request that was in flight.
  slow.join();
  CHECK(slow.status() == 200);
  CHECK(slow.host() == "h1");
}

TEST_CASE("HAProxy start-first: the new slot is enabled, then the old one drained",
          "[docker][router][haproxy]") {
  Lab lab;
  SystemClock clock;
  auto m = load(lab.rolling(lab.unix_api(), true));
  auto r = make_router(m, clock);
  CHECK(get(lab.sf_port).body == "blue");
  CHECK((lab.server_state("rollsf", "h1-green").admin_state & 0x01) != 0);

  const Endpoint green{"h1", "127.0.0.1", lab.green_port};
  const Endpoint blue{"h1", "127.0.0.1", lab.blue_port};
  REQUIRE(run_task(r->enable(green, Colour::kGreen)));
  // Out of forced maintenance. ("disabled" in haproxy.cfg leaves its config flag, 0x04, in the
  // state dump, but the server takes traffic: its stats status is no longer MAINT.)
  CHECK((lab.server_state("rollsf", "h1-green").admin_state & 0x01) == 0);
  CHECK(lab.stat("rollsf", "h1-green").status != "MAINT");
  auto drained = run_task(r->drain(blue, Colour::kBlue));
  REQUIRE(drained);
  CHECK(drained->idle);
  CHECK((lab.server_state("rollsf", "h1-blue").admin_state & 0x01) != 0);
  for (int i = 0; i < 3; ++i) {
    auto a = get(lab.sf_port);
    CHECK(a.body == "green");
    CHECK(a.host == "h1");
  }
  CHECK(r->describe_enable("h1", Colour::kGreen) == "set server rollsf/h1-green state ready");
  CHECK(r->describe_drain("h1", Colour::kBlue) == "set server rollsf/h1-blue state drain");
}

// ---- errors ----------------------------------------------------------------------------------

TEST_CASE("HAProxy errors name an unreachable runtime API", "[docker][router][haproxy]") {
  TempDir dir;
  SystemClock clock;
  const bool tcp = GENERATE(false, true);
  const std::string api =
      tcp ? "tcp://127.0.0.1:" + std::to_string(free_port()) : "unix://" + dir.file("missing.sock");
  CAPTURE(api);
  const std::string yaml =
      "app: web\nimage: web:1\nhosts:\n  - {name: h1, engine: unix:///var/run/docker.sock}\n"
      "container: {ports: [\"8080:80\"]}\n"
      "strategy: {type: blue-green, ports: {blue: 8080, green: 8081}}\n"
      "router:\n  timeout: 1s\n  haproxy:\n    runtime_api: " +
      api + "\n    map: /etc/haproxy/rollgate.map\n    backends: {blue: b, green: g}\n";
  auto m = load(yaml);
  auto r = make_router(m, clock);
  std::vector<std::string> hosts = {"h1"};
  auto st = run_task(r->check(hosts));
  REQUIRE_FALSE(st);
  CHECK(st.code() == Code::kUnavailable);
  CHECK_THAT(st.message(), Contains(api));
  auto sw = run_task(r->switch_to(Colour::kGreen, {}));
  REQUIRE_FALSE(sw);
  CHECK_THAT(sw.message(), Contains(api));
  CHECK_THAT(sw.message(), Contains("set map"));
  auto live = run_task(r->live_colour());
  REQUIRE_FALSE(live);
  CHECK_THAT(live.status().message(), Contains(api));
}

TEST_CASE("HAProxy errors name an unknown backend or server", "[docker][router][haproxy]") {
  Lab lab;
  SystemClock clock;
  SECTION("backend") {
    auto m = load(lab.rolling(lab.unix_api(), false, "5s", "nosuch"));
    auto r = make_router(m, clock);
    auto st = run_task(r->enable(Endpoint{"h1", "127.0.0.1", lab.blue_port}, std::nullopt));
    REQUIRE_FALSE(st);
    CHECK_THAT(st.message(), Contains("set server nosuch/h1 state ready"));
    CHECK_THAT(st.message(), Contains("No such backend"));
    auto drained = run_task(r->drain(Endpoint{"h1", "127.0.0.1", lab.blue_port}, std::nullopt));
    REQUIRE_FALSE(drained);
    CHECK_THAT(drained.status().message(), Contains("nosuch/h1"));
  }
  SECTION("server") {
    auto m = load(lab.rolling(lab.unix_api(), false));
    auto r = make_router(m, clock);
    auto st = run_task(r->enable(Endpoint{"h9", "127.0.0.9", lab.blue_port}, std::nullopt));
    REQUIRE_FALSE(st);
    CHECK_THAT(st.message(), Contains("roll/h9"));
    CHECK_THAT(st.message(), Contains("No such server"));
  }
}

// ---- the parsers on live answers -----------------------------------------------------------

TEST_CASE("The parsers read what this HAProxy answers", "[docker][router][haproxy][parse]") {
  Lab lab;
  auto servers = parse_servers_state(lab.admin("show servers state rollsf"));
  REQUIRE(servers);
  REQUIRE(servers->size() == 4);
  CHECK(servers->at(0).server == "h1-blue");
  CHECK(servers->at(0).port == lab.blue_port);
  CHECK(servers->at(0).address == "127.0.0.1");
  CHECK(servers->at(3).server == "h2-green");
  CHECK(servers->at(3).address == "127.0.0.2");
  CHECK(servers->at(3).port == lab.green_port);
  CHECK((servers->at(3).admin_state & 0x01) != 0);

  CHECK(map_value(lab.admin("show map " + lab.map_path()), "web") ==
        std::optional<std::string>("web_blue"));

  Request slow(lab.roll_port, "/slow?ms=600");
  lab.wait_in_flight("roll", "h1", 1);
  auto rows = parse_stat(lab.admin("show stat"));
  REQUIRE(rows);
  int seen = 0;
  for (const auto& row : *rows) {
    if (row.proxy == "roll" && row.server == "h1") {
      CHECK(row.sessions == 1);
      ++seen;
    }
    if (row.proxy == "rollsf" && row.server == "h1-green") {
      CHECK(row.status == "MAINT");
      ++seen;
    }
  }
  CHECK(seen == 2);
}

}  // namespace
}  // namespace orch::router
