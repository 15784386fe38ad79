#include "orchestrator/rollout/control.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "orchestrator/core/atomic_file.h"

namespace orch::rollout {

namespace {

// Requests carry their time as milliseconds since the Unix epoch ("ts_ms").
long long unix_ms(WallTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

const char* to_string(Command c) {
  switch (c) {
    case Command::kNone:
      return "none";
    case Command::kPause:
      return "pause";
    case Command::kResume:
      return "resume";
    case Command::kRollback:
      return "rollback";
    case Command::kPromote:
      return "promote";
    case Command::kStop:
      return "stop";
  }
  return "?";
}

Command command_from_string(const std::string& s) {
  for (Command c :
       {Command::kPause, Command::kResume, Command::kRollback, Command::kPromote, Command::kStop}) {
    if (s == to_string(c)) {
      return c;
    }
  }
  return Command::kNone;
}

FileControl::FileControl(std::string path, const Clock& clock)
    : path_(std::move(path)), since_ms_(unix_ms(clock.wall_now())) {}

Command FileControl::poll() {
  if (stop_.load() && !stop_reported_) {
    stop_reported_ = true;
    return Command::kStop;
  }
  std::ifstream in(path_);
  if (!in) {
    return Command::kNone;
  }
  std::stringstream text;
  text << in.rdbuf();
  in.close();
  // Consumed whether or not it is valid: a broken request must not be re-read every round.
  std::remove(path_.c_str());
  auto j = nlohmann::json::parse(text.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Command::kNone;
  }
  if (j.value("ts_ms", 0LL) < since_ms_) {
    return Command::kNone;
  }
  return command_from_string(j.value("command", ""));
}

std::string write_request(const std::string& path, Command c, const Clock& clock) {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  nlohmann::json j = {{"command", to_string(c)},
                      {"ts_ms", unix_ms(clock.wall_now())},
                      {"by", std::string(host) + " pid " + std::to_string(getpid())}};
  // Atomic: the running apply sees the whole request or none of it.
  if (auto st = write_file_atomically(path, j.dump() + "\n"); !st) {
    return st.message();
  }
  return "";
}

}  // namespace orch::rollout
