#include "bitmap/classic_bits.h"

#include <algorithm>
#include <bit>

namespace umd::bitmap {

uint64_t classic_chunk_count(uint64_t sync_sectors, uint64_t chunk_bytes) {
  if (chunk_bytes == 0) return 0;
  return (sync_sectors * 512 + chunk_bytes - 1) / chunk_bytes;
}

uint64_t classic_bitmap_bytes(uint64_t chunks) { return kClassicBitsOffset + (chunks + 7) / 8; }

uint64_t classic_node_stride_bytes(uint64_t chunks) {
  return (classic_bitmap_bytes(chunks) + 4095) / 4096 * 4096;
}

bool test_chunk(std::span<const uint8_t> bits, uint64_t chunk) {
  if (chunk / 8 >= bits.size()) return false;
  return (bits[chunk / 8] >> (chunk % 8)) & 1u;
}

bool set_chunk(std::span<uint8_t> bits, uint64_t chunk, bool dirty) {
  if (chunk / 8 >= bits.size()) return false;
  const uint8_t mask = uint8_t(1u << (chunk % 8));
  bits[chunk / 8] = dirty ? uint8_t(bits[chunk / 8] | mask) : uint8_t(bits[chunk / 8] & ~mask);
  return true;
}

BitCount count_dirty(std::span<const uint8_t> bits, uint64_t chunks) {
  BitCount c;
  c.total = chunks;
  if (bits.size() * 8 < chunks) {
    c.total = bits.size() * 8;
    c.truncated = true;
  }
  const uint64_t whole = c.total / 8;
  for (uint64_t i = 0; i < whole; i++) c.dirty += std::popcount(bits[i]);
  if (const unsigned rest = unsigned(c.total % 8); rest != 0)
    c.dirty += std::popcount(uint8_t(bits[whole] & ((1u << rest) - 1)));
  return c;
}

std::vector<ChunkRange> dirty_ranges(std::span<const uint8_t> bits, uint64_t chunks, size_t max_ranges) {
  std::vector<ChunkRange> out;
  const uint64_t n = std::min<uint64_t>(chunks, uint64_t(bits.size()) * 8);
  for (uint64_t c = 0; c < n; c++) {
    if (bits[c / 8] == 0 && c % 8 == 0) {  // skip a clean byte at once
      c += 7;
      continue;
    }
    if (!test_chunk(bits, c)) continue;
    if (!out.empty() && out.back().last + 1 == c)
      out.back().last = c;
    else if (out.size() < max_ranges)
      out.push_back({c, c});
    else
      break;
  }
  return out;
}

}  // namespace umd::bitmap
