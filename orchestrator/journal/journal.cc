#include "orchestrator/journal/journal.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "orchestrator/journal/crc32c.h"

namespace orch::journal {

using nlohmann::json;

namespace {

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) {
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xFFu));
  }
}

uint32_t get_u32(std::string_view data, size_t at) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    v |= static_cast<uint32_t>(static_cast<uint8_t>(data[at + static_cast<size_t>(i)])) << (8 * i);
  }
  return v;
}

// True when a whole record with a matching checksum starts at `at` (its type may be unknown).
bool valid_record_at(std::string_view data, size_t at) {
  if (data.size() - at < kHeaderSize) {
    return false;
  }
  uint32_t length = get_u32(data, at);
  if (length > kMaxPayload || data.size() - at - kHeaderSize < length) {
    return false;
  }
  uint32_t crc = get_u32(data, at + 4);
  return crc32c(data.substr(at + 8, 1 + length)) == crc;
}

// The first offset after `from` where a valid record starts, or npos.
//
// This is what tells a torn tail from damage in the middle. A crash tears only the end of
// the file, so nothing valid can follow a torn record; a flipped bit or a clobbered length
// field in the middle leaves valid records behind it. Scanning every offset is quadratic in
// the worst case, but it only runs once per open over the bytes after a bad record, which in
// a torn tail are less than one record. It cannot be fooled by JSON text: a header's length
// has a zero top byte and JSON text (as dumped) contains no NUL bytes.
size_t next_valid_record(std::string_view data, size_t from) {
  for (size_t at = from; at < data.size(); ++at) {
    if (valid_record_at(data, at)) {
      return at;
    }
  }
  return std::string_view::npos;
}

}  // namespace

std::string encode_record(RecordType type, std::string_view payload) {
  std::string out;
  out.reserve(kHeaderSize + payload.size());
  std::string checked;
  checked.reserve(1 + payload.size());
  checked.push_back(static_cast<char>(type));
  checked.append(payload);
  put_u32(out, static_cast<uint32_t>(payload.size()));
  put_u32(out, crc32c(checked));
  out.append(checked);
  return out;
}

Result<Decoded> decode_records(std::string_view data) {
  Decoded out;
  size_t at = 0;
  while (at < data.size()) {
    if (!valid_record_at(data, at)) {
      size_t next = next_valid_record(data, at + 1);
      if (next != std::string_view::npos) {
        return Status(Code::kInternal,
                      fmt::format("corrupt record at offset {} (a valid record follows at offset "
                                  "{}); refusing to skip it",
                                  at, next));
      }
      break;  // a torn tail: everything from `at` on is dropped
    }
    uint32_t length = get_u32(data, at);
    auto type_byte = static_cast<uint8_t>(data[at + 8]);
    // Intact but of a type this version does not know: written by a newer rollgate. Dropping
    // it (even at the tail) would lose its data, so stop.
    if (!known_type(type_byte)) {
      return Status(Code::kInternal,
                    fmt::format("record at offset {} has unknown type {} (written by a newer "
                                "rollgate?)",
                                at, type_byte));
    }
    auto type = static_cast<RecordType>(type_byte);
    json payload = json::parse(data.substr(at + kHeaderSize, length), nullptr, false);
    if (payload.is_discarded() || !payload.is_object()) {
      return Status(Code::kInternal,
                    fmt::format("record at offset {} ({}) has a valid checksum but its payload "
                                "is not a JSON object",
                                at, type_name(type)));
    }
    out.records.push_back(Record{type, std::move(payload), at});
    at += kHeaderSize + length;
  }
  out.good_bytes = at;
  return out;
}

Result<Journal> Journal::open(std::unique_ptr<File> file) {
  auto data = file->read_all();
  if (!data) {
    return data.status();
  }
  auto decoded = decode_records(*data);
  if (!decoded) {
    return decoded.status();
  }
  Journal j(std::move(file));
  j.records_ = std::move(decoded->records);
  j.end_ = decoded->good_bytes;
  j.synced_end_ = j.end_;
  j.dropped_bytes_ = data->size() - decoded->good_bytes;
  if (j.dropped_bytes_ > 0) {
    // Without the truncate, the next record would land after the torn bytes and turn a torn
    // tail into damage in the middle.
    if (Status s = j.file_->truncate(j.end_); !s) {
      return s;
    }
    if (Status s = j.file_->sync(); !s) {
      return s;
    }
  }
  return j;
}

Result<Journal> Journal::open(const std::string& path) {
  auto file = PosixFile::open(path);
  if (!file) {
    return file.status();
  }
  auto j = open(std::unique_ptr<File>(std::move(*file)));
  if (!j) {
    return j.status().with_context("journal " + path);
  }
  return j;
}

