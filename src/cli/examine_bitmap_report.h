// What `umd --examine-bitmap` (-X) says about one write-intent bitmap, from its bytes:
// text as mdadm 4.2's -X prints it (ExamineBitmap in mdadm's bitmap.c), and JSON.
// No I/O here: cmd_examine_bitmap.cc finds and reads the bytes.
//
// Versions 3-5 print exactly mdadm's fields, order and formats. mdadm 4.2 (and 4.6)
// refuse version 6, the lockless bitmap; for it umd prints the same header and, in
// place of the dirty-bit count, the count of chunks in each state, as the kernel's
// llbitmap/bits shows them.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <span>
#include <string>
#include <vector>

#include "bitmap/bitmap_super.h"
#include "bitmap/classic_bits.h"
#include "bitmap/llbitmap_state.h"
#include "util/status.h"

namespace umd::cli {

struct BitmapSource {
  std::string filename;        // as given on the command line
  bool member = false;         // an md member's internal bitmap, else a bitmap file
  std::string metadata;        // member: "1.2", "0.90", ...
  uint64_t bitmap_sector = 0;  // member: where the bitmap superblock starts
  int32_t bitmap_offset = 0;   // member: sectors from the md superblock
};

struct BitmapNode {  // one node's bitmap (the only one unless clustered)
  int slot = 0;
  bool readable = true;  // false: its superblock did not decode (read_error says why)
  std::string read_error;
  bitmap::BitmapSuper sb;
  bitmap::BitCount count;
  std::vector<bitmap::ChunkRange> dirty;  // the first kMaxDirtyRanges runs of dirty chunks
  bool dirty_truncated = false;           // ... and there are more
};

struct BitmapExamination {
  BitmapSource source;
  bitmap::BitmapSuper sb;         // the first superblock
  std::vector<BitmapNode> nodes;  // classic and clustered bitmaps
  bitmap::LlCounts ll;            // lockless bitmap (sb.lockless())
};

// The most bytes of a bitmap the examination reads: a corrupt sync_size could ask for
// terabytes; md's own bitmaps stay far below this (a classic one holds at most a few MiB
// of bits, a lockless one 128 KiB by default). Beyond it the count is reported as
// truncated.
inline constexpr uint64_t kMaxBitmapRegionBytes = uint64_t{64} << 20;
// A clustered bitmap's node bitmaps are at least 4 KiB apart (classic_node_stride_bytes),
// so no more nodes than this can lie in the bytes read: a superblock that claims more is
// corrupt (its nodes field is what would drive the per-node loop).
inline constexpr uint32_t kMaxClusterNodes = uint32_t(kMaxBitmapRegionBytes / 4096);

// The runs of dirty chunks the JSON lists per node: a crafted bitmap of alternating bits
// would otherwise list one per two chunks (2^28 for 64 MiB) and exhaust memory.
inline constexpr size_t kMaxDirtyRanges = 65536;

// The bytes from the bitmap superblock that the examination reads: superblock and
// bits (every node's, for a clustered bitmap), or superblock, header and state bytes.
uint64_t bitmap_region_bytes(const bitmap::BitmapSuper& sb);

// region: from the bitmap superblock on, bitmap_region_bytes() long or shorter (then
// the chunks it lacks are not counted, as mdadm does with a short file). Errors: those
// of decode_bitmap_super, prefixed with the filename; Err::corrupt for a clustered
// bitmap of more than kMaxClusterNodes nodes.
Result<BitmapExamination> examine_bitmap_region(const BitmapSource& source,
                                                std::span<const uint8_t> region);

std::string examine_bitmap_text(const BitmapExamination& e);
nlohmann::json examine_bitmap_json(const BitmapExamination& e);

// mdadm's human_size(): " (31.00 MiB 32.51 MB)", or "" below 5000 KiB.
std::string mdadm_human_size(uint64_t bytes);

}  // namespace umd::cli
