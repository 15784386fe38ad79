// FakeEngine: a docker::Engine with an in-memory container table (STYLE.md #11).
//
// Engines of one test share a FakeWorld: the registry (tag -> digest), which digests are
// broken (crash at start, or serve failing health), a global call counter that can fail the
// Nth call, and a hook run after every call so tests can check fleet-wide invariants at every
// step. The rules mirror Docker's: create never pulls, names are unique, start/stop are
// idempotent, a running container is removed only with force, host ports cannot be shared.
#pragma once

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "healthcheck/probe.h"
#include "orchestrator/docker/engine.h"

namespace orch::testing {

// Thrown by every FakeEngine call once the world's kill_at call is reached.
struct Killed {};

struct FakeWorld {
  std::map<std::string, std::string> registry;      // "repo:tag" -> "sha256:..."
  std::set<std::string> crash_digests;              // containers exit 1 right after start
  std::set<std::string> unhealthy_digests;          // containers run but fail their probe
  std::set<std::string> exec_fail_digests;          // exec in these containers exits 1
  std::set<std::string> slow_digests;               // run, but never answer their probe
  std::map<std::string, std::string> unhealthy_on;  // host -> digest whose probe fails there
  // Containers of these digests exit with code 1 this long after they start (needs `clock`).
  std::map<std::string, std::chrono::milliseconds> exit_after;
  const Clock* clock = nullptr;
  // kill -9 at call N (1-based): that call and every later one throw Killed, so the engines
  // keep exactly the state the process left behind.
  int kill_at = 0;
  bool killed = false;
  int calls = 0;                     // every Engine call so far, all hosts
  int fail_at = 0;                   // 1-based call number to fail; 0: never
  std::vector<std::string> log;      // "h1 create web", ...
  std::function<void()> after_call;  // invariant checks
};

class FakeEngine final : public docker::Engine {
 public:
  struct Container {
    std::string id;
    std::string name;
    std::string image;   // the reference it was created from (repo@digest)
    std::string digest;  // the digest part of image
    docker::Labels labels;
    std::vector<docker::PortBinding> ports;
    std::string status = "created";
    int exit_code = 0;
    TimePoint started_at{};
  };

  FakeEngine(FakeWorld& world, std::string host) : world_(world), host_(std::move(host)) {}

  bool down = false;                            // every call fails with kUnavailable
  std::map<std::string, Container> containers;  // by id
  std::set<std::string> images;                 // pulled "repo@digest" refs

  const std::string& host_name() const override { return host_; }

  // Test setup: a container already running `pinned` (repo@digest), as a previous rollout
  // would have left it. Not counted as a call.
  std::string seed(const std::string& name, const std::string& pinned, int revision,
                   const std::string& app, std::string status = "running",
                   std::vector<docker::PortBinding> ports = {}) {
    images.insert(pinned);
    Container c;
    c.id = next_id();
    c.name = name;
    c.image = pinned;
    c.digest = digest_of(pinned);
    c.labels = {{"rollgate.app", app},
                {"rollgate.revision", std::to_string(revision)},
                {"rollgate.digest", c.digest},
                {"rollgate.rollout", "seed"}};
    c.ports = std::move(ports);
    c.status = std::move(status);
    containers[c.id] = c;
    return c.id;
  }

  const Container* find(const std::string& id_or_name) const {
    for (const auto& [id, c] : containers) {
      if (id == id_or_name || c.name == id_or_name) {
        return &c;
      }
    }
    return nullptr;
  }

  Task<Result<docker::PingInfo>> ping() override {
    if (auto st = enter("ping"); !st) {
      co_return st;
    }
    co_return docker::PingInfo{"1.41", "linux"};
  }

  Task<Result<docker::VersionInfo>> version() override {
    if (auto st = enter("version"); !st) {
      co_return st;
    }
    co_return docker::VersionInfo{"20.10.24", "1.41", "1.12", "linux", "amd64", "6.1"};
  }

  Task<Result<docker::DistributionInfo>> distribution(std::string ref) override {
    if (auto st = enter("distribution " + ref); !st) {
      co_return st;
    }
    auto it = world_.registry.find(ref);
    if (it == world_.registry.end()) {
      co_return Status(Code::kNotFound, "manifest unknown: " + ref, 404);
    }
    co_return docker::DistributionInfo{it->second, "application/vnd.docker.distribution", 500};
  }

  Task<Status> pull(std::string ref) override {
    if (auto st = enter("pull " + ref); !st) {
      co_return st;
    }
    const std::string digest = digest_of(ref);
    for (const auto& [tag, d] : world_.registry) {
      if (d == digest) {
        images.insert(ref);
        co_return Status::ok();
      }
    }
    co_return Status(Code::kEngine, "manifest for " + ref + " not found");
  }

