// Incremental parser for the body of POST /images/create.
//
// The engine streams JSON objects separated by "\r\n" (after HTTP de-chunking). Chunk
// boundaries do not align with object boundaries, so feed() accepts arbitrary slices.
// An HTTP 200 stream can still report failure: an object with "error"/"errorDetail" means the
// pull failed, whatever the status line said.
#pragma once

#include <string>
#include <string_view>

#include "orchestrator/core/status.h"

namespace orch::docker {

class PullStreamParser {
 public:
  // Consumes more body bytes. Returns a non-ok Status as soon as an error object or malformed
  // JSON is seen; later calls keep returning that first error.
  Status feed(std::string_view bytes);
  // Call at end of stream: handles a final object without a trailing newline. Returns the
  // first error, or ok.
  Status finish();

  // "sha256:..." from a "Digest: sha256:..." status line, if one was seen.
  const std::string& digest() const { return digest_; }
  // The last "status" text (e.g. "Status: Image is up to date for ...").
  const std::string& last_status() const { return last_status_; }
  int objects() const { return objects_; }

 private:
  Status consume_line(std::string_view line);

  std::string buffer_;
  std::string digest_;
  std::string last_status_;
  Status error_;
  int objects_ = 0;
};

}  // namespace orch::docker
