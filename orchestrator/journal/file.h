// journal::File: the one seam between the journal and the disk (STYLE.md #1, #7).
//
// The journal only ever appends, syncs, reads everything back at open, and truncates a torn
// tail. PosixFile does that on a real file; tests use MemFile (tests/fakes/mem_file.h), which
// keeps synced and unsynced bytes apart and can "crash" by dropping the unsynced ones.
//
// Durability contract: bytes passed to append() may be lost in a crash until sync() returns
// ok. truncate() is durable after the next sync().
// Thread-safety: none; one Journal owns one File and runs on one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "orchestrator/core/status.h"

namespace orch::journal {

class File {
 public:
  virtual ~File() = default;
  // Appends all of `bytes` at the end. A failure may leave a prefix of them written.
  virtual Status append(std::string_view bytes) = 0;
  // Makes every byte appended so far, and any truncate(), survive a crash.
  virtual Status sync() = 0;
  virtual Result<uint64_t> size() = 0;
  virtual Result<std::string> read_all() = 0;
  // REQUIRES: n <= size(). Drops every byte from offset n on.
  virtual Status truncate(uint64_t n) = 0;
};

// A file on disk, opened O_APPEND|O_CREAT with mode 0600. When open() creates the file it
// fsyncs the containing directory too, so that the new name itself survives a crash.
// sync() is fdatasync(). Errors carry the path and strerror(errno).
class PosixFile final : public File {
 public:
  static Result<std::unique_ptr<PosixFile>> open(const std::string& path);
  ~PosixFile() override;
  PosixFile(const PosixFile&) = delete;
  PosixFile& operator=(const PosixFile&) = delete;

  Status append(std::string_view bytes) override;
  Status sync() override;
  Result<uint64_t> size() override;
  Result<std::string> read_all() override;
  Status truncate(uint64_t n) override;

  const std::string& path() const { return path_; }

 private:
  PosixFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  Status error(const char* what, int err) const;

  std::string path_;
  int fd_ = -1;
};

// mkdir -p: creates every missing directory of `path` with mode 0700 (existing ones are left
// as they are) and fsyncs the parent of each directory it creates.
Status make_dirs(const std::string& path);

}  // namespace orch::journal
