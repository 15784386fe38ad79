// Helpers for integration tests that drive the built `rollgate` binary and real engines.
//
// run_process() spawns a program with posix_spawnp (an argv vector, never a shell, so no
// quoting or injection issues), feeds it no stdin, and captures stdout, stderr and the exit
// code. run_rollgate() runs ROLLGATE_BIN. TempManifest writes a manifest to a temp file that is
// removed when it goes out of scope. json_lines() parses `--output json` (one object per line).
// http_get()/engine_get()/engine_post() shell out to curl, so the tests verify the fleet with a
// client independent of the code under test.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/testbed.h"
#include "tests/support/manifest_builder.h"
#include "tests/support/temp_dir.h"

extern char** environ;

namespace rgtest {

struct ProcResult {
  int exit_code = -1;  // the exit status; 128+N when killed by signal N
  std::string out;
  std::string err;
  std::string command;  // for messages
};

inline std::string join_args(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) {
    if (!s.empty()) {
      s += ' ';
    }
    s += a;
  }
  return s;
}

// Runs argv[0] (looked up on PATH) with argv; stdin is /dev/null. Fails the test if the program
// cannot be started at all.
inline ProcResult run_process(const std::vector<std::string>& argv) {
  ProcResult r;
  r.command = join_args(argv);
  int out_pipe[2];
  int err_pipe[2];
  REQUIRE(::pipe2(out_pipe, O_CLOEXEC) == 0);
  REQUIRE(::pipe2(err_pipe, O_CLOEXEC) == 0);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);

  std::vector<char*> cargv;
  cargv.reserve(argv.size() + 1);
  for (const auto& a : argv) {
    cargv.push_back(const_cast<char*>(a.c_str()));
  }
  cargv.push_back(nullptr);

  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, cargv[0], &actions, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (rc != 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    FAIL("cannot start " << r.command << ": " << std::strerror(rc));
  }

  // Read both pipes until EOF, so a chatty child never blocks on a full pipe.
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open_fds = 2;
  char buf[8192];
  while (open_fds > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
        continue;
      }
      const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) {
    r.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    r.exit_code = 128 + WTERMSIG(status);
  }
  return r;
}

// Runs the rollgate binary under test.
inline ProcResult run_rollgate(std::vector<std::string> args) {
  args.insert(args.begin(), ROLLGATE_BIN);
  return run_process(args);
}

// What a failed CHECK should show about a run.
inline std::string describe(const ProcResult& r) {
  return "$ " + r.command + "\n[exit " + std::to_string(r.exit_code) + "]\n--- stdout ---\n" +
         r.out + "--- stderr ---\n" + r.err;
}

// One JSON object per non-empty line; a line that is not JSON fails the test.
inline std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) {
      end = text.size();
    }
    const std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string::npos) {
      continue;
    }
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      FAIL("not a JSON line: " << line);
    }
    out.push_back(std::move(j));
  }
  return out;
}

// The events of the given type, in order.
inline std::vector<nlohmann::json> events_of(const std::vector<nlohmann::json>& events,
                                             const std::string& type) {
  std::vector<nlohmann::json> out;
  for (const auto& e : events) {
    if (e.value("type", "") == type) {
      out.push_back(e);
    }
  }
  return out;
}

