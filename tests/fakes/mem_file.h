// MemFile: a journal::File in memory that can crash (STYLE.md #7, #11).
//
// It keeps the bytes that sync() made durable apart from those appended since. crash()
// models power loss: the unsynced bytes vanish, or -- crash(keep) -- only a prefix of them
// survives, which is how a torn record looks on disk. Tests can also make the Nth append or
// sync fail, and read the durable contents.
#pragma once

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>

#include "orchestrator/journal/file.h"

namespace orch::testing {

class MemFile final : public journal::File {
 public:
  // A file whose durable contents are `synced` (e.g. a journal written earlier).
  explicit MemFile(std::string synced = {}) : synced_(std::move(synced)) {}

  Status append(std::string_view bytes) override {
    ++appends_;
    if (full_from_ != 0 && appends_ >= full_from_) {
      // What a full disk answers, as PosixFile words it: nothing of the record was written.
      return Status(Code::kInternal, "write " + kFullPath + ": No space left on device");
    }
    if (fail_append_at_ != 0 && appends_ == fail_append_at_) {
      // A failing write may have written part of the bytes first.
      unsynced_.append(bytes.substr(0, bytes.size() / 2));
      return Status(Code::kInternal, "MemFile: injected write failure");
    }
    unsynced_.append(bytes);
    return Status::ok();
  }

  Status sync() override {
    ++syncs_;
    if (fail_sync_at_ != 0 && syncs_ == fail_sync_at_) {
      return Status(Code::kInternal, "MemFile: injected sync failure");
    }
    synced_ += unsynced_;
    unsynced_.clear();
    return Status::ok();
  }

  Result<uint64_t> size() override {
    return static_cast<uint64_t>(synced_.size() + unsynced_.size());
  }

  Result<std::string> read_all() override { return synced_ + unsynced_; }

  // The new length is durable only after sync(); until then a crash cannot bring the cut
  // bytes back in this model (the simplification is safe for the journal, which always
  // truncates and then syncs).
  Status truncate(uint64_t n) override {
    if (n <= synced_.size()) {
      synced_.resize(n);
      unsynced_.clear();
    } else {
      unsynced_.resize(std::min<uint64_t>(n - synced_.size(), unsynced_.size()));
    }
    return Status::ok();
  }

  // Power loss: every unsynced byte is lost except the first `keep` of them.
  void crash(size_t keep = 0) {
    unsynced_.resize(std::min(keep, unsynced_.size()));
    synced_ += unsynced_;
    unsynced_.clear();
  }

  // Power loss that keeps a random prefix (possibly none, possibly all) of the unsynced bytes.
  template <class Rng>
  void crash_random(Rng& rng) {
    std::uniform_int_distribution<size_t> keep(0, unsynced_.size());
    crash(keep(rng));
  }

  // The Nth call (1-based, counted from construction) fails; 0 disables.
  void fail_append_at(int n) { fail_append_at_ = n; }
  void fail_sync_at(int n) { fail_sync_at_ = n; }
  // The disk fills up: the Nth append and every later one fail with ENOSPC's text.
  void full_from(int n) { full_from_ = n; }
  inline static const std::string kFullPath = "/state/web/journal.log";

  const std::string& synced() const { return synced_; }
  const std::string& unsynced() const { return unsynced_; }
  int appends() const { return appends_; }
  int syncs() const { return syncs_; }

 private:
  std::string synced_;
  std::string unsynced_;
  int appends_ = 0;
  int syncs_ = 0;
  int fail_append_at_ = 0;
  int fail_sync_at_ = 0;
  int full_from_ = 0;
};

}  // namespace orch::testing
