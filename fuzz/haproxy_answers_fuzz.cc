// haproxy_answers_fuzz: the parsers of HAProxy Runtime API answers (orchestrator/router), and
// the map file rewrite, on arbitrary text.
//
// Input layout: the first line is the map key (used when it is a non-empty token without
// spaces; "web" otherwise); the rest is the answer / file text. Checks: nothing throws or
// crashes; parse_stat and parse_servers_state never return more rows than the text has lines;
// after rewrite_map_file(text, key, "be_new"), every line whose first field is the key is
// exactly "key be_new", there is at least one, and every other line is kept in order.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "orchestrator/router/haproxy_runtime.h"

namespace {

void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    out.push_back(line);
  }
  return out;
}

std::string first_field(const std::string& line) {
  std::istringstream in(line);
  std::string f;
  in >> f;
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t nl = input.find('\n');
  std::string key = nl == std::string::npos ? "" : input.substr(0, nl);
  const std::string text = nl == std::string::npos ? input : input.substr(nl + 1);
  if (key.empty() || key.find_first_of(" \t\r\v\f") != std::string::npos) {
    key = "web";
  }
  const auto lines = lines_of(text);

  auto stat = orch::router::parse_stat(text);
  if (stat) {
    check(stat->size() <= lines.size());
  }
  auto servers = orch::router::parse_servers_state(text);
  if (servers) {
    check(servers->size() <= lines.size());
  }
  (void)orch::router::map_value(text, key);

  const std::string rewritten = orch::router::rewrite_map_file(text, key, "be_new");
  const auto out = lines_of(rewritten);
  size_t hits = 0;
  std::vector<std::string> others_in, others_out;
  for (const auto& l : lines) {
    if (first_field(l) != key) {
      others_in.push_back(l);
    }
  }
  for (const auto& l : out) {
    if (first_field(l) == key) {
      check(l == key + " be_new");
      ++hits;
    } else {
      others_out.push_back(l);
    }
  }
  check(hits >= 1);
  check(others_in == others_out);
  return 0;
}
