// Status and Result<T>: how expected failures travel in rollgate.
//
// Network errors, engine 4xx/5xx, bad manifests and timeouts are values, not
// exceptions (STYLE.md #4). A Status is either ok or carries a Code, a message
// a person can act on, and -- for Docker calls -- the engine's HTTP status.
// Exceptions are reserved for bugs and are caught in main().
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace orch {

enum class Code {
  kOk = 0,
  kInvalidArgument,     // bad input from a user: manifest, flags, image reference
  kNotFound,            // engine said 404, or a named thing does not exist
  kConflict,            // engine said 409 (name in use, removal in progress)
  kUnavailable,         // could not connect, connection reset, engine 5xx
  kTimeout,             // a deadline expired
  kEngine,              // any other engine-reported failure (e.g. error inside a 200 pull stream)
  kCancelled,           // the operation was cancelled (signal, shutdown)
  kInternal,            // a bug or an unexpected response shape
  kFailedPrecondition,  // a system is not in the state the operation needs (router config)
};

const char* code_name(Code c);

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok
  Status(Code code, std::string message, int http_status = 0)
      : code_(code), message_(std::move(message)), http_status_(http_status) {}

  static Status ok() { return Status(); }

  bool is_ok() const { return code_ == Code::kOk; }
  explicit operator bool() const { return is_ok(); }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // The engine's HTTP status for Docker calls; 0 when the failure happened below HTTP.
  int http_status() const { return http_status_; }

  // Prefixes the message with context, e.g. "h2: create web: <engine message>".
  Status with_context(const std::string& context) const {
    if (is_ok()) {
      return *this;
    }
    return Status(code_, context + ": " + message_, http_status_);
  }

  // "NotFound (HTTP 404): No such image: ..." -- for logs and errors shown to users.
  std::string to_string() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
  int http_status_ = 0;
};

// Either a T or a non-ok Status. Access to value() on an error is a bug.
template <class T>
class [[nodiscard]] Result {
 public:
  // An error "no result": co_spawn needs default-constructible results to report exceptions.
  Result() : v_(Status(Code::kInternal, "no result")) {}
  Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT: implicit by design

  bool is_ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return is_ok(); }

  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  // The error; ok() when this holds a value.
  Status status() const { return is_ok() ? Status() : std::get<Status>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace orch
