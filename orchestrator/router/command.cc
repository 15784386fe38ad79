// The command router: the escape hatch for any other load balancer. rollgate runs the user's
// program once per router step, with what to do in its environment (docs/blue-green.md):
//
//   ROLLGATE_ACTION     check | live | switch | wait-idle | drain | enable
//   ROLLGATE_APP        the app's name
//   ROLLGATE_HOSTS      every host of the manifest, space-separated
//   ROLLGATE_COLOUR     switch, wait-idle: the colour to make live / to wait for;
//                       drain, enable: the host's slot with start-first (empty with stop-first)
//   ROLLGATE_PORT       switch: the live colour's host port; drain, enable: the host's port
//   ROLLGATE_ENDPOINTS  switch: "host=address:port" per host, space-separated
//   ROLLGATE_HOST, ROLLGATE_ADDRESS   drain, enable: the host
//   ROLLGATE_DRAIN_TIMEOUT_MS         wait-idle, drain: how long the program may wait
//
// Exit 0 is success. For wait-idle and drain, exit 3 means "still busy when the drain timeout
// passed" (rollgate then goes on, as with HAProxy). For live, the program prints "blue" or
// "green" (or nothing, when it cannot tell). Any other exit code is an error that names the
// program and quotes the start of its output. A run is killed (its whole process group) after
// router.timeout, or drain_timeout + timeout for wait-idle and drain.
//
// Time: the limit is a sleep on the injected Clock raced against the program (read its output
// || kill after the limit). A ManualClock never really waits, so on one every run is killed at
// once; that is how a unit test checks the kill without waiting for it. The program's exit is
// awaited on a pidfd, an event, so reaping it needs no polling timer.
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <cstring>
#include <map>

#include "orchestrator/core/duration.h"
#include "orchestrator/router/router.h"

extern char** environ;

namespace orch::router {

namespace net = boost::asio;

namespace {

constexpr auto kUseTuple = net::as_tuple(net::use_awaitable);
constexpr size_t kMaxOutput = 64 * 1024;
constexpr int kExitBusy = 3;

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together, at most kMaxOutput bytes
};

// Reads the program's output until every writer (the program and its children) has closed the
// pipe, then waits for the program itself to exit (its pidfd turns readable), so that reaping
// it afterwards does not block. Returns at most kMaxOutput bytes of output.
Task<std::string> collect(net::posix::stream_descriptor& out,
                          net::posix::stream_descriptor& exited) {
  std::string output;
  std::array<char, 4096> chunk;
  for (;;) {
    auto [ec, n] = co_await out.async_read_some(net::buffer(chunk), kUseTuple);
    if (output.size() < kMaxOutput) {
      output.append(chunk.data(), std::min(n, kMaxOutput - output.size()));
    }
    if (ec) {
      break;
    }
  }
  // Cancelled: the limit passed and the program was killed; run() reaps it. (Awaiting anything
  // after a cancellation would throw, so the state is checked first.)
  auto state = co_await net::this_coro::cancellation_state;
  if (state.cancelled() == net::cancellation_type::none) {
    co_await exited.async_wait(net::posix::descriptor_base::wait_read, kUseTuple);
  }
  co_return output;
}

// Kills the process group `pgid` once `limit` has passed on `clock`, unless the program
// finished first (this wait is then cancelled).
Task<void> kill_after(Clock& clock, std::chrono::milliseconds limit, pid_t pgid, bool& killed) {
  co_await clock.sleep_for(limit);
  auto state = co_await net::this_coro::cancellation_state;
  if (state.cancelled() != net::cancellation_type::none) {
    co_return;
  }
  killed = true;
  ::kill(-pgid, SIGKILL);
}

std::string first_lines(const std::string& s) {
  std::string out = s.substr(0, 300);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) {
    out.pop_back();
  }
  return out.empty() ? "(no output)" : out;
}

class CommandRouter final : public Router {
 public:
  CommandRouter(const manifest::Manifest& m, Clock& clock)
      : run_(m.router->command->run),
        app_(m.app),
        strategy_(m.strategy),
        drain_timeout_(m.router->drain_timeout),
        timeout_(m.router->timeout),
        clock_(clock) {
    for (const auto& h : m.hosts) {
      hosts_ += (hosts_.empty() ? "" : " ") + h.name;
    }
  }

