// rollout::EngineExec: health::ContainerExec over docker::Engine, so the health module's exec
// probe can run commands in containers without depending on orchestrator/.
//
// Maps Target.host (the manifest's host name) to that host's Engine and turns the engine's
// Result into an ExecOutcome: a finished command is kExited with its exit code; kTimeout is
// kTimedOut; kUnavailable and kCancelled (the engine could not be reached) are kUnreachable;
// every other error (409 container not running, 404 no such container, ...) is kFailed with the
// engine's message. A host without an engine is kFailed (a wiring bug, reported, not thrown).
//
// Ownership: borrows the engines; they must outlive this object and every exec() it starts.
// Thread-safety: none; use from the io_context's single thread.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "healthcheck/probe.h"
#include "orchestrator/docker/engine.h"

namespace orch::rollout {

class EngineExec final : public health::ContainerExec {
 public:
  explicit EngineExec(std::map<std::string, docker::Engine*> engines);

  boost::asio::awaitable<health::ExecOutcome> exec(health::Target target,
                                                   std::vector<std::string> cmd,
                                                   health::Millis timeout) override;

 private:
  std::map<std::string, docker::Engine*> engines_;
};

}  // namespace orch::rollout
