#include "orchestrator/journal/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace orch::journal {
namespace {

Status errno_status(const std::string& what, const std::string& path, int err) {
  return Status(Code::kInternal, what + " " + path + ": " + std::strerror(err));
}

std::string parent_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) {
    return ".";
  }
  if (slash == 0) {
    return "/";
  }
  return path.substr(0, slash);
}

// A new directory entry is only durable once its directory is fsynced (ext4, xfs: the data
// fsync of the file itself does not cover its name).
Status sync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return errno_status("open directory", dir, errno);
  }
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) {
    return errno_status("fsync directory", dir, err);
  }
  return Status::ok();
}

}  // namespace

Result<std::unique_ptr<PosixFile>> PosixFile::open(const std::string& path) {
  // O_EXCL first, so that we know whether this call created the file (and must sync the dir).
  bool created = true;
  int fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 && errno == EEXIST) {
    created = false;
    fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CLOEXEC);
  }
  if (fd < 0) {
    return errno_status("open journal", path, errno);
  }
  std::unique_ptr<PosixFile> file(new PosixFile(path, fd));
  if (created) {
    if (Status s = sync_dir(parent_of(path)); !s) {
      return s;
    }
  }
  return file;
}

PosixFile::~PosixFile() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

Status PosixFile::error(const char* what, int err) const { return errno_status(what, path_, err); }

Status PosixFile::append(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return error("write", errno);
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return Status::ok();
}

Status PosixFile::sync() {
  // fdatasync covers the file size too, which is all the metadata an append changes.
  if (::fdatasync(fd_) != 0) {
    return error("fdatasync", errno);
  }
  return Status::ok();
}

Result<uint64_t> PosixFile::size() {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    return error("stat", errno);
  }
  return static_cast<uint64_t>(st.st_size);
}

Result<std::string> PosixFile::read_all() {
  auto sz = size();
  if (!sz) {
    return sz.status();
  }
  std::string out(*sz, '\0');
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return error("read", errno);
    }
    if (n == 0) {
      break;  // shrank under us; return what is there
    }
    done += static_cast<size_t>(n);
  }
  out.resize(done);
  return out;
}

Status PosixFile::truncate(uint64_t n) {
  if (::ftruncate(fd_, static_cast<off_t>(n)) != 0) {
    return error("truncate", errno);
  }
  return Status::ok();
}

Status make_dirs(const std::string& path) {
  if (path.empty()) {
    return Status(Code::kInvalidArgument, "empty directory path");
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      return Status(Code::kInvalidArgument, path + " exists and is not a directory");
    }
    return Status::ok();
  }
  std::string parent = parent_of(path);
  if (parent != path) {
    if (Status s = make_dirs(parent); !s) {
      return s;
    }
  }
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return errno_status("create directory", path, errno);
  }
  return sync_dir(parent);
}

}  // namespace orch::journal
