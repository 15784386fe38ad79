#include "orchestrator/core/status.h"

namespace orch {

const char* code_name(Code c) {
  switch (c) {
    case Code::kOk:
      return "OK";
    case Code::kInvalidArgument:
      return "InvalidArgument";
    case Code::kNotFound:
      return "NotFound";
    case Code::kConflict:
      return "Conflict";
    case Code::kUnavailable:
      return "Unavailable";
    case Code::kTimeout:
      return "Timeout";
    case Code::kEngine:
      return "EngineError";
    case Code::kCancelled:
      return "Cancelled";
    case Code::kInternal:
      return "Internal";
    case Code::kFailedPrecondition:
      return "FailedPrecondition";
  }
  return "Unknown";
}

std::string Status::to_string() const {
  if (is_ok()) {
    return "OK";
  }
  std::string s = code_name(code_);
  if (http_status_ != 0) {
    s += " (HTTP " + std::to_string(http_status_) + ")";
  }
  s += ": ";
  s += message_;
  return s;
}

}  // namespace orch
