#include "orchestrator/rollout/engine_exec.h"

#include <utility>

namespace orch::rollout {

EngineExec::EngineExec(std::map<std::string, docker::Engine*> engines)
    : engines_(std::move(engines)) {}

boost::asio::awaitable<health::ExecOutcome> EngineExec::exec(health::Target target,
                                                             std::vector<std::string> cmd,
                                                             health::Millis timeout) {
  health::ExecOutcome out;
  auto it = engines_.find(target.host);
  if (it == engines_.end() || it->second == nullptr) {
    out.kind = health::ExecOutcome::Kind::kFailed;
    out.error = "no engine for host " + target.host;
    co_return out;
  }
  Result<docker::ExecResult> r =
      co_await it->second->exec(target.container_id, std::move(cmd), timeout);
  if (r) {
    out.kind = health::ExecOutcome::Kind::kExited;
    out.exit_code = r->exit_code;
    out.output = std::move(r->output);
    co_return out;
  }
  out.error = r.status().message();
  switch (r.status().code()) {
    case Code::kTimeout:
      out.kind = health::ExecOutcome::Kind::kTimedOut;
      break;
    // Not reaching the engine says nothing about the app: the round is unobservable, and the
    // tracker never fails a container on missing data.
    case Code::kUnavailable:
    case Code::kCancelled:
      out.kind = health::ExecOutcome::Kind::kUnreachable;
      break;
    default:
      out.kind = health::ExecOutcome::Kind::kFailed;
      break;
  }
  co_return out;
}

}  // namespace orch::rollout
