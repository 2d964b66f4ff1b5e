// The bit area of md's classic write-intent bitmap (versions 3, 4 and 5): pure functions.
//
// On disk the bits follow the 256-byte bitmap superblock (bitmap_super.h) directly, in
// the same 4 KiB page: chunk c is bit c of the area that starts at byte 256 of the
// bitmap, i.e. bit (c % 8) of byte 256 + c / 8, least significant bit first (the
// kernel's set_bit_le). A set bit means the chunk may differ between the copies (or
// parity) and must be synced before the array can be trusted. The chunks cover the
// sync range: ceil(sync_size * 512 / chunksize) of them; the bits of the last byte
// beyond that count are padding that md may leave set (mdadm's count ignores them).
// The kernel keeps whole 4 KiB pages of this in memory and writes the pages that
// changed, each rounded up to the member's logical block size: the area on disk is
// 256 + ceil(chunks / 8) bytes, inside the room the superblock reserves for it.
//
// Version 3 keeps the bits in the writing host's long-word order, which is this order
// on little-endian hosts (x86, arm64); a version-3 bitmap from a big-endian host is not
// read correctly here, as it is not by a little-endian kernel.
//
// A clustered bitmap (version 5) holds one such bitmap per node, node n starting
// n * classic_node_stride_bytes() after node 0's superblock.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "bitmap/bitmap_super.h"

namespace umd::bitmap {

// Bytes from the bitmap superblock to the first bit.
inline constexpr size_t kClassicBitsOffset = kBitmapSuperBytes;

// Chunks covering sync_sectors with chunk_bytes per bit (0 when chunk_bytes is 0).
uint64_t classic_chunk_count(uint64_t sync_sectors, uint64_t chunk_bytes);
// The bytes md keeps on disk for that many chunks: superblock + ceil(chunks / 8).
uint64_t classic_bitmap_bytes(uint64_t chunks);
// One node's bitmap rounded up to 4 KiB: the distance between the nodes of a clustered
// bitmap.
uint64_t classic_node_stride_bytes(uint64_t chunks);

// The chunk that holds a sector of the sync range.
inline uint64_t classic_chunk_of_sector(uint64_t sector, uint64_t chunk_bytes) {
  return sector / (chunk_bytes / 512);
}

// bits: the bit area (from byte 256 of the bitmap on). Chunks beyond the span read as
// clean; set_chunk beyond it does nothing (returns false).
bool test_chunk(std::span<const uint8_t> bits, uint64_t chunk);
bool set_chunk(std::span<uint8_t> bits, uint64_t chunk, bool dirty);

struct BitCount {
  uint64_t total = 0;      // chunks counted: the chunk count, or fewer when truncated
  uint64_t dirty = 0;      // set bits among them
  bool truncated = false;  // the area held fewer than `chunks` bits
  bool operator==(const BitCount&) const = default;
};
// Counts the set bits among the first `chunks`, as mdadm -X does: when the area is
// shorter, only the bits it holds are counted (and truncated is set).
BitCount count_dirty(std::span<const uint8_t> bits, uint64_t chunks);

// Runs of consecutive dirty chunks among the first `chunks`: [first, last] inclusive.
struct ChunkRange {
  uint64_t first = 0;
  uint64_t last = 0;
  bool operator==(const ChunkRange&) const = default;
};
// At most max_ranges of them, the first ones (a bitmap of alternating bits has one range
// per two chunks: a 64 MiB bit area would ask for 2^28).
std::vector<ChunkRange> dirty_ranges(std::span<const uint8_t> bits, uint64_t chunks,
                                     size_t max_ranges = SIZE_MAX);

}  // namespace umd::bitmap