// A manifest in a temp file, deleted on destruction.
class TempManifest {
 public:
  explicit TempManifest(const std::string& text, const std::string& suffix = ".yaml") {
    std::string templ = "/tmp/rollgate-itest-XXXXXX" + suffix;
    std::vector<char> name(templ.begin(), templ.end());
    name.push_back('\0');
    const int fd = ::mkstemps(name.data(), static_cast<int>(suffix.size()));
    REQUIRE(fd >= 0);
    ::close(fd);
    path_ = name.data();
    std::ofstream out(path_, std::ios::trunc);
    out << text;
    REQUIRE(out.good());
  }
  ~TempManifest() { ::unlink(path_.c_str()); }
  TempManifest(const TempManifest&) = delete;
  TempManifest& operator=(const TempManifest&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct HttpReply {
  bool ok = false;  // a reply arrived (any status)
  int status = 0;
  std::string body;
  std::string error;  // curl's message when !ok
};

// GET (or `method`) `url` with curl; a short deadline so a dead port fails fast.
inline HttpReply http_request(const std::string& method, const std::string& url,
                              const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv = {"curl", "-sS", "-m", "10", "-X",
                                   method, "-o",  "-",  "-w", "\n%{http_code}"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back(url);
  auto r = run_process(argv);
  HttpReply reply;
  if (r.exit_code != 0) {
    reply.error = "curl " + url + ": exit " + std::to_string(r.exit_code) + ": " + r.err;
    return reply;
  }
  const size_t nl = r.out.rfind('\n');
  reply.ok = true;
  reply.status = std::atoi(r.out.c_str() + nl + 1);
  reply.body = r.out.substr(0, nl);
  return reply;
}

inline HttpReply http_get(const std::string& url) { return http_request("GET", url); }

// ---- Processes in the background -------------------------------------------------------------

// The whole content of a file ("" when it cannot be read).
inline std::string read_text_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A program running in the background, its stdout and stderr going to temp files (so the test
// can read what it printed so far while it runs). Destruction SIGKILLs it if it still runs (a
// failed REQUIRE must not leave a rollout going) and removes the files.
class Background {
 public:
  // Starts argv[0] (looked up on PATH); stdin is /dev/null. With `own_process_group` the child
  // leads a new process group (setpgid(0, 0)), so the group can be signalled as a whole.
  Background(const std::vector<std::string>& argv, bool own_process_group = false)
      : command_(join_args(argv)) {
    out_path_ = temp_file("out");
    err_path_ = temp_file("err");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_path_.c_str(), O_WRONLY | O_TRUNC, 0);
    posix_spawn_file_actions_addopen(&actions, 2, err_path_.c_str(), O_WRONLY | O_TRUNC, 0);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    if (own_process_group) {
      posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
      posix_spawnattr_setpgroup(&attr, 0);
    }
    std::vector<char*> cargv;
    for (const auto& a : argv) {
      cargv.push_back(const_cast<char*>(a.c_str()));
    }
    cargv.push_back(nullptr);
    const int rc = ::posix_spawnp(&pid_, cargv[0], &actions, &attr, cargv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
      pid_ = -1;
      FAIL("cannot start " << command_ << ": " << std::strerror(rc));
    }
  }
  ~Background() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
    ::unlink(out_path_.c_str());
    ::unlink(err_path_.c_str());
  }
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& command() const { return command_; }
  // What it printed so far.
  std::string out() const { return read_text_file(out_path_); }
  std::string err() const { return read_text_file(err_path_); }

  // True once it has exited (reaped); never blocks.
  bool done() {
    if (exited_) {
      return true;
    }
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      record(status);
    }
    return exited_;
  }

  // Waits up to `limit` for it to exit and returns what it printed and its exit code. On
  // timeout it is SIGKILLed and the test fails, showing its output so far.
  ProcResult wait(std::chrono::milliseconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= until) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        record(status);
        FAIL("still running after " << limit.count() << " ms, killed: " << command_
                                    << "\n--- stdout ---\n"
                                    << out() << "--- stderr ---\n"
                                    << err());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ProcResult r;
    r.command = command_;
    r.exit_code = exit_code_;
    r.out = out();
    r.err = err();
    return r;
  }

 private:
  static std::string temp_file(const std::string& what) {
    std::string templ = "/tmp/rollgate-itest-bg-" + what + "-XXXXXX";
    std::vector<char> name(templ.begin(), templ.end());
    name.push_back('\0');
    const int fd = ::mkstemp(name.data());
    REQUIRE(fd >= 0);
    ::close(fd);
    return name.data();
  }
  void record(int status) {
    exited_ = true;
    if (WIFEXITED(status)) {
      exit_code_ = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
      exit_code_ = 128 + WTERMSIG(status);
    }
  }

