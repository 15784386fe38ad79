// FakeFleet: what a test of the controller runs on. Hosts h1..hN, each a FakeEngine in one
// FakeWorld whose time is a ManualClock, and the manifest of app "web" that lists them, with
// the fast health settings the tests assume (HTTP /health on the published port, every 500ms,
// healthy after 2 passes, within 10s). A test adjusts world and m before it runs the controller,
// which it builds from bindings() and, for the app's own health check, app_probes().
//
// The digests: an image of kRepo is tagged v1, v2, bad, ... in world.registry by each test;
// kV1, kV2 and kBad are the digests those tags usually resolve to.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "orchestrator/manifest/manifest.h"
#include "orchestrator/rollout/controller.h"
#include "tests/fakes/fake_engine.h"
#include "tests/fakes/manual_clock.h"

namespace orch::testing {

inline const std::string kRepo = "reg:5000/demo";
inline const std::string kV1 = "sha256:" + std::string(64, '1');
inline const std::string kV2 = "sha256:" + std::string(64, '2');
inline const std::string kBad = "sha256:" + std::string(64, 'b');

class FakeFleet {
 public:
  // `hosts` engines; the app publishes `container_port` on host port `port`, which the health
  // check probes.
  explicit FakeFleet(int hosts, uint16_t port = 8080, uint16_t container_port = 8080) {
    world.clock = &clock;
    m.app = "web";
    m.container.ports = {{port, container_port, "tcp"}};
    m.health.http = manifest::HttpCheck{port, "/health", {200}};
    m.health.interval = std::chrono::milliseconds(500);
    m.health.healthy_threshold = 2;
    m.health.healthy_deadline = std::chrono::seconds(10);
    for (int i = 1; i <= hosts; ++i) {
      const std::string name = "h" + std::to_string(i);
      engines.push_back(std::make_unique<FakeEngine>(world, name));
      m.hosts.push_back(manifest::Host{name, "tcp://" + name + ":2375", name});
    }
  }
  FakeFleet(const FakeFleet&) = delete;
  FakeFleet& operator=(const FakeFleet&) = delete;

  // The engines as a Controller takes them (borrowed), in host order.
  std::vector<rollout::HostBinding> bindings() const {
    std::vector<rollout::HostBinding> out;
    for (const auto& e : engines) {
      out.push_back(rollout::HostBinding{e->host_name(), e->host_name(), e.get()});
    }
    return out;
  }

  // The app's health check, answered by FakeAppProbe from the world's rules (unhealthy
  // digests, crashes, ...).
  std::vector<std::unique_ptr<health::Probe>> app_probes() {
    std::map<std::string, FakeEngine*> by_name;
    for (auto& e : engines) {
      by_name[e->host_name()] = e.get();
    }
    std::vector<std::unique_ptr<health::Probe>> probes;
    probes.push_back(std::make_unique<FakeAppProbe>(world, by_name));
    return probes;
  }

  FakeWorld world;
  std::vector<std::unique_ptr<FakeEngine>> engines;
  manifest::Manifest m;
  ManualClock clock;
};

}  // namespace orch::testing
