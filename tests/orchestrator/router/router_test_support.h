// Helpers shared by the router tests: a private temp directory, running a Task to completion on
// its own io_context, and a manifest loaded through the real parser (so validation runs).
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "orchestrator/core/clock.h"
#include "orchestrator/manifest/parse.h"

namespace orch::router::test {

// A fresh directory under /tmp (short: unix socket paths are limited to 108 bytes), removed
// with everything in it when the test ends.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/rgrouterXXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

  // Writes `text` to `name` in the directory and returns its path.
  std::string write(const std::string& name, const std::string& text, bool executable = false) {
    const std::string p = file(name);
    {
      std::ofstream out(p, std::ios::trunc);
      out << text;
    }
    if (executable) {
      std::filesystem::permissions(p, std::filesystem::perms::owner_all);
    }
    return p;
  }

  std::string read(const std::string& name) const {
    std::ifstream in(file(name));
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

 private:
  std::string path_;
};

// Runs one coroutine on a private io_context until it finishes and returns its result.
template <class T>
T run_task(Task<T> task) {
  boost::asio::io_context io;
  auto result = boost::asio::co_spawn(io, std::move(task), boost::asio::use_future);
  io.run();
  return result.get();
}

// The manifest `yaml` describes, after the loader validated it (a failure shows every error).
inline manifest::Manifest load(const std::string& yaml) {
  auto r = manifest::parse_manifest(yaml);
  std::string errors;
  for (const auto& e : r.errors) {
    errors += e.to_string() + "\n";
  }
  INFO(yaml);
  INFO(errors);
  REQUIRE(r.ok());
  return *r.manifest;
}

}  // namespace orch::router::test
