// CRC-32C (Castagnoli), the checksum of every journal record.
//
// Implemented here because Debian ships no crc32c library we use; a 256-entry table, one byte
// per step, is plenty for a journal of a few hundred small records. Polynomial 0x1EDC6F41
// (reflected 0x82F63B78), initial value and final XOR 0xFFFFFFFF, as in iSCSI, ext4 and
// leveldb: crc32c("123456789") == 0xE3069283.
#pragma once

#include <cstdint>
#include <string_view>

namespace orch::journal {

// Continues a running checksum: crc32c_extend(crc32c(a), b) == crc32c(a + b).
uint32_t crc32c_extend(uint32_t crc, std::string_view data);

inline uint32_t crc32c(std::string_view data) { return crc32c_extend(0, data); }

}  // namespace orch::journal
