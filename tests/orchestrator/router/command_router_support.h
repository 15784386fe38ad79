// Helpers of the command router tests (unit and integration): a script that records the
// ROLLGATE_* environment it was run with, and a validated manifest whose router runs it.
#pragma once

#include <string>

#include "orchestrator/manifest/manifest.h"
#include "tests/orchestrator/router/router_test_support.h"

namespace orch::router::test {

// A router script: writes its sorted ROLLGATE_* environment to <action>.env in the directory,
// then runs `body`.
inline std::string script(TempDir& dir, const std::string& body) {
  return dir.write("router.sh",
                   "#!/bin/sh\n"
                   "env | grep '^ROLLGATE_' | LC_ALL=C sort > " +
                       dir.path() + "/\"$ROLLGATE_ACTION\".env\n" + body + "\n",
                   /*executable=*/true);
}

inline const char* kHosts =
    "hosts:\n"
    "  - {name: h1, engine: unix:///var/run/docker.sock, address: 10.0.0.1}\n"
    "  - {name: h2, engine: unix:///var/run/docker.sock, address: 10.0.0.2}\n"
    "container: {ports: [\"8080:80\"]}\n";

enum class Mode { kBlueGreen, kStopFirst, kStartFirst };

// A manifest whose router runs `run` (a YAML list or string).
inline manifest::Manifest manifest_with(const std::string& run, Mode mode = Mode::kBlueGreen,
                                        const std::string& timeout = "1s",
                                        const std::string& drain = "2s") {
  std::string strategy;
  switch (mode) {
    case Mode::kBlueGreen:
      strategy = "strategy: {type: blue-green, ports: {blue: 8080, green: 8081}}\n";
      break;
    case Mode::kStopFirst:
      strategy = "strategy: {order: stop-first}\n";
      break;
    case Mode::kStartFirst:
      strategy = "strategy: {order: start-first, ports: {blue: 8080, green: 8081}}\n";
      break;
  }
  return load(std::string("app: web\nimage: web:1\n") + kHosts + strategy + "router:\n  timeout: " +
              timeout + "\n  drain_timeout: " + drain + "\n  command: " + run + "\n");
}

inline std::string list(const std::string& program) { return "[\"" + program + "\"]"; }

}  // namespace orch::router::test
