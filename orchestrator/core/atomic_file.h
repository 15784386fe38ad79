// One atomic file write for the whole tree: a reader sees the old content or the new, never a
// torn file, even across a crash.
#pragma once

#include <string>

#include "orchestrator/core/status.h"

namespace orch {

// Writes `text` to `path`: a temporary file in the same directory (mkstemp), write, fsync,
// rename() over `path`, then fsync the directory so that the rename itself is durable.
// Errors are kUnavailable naming the failing step, the path and strerror; on failure the
// temporary file is removed and `path` is left as it was.
[[nodiscard]] Status write_file_atomically(const std::string& path, const std::string& text);

}  // namespace orch