  std::string kind() const override { return "command"; }

  Task<Status> check(std::vector<std::string> /*hosts*/) override {
    std::map<std::string, std::string> env{{"ROLLGATE_ACTION", "check"}};
    auto r = co_await run(env, timeout_);
    if (!r) {
      co_return r.status();
    }
    co_return expect_zero("check", *r);
  }

  Task<Result<std::optional<Colour>>> live_colour() override {
    std::map<std::string, std::string> env{{"ROLLGATE_ACTION", "live"}};
    auto r = co_await run(env, timeout_);
    if (!r) {
      co_return r.status();
    }
    if (auto st = expect_zero("live", *r); !st) {
      co_return st;
    }
    std::string word = r->output.substr(0, r->output.find_first_of(" \r\n"));
    if (word == "blue") {
      co_return std::optional<Colour>(Colour::kBlue);
    }
    if (word == "green") {
      co_return std::optional<Colour>(Colour::kGreen);
    }
    if (word.empty()) {
      co_return std::optional<Colour>();
    }
    co_return Status(Code::kFailedPrecondition,
                     fmt::format("router command {} (ROLLGATE_ACTION=live) printed \"{}\": "
                                 "expected blue, green or nothing",
                                 run_.front(), first_lines(r->output)));
  }

  Task<Status> switch_to(Colour colour, std::vector<Endpoint> endpoints) override {
    std::string list;
    for (const auto& e : endpoints) {
      list += fmt::format("{}{}={}:{}", list.empty() ? "" : " ", e.host, e.address, e.port);
    }
    std::map<std::string, std::string> env{
        {"ROLLGATE_ACTION", "switch"},
        {"ROLLGATE_COLOUR", manifest::to_string(colour)},
        {"ROLLGATE_PORT", std::to_string(strategy_.ports ? strategy_.ports->of(colour) : 0)},
        {"ROLLGATE_ENDPOINTS", list}};
    auto r = co_await run(env, timeout_);
    if (!r) {
      co_return r.status();
    }
    co_return expect_zero("switch", *r);
  }

  Task<Result<Drained>> wait_idle(Colour colour) override {
    std::map<std::string, std::string> env{{"ROLLGATE_ACTION", "wait-idle"},
                                           {"ROLLGATE_COLOUR", manifest::to_string(colour)}};
    co_return co_await waiting("wait-idle", env);
  }

  Task<Result<Drained>> drain(Endpoint host, std::optional<Colour> slot) override {
    auto env = host_env("drain", host, slot);
    co_return co_await waiting("drain", env);
  }

  Task<Status> enable(Endpoint host, std::optional<Colour> slot) override {
    auto env = host_env("enable", host, slot);
    auto r = co_await run(env, timeout_);
    if (!r) {
      co_return r.status();
    }
    co_return expect_zero("enable", *r);
  }

  std::string describe_switch(Colour colour) const override {
    return fmt::format("run {} with ROLLGATE_ACTION=switch ROLLGATE_COLOUR={}", run_.front(),
                       manifest::to_string(colour));
  }
  std::string describe_wait_idle(Colour colour) const override {
    return fmt::format("run {} with ROLLGATE_ACTION=wait-idle ROLLGATE_COLOUR={}", run_.front(),
                       manifest::to_string(colour));
  }
  std::string describe_drain(const std::string& host, std::optional<Colour> slot) const override {
    return fmt::format("run {} with ROLLGATE_ACTION=drain ROLLGATE_HOST={}{}", run_.front(), host,
                       slot ? std::string(" ROLLGATE_COLOUR=") + manifest::to_string(*slot) : "");
  }
  std::string describe_enable(const std::string& host, std::optional<Colour> slot) const override {
    return fmt::format("run {} with ROLLGATE_ACTION=enable ROLLGATE_HOST={}{}", run_.front(), host,
                       slot ? std::string(" ROLLGATE_COLOUR=") + manifest::to_string(*slot) : "");
  }

 private:
  std::map<std::string, std::string> host_env(const std::string& action, const Endpoint& host,
                                              std::optional<Colour> slot) const {
    return {{"ROLLGATE_ACTION", action},
            {"ROLLGATE_HOST", host.host},
            {"ROLLGATE_ADDRESS", host.address},
            {"ROLLGATE_PORT", std::to_string(host.port)},
            {"ROLLGATE_COLOUR", slot ? manifest::to_string(*slot) : ""}};
  }

