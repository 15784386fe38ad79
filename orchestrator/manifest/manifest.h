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

// TLS material for a tcp:// engine: the three files, or cert_path holding
// ca.pem/cert.pem/key.pem (the DOCKER_CERT_PATH layout), or none of them (`tls: {}`) for
// $DOCKER_CERT_PATH, else ~/.docker. Resolved by docker::resolve_tls_files; see docs/tls.md.
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
  // Allow plain tcp:// to a non-loopback engine (without it, and without tls, such a host is
  // a validation error). No effect when tls is set.
  bool insecure = false;
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

// Blue-green and start-first run two containers of the app side by side on each host, in two
// slots ("colours"), each publishing the routed container port (container.ports[0]) on its own
// host port. See docs/blue-green.md.
enum class Colour { kBlue, kGreen };
const char* to_string(Colour c);
inline Colour other(Colour c) { return c == Colour::kBlue ? Colour::kGreen : Colour::kBlue; }

struct ColourPorts {
  uint16_t blue = 0;   // equals container.ports[0]'s host port
  uint16_t green = 0;  // the alternate
  uint16_t of(Colour c) const { return c == Colour::kBlue ? blue : green; }
};

// Rolling only: stop-first stops the old container before starting the new one on the same
// port; start-first starts the new one on the alternate port, gates it, moves traffic to it at
// the router, then stops the old one.
enum class Order { kStopFirst, kStartFirst };
const char* to_string(Order o);

struct Strategy {
  std::string type = "rolling";  // "rolling" or "blue-green"
  BatchSize batch_size;          // rolling only
  Order order = Order::kStopFirst;
  std::optional<ColourPorts> ports;  // required by blue-green and start-first
  // Hosts that pull the image at once in pre-flight: the knob that spares the registry.
  int pull_concurrency = 8;
  bool blue_green() const { return type == "blue-green"; }
  bool start_first() const { return !blue_green() && order == Order::kStartFirst; }
  // Two containers per host side by side (blue-green or start-first).
  bool two_slots() const { return blue_green() || start_first(); }
};

// HAProxy driven through its Runtime API (docs/blue-green.md explains the expected config).
struct HaproxyRouter {
  std::string runtime_api;  // "unix:///run/haproxy/admin.sock" or "tcp://127.0.0.1:9999"
  // Blue-green: the map whose entry `map_key` names the live backend, and the two backends.
  std::string map;
  std::string map_key;  // default: the app's name
  std::string blue_backend;
  std::string green_backend;
  // Rolling: the backend whose servers are the hosts, named <host> (stop-first) or
  // <host>-blue and <host>-green (start-first).
  std::string backend;
  // Blue-green: after each switch, also rewrite map_key's line in the map file (atomically), so
  // that an HAProxy reload or restart keeps the live colour. Needs the file on this machine.
  bool persist_map = false;
};

// A user's program, run with ROLLGATE_* environment variables (docs/blue-green.md).
struct CommandRouter {
  std::vector<std::string> run;  // argv; a string in the manifest becomes {"/bin/sh","-c",s}
};

struct Router {
  std::optional<HaproxyRouter> haproxy;  // exactly one of haproxy and command is set
  std::optional<CommandRouter> command;
  // How long to wait for a drained host's (or colour's) in-flight requests before stopping it.
  Millis drain_timeout{30000};
  Millis timeout{10000};  // one runtime API exchange, or one run of the command
};

struct HttpCheck {
  uint16_t port = 0;
  std::string path = "/";
  std::vector<int> expect_status{200};
  std::string scheme = "http";               // "http" or "https"
  std::optional<std::string> body_contains;  // the body must contain this (non-empty) text
  std::optional<Millis> max_latency;         // slower answers fail
  bool tls_skip_verify = false;  // https: accept any certificate (else system CAs + host name)
  // Reuse the probe's connection to a container while it stays open (else Connection: close).
  bool keep_alive = false;
};

struct TcpCheck {
  uint16_t port = 0;
};

struct ExecCheck {
  // argv; a string in the manifest becomes {"/bin/sh", "-c", string}. Never empty.
  std::vector<std::string> command;
};

// Every configured probe (http, tcp, exec) and, with docker_health, the image's HEALTHCHECK
// must pass (AND). The container's state (running, exit code, restarts, OOM) is always judged.
struct Health {
  std::optional<HttpCheck> http;  // absent: no HTTP probe
  std::optional<TcpCheck> tcp;
  std::optional<ExecCheck> exec;
  bool docker_health = false;  // the image's Docker HEALTHCHECK must report "healthy"
  Millis interval{1000};
  Millis timeout{2000};
  int healthy_threshold = 1;       // consecutive passes to count as passing
  int unhealthy_threshold = 3;     // consecutive failures, once passing, to count as failing
  Millis healthy_deadline{60000};  // must be healthy within this long of starting
  Millis min_healthy_time{0};      // must stay passing this long to be healthy
  // Fraction (0..1) of the hosts a rollout changes whose new container may fail (worse than its
  // baseline) before on_failure fires; such hosts are reverted and the rollout goes on.
  double max_failure_ratio = 0.0;
  Millis progress_deadline{600000};  // a rollout that makes no decision within it: on_failure
  Millis bake{0};                    // after the last batch, watch the whole fleet this long
};

enum class OnFailure { kRollback, kPause };

// Where registry credentials come from, besides ~/.docker/config.json: `env` names a variable
// holding "user:password" or {"username","password"} for the image's registry. The secret
// itself is never in the manifest (docs/tls.md, "Registry credentials").
struct RegistryAuth {
  std::string env;
};

struct Manifest {
  std::string app;    // [a-z0-9][a-z0-9_.-]*, also the live container's name
  std::string image;  // tag or digest reference
  std::vector<Host> hosts;
  Container container;
  Strategy strategy;
  Health health;
  OnFailure on_failure = OnFailure::kRollback;
  int keep = 2;  // revisions kept per host, counting the live one (>= 1)
  std::optional<RegistryAuth> registry_auth;
  std::optional<Router> router;  // absent: no traffic router (rolling only)
};

const char* to_string(OnFailure f);

}  // namespace orch::manifest
