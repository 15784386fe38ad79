// CRC-32C against published vectors (RFC 3720 B.4, and the usual check value).
#include "orchestrator/journal/crc32c.h"

#include <catch2/catch.hpp>
#include <string>

namespace orch::journal {
namespace {

TEST_CASE("crc32c matches known vectors", "[crc32c]") {
  CHECK(crc32c("") == 0x00000000u);
  CHECK(crc32c("a") == 0xC1D04330u);
  CHECK(crc32c("123456789") == 0xE3069283u);
  CHECK(crc32c(std::string(32, '\0')) == 0x8A9136AAu);
  CHECK(crc32c(std::string(32, '\xff')) == 0x62A8AB43u);
  std::string ascending, descending;
  for (int i = 0; i < 32; ++i) {
    ascending.push_back(static_cast<char>(i));
    descending.push_back(static_cast<char>(31 - i));
  }
  CHECK(crc32c(ascending) == 0x46DD794Eu);
  CHECK(crc32c(descending) == 0x113FDB5Cu);
}

TEST_CASE("crc32c_extend continues a checksum", "[crc32c]") {
  const std::string data = "The quick brown fox jumps over the lazy dog";
  for (size_t cut = 0; cut <= data.size(); ++cut) {
    CAPTURE(cut);
    CHECK(crc32c_extend(crc32c(data.substr(0, cut)), data.substr(cut)) == crc32c(data));
  }
}

}  // namespace
}  // namespace orch::journal