  Status expect_zero(const std::string& action, const RunResult& r) const {
    if (r.exit_code == 0) {
      return Status::ok();
    }
    return Status(Code::kFailedPrecondition,
                  fmt::format("router command {} (ROLLGATE_ACTION={}) exited with code {}: {}",
                              run_.front(), action, r.exit_code, first_lines(r.output)));
  }

  Task<Result<Drained>> waiting(std::string action, std::map<std::string, std::string> env) {
    env["ROLLGATE_DRAIN_TIMEOUT_MS"] = std::to_string(drain_timeout_.count());
    const auto start = clock_.now();
    auto r = co_await run(env, drain_timeout_ + timeout_);
    if (!r) {
      co_return r.status();
    }
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now() - start);
    if (r->exit_code == kExitBusy) {
      co_return Drained{false, -1, waited};
    }
    if (auto st = expect_zero(action, *r); !st) {
      co_return st;
    }
    co_return Drained{true, 0, waited};
  }

  // Runs the program with the environment plus `vars`, collecting its output; kills its
  // process group when `limit` passes.
  Task<Result<RunResult>> run(std::map<std::string, std::string> vars,
                              std::chrono::milliseconds limit) {
    vars["ROLLGATE_APP"] = app_;
    vars["ROLLGATE_HOSTS"] = hosts_;
    std::vector<std::string> env_strings;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      std::string_view kv(*e);
      if (kv.substr(0, 9) != "ROLLGATE_") {
        env_strings.emplace_back(kv);
      }
    }
    for (const auto& [k, v] : vars) {
      env_strings.push_back(k + "=" + v);
    }
    std::vector<char*> envp;
    for (auto& s : env_strings) {
      envp.push_back(s.data());
    }
    envp.push_back(nullptr);
    std::vector<std::string> args = run_;
    std::vector<char*> argv;
    for (auto& a : args) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);

    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      co_return Status(Code::kInternal, std::string("router command: pipe: ") + strerror(errno));
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    pid_t pid = 0;
    const int spawned = ::posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    ::close(fds[1]);
    if (spawned != 0) {
      ::close(fds[0]);
      co_return Status(
          Code::kFailedPrecondition,
          fmt::format("router command {}: cannot run it: {}", run_.front(), strerror(spawned)));
    }
    // A pidfd turns readable when the program exits. (Called through syscall(): glibc 2.36's
    // <sys/pidfd.h> lacks extern "C", so its pidfd_open does not link from C++.)
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (pidfd < 0) {
      const int err = errno;
      ::close(fds[0]);
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      co_return Status(Code::kInternal,
                       std::string("router command: pidfd_open: ") + strerror(err));
    }
    auto executor = co_await net::this_coro::executor;
    net::posix::stream_descriptor out(executor, fds[0]);
    net::posix::stream_descriptor exited(executor, pidfd);
    bool timed_out = false;
    using namespace net::experimental::awaitable_operators;
    auto ended = co_await (collect(out, exited) || kill_after(clock_, limit, pid, timed_out));
    if (timed_out) {
      // Killed: wait for the exit SIGKILL causes, so that the reap below returns at once.
      co_await exited.async_wait(net::posix::descriptor_base::wait_read, kUseTuple);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (timed_out) {
      co_return Status(Code::kTimeout,
                       fmt::format("router command {} (ROLLGATE_ACTION={}) did not finish within "
                                   "{} and was killed",
                                   run_.front(), vars["ROLLGATE_ACTION"], format_duration(limit)));
    }
    RunResult r;
    r.output = std::move(std::get<0>(ended));
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    co_return r;
  }

  std::vector<std::string> run_;
  std::string app_;
  std::string hosts_;
  manifest::Strategy strategy_;
  std::chrono::milliseconds drain_timeout_;
  std::chrono::milliseconds timeout_;
  Clock& clock_;
};

}  // namespace

std::unique_ptr<Router> make_command_router(const manifest::Manifest& m, Clock& clock) {
  return std::make_unique<CommandRouter>(m, clock);
}

}  // namespace orch::router
