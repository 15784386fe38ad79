// Plain values exchanged with a Docker engine. No I/O, no JSON library in this header:
// the HTTP client (http_engine.cc) maps engine JSON to and from these.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace orch::docker {

using Labels = std::map<std::string, std::string>;

// Where an engine listens: "unix:///var/run/docker.sock" or "tcp://10.0.0.5:2375", with mutual
// TLS when `tls` is set (docs/tls.md).
struct TlsFiles {
  std::string ca;    // PEM CA bundle that signs the engine's certificate
  std::string cert;  // client certificate (PEM)
  std::string key;   // client key (PEM)
};

struct Endpoint {
  enum class Kind { kUnix, kTcp };
  Kind kind = Kind::kUnix;
  std::string path;   // kUnix: socket path
  std::string host;   // kTcp: host name or address
  uint16_t port = 0;  // kTcp
  std::optional<TlsFiles> tls;

  std::string to_string() const;  // round-trips through parse_endpoint
};

// What one engine's connections did (http_engine.h's connection_stats): for benchmarks and
// tests, which check that keep-alive and TLS session resumption really happen.
struct ConnectionStats {
  uint64_t opened = 0;       // new connections (TCP/unix connect, plus a handshake with TLS)
  uint64_t reused = 0;       // calls served on a kept-alive connection
  uint64_t retried = 0;      // calls sent again because a kept-alive connection had closed
  uint64_t tls_resumed = 0;  // TLS handshakes that resumed an earlier session
};

struct PingInfo {
  std::string api_version;  // the daemon's newest API version ("API-Version" header)
  std::string os_type;      // "linux"
};

struct VersionInfo {
  std::string version;  // engine version, e.g. "20.10.24"
  std::string api_version;
  std::string min_api_version;
  std::string os;
  std::string arch;
  std::string kernel_version;
};

// A registry descriptor from GET /distribution/{name}/json.
struct DistributionInfo {
  std::string digest;      // "sha256:..."
  std::string media_type;  // manifest or index media type
  int64_t size = 0;
};

struct ImageInfo {
  std::string id;  // config digest "sha256:..." (not the repo digest)
  std::vector<std::string> repo_tags;
  std::vector<std::string> repo_digests;  // "reg:5000/demo@sha256:..."
};

struct PortBinding {
  uint16_t host_port = 0;
  uint16_t container_port = 0;
  std::string protocol = "tcp";
  std::string host_ip;  // empty: all addresses
};

// Everything rollgate sets when it creates a container.
struct ContainerSpec {
  std::string name;
  std::string image;             // pinned reference: repo@sha256:...
  std::vector<std::string> env;  // "K=V"
  std::vector<std::string> cmd;  // empty: the image's default
  Labels labels;
  std::vector<PortBinding> ports;
  std::string restart_policy;  // "", "no", "always", "unless-stopped", "on-failure"
  int restart_max_retries = 0;
  std::optional<int> stop_timeout_s;
};

// One row of GET /containers/json.
struct ContainerSummary {
  std::string id;
  std::string name;  // primary name without the leading slash
  std::string image;
  std::string image_id;
  Labels labels;
  std::string state;   // created|running|paused|restarting|removing|exited|dead
  std::string status;  // human text, e.g. "Up 3 minutes"
};

struct ContainerState {
  std::string status;  // created|running|paused|restarting|removing|exited|dead
  bool running = false;
  bool restarting = false;
  bool oom_killed = false;
  bool dead = false;
  int pid = 0;
  int exit_code = 0;
  std::string error;
  std::string started_at;     // RFC 3339 as the engine reports it
  std::string finished_at;    // RFC 3339; "0001-01-01T00:00:00Z" when never finished
  std::string health_status;  // "", "starting", "healthy", "unhealthy"
  int failing_streak = 0;
};

// GET /containers/{id}/json, the parts rollgate uses.
struct ContainerInfo {
  std::string id;
  std::string name;      // without the leading slash
  std::string image_id;  // "sha256:..." (what .Image holds)
  std::string image;     // Config.Image: the reference it was created from
  Labels labels;
  ContainerState state;
  int restart_count = 0;
};

// The result of running a command in a container (POST /containers/{id}/exec, then start and
// inspect).
struct ExecResult {
  int exit_code = 0;
  std::string output;  // the first 4 KiB of stdout and stderr, interleaved as they arrived
};

}  // namespace orch::docker
