// docker::Engine: the seam between rollgate and one Docker engine.
//
// HttpEngine (http_engine.h) speaks the Engine HTTP API over a unix socket or TCP;
// FakeEngine (tests/fakes/fake_engine.h) keeps an in-memory container table for unit tests.
// Every call is a coroutine on the caller's io_context, so the controller drives many hosts
// at once from one thread. Every call has a deadline inside the implementation and returns
// a Status/Result carrying the engine's HTTP status and message on failure.
//
// Engine semantics the controller relies on (they mirror Docker's):
//  - start on a running container and stop on a stopped one succeed (304 is success);
//  - create never pulls, and fails with kNotFound when the image is absent;
//  - `id` arguments accept a full id, a unique prefix or a container name.
//
// Arguments are taken by value: a coroutine must not hold references to its caller's locals.
// Thread-safety: none; use from the io_context's single thread.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "orchestrator/core/clock.h"
#include "orchestrator/core/status.h"
#include "orchestrator/docker/types.h"

namespace orch::docker {

class Engine {
 public:
  virtual ~Engine() = default;

  // A label for messages: the manifest's host name.
  virtual const std::string& host_name() const = 0;

  // GET /_ping. Also negotiates the API version used by later calls (rollgate requires 1.41+).
  virtual Task<Result<PingInfo>> ping() = 0;
  virtual Task<Result<VersionInfo>> version() = 0;

  // GET /distribution/{ref}/json: resolves a tag to a digest at the registry, without pulling.
  virtual Task<Result<DistributionInfo>> distribution(std::string ref) = 0;

  // POST /images/create. `ref` is "repo@sha256:..." or "repo:tag". The pull stream is read to
  // its end; an error object inside an HTTP 200 stream is a failed pull (kEngine).
  virtual Task<Status> pull(std::string ref) = 0;

  virtual Task<Result<ImageInfo>> inspect_image(std::string ref) = 0;

  // GET /containers/json?all=1&filters={"label":[...]}; each label "k=v" or "k" must match.
  virtual Task<Result<std::vector<ContainerSummary>>> list_containers(
      std::vector<std::string> label_filters) = 0;

  // Returns the new container's id.
  virtual Task<Result<std::string>> create_container(ContainerSpec spec) = 0;
  virtual Task<Status> start_container(std::string id) = 0;
  // `timeout_s`: seconds before SIGKILL; nullopt uses the container's own StopTimeout.
  virtual Task<Status> stop_container(std::string id, std::optional<int> timeout_s) = 0;
  virtual Task<Status> rename_container(std::string id, std::string new_name) = 0;
  virtual Task<Status> remove_container(std::string id, bool force) = 0;
  virtual Task<Result<ContainerInfo>> inspect_container(std::string id) = 0;

  // Runs `cmd` in the running container `container` and waits for it to exit:
  // POST /containers/{id}/exec, POST /exec/{id}/start (attached; output read to its end),
  // GET /exec/{id}/json for the exit code. A non-zero exit code is a value, not an error.
  // Errors: kConflict (409) when the container is not running, kNotFound when it does not exist,
  // kTimeout when the command has not finished within `timeout` (the process may still run in
  // the container: the API cannot kill an exec), kUnavailable when the engine is unreachable.
  virtual Task<Result<ExecResult>> exec(std::string container, std::vector<std::string> cmd,
                                        std::chrono::milliseconds timeout) = 0;
};

}  // namespace orch::docker
