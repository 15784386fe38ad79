// The README's manifest example is real: it loads without errors, so the docs cannot drift from
// the schema.
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "orchestrator/manifest/parse.h"

namespace {

TEST_CASE("the README's manifest example is valid", "[manifest][docs]") {
  std::ifstream in(std::string(ROLLGATE_SOURCE_DIR) + "/README.md");
  REQUIRE(in);
  std::stringstream text;
  text << in.rdbuf();
  const std::string readme = text.str();
  const std::string open = "```yaml\n";
  auto start = readme.find(open);
  REQUIRE(start != std::string::npos);
  start += open.size();
  auto end = readme.find("```", start);
  REQUIRE(end != std::string::npos);
  auto loaded = orch::manifest::parse_manifest(readme.substr(start, end - start),
                                               orch::manifest::Format::kYaml);
  for (const auto& e : loaded.errors) {
    INFO(e.to_string());
  }
  REQUIRE(loaded.ok());
  CHECK(loaded.manifest->health.bake == std::chrono::minutes(2));
}

}  // namespace
