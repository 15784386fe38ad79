// The engine of rollgate-load: N keep-alive HTTP/1.1 GET loops against one URL, on one thread,
// counting every request's outcome in a Tally (tally.h) until a duration passes or a signal
// arrives. Integration tests run it beside a rollout to prove that no request failed.
//
// Each loop sends a GET, reads the whole response with Beast's parser, records it, and sends
// the next at once on the same connection. It reconnects when the server closed the connection
// (Connection: close, EOF) and after every failed request (connect error, reset, timeout, EOF
// before a complete response, unexpected status). There are no retries: every failed attempt
// is one failed request, so the numbers are what a client without retries would see.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "orchestrator/core/clock.h"
#include "orchestrator/core/status.h"
#include "tools/loadgen/tally.h"

namespace loadgen {

struct Url {
  std::string host;  // a name or an IP literal (IPv6 without its brackets)
  uint16_t port = 80;
  std::string target = "/";  // path and query, as sent in the request line
};

// Parses "http://HOST[:PORT][/PATH[?QUERY]]"; HOST may be "[v6 literal]". Errors
// (kInvalidArgument) say what is wrong, e.g. "only http:// is supported".
orch::Result<Url> parse_url(std::string_view text);

struct Config {
  std::string url;  // as the user wrote it, for the report
  Url target;
  int connections = 4;
  // nullopt: run until SIGINT or SIGTERM.
  std::optional<std::chrono::milliseconds> duration;
  // One deadline for each request, connecting included.
  std::chrono::milliseconds timeout{5000};
  std::vector<int> expect_status{200};
};

// What run_load tells its caller while it runs; both are called on the calling thread.
struct Hooks {
  // Once, when every loop has begun its first request.
  std::function<void()> started;
  // Once, when the run starts to end: "duration", "SIGINT" or "SIGTERM".
  std::function<void(const std::string& why)> stopping;
};

// Runs the load and returns its report. REQUIRES: connections >= 1, timeout > 0, duration > 0
// when set; hooks are callable.
//
// While it runs, run_load handles SIGINT and SIGTERM itself: the first signal (or the end of
// the duration) starts no new request and lets the ones in flight finish, each within its
// timeout; a signal while the run is already ending (a second one, or one after the duration)
// abandons those at once (Report::abandoned). Outcomes are timed with
// `clock`. Throws only on bugs and on failures to set up (e.g. no signal handler).
Report run_load(const Config& config, orch::Clock& clock, const Hooks& hooks);

}  // namespace loadgen
