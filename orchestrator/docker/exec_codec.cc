#include "orchestrator/docker/exec_codec.h"

#include <cstdint>
#include <nlohmann/json.hpp>

namespace orch::docker {

std::string encode_exec_body(const std::vector<std::string>& cmd) {
  nlohmann::json j = {{"AttachStdin", false},
                      {"AttachStdout", true},
                      {"AttachStderr", true},
                      {"Tty", false},
                      {"Cmd", cmd}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<std::string> decode_exec_create(std::string_view body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("Id") || !j.at("Id").is_string() ||
      j.at("Id").get<std::string>().empty()) {
    return Status(Code::kInternal, "unexpected response: exec create without an Id");
  }
  return j.at("Id").get<std::string>();
}

Result<ExecState> decode_exec_inspect(std::string_view body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("Running") ||
      !j.at("Running").is_boolean()) {
    return Status(Code::kInternal, "unexpected response: exec inspect without Running");
  }
  ExecState st;
  st.running = j.at("Running").get<bool>();
  if (!st.running) {
    if (!j.contains("ExitCode") || !j.at("ExitCode").is_number_integer()) {
      return Status(Code::kInternal, "unexpected response: finished exec without an ExitCode");
    }
    st.exit_code = j.at("ExitCode").get<int>();
  }
  return st;
}

std::string demultiplex(std::string_view raw, size_t limit) {
  auto is_header = [&](size_t at) {
    return at + 8 <= raw.size() && static_cast<unsigned char>(raw[at]) <= 2 && raw[at + 1] == 0 &&
           raw[at + 2] == 0 && raw[at + 3] == 0;
  };
  if (!raw.empty() && !is_header(0)) {
    return std::string(raw.substr(0, limit));
  }
  std::string out;
  size_t at = 0;
  while (is_header(at) && out.size() < limit) {
    const auto byte = [&](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(raw[i])); };
    const size_t size =
        (byte(at + 4) << 24) | (byte(at + 5) << 16) | (byte(at + 6) << 8) | byte(at + 7);
    const std::string_view payload = raw.substr(at + 8, size);
    out.append(payload.substr(0, limit - out.size()));
    at += 8 + size;
  }
  return out;
}

}  // namespace orch::docker
