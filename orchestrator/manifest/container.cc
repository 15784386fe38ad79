// The container section: ports, env, labels, command, restart and stop_timeout.
#include <map>
#include <utility>

#include "orchestrator/manifest/sections.h"

namespace orch::manifest {
namespace {

constexpr std::array<std::string_view, 6> kContainerKeys = {"ports",   "env",     "labels",
                                                            "command", "restart", "stop_timeout"};

constexpr std::string_view kReservedLabelPrefix = "rollgate.";

// "8080:80", "8080:80/tcp" or "5353:53/udp".
std::optional<PortMapping> parse_port_mapping(std::string_view s) {
  PortMapping m;
  size_t slash = s.find('/');
  if (slash != std::string_view::npos) {
    std::string_view proto = s.substr(slash + 1);
    if (proto != "tcp" && proto != "udp") {
      return std::nullopt;
    }
    m.protocol = std::string(proto);
    s = s.substr(0, slash);
  }
  size_t colon = s.find(':');
  if (colon == std::string_view::npos) {
    return std::nullopt;
  }
  auto host = port_number(s.substr(0, colon));
  auto container = port_number(s.substr(colon + 1));
  if (!host || !container) {
    return std::nullopt;
  }
  m.host_port = static_cast<uint16_t>(*host);
  m.container_port = static_cast<uint16_t>(*container);
  return m;
}

bool valid_restart(std::string_view s) {
  if (s == "no" || s == "always" || s == "unless-stopped" || s == "on-failure") {
    return true;
  }
  constexpr std::string_view kOnFailure = "on-failure:";
  if (s.substr(0, kOnFailure.size()) != kOnFailure) {
    return false;
  }
  auto n = small_uint(s.substr(kOnFailure.size()));
  return n && *n >= 1;
}

void read_string_map(Validator& v, const std::string& path, const Json& j,
                     std::map<std::string, std::string>& out, bool labels) {
  if (!j.is_object()) {
    v.fail(path, j, "a map of names to strings");
    return;
  }
  for (const auto& [key, value] : j.items()) {
    std::string p = key_path(path, key);
    if (key.empty()) {
      v.add(p, "the name is empty");
      continue;
    }
    if (!labels && key.find('=') != std::string::npos) {
      v.add(p, "got " + quote(key) + ": an environment variable name cannot contain '='");
      continue;
    }
    if (labels &&
        std::string_view(key).substr(0, kReservedLabelPrefix.size()) == kReservedLabelPrefix) {
      v.add(p, "got " + quote(key) +
                   ": the \"rollgate.\" prefix is reserved for the labels rollgate sets itself");
      continue;
    }
    if (auto s = v.text(p, value)) {
      out[key] = *s;
    }
  }
}

}  // namespace

void read_container(Validator& v, const Json& j, Container& out) {
  if (!v.object("container", j, kContainerKeys)) {
    return;
  }
  if (const Json* ports = find(j, "ports")) {
    constexpr const char* kExpected =
        "\"host:container\" or \"host:container/udp\" with ports 1-65535, e.g. \"8080:80\"";
    if (!ports->is_array()) {
      v.fail("container.ports", *ports, std::string("a list of ") + kExpected);
    } else {
      std::map<std::pair<uint16_t, std::string>, size_t> used;
      for (size_t i = 0; i < ports->size(); ++i) {
        std::string p = index_path("container.ports", i);
        const Json& item = (*ports)[i];
        auto s = v.string(p, item, kExpected);
        if (!s) {
          continue;
        }
        auto m = parse_port_mapping(*s);
        if (!m) {
          v.fail(p, item, kExpected);
          continue;
        }
        auto [it, inserted] = used.emplace(std::make_pair(m->host_port, m->protocol), i);
        if (!inserted) {
          v.fail(p, item,
                 "a host port not used twice; " + std::to_string(m->host_port) + "/" + m->protocol +
                     " is already published by " + index_path("container.ports", it->second));
          continue;
        }
        out.ports.push_back(*m);
      }
    }
  }
  if (const Json* env = find(j, "env")) {
    read_string_map(v, "container.env", *env, out.env, false);
  }
  if (const Json* labels = find(j, "labels")) {
    read_string_map(v, "container.labels", *labels, out.labels, true);
  }
  if (const Json* cmd = find(j, "command")) {
    constexpr const char* kExpected =
        "a list of arguments, or one non-empty string (run as /bin/sh -c \"...\")";
    if (cmd->is_string()) {
      // One string is a shell command line, as in a Dockerfile's shell form: we do not split
      // it ourselves, the shell does, so quoting and pipes behave as the user expects.
      if (cmd->get<std::string>().empty()) {
        v.fail("container.command", *cmd, kExpected);
      } else {
        out.command = {"/bin/sh", "-c", cmd->get<std::string>()};
      }
    } else if (cmd->is_array()) {
      for (size_t i = 0; i < cmd->size(); ++i) {
        if (auto s = v.text(index_path("container.command", i), (*cmd)[i])) {
          out.command.push_back(*s);
        }
      }
    } else {
      v.fail("container.command", *cmd, kExpected);
    }
  }
  if (const Json* r = find(j, "restart")) {
    constexpr const char* kExpected = "one of no, always, unless-stopped, on-failure, on-failure:N";
    if (auto s = v.string("container.restart", *r, kExpected)) {
      if (valid_restart(*s)) {
        out.restart = *s;
      } else {
        v.fail("container.restart", *r, kExpected);
      }
    }
  }
  if (const Json* t = find(j, "stop_timeout")) {
    if (auto d = v.duration("container.stop_timeout", *t)) {
      out.stop_timeout = *d;
    }
  }
}

}  // namespace orch::manifest
