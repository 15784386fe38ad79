// ManifestYaml: the text of a manifest, built from its parts, for tests that hand a manifest to
// the parser or to the rollgate binary. Each part is what the manifest's YAML holds under its
// key; an empty part leaves the key out. text() writes the top-level keys in manifest order
// (app, image, hosts, container, strategy, health, router, on_failure, keep), sections as block
// maps and the parts' own values verbatim, so tests can still edit the text (append a key,
// replace "interval: 250ms").
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace orch::testing {

struct ManifestYaml {
  struct Host {
    std::string name;
    std::string engine;     // e.g. tcp://10.0.0.1:2375
    bool insecure = false;  // plain tcp without TLS, allowed explicitly
  };

  std::string app;
  std::string image;
  std::vector<Host> hosts;
  // container:
  std::string ports;  // a YAML sequence, e.g. ["8080:8080"]
  std::string stop_timeout;
  std::string restart;
  std::map<std::string, std::string> env;  // quoted in the text
  // strategy: and health:, key -> YAML value (in key order)
  std::map<std::string, std::string> strategy;
  std::map<std::string, std::string> health;
  std::string router;  // a YAML flow map
  std::string on_failure;
  std::string keep;

  std::string text() const {
    std::string y = "app: " + app + "\nimage: " + image + "\nhosts:\n";
    for (const auto& h : hosts) {
      y += "  - name: " + h.name + "\n    engine: \"" + h.engine + "\"\n";
      if (h.insecure) {
        y += "    insecure: true\n";
      }
    }
    std::string container;
    add(container, "ports", ports);
    add(container, "stop_timeout", stop_timeout);
    if (!restart.empty()) {
      add(container, "restart", "\"" + restart + "\"");
    }
    if (!env.empty()) {
      container += "  env:\n";
      for (const auto& [k, v] : env) {
        container += "    " + k + ": \"" + v + "\"\n";
      }
    }
    section(y, "container", container);
    section(y, "strategy", block(strategy));
    section(y, "health", block(health));
    if (!router.empty()) {
      y += "router: " + router + "\n";
    }
    if (!on_failure.empty()) {
      y += "on_failure: " + on_failure + "\n";
    }
    if (!keep.empty()) {
      y += "keep: " + keep + "\n";
    }
    return y;
  }

 private:
  static void add(std::string& out, const std::string& key, const std::string& value) {
    if (!value.empty()) {
      out += "  " + key + ": " + value + "\n";
    }
  }
  static std::string block(const std::map<std::string, std::string>& keys) {
    std::string out;
    for (const auto& [k, v] : keys) {
      add(out, k, v);
    }
    return out;
  }
  static void section(std::string& y, const std::string& key, const std::string& body) {
    if (!body.empty()) {
      y += key + ":\n" + body;
    }
  }
};

}  // namespace orch::testing
