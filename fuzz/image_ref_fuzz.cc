// image_ref_fuzz: orch::docker::parse_image_ref round trip.
//
// Checks: nothing throws or crashes; an error is kInvalidArgument with a message; a reference
// that parses has a non-empty repository, a digest only if is_digest() holds, and
// parse_image_ref(ref.to_string()) succeeds with the same repository, digest and effective
// tag, and prints the same text again (to_string is a fixed point after one round).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "orchestrator/docker/image_ref.h"

namespace {

void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto ref = orch::docker::parse_image_ref(text);
  if (!ref.is_ok()) {
    check(ref.status().code() == orch::Code::kInvalidArgument);
    check(!ref.status().message().empty());
    return 0;
  }
  check(!ref->repository.empty());
  check(!ref->has_digest() || orch::docker::is_digest(ref->digest));
  check(ref->has_digest() || !ref->effective_tag().empty());

  const std::string printed = ref->to_string();
  const auto again = orch::docker::parse_image_ref(printed);
  check(again.is_ok());
  check(again->repository == ref->repository);
  check(again->digest == ref->digest);
  check(again->effective_tag() == ref->effective_tag());
  if (!ref->tag.empty()) {
    check(again->tag == ref->tag);
  }
  check(again->to_string() == printed);

  const std::string pinned = ref->pinned("sha256:" + std::string(64, 'a'));
  const auto pinned_ref = orch::docker::parse_image_ref(pinned);
  check(pinned_ref.is_ok());
  check(pinned_ref->repository == ref->repository && pinned_ref->tag.empty());
  return 0;
}
