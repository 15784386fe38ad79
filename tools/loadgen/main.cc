// rollgate-load: an HTTP load generator for integration tests that must prove a deploy failed
// no request. Parses the flags, runs the load (load.h), prints one JSON report (tally.h).
//
// Exit codes: 0 it ran (whatever the failures), 1 internal error (including an --output file
// that cannot be written), 2 bad arguments.
// Readiness: once the loops run it writes "rollgate-load: started" to stderr and touches
// --ready-file; stdout holds only the final report.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include "orchestrator/core/atomic_file.h"
#include "orchestrator/core/clock.h"
#include "orchestrator/core/duration.h"
#include "orchestrator/core/status.h"
#include "tools/loadgen/load.h"
#include "tools/loadgen/tally.h"

namespace {

constexpr int kExitInternal = 1;
constexpr int kExitBadInput = 2;

// Creates `path` empty (or updates its time). Returns false with errno set when it cannot.
bool touch(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return false;
  }
  ::close(fd);
  return true;
}

CLI::Validator duration_validator() {
  return CLI::Validator(
      [](std::string& v) {
        const auto d = orch::parse_duration(v);
        if (!d) {
          return "expected a duration like 500ms, 30s or 5m, got \"" + v + "\"";
        }
        return d->count() > 0 ? std::string() : "must be more than 0, got \"" + v + "\"";
      },
      "DURATION");
}

// The directory a file is to be created in must exist: checked before the run, not after it.
CLI::Validator parent_dir_validator() {
  return CLI::Validator(
      [](std::string& v) {
        const std::filesystem::path parent = std::filesystem::path(v).parent_path();
        std::error_code ec;
        if (v.empty() || std::filesystem::is_directory(v, ec)) {
          return "expected a file name, got \"" + v + "\"";
        }
        if (!parent.empty() && !std::filesystem::is_directory(parent, ec)) {
          return "no directory " + parent.string() + " for \"" + v + "\"";
        }
        return std::string();
      },
      "FILE");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "rollgate-load runs N concurrent keep-alive HTTP/1.1 GET loops against one URL and prints "
      "one JSON report: requests, ok, failed (by kind), status counts, each distinct body with "
      "when it was first and last seen, latency percentiles.\n\n"
      "Runs for --duration, or until SIGINT/SIGTERM (requests in flight finish within "
      "--timeout; a second signal abandons them).\n"
      "Exit codes: 0 it ran (failed requests or not), 1 internal error, 2 bad arguments."};
  std::string url_text;
  int connections = 4;
  std::string duration_text;
  std::string timeout_text = "5s";
  std::vector<int> expect_status;
  std::string output;
  std::string ready_file;

  app.add_option("--url", url_text, "http://HOST:PORT/PATH (HOST: an IP literal or a name)")
      ->required()
      ->check(CLI::Validator(
          [](std::string& v) {
            auto url = loadgen::parse_url(v);
            return url ? std::string() : url.status().message() + ", got \"" + v + "\"";
          },
          "URL"));
  app.add_option("--connections", connections, "Concurrent connections, each one loop (default 4)")
      ->check(CLI::Range(1, 10000));
  app.add_option("--duration", duration_text,
                 "How long to run, e.g. 30s (default: until SIGINT or SIGTERM)")
      ->check(duration_validator());
  app.add_option("--timeout", timeout_text,
                 "Deadline of each request, connecting included (default 5s)")
      ->check(duration_validator());
  app.add_option("--expect-status", expect_status,
                 "A status that counts as ok; repeat or separate with commas (default 200)")
      ->delimiter(',')
      ->check(CLI::Range(100, 599));
  app.add_option("--output", output, "Also write the report here (atomically: temp + rename)")
      ->check(parent_dir_validator());
  app.add_option("--ready-file", ready_file,
                 "Create this file once the loops run (removed first if it exists)")
      ->check(parent_dir_validator());

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : kExitBadInput;
  }

  try {
    loadgen::Config config;
    config.url = url_text;
    config.target = *loadgen::parse_url(url_text);
    config.connections = connections;
    if (!duration_text.empty()) {
      config.duration = *orch::parse_duration(duration_text);
    }
    config.timeout = *orch::parse_duration(timeout_text);
    if (!expect_status.empty()) {
      config.expect_status = expect_status;
    }

    // An old ready file must not announce this run before it has started.
    if (!ready_file.empty() && ::unlink(ready_file.c_str()) != 0 && errno != ENOENT) {
      std::fprintf(stderr, "rollgate-load: --ready-file %s: cannot remove the old one: %s\n",
                   ready_file.c_str(), std::strerror(errno));
      return kExitBadInput;
    }

    orch::SystemClock clock;
    loadgen::Hooks hooks;
    hooks.started = [&] {
      std::fprintf(stderr, "rollgate-load: started\n");
      std::fflush(stderr);
      if (!ready_file.empty() && !touch(ready_file)) {
        std::fprintf(stderr, "rollgate-load: warning: --ready-file %s: %s\n", ready_file.c_str(),
                     std::strerror(errno));
      }
    };
    hooks.stopping = [](const std::string& why) {
      if (why != "duration") {
        std::fprintf(stderr,
                     "rollgate-load: %s: letting the requests in flight finish (send it again to "
                     "abandon them)\n",
                     why.c_str());
      }
    };
    const loadgen::Report report = loadgen::run_load(config, clock, hooks);

    const std::string json = loadgen::report_json(report) + "\n";
    std::fputs(json.c_str(), stdout);
    std::fflush(stdout);
    if (!output.empty()) {
      const orch::Status written = orch::write_file_atomically(output, json);
      if (!written) {
        std::fprintf(stderr, "rollgate-load: --output %s: %s\n", output.c_str(),
                     written.message().c_str());
        return kExitInternal;
      }
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rollgate-load: internal error: %s\n", e.what());
    return kExitInternal;
  }
}
