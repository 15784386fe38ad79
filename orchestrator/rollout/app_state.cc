#include "orchestrator/rollout/app_state.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "orchestrator/journal/file.h"
#include "orchestrator/journal/journal.h"

namespace orch::rollout {

Result<std::string> app_state_dir(const std::string& root, const std::string& app, bool create) {
  std::string base = root;
  if (base.empty()) {
    auto d = journal::default_state_dir();
    if (!d) {
      return d.status();
    }
    base = *d;
  }
  std::string dir = base + "/" + app;
  if (create) {
    if (auto made = journal::make_dirs(dir); !made) {
      return made;
    }
  }
  return dir;
}

std::string journal_file(const std::string& dir) { return dir + "/journal.log"; }
std::string control_file(const std::string& dir) { return dir + "/control"; }

std::optional<pid_t> running_apply(const std::string& dir, const std::string& comm) {
  std::ifstream in(dir + "/apply.pid");
  long pid = 0;
  if (!(in >> pid) || pid <= 0) {
    return std::nullopt;
  }
  // /proc/<pid>/stat is "<pid> (<comm>) <state> ...": comm may hold spaces and parentheses,
  // so the state is the character after the last ')'.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) {
    return std::nullopt;
  }
  auto close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size() || line[close + 2] == 'Z' ||
      line.find("(" + comm + ")") == std::string::npos) {
    return std::nullopt;
  }
  return static_cast<pid_t>(pid);
}

PidFile::PidFile(const std::string& dir) : path_(dir + "/apply.pid") {
  std::ofstream out(path_, std::ios::trunc);
  out << ::getpid() << "\n";
}

PidFile::~PidFile() { std::remove(path_.c_str()); }

Result<pid_t> request_running_apply(const std::string& dir, Command command, const Clock& clock,
                                    const std::string& comm) {
  auto pid = running_apply(dir, comm);
  if (!pid) {
    return Status(Code::kFailedPrecondition, "no apply is running on this machine");
  }
  auto err = write_request(control_file(dir), command, clock);
  if (!err.empty()) {
    return Status(Code::kInternal, err);
  }
  return *pid;
}

}  // namespace orch::rollout