  Task<Result<docker::ImageInfo>> inspect_image(std::string ref) override {
    if (auto st = enter("inspect_image " + ref); !st) {
      co_return st;
    }
    for (const auto& img : images) {
      if (img == ref || image_id(img) == ref) {
        co_return docker::ImageInfo{image_id(img), {}, {img}};
      }
    }
    co_return Status(Code::kNotFound, "No such image: " + ref, 404);
  }

  Task<Result<std::vector<docker::ContainerSummary>>> list_containers(
      std::vector<std::string> filters) override {
    if (auto st = enter("list"); !st) {
      co_return st;
    }
    std::vector<docker::ContainerSummary> out;
    for (const auto& [id, c] : containers) {
      bool match = std::all_of(filters.begin(), filters.end(), [&](const std::string& f) {
        auto eq = f.find('=');
        auto it = c.labels.find(f.substr(0, eq));
        return it != c.labels.end() && (eq == std::string::npos || it->second == f.substr(eq + 1));
      });
      if (match) {
        out.push_back(docker::ContainerSummary{c.id, c.name, c.image, image_id(c.image), c.labels,
                                               c.status, c.status});
      }
    }
    co_return out;
  }

  Task<Result<std::string>> create_container(docker::ContainerSpec spec) override {
    if (auto st = enter("create " + spec.name); !st) {
      co_return st;
    }
    if (find(spec.name)) {
      co_return Status(Code::kConflict,
                       "Conflict. The container name \"/" + spec.name + "\" is already in use",
                       409);
    }
    if (!images.count(spec.image)) {
      co_return Status(Code::kNotFound, "No such image: " + spec.image, 404);
    }
    Container c;
    c.id = next_id();
    c.name = spec.name;
    c.image = spec.image;
    c.digest = digest_of(spec.image);
    c.labels = spec.labels;
    c.ports = spec.ports;
    containers[c.id] = c;
    co_return c.id;
  }

  Task<Status> start_container(std::string id) override {
    if (auto st = enter("start " + id); !st) {
      co_return st;
    }
    auto* c = mutable_find(id);
    if (!c) {
      co_return Status(Code::kNotFound, "No such container: " + id, 404);
    }
    if (c->status == "running") {
      co_return Status::ok();  // 304
    }
    for (const auto& [oid, other] : containers) {
      if (oid == c->id || other.status != "running") {
        continue;
      }
      for (const auto& p : c->ports) {
        for (const auto& q : other.ports) {
          if (p.host_port == q.host_port) {
            co_return Status(Code::kEngine, "port is already allocated", 500);
          }
        }
      }
    }
    if (world_.crash_digests.count(c->digest)) {
      c->status = "exited";
      c->exit_code = 1;
    } else {
      c->status = "running";
      c->started_at = world_.clock ? world_.clock->now() : TimePoint{};
    }
    co_return Status::ok();
  }

  Task<Status> stop_container(std::string id, std::optional<int>) override {
    if (auto st = enter("stop " + id); !st) {
      co_return st;
    }
    auto* c = mutable_find(id);
    if (!c) {
      co_return Status(Code::kNotFound, "No such container: " + id, 404);
    }
    if (c->status == "running") {
      c->status = "exited";
      c->exit_code = 0;
    }
    co_return Status::ok();
  }

  Task<Status> rename_container(std::string id, std::string new_name) override {
    if (auto st = enter("rename " + id + " " + new_name); !st) {
      co_return st;
    }
    auto* c = mutable_find(id);
    if (!c) {
      co_return Status(Code::kNotFound, "No such container: " + id, 404);
    }
    if (c->name == new_name) {
      co_return Status(Code::kEngine, "Renaming a container with the same name", 400);
    }
    if (find(new_name)) {
      co_return Status(Code::kConflict, "name " + new_name + " is in use", 409);
    }
    c->name = new_name;
    co_return Status::ok();
  }

  Task<Status> remove_container(std::string id, bool force) override {
    if (auto st = enter("remove " + id); !st) {
      co_return st;
    }
    auto* c = mutable_find(id);
    if (!c) {
      co_return Status(Code::kNotFound, "No such container: " + id, 404);
    }
    if (c->status == "running" && !force) {
      co_return Status(Code::kConflict, "container is running", 409);
    }
    containers.erase(c->id);
    co_return Status::ok();
  }