Status Journal::unusable() {
  return Status(Code::kInternal,
                "journal is unusable: an earlier failed write could not be undone");
}

Status Journal::append(RecordType type, const json& payload) {
  Status s = write(type, payload);
  if (!s) {
    return s;
  }
  return sync().with_context(fmt::format("journal append {}", type_name(type)));
}

Status Journal::write(RecordType type, const json& payload) {
  if (broken_) {
    return unusable();
  }
  if (!payload.is_object()) {
    return Status(Code::kInvalidArgument,
                  fmt::format("journal record {}: payload is not a JSON object", type_name(type)));
  }
  // replace: an engine error message with invalid UTF-8 must not make the record unwritable.
  std::string text = payload.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > kMaxPayload) {
    return Status(Code::kInvalidArgument,
                  fmt::format("journal record {} is {} bytes; the limit is {}", type_name(type),
                              text.size(), kMaxPayload));
  }
  std::string bytes = encode_record(type, text);
  if (Status s = file_->append(bytes); !s) {
    // Undo a possibly partial record so that later appends do not follow garbage. (The sync
    // also makes the records written before it durable, which they may be anyway.)
    if (!file_->truncate(end_) || !file_->sync()) {
      broken_ = true;
    } else {
      synced_end_ = end_;
      unsynced_ = false;
    }
    return s.with_context(fmt::format("journal append {}", type_name(type)));
  }
  records_.push_back(Record{type, payload, end_});
  end_ += bytes.size();
  unsynced_ = true;
  return Status::ok();
}

Status Journal::sync() {
  if (broken_) {
    return unusable();
  }
  if (!unsynced_) {
    return Status::ok();
  }
  if (Status s = file_->sync(); !s) {
    // The records since the last good sync may or may not be on disk: cut them off and make
    // the cut durable, so that nothing unacknowledged is ever read back as if it had been.
    if (!file_->truncate(synced_end_) || !file_->sync()) {
      broken_ = true;
    } else {
      while (!records_.empty() && records_.back().offset >= synced_end_) {
        records_.pop_back();
      }
      end_ = synced_end_;
      unsynced_ = false;
    }
    return s;
  }
  synced_end_ = end_;
  unsynced_ = false;
  return Status::ok();
}

Result<std::vector<Record>> read_records(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return std::vector<Record>{};
    }
    return Status(Code::kInternal, "open journal " + path + ": " + std::strerror(errno));
  }
  std::string data;
  char buf[64 * 1024];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return Status(Code::kInternal, "read journal " + path + ": " + std::strerror(err));
    }
    if (n == 0) {
      break;
    }
    data.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  auto decoded = decode_records(data);
  if (!decoded) {
    return decoded.status().with_context("journal " + path);
  }
  return std::move(decoded->records);
}

Result<std::string> state_dir_from(const StateEnv& env) {
  auto set = [](const char* v) { return v != nullptr && v[0] != '\0'; };
  if (set(env.rollgate_state_dir)) {
    return std::string(env.rollgate_state_dir);
  }
  // The XDG spec: a relative path in these variables is invalid and must be ignored.
  if (set(env.xdg_state_home) && env.xdg_state_home[0] == '/') {
    return std::string(env.xdg_state_home) + "/rollgate";
  }
  if (set(env.home)) {
    return std::string(env.home) + "/.local/state/rollgate";
  }
  if (env.root) {
    return std::string("/var/lib/rollgate");
  }
  return Status(Code::kInvalidArgument,
                "no state directory: set ROLLGATE_STATE_DIR (or XDG_STATE_HOME or HOME)");
}

Result<std::string> default_state_dir() {
  return state_dir_from(StateEnv{std::getenv("ROLLGATE_STATE_DIR"), std::getenv("XDG_STATE_HOME"),
                                 std::getenv("HOME"), ::geteuid() == 0});
}

std::string journal_path(const std::string& state_dir, const std::string& app) {
  return state_dir + "/" + app + "/journal.log";
}

Result<Journal> open_app_journal(const std::string& state_dir, const std::string& app) {
  if (app.empty() || app == "." || app == ".." || app.find('/') != std::string::npos ||
      app.find('\0') != std::string::npos) {
    return Status(Code::kInvalidArgument,
                  "app name \"" + app + "\" cannot name a journal directory");
  }
  if (Status s = make_dirs(state_dir + "/" + app); !s) {
    return s;
  }
  return Journal::open(journal_path(state_dir, app));
}

}  // namespace orch::journal