  std::string command_;
  std::string out_path_;
  std::string err_path_;
  pid_t pid_ = -1;
  bool exited_ = false;
  int exit_code_ = -1;
};

// Polls `pred` every 50 ms until it is true (returns true) or `limit` passes (returns false).
inline bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (pred()) {
      return true;
    }
    if (std::chrono::steady_clock::now() >= until) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// One JSON object per complete line of `text`; a last line without its newline (still being
// written) and lines that are not JSON are skipped. For reading a running program's output.
inline std::vector<nlohmann::json> json_lines_so_far(const std::string& text) {
  std::vector<nlohmann::json> out;
  size_t pos = 0;
  for (size_t end; (end = text.find('\n', pos)) != std::string::npos; pos = end + 1) {
    auto j = nlohmann::json::parse(text.substr(pos, end - pos), nullptr, false);
    if (!j.is_discarded() && j.is_object()) {
      out.push_back(std::move(j));
    }
  }
  return out;
}

// ---- A process whose stdout is read line by line -------------------------------------------

// A program running in the background with its stdout on a pipe the test reads line by line as
// it is written (stderr goes to a temp file), so the test can act (signal it, inject a fault)
// right after a given line. Destruction SIGKILLs it if it still runs and reaps it.
class PipedProcess {
 public:
  explicit PipedProcess(const std::vector<std::string>& argv) : command_(join_args(argv)) {
    std::string templ = "/tmp/rollgate-itest-pp-err-XXXXXX";
    std::vector<char> name(templ.begin(), templ.end());
    name.push_back('\0');
    const int efd = ::mkstemp(name.data());
    REQUIRE(efd >= 0);
    ::close(efd);
    err_path_ = name.data();
    int out_pipe[2];
    REQUIRE(::pipe2(out_pipe, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
    posix_spawn_file_actions_addopen(&actions, 2, err_path_.c_str(), O_WRONLY | O_TRUNC, 0);
    std::vector<char*> cargv;
    for (const auto& a : argv) {
      cargv.push_back(const_cast<char*>(a.c_str()));
    }
    cargv.push_back(nullptr);
    const int rc = ::posix_spawnp(&pid_, cargv[0], &actions, nullptr, cargv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out_pipe[1]);
    fd_ = out_pipe[0];
    if (rc != 0) {
      pid_ = -1;
      FAIL("cannot start " << command_ << ": " << std::strerror(rc));
    }
  }
  ~PipedProcess() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
    if (fd_ >= 0) {
      ::close(fd_);
    }
    ::unlink(err_path_.c_str());
  }
  PipedProcess(const PipedProcess&) = delete;
  PipedProcess& operator=(const PipedProcess&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& command() const { return command_; }
  // Every stdout line read so far (each with its '\n'), and what stderr holds now.
  const std::string& out() const { return out_; }
  std::string err() const { return read_text_file(err_path_); }
  bool eof() const { return eof_; }

  // The next complete stdout line (without '\n'); nullopt at end of output or when `limit`
  // passes first (eof() tells which).
  std::optional<std::string> next_line(std::chrono::milliseconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    for (;;) {
      const size_t nl = pending_.find('\n');
      if (nl != std::string::npos) {
        std::string line = pending_.substr(0, nl);
        pending_.erase(0, nl + 1);
        out_ += line + "\n";
        return line;
      }
      if (eof_) {
        return std::nullopt;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        return std::nullopt;
      }
      pollfd p = {fd_, POLLIN, 0};
      const int n = ::poll(&p, 1, static_cast<int>(left.count()));
      if (n < 0 && errno != EINTR) {
        FAIL("poll on the stdout of " << command_ << ": " << std::strerror(errno));
      }
      if (n <= 0) {
        continue;
      }
      char buf[8192];
      const ssize_t got = ::read(fd_, buf, sizeof buf);
      if (got > 0) {
        pending_.append(buf, static_cast<size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        eof_ = true;
        if (!pending_.empty()) {  // a last line without its newline
          pending_ += '\n';
        }
      }
    }
  }

  // The next stdout line that is a JSON object; nullopt as next_line(). Non-JSON lines are kept
  // in out() and skipped.
  std::optional<nlohmann::json> next_event(std::chrono::milliseconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      auto line = next_line(std::max(left, std::chrono::milliseconds(0)));
      if (!line) {
        return std::nullopt;
      }
      auto j = nlohmann::json::parse(*line, nullptr, false);
      if (!j.is_discarded() && j.is_object()) {
        return j;
      }
    }
  }

  void signal(int sig) {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, sig);
    }
  }

