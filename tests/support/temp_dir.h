// TempDir: a fresh directory for one test, removed with everything in it when the test ends.
//
// The one temp-directory helper of the tests. The name is `<base>/<prefix>XXXXXX` (mkdtemp);
// tests that put unix sockets in it pass base "/tmp" and a short prefix, since a socket path
// is limited to 108 bytes. Creation failing is a test failure (REQUIRE); removal never throws.
#pragma once

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>

namespace orch::testing {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "rollgate-test-",
                   const std::string& base = std::filesystem::temp_directory_path().string()) {
    std::string tmpl = base + "/" + prefix + "XXXXXX";
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // The path of `name` in the directory (which need not exist).
  std::string file(const std::string& name) const { return path_ + "/" + name; }

  // Writes `text` to `name` in the directory (replacing it) and returns its path; with
  // `executable` the file is made rwx for its owner only.
  std::string write(const std::string& name, const std::string& text,
                    bool executable = false) const {
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

  // The whole content of `name` in the directory ("" when it cannot be read).
  std::string read(const std::string& name) const {
    std::ifstream in(file(name));
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

 private:
  std::string path_;
};

}  // namespace orch::testing
