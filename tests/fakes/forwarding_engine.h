// ForwardingEngine: a docker::Engine that passes every call to another one. A test fake that
// changes one or two calls (loses an answer, models a race) derives from it and overrides
// only those.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "orchestrator/docker/engine.h"

namespace orch::testing {

class ForwardingEngine : public docker::Engine {
 public:
  explicit ForwardingEngine(docker::Engine& inner) : next_(inner) {}

  const std::string& host_name() const override { return next_.host_name(); }
  Task<Result<docker::PingInfo>> ping() override { return next_.ping(); }
  Task<Result<docker::VersionInfo>> version() override { return next_.version(); }
  Task<Result<docker::DistributionInfo>> distribution(std::string ref) override {
    return next_.distribution(std::move(ref));
  }
  Task<Status> pull(std::string ref) override { return next_.pull(std::move(ref)); }
  Task<Result<docker::ImageInfo>> inspect_image(std::string ref) override {
    return next_.inspect_image(std::move(ref));
  }
  Task<Result<std::vector<docker::ContainerSummary>>> list_containers(
      std::vector<std::string> filters) override {
    return next_.list_containers(std::move(filters));
  }
  Task<Result<std::string>> create_container(docker::ContainerSpec spec) override {
    return next_.create_container(std::move(spec));
  }
  Task<Status> start_container(std::string id) override {
    return next_.start_container(std::move(id));
  }
  Task<Status> stop_container(std::string id, std::optional<int> timeout_s) override {
    return next_.stop_container(std::move(id), timeout_s);
  }
  Task<Status> rename_container(std::string id, std::string new_name) override {
    return next_.rename_container(std::move(id), std::move(new_name));
  }
  Task<Status> remove_container(std::string id, bool force) override {
    return next_.remove_container(std::move(id), force);
  }
  Task<Result<docker::ContainerInfo>> inspect_container(std::string id) override {
    return next_.inspect_container(std::move(id));
  }
  Task<Result<docker::ExecResult>> exec(std::string container, std::vector<std::string> cmd,
                                        std::chrono::milliseconds timeout) override {
    return next_.exec(std::move(container), std::move(cmd), timeout);
  }

 private:
  docker::Engine& next_;
};

}  // namespace orch::testing