  // Reads the rest of stdout and reaps the process, waiting up to `limit`; on timeout it is
  // SIGKILLed and the test fails, showing its output so far.
  ProcResult wait(std::chrono::milliseconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!eof_) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        ::kill(pid_, SIGKILL);
        reap();
        FAIL("still running after " << limit.count() << " ms, killed: " << command_
                                    << "\n--- stdout ---\n"
                                    << out_ << "--- stderr ---\n"
                                    << err());
      }
      next_line(left);
    }
    while (next_line(std::chrono::milliseconds(0))) {
    }
    reap();
    ProcResult r;
    r.command = command_;
    r.exit_code = exit_code_;
    r.out = out_;
    r.err = err();
    return r;
  }

 private:
  void reap() {
    if (exited_ || pid_ <= 0) {
      return;
    }
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    exited_ = true;
    if (WIFEXITED(status)) {
      exit_code_ = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
      exit_code_ = 128 + WTERMSIG(status);
    }
  }

  std::string command_;
  std::string err_path_;
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string pending_;
  std::string out_;
  bool eof_ = false;
  bool exited_ = false;
  int exit_code_ = -1;
};

// Starts argv[0] (looked up on PATH) as a daemon that outlives the test: a new session, stdin
// /dev/null, stdout and stderr appended to `log_path`. Returns its pid (the program itself:
// posix_spawn does not fork twice). Used to restart testbed processes (dockerd, the registry)
// exactly as they ran. The test never waits for it; it is reaped by init once the test exits.
inline pid_t spawn_daemon(const std::vector<std::string>& argv, const std::string& log_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(), O_WRONLY | O_APPEND | O_CREAT,
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  std::vector<char*> cargv;
  for (const auto& a : argv) {
    cargv.push_back(const_cast<char*>(a.c_str()));
  }
  cargv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, cargv[0], &actions, &attr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    FAIL("cannot start " << join_args(argv) << ": " << std::strerror(rc));
  }
  return pid;
}

// The command line of a live process (argv), empty when it is gone.
inline std::vector<std::string> process_cmdline(pid_t pid) {
  const std::string raw = read_text_file("/proc/" + std::to_string(pid) + "/cmdline");
  std::vector<std::string> argv;
  size_t pos = 0;
  while (pos < raw.size()) {
    const size_t end = raw.find('\0', pos);
    argv.push_back(raw.substr(pos, end == std::string::npos ? std::string::npos : end - pos));
    if (end == std::string::npos) {
      break;
    }
    pos = end + 1;
  }
  return argv;
}

// True while `pid` exists and is not a zombie (a process reparented to an init that does not
// reap may linger as one).
inline bool process_alive(pid_t pid) {
  const std::string stat = read_text_file("/proc/" + std::to_string(pid) + "/stat");
  const size_t paren = stat.rfind(')');
  if (stat.empty() || paren == std::string::npos || paren + 2 >= stat.size()) {
    return false;
  }
  const char state = stat[paren + 2];
  return state != 'Z' && state != 'X';
}

