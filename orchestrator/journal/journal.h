// journal::Journal: the append-only, checksummed, fsynced record of an app's rollouts.
//
// What it is for: the engines hold the truth about what runs where (container labels); the
// journal holds what rollgate *meant* to do and what it decided, so that a crashed rollout
// can be resumed or reverted, and `rollgate history` can list past rollouts (DESIGN.md).
//
// Write-ahead (STYLE.md #7). append() encodes, writes and syncs before it returns, so the
// controller does:  journal.append(intent) -> engine call -> journal.append(outcome).
// If append() fails the controller must not make the call: the journal would not know of it.
// Group commit is write() for each record, then one sync() that acknowledges them all
// (rollout::Journaler does this for the hosts of a step).
//
// On-disk format, one record after another, little-endian:
//     u32 length      bytes of payload (JSON text), at most kMaxPayload
//     u32 crc32c      of the type byte followed by the payload
//     u8  type        RecordType (records.h)
//     payload         JSON object (records.h: every record has "rollout" and "ts")
// Recovery at open: every record is verified. A torn or corrupt LAST record (a crash during
// its write: short header, short payload, checksum mismatch, zero-filled tail) is dropped and
// the file truncated back to the end of the last good record, so the next append follows
// good data. Damage anywhere else (a bad record with a valid record after it, an unknown
// type, a payload that is not JSON) is never skipped: open returns kInternal naming the
// byte offset, and a person decides.
//
// Layout: one file per app, `<state_dir>/<app>/journal.log`, holding every rollout of that
// app in order. Directories are created 0700, the file 0600.
//
// No snapshots: a rollout writes a few records per host (intent/outcome per engine call,
// baseline, decisions), so an app's journal grows by kilobytes per rollout and replaying it
// whole at open takes milliseconds. If that ever changes, snapshot by temp file, fsync,
// rename (STYLE.md #7); the record format does not need to change for it.
//
// Secrets: the journal stores exactly what callers put in the record structs. Callers must
// not pass credentials (registry auth, env values, TLS keys); see records.h.
//
// Thread-safety: none. One process appends to an app's journal at a time; the app's rollout
// lock (held by the caller) guarantees it. Readers that do not hold the lock use
// read_records(), which never truncates.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "orchestrator/core/status.h"
#include "orchestrator/journal/file.h"
#include "orchestrator/journal/records.h"

namespace orch::journal {

inline constexpr size_t kHeaderSize = 9;
// Larger records are refused at append and treated as damage when read. Keeping the top byte
// of every length zero also means a record header can never appear inside JSON text.
inline constexpr uint32_t kMaxPayload = 1u << 20;

struct Record {
  RecordType type = RecordType::kRolloutStart;
  nlohmann::json payload;  // a JSON object
  uint64_t offset = 0;     // where the record starts in the file
};

// One record's bytes. REQUIRES: payload.size() <= kMaxPayload.
std::string encode_record(RecordType type, std::string_view payload);

struct Decoded {
  std::vector<Record> records;
  uint64_t good_bytes = 0;  // length of the valid prefix; the rest is a torn tail
};

// Verifies and decodes a whole file's bytes (see "Recovery at open" above). Pure.
Result<Decoded> decode_records(std::string_view data);

class Journal {
 public:
  // Reads and verifies `file`, truncating (and syncing) a torn tail.
  static Result<Journal> open(std::unique_ptr<File> file);
  // Opens (creating if absent) the journal file at `path`; its directory must exist.
  static Result<Journal> open(const std::string& path);

  Journal(Journal&&) = default;
  Journal& operator=(Journal&&) = default;

  // Writes one record and syncs it. On error nothing is recorded (a partial write is
  // truncated away) and the caller must not perform the action the record announces.
  // Errors: kInvalidArgument when the payload is over kMaxPayload or not a JSON object;
  // kInternal for I/O errors (with path and errno text). If undoing a failed write fails
  // too, every later append fails with kInternal.
  Status append(RecordType type, const nlohmann::json& payload);

  // Group commit: write() appends one record without syncing it; sync() makes every record
  // written so far durable with one fdatasync. A record is acknowledged only once a sync()
  // after its write() returned ok: until then a crash may drop it (whole records only; a torn
  // one is dropped at open, like any tail). After a failed fsync the kernel may already have
  // dropped the dirty pages, so a failed sync() cuts off every record since the last good
  // sync (truncated, and the cut synced) and reports them failed; if even that fails, the
  // journal is broken and every later write, sync or append fails with kInternal. write()
  // errors are as append()'s.
  Status write(RecordType type, const nlohmann::json& payload);
  Status sync();
  bool unsynced() const { return unsynced_; }

  Status append(const StartRecord& r) { return append(type_of(r), to_json(r)); }
  Status append(const IntentRecord& r) { return append(type_of(r), to_json(r)); }
  Status append(const OutcomeRecord& r) { return append(type_of(r), to_json(r)); }
  Status append(const BaselineRecord& r) { return append(type_of(r), to_json(r)); }
  Status append(const DecisionRecord& r) { return append(type_of(r), to_json(r)); }
  Status append(const BatchDoneRecord& r) { return append(type_of(r), to_json(r)); }
  Status append(const EndRecord& r) { return append(type_of(r), to_json(r)); }
  Status append(const LockTakeoverRecord& r) { return append(type_of(r), to_json(r)); }
  template <class R>
  Status write(const R& r) {
    return write(type_of(r), to_json(r));
  }

  // Every record: those read at open, then those appended since. Feed to replay().
  const std::vector<Record>& records() const { return records_; }
  // Bytes of torn tail that open() dropped (0 after a clean shutdown).
  uint64_t dropped_bytes() const { return dropped_bytes_; }

 private:
  explicit Journal(std::unique_ptr<File> file) : file_(std::move(file)) {}
  static Status unusable();

  std::unique_ptr<File> file_;
  std::vector<Record> records_;
  uint64_t end_ = 0;  // file size after the last good record
  uint64_t dropped_bytes_ = 0;
  bool broken_ = false;
  bool unsynced_ = false;    // write() since the last sync
  uint64_t synced_end_ = 0;  // file size after the last record known durable
};

// Reads the records of the journal at `path` without changing the file: a torn tail is
// ignored, not truncated (a rollout may be writing it right now). A missing file is an
// empty journal. Middle damage is kInternal, as in open().
Result<std::vector<Record>> read_records(const std::string& path);

// ---- Where journals live ----

// The state directory, first match wins:
//   $ROLLGATE_STATE_DIR; $XDG_STATE_HOME/rollgate (absolute XDG paths only, per the XDG spec);
//   $HOME/.local/state/rollgate; /var/lib/rollgate when running as root without HOME.
// Empty variables count as unset. kInvalidArgument when none applies.
Result<std::string> default_state_dir();

// The pure rule behind default_state_dir(); nullptr means unset.
struct StateEnv {
  const char* rollgate_state_dir = nullptr;
  const char* xdg_state_home = nullptr;
  const char* home = nullptr;
  bool root = false;
};
Result<std::string> state_dir_from(const StateEnv& env);

// "<state_dir>/<app>/journal.log".
std::string journal_path(const std::string& state_dir, const std::string& app);

// Creates `<state_dir>/<app>/` (0700) if needed and opens its journal. kInvalidArgument when
// `app` could escape the directory (empty, ".", "..", contains '/' or NUL).
Result<Journal> open_app_journal(const std::string& state_dir, const std::string& app);

}  // namespace orch::journal
