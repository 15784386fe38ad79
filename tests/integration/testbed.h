// The testbed's description, for [docker] integration tests.
//
// `scripts/testbed up` writes $RG_TESTBED_DIR/env (default /var/lib/rollgate-testbed/env):
// KEY=VALUE lines, values optionally in double quotes, e.g.
//   RG_TESTBED_HOSTS="h1 h2 h3"
//   RG_TESTBED_ENGINE_h1=tcp://10.231.7.11:2375
//   RG_TESTBED_ADDR_h1=10.231.7.11
//   RG_TESTBED_IMAGE=10.231.7.1:5000/demo
// load_testbed() fails the running Catch test with "testbed not up: run scripts/testbed up"
// when the file is missing. parse_testbed_env() is the pure part.
#pragma once

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace rgtest {

struct Testbed {
  std::map<std::string, std::string> vars;

  // The value of `key`, or "" when absent.
  std::string get(const std::string& key) const {
    auto it = vars.find(key);
    return it == vars.end() ? std::string() : it->second;
  }
  // RG_TESTBED_HOSTS split on spaces.
  std::vector<std::string> hosts() const { return words(get("RG_TESTBED_HOSTS")); }
  std::string engine(const std::string& host) const { return get("RG_TESTBED_ENGINE_" + host); }
  std::string addr(const std::string& host) const { return get("RG_TESTBED_ADDR_" + host); }
  std::string registry() const { return get("RG_TESTBED_REGISTRY"); }
  // The demo repository, e.g. "10.231.7.1:5000/demo" (tags v1, v2, unhealthy, crash, ...).
  std::string image() const { return get("RG_TESTBED_IMAGE"); }

  static std::vector<std::string> words(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string w; in >> w;) {
      out.push_back(w);
    }
    return out;
  }
};

// Parses KEY=VALUE lines; blank lines and '#' comments are skipped; one pair of surrounding
// double quotes is removed from a value.
inline Testbed parse_testbed_env(const std::string& text) {
  Testbed tb;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) {
      line.pop_back();
    }
    const size_t start = line.find_first_not_of(' ');
    if (start == std::string::npos || line[start] == '#') {
      continue;
    }
    const size_t eq = line.find('=', start);
    if (eq == std::string::npos) {
      continue;
    }
    std::string key = line.substr(start, eq - start);
    std::string value = line.substr(eq + 1);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    tb.vars[key] = value;
  }
  return tb;
}

inline std::string testbed_env_path() {
  const char* dir = std::getenv("RG_TESTBED_DIR");
  return std::string(dir != nullptr && *dir != '\0' ? dir : "/var/lib/rollgate-testbed") + "/env";
}

// Reads the testbed description; fails the current test when the testbed is not up.
inline Testbed load_testbed() {
  const std::string path = testbed_env_path();
  std::ifstream in(path);
  if (!in) {
    FAIL("testbed not up: run scripts/testbed up (no " << path << ")");
  }
  std::stringstream text;
  text << in.rdbuf();
  Testbed tb = parse_testbed_env(text.str());
  if (tb.hosts().empty()) {
    FAIL("testbed not up: run scripts/testbed up (" << path << " lists no RG_TESTBED_HOSTS)");
  }
  return tb;
}

}  // namespace rgtest