// ---- Watching the fleet serve ----------------------------------------------------------------

// Polls `GET url` for every host every `period` (all hosts at once, curl with a 1 s limit) in a
// background thread, from construction until stop(), and records each round's failing hosts
// (no HTTP 200). For "no host outside the one in flight was ever without a running app".
class ServePoller {
 public:
  struct Round {
    std::chrono::steady_clock::time_point at;
    std::vector<std::string> failing;  // host names
  };

  // `urls`: host name -> URL to GET.
  explicit ServePoller(std::vector<std::pair<std::string, std::string>> urls,
                       std::chrono::milliseconds period = std::chrono::milliseconds(100))
      : urls_(std::move(urls)), period_(period), thread_([this] { run(); }) {}
  ~ServePoller() { stop(); }
  ServePoller(const ServePoller&) = delete;
  ServePoller& operator=(const ServePoller&) = delete;

  // Stops polling and returns every round.
  std::vector<Round> stop() {
    stopping_ = true;
    if (thread_.joinable()) {
      thread_.join();
    }
    return rounds_;
  }

 private:
  void run() {
    while (!stopping_) {
      const auto start = std::chrono::steady_clock::now();
      std::vector<std::future<bool>> replies;
      for (const auto& [host, url] : urls_) {
        replies.push_back(std::async(std::launch::async, [url = url] {
          // No REQUIRE/FAIL off the main thread: spawn failures count as a failing host.
          return probe(url);
        }));
      }
      Round round{start, {}};
      for (size_t i = 0; i < urls_.size(); ++i) {
        if (!replies[i].get()) {
          round.failing.push_back(urls_[i].first);
        }
      }
      rounds_.push_back(std::move(round));
      const auto next = start + period_;
      while (!stopping_ && std::chrono::steady_clock::now() < next) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
  }

  // curl -m 1: true on HTTP 200. Thread-safe (no Catch macros).
  static bool probe(const std::string& url) {
    std::vector<std::string> argv = {"curl",      "-s", "-m",           "1", "-o",
                                     "/dev/null", "-w", "%{http_code}", url};
    int out_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
      return false;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    std::vector<char*> cargv;
    for (const auto& a : argv) {
      cargv.push_back(const_cast<char*>(a.c_str()));
    }
    cargv.push_back(nullptr);
    pid_t pid = -1;
    const int rc = ::posix_spawnp(&pid, cargv[0], &actions, nullptr, cargv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out_pipe[1]);
    std::string out;
    if (rc == 0) {
      char buf[64];
      for (ssize_t n; (n = ::read(out_pipe[0], buf, sizeof buf)) != 0;) {
        if (n < 0) {
          if (errno == EINTR) {
            continue;
          }
          break;
        }
        out.append(buf, static_cast<size_t>(n));
      }
      int status = 0;
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
    }
    ::close(out_pipe[0]);
    return out == "200";
  }

  std::vector<std::pair<std::string, std::string>> urls_;
  std::chrono::milliseconds period_;
  std::atomic<bool> stopping_{false};
  std::vector<Round> rounds_;
  std::thread thread_;  // last: starts after every other member is ready
};

// ---- The testbed fleet, checked independently of rollgate ------------------------------------
//
// In a nested namespace so that argument-dependent lookup on rgtest::Testbed never pulls these
// into tests that define helpers of the same names.
namespace fleet {

// Runs scripts/testbed with `args` (the RG_TESTBED_* environment of the test applies).
inline ProcResult testbed_cmd(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {std::string(ROLLGATE_SOURCE_DIR) + "/scripts/testbed"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv);
}

// The testbed's state directory ($RG_TESTBED_DIR, default /var/lib/rollgate-testbed).
inline std::string testbed_dir() {
  const char* dir = std::getenv("RG_TESTBED_DIR");
  return dir != nullptr && *dir != '\0' ? dir : "/var/lib/rollgate-testbed";
}

// GET `path` (e.g. "/containers/json?all=1") from the host's engine through its unix socket,
// which works even while the host's link is down. nullopt when the engine does not answer 200
// with JSON; `error` says why.
inline std::optional<nlohmann::json> engine_json(const Testbed& tb, const std::string& host,
                                                 const std::string& path,
                                                 std::string* error = nullptr) {
  const std::string sock = tb.get("RG_TESTBED_SOCK_" + host);
  auto reply = http_request("GET", "http://engine/v1.41" + path, {"--unix-socket", sock});
  if (!reply.ok || reply.status != 200) {
    if (error != nullptr) {
      *error = host + " GET " + path + ": " + reply.error + " " + std::to_string(reply.status) +
               " " + reply.body;
    }
    return std::nullopt;
  }
  auto j = nlohmann::json::parse(reply.body, nullptr, false);
  if (j.is_discarded()) {
    if (error != nullptr) {
      *error = host + " GET " + path + ": not JSON: " + reply.body;
    }
    return std::nullopt;
  }
  return j;
}

struct Container {
  std::string id;
  std::string name;
  std::string state;  // running, exited, created, ...
  std::string image;
  nlohmann::json labels;
  bool operator==(const Container& o) const {
    return id == o.id && name == o.name && state == o.state && image == o.image &&
           labels == o.labels;
  }
};

// Every container on the host (all=1), by name; fails the test when the engine does not answer.
inline std::map<std::string, Container> containers(const Testbed& tb, const std::string& host) {
  std::string error;
  auto list = engine_json(tb, host, "/containers/json?all=1", &error);
  INFO(error);
  REQUIRE(list.has_value());
  std::map<std::string, Container> out;
  for (const auto& c : *list) {
    Container k;
    k.id = c.at("Id").get<std::string>();
    k.name = c.at("Names").at(0).get<std::string>().substr(1);
    k.state = c.at("State").get<std::string>();
    k.image = c.at("Image").get<std::string>();
    k.labels = c.value("Labels", nlohmann::json::object());
    out[k.name] = k;
  }
  return out;
}

using Snapshot = std::map<std::string, std::map<std::string, Container>>;

inline Snapshot snapshot(const Testbed& tb) {
  Snapshot s;
  for (const auto& h : tb.hosts()) {
    s[h] = containers(tb, h);
  }
  return s;
}

// "h1: itest(running, r2, abc123456789) itest-r1(exited, r1, ...)\n..." for failure messages.
inline std::string describe(const Snapshot& s) {
  std::string text;
  for (const auto& [host, cs] : s) {
    text += host + ":";
    for (const auto& [name, c] : cs) {
      text += " " + name + "(" + c.state + ", r" + c.labels.value("rollgate.revision", "?") + ", " +
              c.id.substr(0, 12) + ")";
    }
    text += "\n";
  }
  return text;
}

// What the app answers on GET / at the host's published port 8080; "(...)" when nothing does.
inline std::string served(const Testbed& tb, const std::string& host) {
  auto reply = http_get("http://" + tb.addr(host) + ":8080/");
  return reply.ok && reply.status == 200 ? reply.body : "(" + reply.error + ")";
}

// A poller of every host's app port (GET / on 8080).
inline std::vector<std::pair<std::string, std::string>> app_urls(const Testbed& tb) {
  std::vector<std::pair<std::string, std::string>> urls;
  for (const auto& h : tb.hosts()) {
    urls.emplace_back(h, "http://" + tb.addr(h) + ":8080/");
  }
  return urls;
}

// The rounds in which more than `allowed` hosts, not counting `exempt`, failed at once, as
// text ("" when none). A host is in flight alone (batch size 1), so with allowed = 1 this is
// "no host outside the one in flight was ever without a running app".
inline std::string overlapping_outages(const std::vector<ServePoller::Round>& rounds,
                                       size_t allowed, const std::string& exempt = "") {
  std::string text;
  if (rounds.empty()) {
    return "the poller recorded no round";
  }
  const auto t0 = rounds.front().at;
  for (const auto& r : rounds) {
    size_t n = 0;
    std::string names;
    for (const auto& h : r.failing) {
      if (h != exempt) {
        ++n;
        names += " " + h;
      }
    }
    if (n > allowed) {
      text +=
          "+" +
          std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(r.at - t0).count()) +
          " ms: down:" + names + "\n";
    }
  }
  return text;
}

// A per-test rollgate state directory (journal), removed with its content on destruction.
class StateDir : public orch::testing::TempDir {
 public:
  StateDir() : TempDir("rollgate-itest-state-", "/tmp") {}
};

// ---- A standard rollout fixture, shared by the crash and fault tests ----------------------

inline std::string image(const Testbed& tb, const std::string& tag) {
  return tb.image() + ":" + tag;
}

// App `app` of `image_ref` on every testbed host over plain tcp (insecure: true); nothing else.
inline orch::testing::ManifestYaml testbed_manifest(const Testbed& tb, const std::string& app,
                                                    const std::string& image_ref) {
  orch::testing::ManifestYaml y;
  y.app = app;
  y.image = image_ref;
  for (const auto& h : tb.hosts()) {
    y.hosts.push_back({h, tb.engine(h), /*insecure=*/true});
  }
  return y;
}

// Every testbed host over plain tcp (insecure: true), port 8080, batch size 1, and fast health
// settings (interval 250ms, healthy_threshold 2, healthy_deadline 6s, min_healthy_time 500ms).
inline std::string manifest_yaml(const Testbed& tb, const std::string& app,
                                 const std::string& image_ref,
                                 const std::string& on_failure = "rollback") {
  auto y = testbed_manifest(tb, app, image_ref);
  y.ports = "[\"8080:8080\"]";
  y.stop_timeout = "2s";
  y.strategy = {{"batch_size", "1"}};
  y.health = {{"http", "{port: 8080, path: /health}"},
              {"interval", "250ms"},
              {"healthy_threshold", "2"},
              {"healthy_deadline", "6s"},
              {"min_healthy_time", "500ms"}};
  y.on_failure = on_failure;
  return y.text();
}

// An empty fleet: the testbed up (3+ hosts), every container removed.
inline Testbed fresh_fleet() {
  Testbed tb = load_testbed();
  REQUIRE(tb.hosts().size() >= 3);
  auto r = testbed_cmd({"clean-apps"});
  INFO(describe(r));
  REQUIRE(r.exit_code == 0);
  return tb;
}

// `rollgate CMD -f M --state-dir S --output json`.
inline std::vector<std::string> rollgate_args(const std::string& cmd, const TempManifest& m,
                                              const StateDir& state) {
  return {cmd, "-f", m.path(), "--state-dir", state.path(), "--output", "json"};
}

// apply of `tag` into `state`, required to succeed: the setup of every run.
inline void deploy_ok(const Testbed& tb, const TempManifest& m, const StateDir& state,
                      const std::string& tag) {
  auto args = rollgate_args("apply", m, state);
  args.insert(args.end(), {"--image", image(tb, tag)});
  auto r = run_rollgate(args);
  INFO(describe(r));
  REQUIRE(r.exit_code == 0);
}

// The events of a JSON run as text lines, without probe rounds: for failure messages.
inline std::string summary(const std::string& json_out) {
  std::string text;
  for (const auto& e : json_lines_so_far(json_out)) {
    if (e.value("type", "") == "probe") {
      continue;
    }
    text += "  " + e.value("type", "") + " " + e.value("host", "-") + " " + e.value("message", "") +
            "\n";
  }
  return text;
}

}  // namespace fleet

}  // namespace rgtest
