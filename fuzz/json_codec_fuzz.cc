// json_codec_fuzz: every decoder in orchestrator/docker/json_codec.h on arbitrary bytes, plus
// engine_error_message and encode_create_body.
//
// Checks: nothing throws or crashes; a decoder error is kInternal with a message starting
// "unexpected response: "; a decoded create response has a non-empty Id; engine_error_message never
// returns more than the 300-byte excerpt plus "..." when it falls back to the raw body; and
// encode_create_body, given a spec built from the input's strings, produces JSON that parses back
// with the same image, env, command and labels.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "orchestrator/docker/json_codec.h"

namespace {

using orch::Code;
using orch::Status;

void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

void check_error(const Status& st) {
  check(!st.is_ok());
  check(st.code() == Code::kInternal);
  check(st.message().starts_with("unexpected response: "));
}

template <class T>
void check_decoded(const orch::Result<T>& r) {
  if (!r.is_ok()) {
    check_error(r.status());
  }
}

// Splits the input into NUL-separated strings, for building a ContainerSpec.
std::vector<std::string> fields(std::string_view in) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= in.size() && out.size() < 16) {
    size_t end = in.find('\0', start);
    if (end == std::string_view::npos) {
      end = in.size();
    }
    out.emplace_back(in.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

bool valid_utf8(const std::string& s) {
  // nlohmann's strict dump is the reference for what JSON can carry.
  try {
    (void)nlohmann::json(s).dump();
    return true;
  } catch (const nlohmann::json::type_error&) {
    return false;
  }
}

void check_encode(std::string_view in) {
  const std::vector<std::string> f = fields(in);
  orch::docker::ContainerSpec spec;
  spec.name = "app";
  spec.image = f[0];
  for (size_t i = 1; i < f.size(); ++i) {
    if (i % 3 == 0) {
      spec.env.push_back(f[i]);
    } else if (i % 3 == 1) {
      spec.cmd.push_back(f[i]);
    } else {
      spec.labels[f[i]] = f[i - 1];
    }
  }
  spec.restart_policy = f.size() > 2 ? "on-failure" : "";
  spec.restart_max_retries = static_cast<int>(in.size());
  spec.ports.push_back({8080, 80, "tcp", ""});
  if (f.size() % 2 == 0) {
    spec.stop_timeout_s = static_cast<int>(f.size());
  }
  // The encoder's input comes from validated manifests; JSON cannot carry invalid UTF-8, so only
  // specs made of valid UTF-8 are held to the round trip.
  for (const auto& s : f) {
    if (!valid_utf8(s)) {
      return;
    }
  }
  const std::string body = orch::docker::encode_create_body(spec);
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  check(!j.is_discarded() && j.is_object());
  check(j.at("Image") == spec.image);
  check(j.at("Env") == spec.env);
  if (spec.cmd.empty()) {
    check(!j.contains("Cmd"));
  } else {
    check(j.at("Cmd") == spec.cmd);
  }
  check(j.at("Labels").size() == spec.labels.size());
  for (const auto& [k, v] : spec.labels) {
    check(j.at("Labels").at(k) == v);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);

  check_decoded(orch::docker::decode_version(body));
  check_decoded(orch::docker::decode_distribution(body));
  check_decoded(orch::docker::decode_image(body));

  check_decoded(orch::docker::decode_container_list(body));
  check_decoded(orch::docker::decode_container(body));

  auto created = orch::docker::decode_create_response(body);
  check_decoded(created);
  if (created.is_ok()) {
    check(!created->empty());
  }

  const std::string message = orch::docker::engine_error_message(body, "fallback");
  check(!message.empty());
  check(message.size() <= body.size() + 3 || message == "fallback");

  check_encode(body);
  return 0;
}
