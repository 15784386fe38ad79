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
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

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

}  // namespace rgtest
