#include "orchestrator/docker/pull_stream.h"

#include <nlohmann/json.hpp>

namespace orch::docker {
namespace {

// A progress object is a few hundred bytes; a line this long without a newline means the peer
// is not speaking the pull protocol, and buffering it further would only waste memory.
constexpr size_t kMaxLine = 1 << 20;
constexpr std::string_view kDigestPrefix = "Digest: ";

}  // namespace

Status PullStreamParser::feed(std::string_view bytes) {
  if (!error_.is_ok()) {
    return error_;
  }
  buffer_.append(bytes);
  size_t start = 0;
  for (size_t nl = buffer_.find('\n', start); nl != std::string::npos;
       nl = buffer_.find('\n', start)) {
    Status st = consume_line(std::string_view(buffer_).substr(start, nl - start));
    start = nl + 1;
    if (!st.is_ok()) {
      error_ = st;
      buffer_.clear();
      return error_;
    }
  }
  buffer_.erase(0, start);
  if (buffer_.size() > kMaxLine) {
    error_ = Status(Code::kInternal, "pull stream: a line longer than " + std::to_string(kMaxLine) +
                                         " bytes without a newline");
    buffer_.clear();
  }
  return error_;
}

Status PullStreamParser::finish() {
  if (error_.is_ok() && !buffer_.empty()) {
    Status st = consume_line(buffer_);
    buffer_.clear();
    if (!st.is_ok()) {
      error_ = st;
    }
  }
  return error_;
}

Status PullStreamParser::consume_line(std::string_view line) {
  // Objects end with "\r\n"; tolerate bare "\n" and blank lines.
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
    line.remove_suffix(1);
  }
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t' || line.front() == '\r')) {
    line.remove_prefix(1);
  }
  if (line.empty()) {
    return Status::ok();
  }
  const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    constexpr size_t kShown = 120;
    std::string shown(line.substr(0, kShown));
    if (line.size() > kShown) {
      shown += "...";
    }
    return Status(Code::kInternal, "pull stream: malformed JSON object: " + shown);
  }
  ++objects_;

  // errorDetail.message is the structured form; "error" repeats it as plain text.
  std::string message;
  bool is_error = false;
  if (const auto detail = j.find("errorDetail"); detail != j.end() && !detail->is_null()) {
    is_error = true;
    if (detail->is_object()) {
      const auto m = detail->find("message");
      if (m != detail->end() && m->is_string()) {
        message = m->get<std::string>();
      }
    }
  }
  if (const auto err = j.find("error"); err != j.end() && !err->is_null()) {
    is_error = true;
    if (message.empty() && err->is_string()) {
      message = err->get<std::string>();
    }
  }
  if (is_error) {
    if (message.empty()) {
      message = "(the engine gave no message)";
    }
    return Status(Code::kEngine, "pull failed: " + message);
  }

  if (const auto status = j.find("status"); status != j.end() && status->is_string()) {
    last_status_ = status->get<std::string>();
    if (std::string_view(last_status_).starts_with(kDigestPrefix)) {
      digest_ = last_status_.substr(kDigestPrefix.size());
    }
  }
  return Status::ok();
}

}  // namespace orch::docker
