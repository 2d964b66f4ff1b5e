// The superblock of md's write-intent bitmaps (bitmap_super_t): a pure codec.
//
// On disk, 256 bytes, every field little-endian whatever the host:
//
//   off size field
//     0   4  magic              0x6d746962 ("bitm" read as a little-endian word)
//     4   4  version            3 host-endian bits (legacy), 4 little-endian bits (what
//                               md writes), 5 clustered (one bitmap per node), 6 the
//                               lockless bitmap of Linux 6.18 (llbitmap_state.h)
//     8  16  uuid               the array's UUID, the same 16 bytes as the md superblock's
//    24   8  events             the array's event count when the bitmap was last written;
//                               the kernel treats a bitmap with fewer events than the
//                               array as stale and syncs everything
//    32   8  events_cleared     events when a bit was last cleared (bits are not cleared
//                               while the array is degraded); a re-added member with at
//                               least this many events may use the bitmap for recovery
//    40   8  sync_size          sectors the bitmap covers (a member's share for raid1/4/5/6,
//                               the whole array for raid10)
//    48   4  state              bit numbers: 1 stale, 2 write error, 3 first use (llbitmap
//                               not yet initialised), 4 clean (llbitmap made with
//                               --assume-clean), 5 daemon busy, 15 host-endian
//    52   4  chunksize          BYTES per bit for versions 3-5, SECTORS per state byte for
//                               version 6 (the lockless bitmap keeps its chunk in sectors)
//    56   4  daemon_sleep       seconds between the daemon's passes that clear bits
//    60   4  write_behind       most writes allowed behind on write-mostly members (0: none)
//    64   4  sectors_reserved   room reserved for the whole bitmap (0 when never set)
//    68   4  nodes              cluster nodes (version 5); each node has its own bitmap
//    72  64  cluster_name       NUL-padded
//   136 120  pad                zero
//
// Where the bitmap lives is the md superblock's business: bitmap_location.h.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "util/status.h"

namespace umd::bitmap {

inline constexpr uint32_t kBitmapMagic = 0x6d746962;
inline constexpr size_t kBitmapSuperBytes = 256;

// Versions (BITMAP_MAJOR_* in the kernel's md-bitmap.h).
inline constexpr uint32_t kVersionHostEndian = 3;    // BITMAP_MAJOR_LO
inline constexpr uint32_t kVersionLittleEndian = 4;  // BITMAP_MAJOR_HI: what md writes
inline constexpr uint32_t kVersionClustered = 5;
inline constexpr uint32_t kVersionLockless = 6;

// state: bit NUMBERS (the kernel keeps them in an unsigned long with set_bit).
inline constexpr int kStateStale = 1;
inline constexpr int kStateWriteError = 2;
inline constexpr int kStateFirstUse = 3;    // llbitmap: the kernel initialises the bits
inline constexpr int kStateClean = 4;       // llbitmap: ... to clean, not unwritten
inline constexpr int kStateDaemonBusy = 5;  // llbitmap
inline constexpr int kStateHostEndian = 15;

// The classic bitmap's counters are 14 bits; more writes behind cannot be counted.
inline constexpr uint32_t kMaxWriteBehind = 16383;

namespace bmsoff {
inline constexpr size_t magic = 0, version = 4, uuid = 8, events = 24, events_cleared = 32;
inline constexpr size_t sync_size = 40, state = 48, chunksize = 52, daemon_sleep = 56;
inline constexpr size_t write_behind = 60, sectors_reserved = 64, nodes = 68;
inline constexpr size_t cluster_name = 72, pad = 136, end = 256;
}  // namespace bmsoff
static_assert(bmsoff::pad + 120 == kBitmapSuperBytes, "bitmap_super_t is 256 bytes");

struct BitmapSuper {
  uint32_t magic = kBitmapMagic;
  uint32_t version = kVersionLittleEndian;
  std::array<uint8_t, 16> uuid{};
  uint64_t events = 0;
  uint64_t events_cleared = 0;
  uint64_t sync_size = 0;  // sectors
  uint32_t state = 0;
  uint32_t chunksize = 0;  // bytes (versions 3-5) or sectors (version 6): see chunk_sectors()
  uint32_t daemon_sleep = 5;
  uint32_t write_behind = 0;
  uint32_t sectors_reserved = 0;
  uint32_t nodes = 0;
  std::array<uint8_t, 64> cluster_name{};
  std::array<uint8_t, 120> pad{};  // kept as read, for an exact round trip

  bool lockless() const { return version == kVersionLockless; }
  bool has_state(int bit) const { return (state >> bit) & 1u; }
  void set_state(int bit, bool on) { state = on ? (state | (1u << bit)) : (state & ~(1u << bit)); }
  // The chunk in bytes and in sectors, whichever unit the version stores.
  uint64_t chunk_bytes() const { return lockless() ? uint64_t(chunksize) * 512 : chunksize; }
  uint64_t chunk_sectors() const { return lockless() ? chunksize : chunksize / 512; }
  // Chunks covering sync_size: ceil(sync_size / chunk). 0 when the chunk is 0.
  uint64_t chunks() const;
  std::string cluster_name_str() const;

  bool operator==(const BitmapSuper&) const = default;
};

// Decodes the first 256 bytes and checks what the kernel checks before it uses a bitmap
// (md_bitmap_read_sb, llbitmap_read_sb). Errors, one line each:
//   Err::corrupt     fewer than 256 bytes; chunksize zero, below 512 bytes or not a
//                    power of two; daemon_sleep zero; write_behind above 16383
//   Err::not_found   no bitmap magic (not a bitmap at all)
//   Err::unsupported a version md does not know (below 3 or above 6)
// A version-6 bitmap with the first-use state bit set has not been initialised by the
// kernel yet: its chunksize and daemon_sleep are not checked.
Result<BitmapSuper> decode_bitmap_super(std::span<const uint8_t> bytes);

// Exactly 256 bytes; decode(encode(sb)) == sb for any sb, and encode(decode(b)) == b
// for any 256 bytes that decode.
std::array<uint8_t, kBitmapSuperBytes> encode_bitmap_super(const BitmapSuper& sb);

// "stale,first-use": the names of the set state bits ("" when none).
std::string state_flag_names(uint32_t state);

}  // namespace umd::bitmap
