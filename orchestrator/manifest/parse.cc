// Manifest loading: text -> JSON document -> validated Manifest.
//
// Both formats become one nlohmann::ordered_json document first, then a single validator walks
// it. The validator never stops at the first problem: each field is checked on its own and every
// error is kept. Errors come out in a stable order: known keys in the order of manifest.h, and
// unknown keys, list items and map entries in the order the user wrote them (hence ordered_json).
//
// This file holds the entry points, the JSON reader and validate(), which walks the top-level
// keys. The rest lives beside it: validator.{h,cc} (typed accessors, paths, value descriptions),
// yaml_to_json.{h,cc} (YAML -> JSON), and one file per section behind sections.h.
#include "orchestrator/manifest/parse.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <set>

#include "orchestrator/docker/image_ref.h"
#include "orchestrator/manifest/sections.h"
#include "orchestrator/manifest/validator.h"
#include "orchestrator/manifest/yaml_to_json.h"

namespace orch::manifest {

std::string FieldError::to_string() const { return path.empty() ? message : path + ": " + message; }

namespace {

constexpr std::array<std::string_view, 10> kTopKeys = {
    "app",    "image",      "hosts", "container",     "strategy",
    "health", "on_failure", "keep",  "registry_auth", "router"};
constexpr const char* kAppExpected =
    "a name of 1-63 characters: lowercase letters, digits, '_', '.', '-', starting with a letter "
    "or digit";

bool valid_app_name(std::string_view s) {
  if (s.empty() || s.size() > 63) {
    return false;
  }
  auto lower = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!lower(s.front())) {
    return false;
  }
  return std::all_of(s.begin(), s.end(),
                     [&](char c) { return lower(c) || c == '_' || c == '.' || c == '-'; });
}

LoadResult validate(const Json& doc) {
  Validator v;
  Manifest m;
  if (doc.is_null()) {
    v.add("", "the manifest is empty: expected a map with at least app, image and hosts");
    return {std::nullopt, std::move(v.errors())};
  }
  if (!v.object("", doc, kTopKeys)) {
    return {std::nullopt, std::move(v.errors())};
  }

  if (const Json* app = find(doc, "app")) {
    if (auto s = v.string("app", *app, kAppExpected)) {
      if (valid_app_name(*s)) {
        m.app = *s;
      } else {
        v.fail("app", *app, kAppExpected);
      }
    }
  } else {
    v.missing("app", kAppExpected);
  }

  constexpr const char* kImageExpected =
      "an image reference like \"registry:5000/team/app:1.2\" or \"app@sha256:<64 hex>\"";
  if (const Json* image = find(doc, "image")) {
    if (auto s = v.string("image", *image, kImageExpected)) {
      auto ref = docker::parse_image_ref(*s);
      if (ref.is_ok()) {
        m.image = *s;
      } else {
        v.fail("image", *image, std::string(kImageExpected) + "; " + ref.status().message());
      }
    }
  } else {
    v.missing("image", kImageExpected);
  }

  if (const Json* hosts = find(doc, "hosts")) {
    read_hosts(v, *hosts, m.hosts);
  } else {
    v.missing("hosts", "a non-empty list of hosts, each a map with name and engine");
  }
  if (const Json* c = find(doc, "container")) {
    read_container(v, *c, m.container);
  }
  if (const Json* s = find(doc, "strategy")) {
    read_strategy(v, *s, m.strategy);
  }
  if (const Json* h = find(doc, "health")) {
    read_health(v, *h, m.health);
  }
  if (const Json* f = find(doc, "on_failure")) {
    constexpr const char* kExpected = "\"rollback\" or \"pause\"";
    if (auto s = v.string("on_failure", *f, kExpected)) {
      if (*s == "rollback") {
        m.on_failure = OnFailure::kRollback;
      } else if (*s == "pause") {
        m.on_failure = OnFailure::kPause;
      } else {
        v.fail("on_failure", *f, kExpected);
      }
    }
  }
  if (const Json* k = find(doc, "keep")) {
    if (auto n = v.integer("keep", *k, 1, std::numeric_limits<int>::max(), "an integer >= 1")) {
      m.keep = *n;
    }
  }
  if (const Json* r = find(doc, "registry_auth")) {
    read_registry_auth(v, *r, m);
  }
  if (const Json* r = find(doc, "router")) {
    read_router(v, *r, m);
  }
  if (v.errors().empty()) {
    check_strategy(v, doc, m);
  }

  if (!v.errors().empty()) {
    return {std::nullopt, std::move(v.errors())};
  }
  return {std::move(m), {}};
}

// ---------------------------------------------------------------------------------------------
// JSON.

struct TooDeep {};

std::optional<Json> parse_json(const std::string& text, std::vector<FieldError>& errors) {
  // nlohmann keeps the last of duplicate keys silently; this callback tracks where the parser
  // is (the path of the value being read) to report them, and bounds the nesting depth.
  struct Frame {
    bool object;
    std::string key;
    size_t index = 0;
    bool started = false;
    std::set<std::string> keys;
  };
  std::vector<Frame> frames;
  auto path_of = [&frames](size_t n) {
    std::string p;
    for (size_t i = 0; i < n; ++i) {
      p = frames[i].object ? key_path(p, frames[i].key) : index_path(p, frames[i].index);
    }
    return p;
  };
  auto next_item = [&frames] {
    if (!frames.empty() && !frames.back().object) {
      Frame& f = frames.back();
      f.index = f.started ? f.index + 1 : 0;
      f.started = true;
    }
  };
  auto callback = [&](int depth, Json::parse_event_t event, Json& parsed) -> bool {
    if (depth > kMaxDepth) {
      throw TooDeep{};
    }
    switch (event) {
      case Json::parse_event_t::object_start:
      case Json::parse_event_t::array_start:
        next_item();
        frames.push_back({event == Json::parse_event_t::object_start, "", 0, false, {}});
        break;
      case Json::parse_event_t::object_end:
      case Json::parse_event_t::array_end:
        if (!frames.empty()) {
          frames.pop_back();
        }
        break;
      case Json::parse_event_t::key: {
        Frame& f = frames.back();
        f.key = parsed.get<std::string>();
        if (!f.keys.insert(f.key).second) {
          errors.push_back(
              {key_path(path_of(frames.size() - 1), f.key), "duplicate key " + quote(f.key)});
        }
        break;
      }
      case Json::parse_event_t::value:
        next_item();
        break;
    }
    return true;
  };
  try {
    Json doc = Json::parse(text, callback, /*allow_exceptions=*/true, /*ignore_comments=*/false);
    if (!errors.empty()) {
      return std::nullopt;
    }
    return doc;
  } catch (const Json::parse_error& e) {
    // e.byte is the 1-based offset of the character that broke the parse.
    size_t end = std::min<size_t>(e.byte, text.size());
    size_t line = 1;
    size_t column = 1;
    for (size_t i = 0; i + 1 < end; ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    // what() reads "[json.exception.parse_error.101] parse error at line 1, column 5: <detail>".
    std::string what = e.what();
    size_t detail = what.find(": ");
    what = detail == std::string::npos ? what : what.substr(detail + 2);
    errors.push_back({"", "invalid JSON at line " + std::to_string(line) + ", column " +
                              std::to_string(column) + ": " + what});
  } catch (const TooDeep&) {
    errors.push_back(
        {"", "invalid JSON: nested deeper than " + std::to_string(kMaxDepth) + " levels"});
  } catch (const Json::exception& e) {
    // e.g. "[json.exception.out_of_range.406] number overflow parsing '1e999'": drop the id.
    std::string what = e.what();
    size_t id_end = what.find("] ");
    errors.push_back(
        {"", "invalid JSON: " + (id_end == std::string::npos ? what : what.substr(id_end + 2))});
  } catch (const std::exception& e) {
    errors.push_back({"", std::string("invalid JSON: ") + e.what()});
  }
  return std::nullopt;
}

}  // namespace

LoadResult parse_manifest(const std::string& text, Format format) {
  try {
    if (format == Format::kAuto) {
      auto first = std::find_if_not(text.begin(), text.end(), [](char c) {
        return std::isspace(static_cast<unsigned char>(c));
      });
      format = (first != text.end() && *first == '{') ? Format::kJson : Format::kYaml;
    }
    std::vector<FieldError> errors;
    std::optional<Json> doc =
        format == Format::kJson ? parse_json(text, errors) : parse_yaml(text, errors);
    if (!doc) {
      return {std::nullopt, std::move(errors)};
    }
    return validate(*doc);
  } catch (const std::exception& e) {
    // Only reached on a bug or out-of-memory; the promise is still "never throws".
    return {std::nullopt,
            {{"", std::string("internal error while loading the manifest: ") + e.what()}}};
  }
}

LoadResult load_manifest(const std::string& path) {
  auto cannot_read = [&path](int err) {
    return LoadResult{std::nullopt,
                      {{"", "cannot read " + path + ": " + std::string(std::strerror(err))}}};
  };
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return cannot_read(errno);
  }
  std::string text;
  char buf[65536];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    text.append(buf, n);
  }
  int err = std::ferror(f) ? (errno != 0 ? errno : EIO) : 0;
  std::fclose(f);
  if (err != 0) {
    return cannot_read(err);
  }
  bool json = path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0;
  return parse_manifest(text, json ? Format::kJson : Format::kAuto);
}

}  // namespace orch::manifest
