// YAML -> JSON: yaml-cpp's node tree converted value by value, with the bounds and checks that
// keep a hostile or mistyped document from reaching the validator.
#include "orchestrator/manifest/yaml_to_json.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cstdint>
#include <sstream>
#include <string_view>

namespace orch::manifest {
namespace {

// Bounds YAML alias expansion ("billion laughs"): a real manifest has a few hundred values.
constexpr size_t kMaxValues = 100000;

// Resolves an untagged plain YAML scalar the way the YAML 1.2 core schema does, narrowed to
// what JSON can say without loss: null, true/false, and decimal integers without leading zeros
// become JSON values; everything else (floats, "yes", "0755", "8080:80", huge numbers) stays
// the text the user wrote, so that `VERSION: 1.10` does not become 1.1.
Json resolve_plain_scalar(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") {
    return nullptr;
  }
  if (s == "true" || s == "True" || s == "TRUE") {
    return true;
  }
  if (s == "false" || s == "False" || s == "FALSE") {
    return false;
  }
  std::string_view digits = s;
  if (!digits.empty() && digits.front() == '-') {
    digits.remove_prefix(1);
  }
  if (all_digits(digits) && (digits.size() == 1 || digits.front() != '0')) {
    long long n = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec == std::errc() && end == s.data() + s.size()) {
      return n;
    }
  }
  return s;
}

// True when `s` is well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
// JSON, and so the engine's API, carries only UTF-8: a YAML scalar that is not must be refused
// here, with its path, instead of failing later when the create body is serialised.
bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    int extra = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= s.size()) {
      return false;  // truncated sequence
    }
    for (int k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) {
        return false;
      }
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

class YamlToJson {
 public:
  explicit YamlToJson(std::vector<FieldError>& errors) : errors_(errors) {}

  Json convert(const YAML::Node& node, const std::string& path, int depth) {
    if (stopped_) {
      return nullptr;
    }
    if (depth > kMaxDepth) {
      // The path would be as deep as the problem; name where the nesting starts instead.
      errors_.push_back({"", "the document is nested deeper than " + std::to_string(kMaxDepth) +
                                 " levels (a recursive YAML alias?)"});
      stopped_ = true;
      return nullptr;
    }
    if (++values_ > kMaxValues) {
      errors_.push_back({"", "the document has more than " + std::to_string(kMaxValues) +
                                 " values (runaway YAML aliases?)"});
      stopped_ = true;
      return nullptr;
    }
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        return nullptr;
      case YAML::NodeType::Scalar: {
        if (!valid_utf8(node.Scalar())) {
          errors_.push_back(
              {path, "not valid UTF-8 (line " + std::to_string(node.Mark().line + 1) + ")"});
          return nullptr;
        }
        // "!" marks quoted and block scalars; !!str is an explicit string. Both stay strings.
        const std::string& tag = node.Tag();
        if (tag == "!" || tag == "tag:yaml.org,2002:str") {
          return node.Scalar();
        }
        return resolve_plain_scalar(node.Scalar());
      }
      case YAML::NodeType::Sequence: {
        Json out = Json::array();
        size_t i = 0;
        for (const auto& item : node) {
          out.push_back(convert(item, index_path(path, i++), depth + 1));
        }
        return out;
      }
      case YAML::NodeType::Map: {
        Json out = Json::object();
        for (const auto& kv : node) {
          if (!kv.first.IsScalar()) {
            errors_.push_back({path, "a map key is not a plain string (line " +
                                         std::to_string(kv.first.Mark().line + 1) + ")"});
            continue;
          }
          const std::string& key = kv.first.Scalar();
          if (!valid_utf8(key)) {
            errors_.push_back({path, "a map key is not valid UTF-8 (line " +
                                         std::to_string(kv.first.Mark().line + 1) + ")"});
            continue;
          }
          std::string p = key_path(path, key);
          if (out.contains(key)) {
            errors_.push_back({p, "duplicate key " + quote(key) + " (line " +
                                      std::to_string(kv.first.Mark().line + 1) + ")"});
            continue;
          }
          out[key] = convert(kv.second, p, depth + 1);
        }
        return out;
      }
    }
    return nullptr;
  }

 private:
  std::vector<FieldError>& errors_;
  size_t values_ = 0;
  bool stopped_ = false;
};

std::string at_mark(const YAML::Mark& mark) {
  if (mark.is_null()) {
    return "";
  }
  return " at line " + std::to_string(mark.line + 1) + ", column " +
         std::to_string(mark.column + 1);
}

// Counts the events of one document; nothing else.
struct DocumentCounter final : YAML::EventHandler {
  int events = 0;
  void OnDocumentStart(const YAML::Mark&) override { ++events; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override { ++events; }
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override { ++events; }
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {
    ++events;
  }
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    ++events;
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    ++events;
  }
  void OnMapEnd() override {}
};

}  // namespace

std::optional<Json> parse_yaml(const std::string& text, std::vector<FieldError>& errors) {
  try {
    // Count documents with the event parser, stopping at two. yaml-cpp 0.7's LoadAll() loops
    // forever, allocating, on some inputs (e.g. `"",`), so it is never called; a "document"
    // that yields no events is that same malformed input.
    {
      std::istringstream in(text);
      YAML::Parser parser(in);
      DocumentCounter counter;
      int documents = 0;
      while (documents < 2) {
        counter.events = 0;
        if (!parser.HandleNextDocument(counter)) {
          break;
        }
        if (counter.events == 0) {
          errors.push_back({"",
                            "invalid YAML: a document without content (stray quote or "
                            "comma?)"});
          return std::nullopt;
        }
        ++documents;
      }
      if (documents > 1) {
        errors.push_back(
            {"", "expected one YAML document, found 2 or more (remove the extra '---')"});
        return std::nullopt;
      }
      if (documents == 0) {
        return Json(nullptr);
      }
    }
    YamlToJson converter(errors);
    Json doc = converter.convert(YAML::Load(text), "", 0);
    if (!errors.empty()) {
      return std::nullopt;
    }
    return doc;
  } catch (const YAML::DeepRecursion& e) {
    errors.push_back({"", "invalid YAML" + at_mark(e.mark) + ": nested too deeply"});
  } catch (const YAML::Exception& e) {
    errors.push_back({"", "invalid YAML" + at_mark(e.mark) + ": " + e.msg});
  } catch (const std::exception& e) {
    errors.push_back({"", std::string("invalid YAML: ") + e.what()});
  }
  return std::nullopt;
}

}  // namespace orch::manifest
