// pull_stream_fuzz: orch::docker::PullStreamParser on a body split at arbitrary boundaries.
//
// Input layout: byte 0 = k; the next (k % 8) + 1 bytes are chunk sizes (each 1-256, used in
// turn); the rest is the pull stream body. The body is fed once in those slices and once in
// one piece. Checks: nothing throws or crashes; both ways give the same verdict (ok, or the
// same error code and message), digest, last status and object count; calls after an error
// keep returning that first error; finish() is idempotent.
//
// Splitting cannot change the verdict unless a single line exceeds the parser's 1 MiB limit,
// which inputs under libFuzzer's -max_len never reach.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "orchestrator/docker/pull_stream.h"

namespace {

using orch::Status;
using orch::docker::PullStreamParser;

void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

bool same(const Status& a, const Status& b) {
  return a.code() == b.code() && a.message() == b.message();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const size_t n_sizes = std::min<size_t>((data[0] % 8) + 1, size - 1);
  std::vector<size_t> sizes;
  for (size_t i = 0; i < n_sizes; ++i) {
    sizes.push_back(static_cast<size_t>(data[1 + i]) + 1);
  }
  if (sizes.empty()) {
    sizes.push_back(1);
  }
  const std::string_view body(reinterpret_cast<const char*>(data) + 1 + n_sizes,
                              size - 1 - n_sizes);

  PullStreamParser split;
  Status first_error;
  size_t pos = 0;
  for (size_t i = 0; pos < body.size(); ++i) {
    const size_t len = std::min(sizes[i % sizes.size()], body.size() - pos);
    Status st = split.feed(body.substr(pos, len));
    pos += len;
    if (!first_error.is_ok()) {
      check(same(st, first_error));  // the first error sticks
    } else if (!st.is_ok()) {
      first_error = st;
    }
  }
  const Status split_verdict = split.finish();
  if (!first_error.is_ok()) {
    check(same(split_verdict, first_error));
  }
  check(same(split.finish(), split_verdict));  // finish() is idempotent

  PullStreamParser whole;
  const Status fed = whole.feed(body);
  const Status whole_verdict = whole.finish();
  if (!fed.is_ok()) {
    check(same(whole_verdict, fed));
  }

  check(same(split_verdict, whole_verdict));
  check(split.digest() == whole.digest());
  check(split.last_status() == whole.last_status());
  check(split.objects() == whole.objects());
  check(split.objects() >= 0);
  if (!split_verdict.is_ok()) {
    check(!split_verdict.message().empty());
  }
  return 0;
}