  Task<Result<docker::ContainerInfo>> inspect_container(std::string id) override {
    if (auto st = enter("inspect " + id); !st) {
      co_return st;
    }
    const auto* c = find(id);
    if (!c) {
      co_return Status(Code::kNotFound, "No such container: " + id, 404);
    }
    docker::ContainerInfo info;
    info.id = c->id;
    info.name = c->name;
    info.image = c->image;
    info.image_id = image_id(c->image);
    info.labels = c->labels;
    info.state.status = c->status;
    info.state.running = c->status == "running";
    info.state.exit_code = c->exit_code;
    co_return info;
  }

  // Exit 0 in a running container, 1 when its digest is in exec_fail_digests; a container that
  // is not running refuses like Docker (409). The output echoes the command.
  Task<Result<docker::ExecResult>> exec(std::string container, std::vector<std::string> cmd,
                                        std::chrono::milliseconds) override {
    if (auto st = enter("exec " + container); !st) {
      co_return st;
    }
    const auto* c = find(container);
    if (!c) {
      co_return Status(Code::kNotFound, "No such container: " + container, 404);
    }
    if (c->status != "running") {
      co_return Status(Code::kConflict, "Container " + c->id + " is not running", 409);
    }
    std::string output;
    for (const auto& arg : cmd) {
      output += (output.empty() ? "" : " ") + arg;
    }
    const bool fails = world_.exec_fail_digests.count(c->digest) > 0;
    co_return docker::ExecResult{fails ? 1 : 0, fails ? "failed: " + output : output};
  }

  // Applies what time did: containers of exit_after digests that ran long enough have exited.
  void settle() {
    if (!world_.clock) {
      return;
    }
    for (auto& [id, c] : containers) {
      auto it = world_.exit_after.find(c.digest);
      if (c.status == "running" && it != world_.exit_after.end() &&
          world_.clock->now() - c.started_at >= it->second) {
        c.status = "exited";
        c.exit_code = 1;
      }
    }
  }

  static std::string digest_of(const std::string& ref) {
    auto at = ref.find('@');
    return at == std::string::npos ? "" : ref.substr(at + 1);
  }
  static std::string image_id(const std::string& ref) { return "sha256:cfg-" + digest_of(ref); }

 private:
  // Counts the call, fails it when it is the Nth, and runs the invariant hook afterwards
  // (the hook sees the state before this call's effect; the next call's hook sees after).
  Status enter(const std::string& what) {
    settle();
    ++world_.calls;
    if (world_.killed || world_.calls == world_.kill_at) {
      world_.killed = true;
      throw Killed{};
    }
    world_.log.push_back(host_ + " " + what);
    if (world_.after_call) {
      world_.after_call();
    }
    if (down) {
      return Status(Code::kUnavailable, host_ + ": connection refused");
    }
    if (world_.fail_at == world_.calls) {
      return Status(
          Code::kEngine,
          host_ + ": injected failure of call " + std::to_string(world_.calls) + " (" + what + ")",
          500);
    }
    return Status::ok();
  }

  Container* mutable_find(const std::string& id_or_name) {
    return const_cast<Container*>(find(id_or_name));
  }

  std::string next_id() { return host_ + "-c" + std::to_string(++ids_); }

  FakeWorld& world_;
  std::string host_;
  int ids_ = 0;
};

// A probe that asks the fake fleet what the app would answer: pass when the container runs a
// healthy digest, fail when it is stopped or runs an unhealthy one, unobservable when the host
// is down.
class FakeAppProbe final : public health::Probe {
 public:
  FakeAppProbe(FakeWorld& world, std::map<std::string, FakeEngine*> engines)
      : world_(world), engines_(std::move(engines)) {}

  boost::asio::awaitable<health::ProbeResult> run(health::Target t) override {
    using Outcome = health::ProbeResult::Outcome;
    auto* e = engines_.at(t.host);
    e->settle();
    if (e->down) {
      co_return health::ProbeResult{"http", Outcome::kUnobservable, "no route to host", {}};
    }
    // The app answers on the host port, whichever container holds it.
    for (const auto& [id, c] : e->containers) {
      if (c.status == "running") {
        auto on = world_.unhealthy_on.find(t.host);
        if (world_.unhealthy_digests.count(c.digest) ||
            (on != world_.unhealthy_on.end() && on->second == c.digest)) {
          co_return health::ProbeResult{
              "http", Outcome::kFail, "HTTP 500 (expected 200)", {}, true};
        }
        if (world_.slow_digests.count(c.digest)) {
          co_return health::ProbeResult{"http", Outcome::kFail, "connection refused", {}};
        }
        co_return health::ProbeResult{"http", Outcome::kPass, "HTTP 200", {}, true};
      }
    }
    co_return health::ProbeResult{"http", Outcome::kFail, "connection refused", {}};
  }

 private:
  FakeWorld& world_;
  std::map<std::string, FakeEngine*> engines_;
};

}  // namespace orch::testing
