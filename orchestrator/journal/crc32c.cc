#include "orchestrator/journal/crc32c.h"

#include <array>

namespace orch::journal {
namespace {

constexpr uint32_t kPolyReflected = 0x82F63B78u;

// table[b] is the CRC of the single byte b, for the reflected (LSB-first) algorithm.
constexpr std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t crc = b;
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 1u) ? (crc >> 1) ^ kPolyReflected : crc >> 1;
    }
    table[b] = crc;
  }
  return table;
}

constexpr std::array<uint32_t, 256> kTable = make_table();

}  // namespace

uint32_t crc32c_extend(uint32_t crc, std::string_view data) {
  // The stored value is the final (inverted) CRC; undo the inversion to continue from it.
  uint32_t c = ~crc;
  for (char ch : data) {
    c = kTable[(c ^ static_cast<uint8_t>(ch)) & 0xFFu] ^ (c >> 8);
  }
  return ~c;
}

}  // namespace orch::journal
