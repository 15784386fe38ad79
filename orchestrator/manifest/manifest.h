// The manifest: what to deploy, where, and how to judge it. Plain structs (STYLE.md #9).
//
// Loading (parse.h) turns YAML or JSON into these after validating every field; defaults
// live here, in the member initialisers, so that docs/manifest.md and the code agree in one
// place. Schema: manifests/schema.json. Durations are milliseconds after parsing.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "orchestrator/core/duration.h"

namespace orch::manifest {

// TLS material for a tcp:// engine. Either the three files, or cert_path holding
// ca.pem/cert.pem/key.pem (the DOCKER_CERT_PATH layout). Wired to the transport later.
struct Tls {
  std::string ca;
  std::string cert;
  std::string key;
  std::string cert_path;
};

struct Host {
  std::string name;     // unique within the manifest; used in container names and output
  std::string engine;   // "unix:///var/run/docker.sock" or "tcp://10.0.0.5:2375"
  std::string address;  // where probes connect; default: the engine's host, 127.0.0.1 for unix
  bool insecure = false;  // allow plain tcp:// to a non-loopback engine
  std::optional<Tls> tls;
};

struct PortMapping {
  uint16_t host_port = 0;
  uint16_t container_port = 0;
  std::string protocol = "tcp";  // "tcp" or "udp" ("8080:80/udp")
};

struct Container {
  std::vector<PortMapping> ports;
  std::map<std::string, std::string> env;
  std::map<std::string, std::string> labels;  // may not use the reserved "rollgate." prefix
  std::vector<std::string> command;           // empty: the image's default
  std::string restart = "unless-stopped";     // no | always | unless-stopped | on-failure[:N]
  Millis stop_timeout{10000};
};

struct BatchSize {
  int value = 1;
  bool percent = false;  // "25%" -> value 25, percent true

  // Hosts per batch for a fleet of n hosts: at least 1, at most n. 25% of 3 hosts -> 1.
  int hosts_per_batch(int n) const;
};

struct Strategy {
  std::string type = "rolling";
  BatchSize batch_size;
};

struct HttpCheck {
  uint16_t port = 0;
  std::string path = "/";
  std::vector<int> expect_status{200};
};

struct Health {
  std::optional<HttpCheck> http;  // absent: gate on container state alone
  Millis interval{1000};
  Millis timeout{2000};
  int healthy_threshold = 1;    // consecutive passes to count as passing
  int unhealthy_threshold = 3;  // consecutive failures, once passing, to count as failing
  Millis healthy_deadline{60000};  // must be healthy within this long of starting
  Millis min_healthy_time{0};      // must stay passing this long to be healthy
};

enum class OnFailure { kRollback, kPause };

struct Manifest {
  std::string app;    // [a-z0-9][a-z0-9_.-]*, also the live container's name
  std::string image;  // tag or digest reference
  std::vector<Host> hosts;
  Container container;
  Strategy strategy;
  Health health;
  OnFailure on_failure = OnFailure::kRollback;
  int keep = 2;  // revisions kept per host, counting the live one (>= 1)
};

const char* to_string(OnFailure f);

}  // namespace orch::manifest
