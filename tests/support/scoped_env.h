// ScopedEnv: an environment variable of this process (and so of what it starts) set for one
// scope, then restored to what it was before (set to its old value, or unset).
//
// Not thread-safe: setenv/unsetenv race with getenv in other threads, so tests set variables
// before they start any.
#pragma once

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <optional>
#include <string>

namespace orch::testing {

class ScopedEnv {
 public:
  // Sets `name` to `value`; nullptr unsets it.
  ScopedEnv(std::string name, const char* value) : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str())) {
      old_ = old;
    }
    set(value);
  }
  ScopedEnv(std::string name, const std::string& value)
      : ScopedEnv(std::move(name), value.c_str()) {}
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

  // Changes the variable again within the scope; nullptr unsets it. The destructor still
  // restores the value from before the scope.
  void set(const char* value) {
    if (value != nullptr) {
      REQUIRE(::setenv(name_.c_str(), value, 1) == 0);
    } else {
      REQUIRE(::unsetenv(name_.c_str()) == 0);
    }
  }

 private:
  std::string name_;
  std::optional<std::string> old_;
};

}  // namespace orch::testing
