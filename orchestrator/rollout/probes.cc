#include "orchestrator/rollout/probes.h"

#include <stdexcept>

namespace orch::rollout {

std::vector<std::unique_ptr<health::Probe>> make_probes(const manifest::Health& h,
                                                        health::ContainerExec* exec) {
  std::vector<std::unique_ptr<health::Probe>> probes;
  if (h.http) {
    health::HttpProbeConfig c;
    c.port = h.http->port;
    c.path = h.http->path;
    c.expect_status = h.http->expect_status;
    c.timeout = h.timeout;
    c.scheme = h.http->scheme;
    c.body_contains = h.http->body_contains;
    c.max_latency = h.http->max_latency;
    c.tls_skip_verify = h.http->tls_skip_verify;
    c.keep_alive = h.http->keep_alive;
    probes.push_back(health::make_http_probe(std::move(c)));
  }
  if (h.tcp) {
    probes.push_back(health::make_tcp_probe(health::TcpProbeConfig{h.tcp->port, h.timeout}));
  }
  if (h.exec) {
    if (exec == nullptr) {
      // Silently dropping a configured probe would gate on less than the manifest asks.
      throw std::invalid_argument("make_probes: health.exec is set but no ContainerExec given");
    }
    probes.push_back(
        health::make_exec_probe(health::ExecProbeConfig{h.exec->command, h.timeout}, *exec));
  }
  return probes;
}

health::Policy to_policy(const manifest::Health& h) {
  health::Policy p;
  p.interval = h.interval;
  p.timeout = h.timeout;
  p.healthy_threshold = h.healthy_threshold;
  p.unhealthy_threshold = h.unhealthy_threshold;
  p.healthy_deadline = h.healthy_deadline;
  p.min_healthy_time = h.min_healthy_time;
  p.require_docker_healthy = h.docker_health;
  p.max_failure_ratio = h.max_failure_ratio;
  p.progress_deadline = h.progress_deadline;
  p.bake = h.bake;
  return p;
}

}  // namespace orch::rollout
