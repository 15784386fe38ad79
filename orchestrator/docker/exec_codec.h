// The wire formats of Engine::exec, as pure functions (no I/O) so that tests feed them bytes:
// the create body, the create and inspect replies, and the multiplexed output stream.
// Decoders never throw; a malformed reply is kInternal "unexpected response: <what>", and the
// caller adds host, method and path.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "orchestrator/core/status.h"

namespace orch::docker {

// The body of POST /containers/{id}/exec: attach stdout and stderr, no TTY (so the stream is
// multiplexed and ends when the process exits), no stdin.
std::string encode_exec_body(const std::vector<std::string>& cmd);

// POST /containers/{id}/exec (201): {"Id": "..."}.
Result<std::string> decode_exec_create(std::string_view body);

struct ExecState {
  bool running = false;
  int exit_code = 0;  // when !running
};

// GET /exec/{id}/json: {"Running": false, "ExitCode": 0, ...}; ExitCode is null while running.
Result<ExecState> decode_exec_inspect(std::string_view body);

// The attached stream without a TTY is multiplexed: frames of an 8-byte header {stream, 0, 0,
// 0, size as big-endian uint32} followed by `size` bytes. Returns the payloads concatenated,
// at most `limit` bytes. A stream that does not start like a frame is taken as raw output.
std::string demultiplex(std::string_view raw, size_t limit);

}  // namespace orch::docker
