// manifest_fuzz: orch::manifest::parse_manifest on arbitrary text, in all three formats.
//
// Checks: nothing throws or crashes; the result is ok exactly when it holds a manifest; every
// error has a message; kAuto agrees with the format it picks; and a manifest that parses keeps
// every invariant the validator promises (manifest.h, docs/manifest.md), including that the
// strings sent to the engine as JSON (env, labels, command) are valid UTF-8. A violation traps.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "orchestrator/docker/image_ref.h"
#include "orchestrator/manifest/parse.h"

namespace {

using orch::manifest::Format;
using orch::manifest::LoadResult;
using orch::manifest::Manifest;

void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

// Everything in a manifest ends up in engine JSON (encode_create_body) or in output, and JSON
// carries only UTF-8: nlohmann's strict dump is the reference.
bool utf8(const std::string& s) {
  try {
    (void)nlohmann::json(s).dump();
    return true;
  } catch (const nlohmann::json::type_error&) {
    return false;
  }
}

bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

void check_manifest(const Manifest& m) {
  // app: [a-z0-9][a-z0-9_.-]*, 1-63 characters.
  check(!m.app.empty() && m.app.size() <= 63 && lower_alnum(m.app.front()));
  for (char c : m.app) {
    check(lower_alnum(c) || c == '_' || c == '.' || c == '-');
  }
  check(orch::docker::parse_image_ref(m.image).is_ok());

  // Hosts: non-empty, unique non-empty names, a unix:// or tcp:// engine, an address.
  check(!m.hosts.empty());
  std::set<std::string> names;
  for (const auto& h : m.hosts) {
    check(!h.name.empty());
    check(names.insert(h.name).second);
    const bool unix_engine = h.engine.starts_with("unix:///");
    check(unix_engine || h.engine.starts_with("tcp://"));
    check(!h.address.empty());
    check(!(unix_engine && h.tls.has_value()));
  }

  // Ports: non-zero, tcp or udp, each host port/protocol published once.
  std::set<std::pair<uint16_t, std::string>> published;
  for (const auto& p : m.container.ports) {
    check(p.host_port != 0 && p.container_port != 0);
    check(p.protocol == "tcp" || p.protocol == "udp");
    check(published.emplace(p.host_port, p.protocol).second);
  }
  for (const auto& [k, v] : m.container.env) {
    check(!k.empty() && k.find('=') == std::string::npos);
    check(utf8(k) && utf8(v));
  }
  for (const auto& [k, v] : m.container.labels) {
    check(!k.empty() && !k.starts_with("rollgate."));
    check(utf8(k) && utf8(v));
  }
  for (const auto& arg : m.container.command) {
    check(utf8(arg));
  }
  check(!m.container.restart.empty());
  check(m.container.stop_timeout.count() >= 0);

  check(m.strategy.type == "rolling");
  check(m.strategy.batch_size.value >= 1);
  check(!m.strategy.batch_size.percent || m.strategy.batch_size.value <= 100);
  const int n = static_cast<int>(m.hosts.size());
  const int per_batch = m.strategy.batch_size.hosts_per_batch(n);
  check(per_batch >= 1 && per_batch <= n);

  const auto& h = m.health;
  check(h.interval.count() > 0 && h.timeout.count() > 0 && h.healthy_deadline.count() > 0);
  check(h.min_healthy_time.count() >= 0 && h.min_healthy_time < h.healthy_deadline);
  check(h.healthy_threshold >= 1 && h.unhealthy_threshold >= 1);
  if (h.http) {
    check(h.http->port != 0);
    check(!h.http->path.empty() && h.http->path.front() == '/');
    check(!h.http->expect_status.empty());
    for (int s : h.http->expect_status) {
      check(s >= 100 && s <= 599);
    }
  }
  check(m.keep >= 1);
}

void check_result(const LoadResult& r) {
  check(r.ok() == r.manifest.has_value());
  for (const auto& e : r.errors) {
    check(!e.message.empty());
    check(!e.to_string().empty());
  }
  if (r.manifest) {
    check_manifest(*r.manifest);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);

  const LoadResult json = orch::manifest::parse_manifest(text, Format::kJson);
  check_result(json);
  const LoadResult yaml = orch::manifest::parse_manifest(text, Format::kYaml);
  check_result(yaml);
  const LoadResult automatic = orch::manifest::parse_manifest(text, Format::kAuto);
  check_result(automatic);

  // kAuto is JSON when the first non-space (std::isspace) character is '{', YAML otherwise.
  const size_t first = text.find_first_not_of(" \t\r\n\v\f");
  const bool looks_json = first != std::string::npos && text[first] == '{';
  const LoadResult& picked = looks_json ? json : yaml;
  check(automatic.ok() == picked.ok());
  check(automatic.errors.size() == picked.errors.size());
  return 0;
}
