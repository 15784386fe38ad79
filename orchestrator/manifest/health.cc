// The health section: the http, tcp and exec probes, their thresholds and deadlines.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

#include "orchestrator/manifest/sections.h"

namespace orch::manifest {
namespace {

constexpr std::array<std::string_view, 13> kHealthKeys = {"http",
                                                          "tcp",
                                                          "exec",
                                                          "docker_health",
                                                          "interval",
                                                          "timeout",
                                                          "healthy_threshold",
                                                          "unhealthy_threshold",
                                                          "healthy_deadline",
                                                          "min_healthy_time",
                                                          "max_failure_ratio",
                                                          "progress_deadline",
                                                          "bake"};
constexpr std::array<std::string_view, 8> kHttpKeys = {
    "port",          "path",        "expect_status",   "scheme",
    "body_contains", "max_latency", "tls_skip_verify", "keep_alive"};
constexpr std::array<std::string_view, 1> kTcpKeys = {"port"};
constexpr std::array<std::string_view, 1> kExecKeys = {"command"};

void read_http(Validator& v, const Json& j, HttpCheck& out) {
  if (!v.object("health.http", j, kHttpKeys)) {
    return;
  }
  if (const Json* port = find(j, "port")) {
    if (auto n = v.integer("health.http.port", *port, 1, 65535, kPortExpected)) {
      out.port = static_cast<uint16_t>(*n);
    }
  } else {
    v.missing("health.http.port", kPortExpected);
  }
  if (const Json* path = find(j, "path")) {
    constexpr const char* kExpected = "a URL path starting with '/', e.g. \"/healthz\"";
    if (auto s = v.string("health.http.path", *path, kExpected)) {
      bool ok = !s->empty() && s->front() == '/' && std::none_of(s->begin(), s->end(), [](char c) {
        return std::isspace(static_cast<unsigned char>(c)) ||
               std::iscntrl(static_cast<unsigned char>(c));
      });
      if (ok) {
        out.path = *s;
      } else {
        v.fail("health.http.path", *path, kExpected);
      }
    }
  }
  if (const Json* expect = find(j, "expect_status")) {
    constexpr const char* kExpected = "an HTTP status 100-599, or a non-empty list of them";
    if (expect->is_array()) {
      if (expect->empty()) {
        v.fail("health.http.expect_status", *expect, kExpected);
      } else {
        out.expect_status.clear();
        for (size_t i = 0; i < expect->size(); ++i) {
          if (auto n = v.integer(index_path("health.http.expect_status", i), (*expect)[i], 100, 599,
                                 "an HTTP status 100-599")) {
            out.expect_status.push_back(*n);
          }
        }
      }
    } else if (auto n = v.integer("health.http.expect_status", *expect, 100, 599, kExpected)) {
      out.expect_status = {*n};
    }
  }
  if (const Json* scheme = find(j, "scheme")) {
    constexpr const char* kExpected = "\"http\" or \"https\"";
    if (auto s = v.string("health.http.scheme", *scheme, kExpected)) {
      if (*s == "http" || *s == "https") {
        out.scheme = *s;
      } else {
        v.fail("health.http.scheme", *scheme, kExpected);
      }
    }
  }
  if (const Json* text = find(j, "body_contains")) {
    constexpr const char* kExpected = "a non-empty string the response body must contain";
    if (auto s = v.string("health.http.body_contains", *text, kExpected)) {
      if (s->empty()) {
        v.fail("health.http.body_contains", *text, kExpected);
      } else {
        out.body_contains = *s;
      }
    }
  }
  if (const Json* latency = find(j, "max_latency")) {
    // Checked against health.timeout by read_health, once that is known.
    if (auto d = v.duration("health.http.max_latency", *latency)) {
      if (d->count() <= 0) {
        v.fail("health.http.max_latency", *latency, "a duration greater than 0, e.g. \"500ms\"");
      } else {
        out.max_latency = *d;
      }
    }
  }
  if (const Json* skip = find(j, "tls_skip_verify")) {
    if (auto b = v.boolean("health.http.tls_skip_verify", *skip)) {
      // Skipping verification on plain HTTP means nothing; saying so catches a forgotten scheme.
      if (*b && out.scheme != "https") {
        v.fail("health.http.tls_skip_verify", *skip,
               "false or absent unless health.http.scheme is \"https\"");
      } else {
        out.tls_skip_verify = *b;
      }
    }
  }
  if (const Json* keep = find(j, "keep_alive")) {
    if (auto b = v.boolean("health.http.keep_alive", *keep)) {
      out.keep_alive = *b;
    }
  }
}

void read_tcp(Validator& v, const Json& j, TcpCheck& out) {
  if (!v.object("health.tcp", j, kTcpKeys)) {
    return;
  }
  if (const Json* port = find(j, "port")) {
    if (auto n = v.integer("health.tcp.port", *port, 1, 65535, kPortExpected)) {
      out.port = static_cast<uint16_t>(*n);
    }
  } else {
    v.missing("health.tcp.port", kPortExpected);
  }
}

void read_exec(Validator& v, const Json& j, ExecCheck& out) {
  if (!v.object("health.exec", j, kExecKeys)) {
    return;
  }
  constexpr const char* kExpected =
      "a non-empty list of arguments, or one non-empty string (run as /bin/sh -c \"...\")";
  const Json* cmd = find(j, "command");
  if (!cmd) {
    v.missing("health.exec.command", kExpected);
    return;
  }
  if (cmd->is_string()) {
    // As for container.command: the shell splits a string, so quoting and pipes work.
    if (cmd->get<std::string>().empty()) {
      v.fail("health.exec.command", *cmd, kExpected);
    } else {
      out.command = {"/bin/sh", "-c", cmd->get<std::string>()};
    }
  } else if (cmd->is_array() && !cmd->empty()) {
    for (size_t i = 0; i < cmd->size(); ++i) {
      if (auto s = v.text(index_path("health.exec.command", i), (*cmd)[i])) {
        out.command.push_back(*s);
      }
    }
    // The first argument is the program: an empty one cannot be run.
    if (!out.command.empty() && out.command.front().empty() && (*cmd)[0].is_string()) {
      v.fail(index_path("health.exec.command", 0), (*cmd)[0], "a program name or path");
    }
  } else {
    v.fail("health.exec.command", *cmd, kExpected);
  }
}

}  // namespace

void read_health(Validator& v, const Json& j, Health& out) {
  if (!v.object("health", j, kHealthKeys)) {
    return;
  }
  if (const Json* http = find(j, "http")) {
    HttpCheck check;
    read_http(v, *http, check);
    out.http = check;
  }
  if (const Json* tcp = find(j, "tcp")) {
    TcpCheck check;
    read_tcp(v, *tcp, check);
    out.tcp = check;
  }
  if (const Json* exec = find(j, "exec")) {
    ExecCheck check;
    read_exec(v, *exec, check);
    out.exec = check;
  }
  if (const Json* d = find(j, "docker_health")) {
    if (auto b = v.boolean("health.docker_health", *d)) {
      out.docker_health = *b;
    }
  }
  struct DurationField {
    std::string_view key;
    Millis* target;
    bool positive;
  };
  const DurationField durations[] = {
      {"interval", &out.interval, true},
      {"timeout", &out.timeout, true},
      {"healthy_deadline", &out.healthy_deadline, true},
      {"min_healthy_time", &out.min_healthy_time, false},
  };
  bool deadline_ok = true;
  bool timeout_ok = true;
  bool min_time_given = false;
  for (const auto& f : durations) {
    const Json* value = find(j, f.key);
    if (!value) {
      continue;
    }
    std::string p = key_path("health", f.key);
    auto d = v.duration(p, *value);
    if (!d) {
      deadline_ok = deadline_ok && f.key != "healthy_deadline";
      timeout_ok = timeout_ok && f.key != "timeout";
      continue;
    }
    if (f.positive && d->count() <= 0) {
      v.fail(p, *value, "a duration greater than 0, e.g. \"2s\"");
      deadline_ok = deadline_ok && f.key != "healthy_deadline";
      timeout_ok = timeout_ok && f.key != "timeout";
      continue;
    }
    *f.target = *d;
    min_time_given = min_time_given || f.key == "min_healthy_time";
  }
  // A container must stay passing for min_healthy_time before it counts as healthy, and it must
  // be healthy within healthy_deadline, so a min_healthy_time that is not shorter than the
  // deadline can never be met.
  if (min_time_given && deadline_ok && out.min_healthy_time >= out.healthy_deadline) {
    v.fail("health.min_healthy_time", j.at("min_healthy_time"),
           "a duration shorter than health.healthy_deadline (" +
               format_duration(out.healthy_deadline) + ")");
  }
  if (const Json* t = find(j, "healthy_threshold")) {
    if (auto n = v.integer("health.healthy_threshold", *t, 1, std::numeric_limits<int>::max(),
                           "an integer >= 1")) {
      out.healthy_threshold = *n;
    }
  }
  if (const Json* t = find(j, "unhealthy_threshold")) {
    if (auto n = v.integer("health.unhealthy_threshold", *t, 1, std::numeric_limits<int>::max(),
                           "an integer >= 1")) {
      out.unhealthy_threshold = *n;
    }
  }
  // Each probe gives up at health.timeout, so a max_latency at or past it could never fire.
  if (out.http && out.http->max_latency && timeout_ok && *out.http->max_latency >= out.timeout) {
    v.fail("health.http.max_latency", j.at("http").at("max_latency"),
           "a duration shorter than health.timeout (" + format_duration(out.timeout) + ")");
    out.http->max_latency.reset();
  }
  if (const Json* r = find(j, "max_failure_ratio")) {
    constexpr const char* kExpected =
        "a number from 0 to 1: the fraction of hosts that may fail, e.g. 0.25";
    // YAML floats reach us as their text (resolve_plain_scalar keeps them), JSON ones as numbers.
    std::optional<double> ratio;
    if (r->is_number()) {
      ratio = r->get<double>();
    } else if (r->is_string()) {
      const std::string& text = r->get_ref<const std::string&>();
      double d = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
      if (!text.empty() && ec == std::errc() && end == text.data() + text.size()) {
        ratio = d;
      }
    }
    // The comparisons are false for NaN, so it is refused too.
    if (ratio && *ratio >= 0.0 && *ratio <= 1.0) {
      out.max_failure_ratio = *ratio;
    } else {
      v.fail("health.max_failure_ratio", *r, kExpected);
    }
  }
  if (const Json* d = find(j, "progress_deadline")) {
    if (auto ms = v.duration("health.progress_deadline", *d)) {
      if (ms->count() <= 0) {
        v.fail("health.progress_deadline", *d, "a duration greater than 0, e.g. \"10m\"");
      } else {
        out.progress_deadline = *ms;
      }
    }
  }
  if (const Json* d = find(j, "bake")) {
    if (auto ms = v.duration("health.bake", *d)) {
      out.bake = *ms;
    }
  }
}

}  // namespace orch::manifest
