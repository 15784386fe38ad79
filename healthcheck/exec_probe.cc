// The exec probe: runs a command in the container (through ContainerExec) and passes on exit
// code 0, like Docker's own HEALTHCHECK CMD.
#include <chrono>
#include <utility>

#include "healthcheck/format.h"
#include "healthcheck/probe.h"
#include "healthcheck/probe_connect.h"

namespace health {

namespace {

namespace net = boost::asio;

constexpr std::size_t kQuoteLimit = 80;

// The first non-empty line of the output, printable characters only, shortened.
std::string first_line(const std::string& output) {
  std::string out;
  for (char c : output) {
    if (c == '\n' || c == '\r') {
      if (out.empty()) {
        continue;
      }
      break;
    }
    if (out.size() >= kQuoteLimit) {
      out += "...";
      break;
    }
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  return out;
}

class ExecProbe final : public Probe {
 public:
  ExecProbe(ExecProbeConfig config, ContainerExec& exec)
      : config_(std::move(config)), exec_(exec) {}

  net::awaitable<ProbeResult> run(Target target) override {
    const auto start = std::chrono::steady_clock::now();
    ExecOutcome out = co_await exec_.exec(std::move(target), config_.command, config_.timeout);
    ProbeResult r;
    r.probe = "exec";
    r.latency = detail::elapsed_since(start);
    switch (out.kind) {
      case ExecOutcome::Kind::kExited: {
        r.reached = true;
        r.outcome = out.exit_code == 0 ? ProbeResult::Outcome::kPass : ProbeResult::Outcome::kFail;
        r.detail = "exec exited with code " + std::to_string(out.exit_code) + " in " +
                   detail::format_latency(r.latency);
        std::string line = first_line(out.output);
        if (!line.empty()) {
          r.detail += ": " + line;
        }
        break;
      }
      case ExecOutcome::Kind::kTimedOut:
        r.outcome = ProbeResult::Outcome::kFail;
        r.detail = "exec timed out after " + format_millis(config_.timeout);
        break;
      case ExecOutcome::Kind::kFailed:
        r.outcome = ProbeResult::Outcome::kFail;
        r.detail = "exec failed: " + out.error;
        break;
      case ExecOutcome::Kind::kUnreachable:
        r.outcome = ProbeResult::Outcome::kUnobservable;
        r.detail = "exec: engine unreachable: " + out.error;
        break;
    }
    co_return r;
  }

 private:
  ExecProbeConfig config_;
  ContainerExec& exec_;
};

}  // namespace

std::unique_ptr<Probe> make_exec_probe(ExecProbeConfig config, ContainerExec& exec) {
  return std::make_unique<ExecProbe>(std::move(config), exec);
}

}  // namespace health
