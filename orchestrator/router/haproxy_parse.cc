// The HAProxy Runtime API answers rollgate reads, parsed without I/O (haproxy_runtime.h).
// Kept apart from the socket code so that the fuzz targets (fuzz/) can link it alone.
#include <algorithm>
#include <sstream>

#include "orchestrator/router/haproxy_runtime.h"

namespace orch::router {

std::optional<std::string> map_value(const std::string& show_map, const std::string& key) {
  std::istringstream in(show_map);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string ref, k, v;
    if (fields >> ref >> k >> v && k == key) {
      return v;
    }
  }
  return std::nullopt;
}

std::string rewrite_map_file(const std::string& text, const std::string& key,
                             const std::string& value) {
  std::istringstream in(text);
  std::string out;
  bool found = false;
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string first;
    if (fields >> first && first == key) {
      line = key + " " + value;
      found = true;
    }
    out += line + "\n";
  }
  if (!found) {
    out += key + " " + value + "\n";
  }
  return out;
}

namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

int to_int(const std::string& s) {
  try {
    return s.empty() ? 0 : std::stoi(s);
  } catch (const std::exception&) {
    return 0;
  }
}

// Column index by name in a header already split into names; -1 if absent.
int column(const std::vector<std::string>& header, const std::string& name) {
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

}  // namespace

Result<std::vector<StatRow>> parse_stat(const std::string& csv) {
  std::istringstream in(csv);
  std::string line;
  std::vector<std::string> header;
  std::vector<StatRow> rows;
  int px = -1, sv = -1, qcur = -1, scur = -1, status = -1;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    if (line.empty()) {
      continue;
    }
    if (line.rfind("# ", 0) == 0) {
      header = split(line.substr(2), ',');
      px = column(header, "pxname");
      sv = column(header, "svname");
      qcur = column(header, "qcur");
      scur = column(header, "scur");
      status = column(header, "status");
      if (px < 0 || sv < 0 || qcur < 0 || scur < 0 || status < 0) {
        return Status(Code::kInvalidArgument,
                      "show stat: the header lacks pxname, svname, qcur, scur or status");
      }
      continue;
    }
    if (header.empty()) {
      return Status(Code::kInvalidArgument,
                    "show stat: expected a CSV header, got \"" + line.substr(0, 80) + "\"");
    }
    auto f = split(line, ',');
    // A row too short for the columns read is not a stat row (a truncated or foreign line).
    const size_t needed = static_cast<size_t>(std::max({px, sv, qcur, scur, status})) + 1;
    if (f.size() < needed) {
      continue;
    }
    rows.push_back(StatRow{f[px], f[sv], to_int(f[qcur]), to_int(f[scur]), f[status]});
  }
  if (header.empty()) {
    return Status(Code::kInvalidArgument, "show stat: empty answer");
  }
  return rows;
}

Result<std::vector<ServerState>> parse_servers_state(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  std::vector<std::string> header;
  std::vector<ServerState> out;
  int be = -1, name = -1, addr = -1, port = -1, admin = -1;
  while (std::getline(in, line)) {
    if (line.empty()) {
      continue;
    }
    if (line.rfind("# ", 0) == 0) {
      std::istringstream names(line.substr(2));
      header.clear();
      for (std::string n; names >> n;) {
        header.push_back(n);
      }
      be = column(header, "be_name");
      name = column(header, "srv_name");
      addr = column(header, "srv_addr");
      port = column(header, "srv_port");
      admin = column(header, "srv_admin_state");
      if (be < 0 || name < 0 || addr < 0 || port < 0 || admin < 0) {
        return Status(Code::kInvalidArgument,
                      "show servers state: the header lacks be_name, srv_name, srv_addr, "
                      "srv_port or srv_admin_state");
      }
      continue;
    }
    if (header.empty()) {
      continue;  // the format version line ("1")
    }
    std::istringstream fields(line);
    std::vector<std::string> f;
    for (std::string s; fields >> s;) {
      f.push_back(s);
    }
    if (f.size() < header.size()) {
      continue;
    }
    out.push_back(ServerState{f[be], f[name], f[addr], to_int(f[port]), to_int(f[admin])});
  }
  if (header.empty()) {
    return Status(Code::kInvalidArgument, "show servers state: no header in the answer");
  }
  return out;
}

}  // namespace orch::router
