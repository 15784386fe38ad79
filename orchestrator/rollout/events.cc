#include "orchestrator/rollout/events.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <chrono>

namespace orch::rollout {

std::string event_timestamp(WallTime t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()) % 1000;
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03d}Z", fmt::gmtime(t), ms.count());
}

void JsonLinesSink::emit(const Event& e) {
  nlohmann::json j = e.data.is_object() ? e.data : nlohmann::json::object();
  j["ts"] = event_timestamp(clock_.wall_now());
  j["type"] = e.type;
  if (!e.host.empty()) {
    j["host"] = e.host;
  }
  j["message"] = e.message;
  std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::fprintf(out_, "%s\n", line.c_str());
  std::fflush(out_);
}

void TextSink::emit(const Event& e) {
  if (e.type == "probe" && !verbose_) {
    return;
  }
  if (e.host.empty()) {
    std::fprintf(out_, "%s\n", e.message.c_str());
  } else {
    std::fprintf(out_, "  %-10s %s\n", e.host.c_str(), e.message.c_str());
  }
  std::fflush(out_);
}

}  // namespace orch::rollout
