// The lockless bitmap (llbitmap, bitmap version 6, Linux 6.18 md-llbitmap.c): its
// per-chunk state machine as data, and its on-disk layout. Pure functions.
//
// On disk, at the same place as the classic bitmap (bitmap_location.h):
//
//   bytes 0..255      the bitmap superblock (bitmap_super.h), version 6; its chunksize
//                     counts SECTORS, not bytes
//   bytes 256..1023   unused (zero)
//   byte 1024 + c     the state of chunk c: one byte, a value of LlState
//
// There are ceil(sync_size / chunksize) chunks. The kernel reads and keeps the whole
// region as 4 KiB pages (page p holds bytes p*4096 .. p*4096+4095, so chunk c lies in
// page (1024 + c) / 4096) and writes back only the logical blocks of the array (512 B
// or 4 KiB) whose states went dirty, each block on every member in sync.
// When the array is created the bits are not written: mdadm sets the first-use state
// bit (and the clean bit for --assume-clean) and the kernel writes every chunk as
// unwritten (or clean) on first assembly, choosing the chunk: 64 KiB, doubled until
// the chunks fit in sectors_reserved * 512 bytes (note that the 1 KiB header is not
// counted against that room).
//
// Transitions (the kernel's state_machine[][]; "-" leaves the byte as it is):
//
//   state \ action  startwrite startsync endsync abortsync reload    daemon discard   stale
//   unwritten       dirty      -         -       -         -         -      -         -
//   clean           dirty      -         -       -         -         -      unwritten need-sync
//   dirty           -          -         -       -         need-sync clean  unwritten need-sync
//   need-sync       -          syncing   -       -         -         -      unwritten -
//   syncing         -          syncing   dirty   need-sync need-sync -      unwritten need-sync
//
// The kernel then overrides the table's answer (llbitmap_state_machine), and so does
// next_state_in():
//   - a byte that is no state at all becomes need-sync, whatever the action;
//   - degraded array: startwrite's dirty becomes need-sync (new data must reach the
//     missing member later), and startsync turns dirty into syncing (resync what was
//     written while degraded); the daemon does not run at all (dirty stays dirty);
//   - raid4/5/6, not degraded: startwrite on unwritten gives need-sync, not dirty (the
//     parity of a never-written chunk was never built; the lazy recovery builds it).
// The kernel also "infects" a whole block when a second chunk in it goes dirty within
// the idle time: unwritten -> dirty (need-sync for raid456), clean -> dirty for every
// chunk of the block, so that the block is written once. That is a write policy, not a
// transition of one chunk; infect_state() gives its per-byte rule.
//
// The kernel's own comment says "6 different states"; its enum and table have five.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bitmap/bitmap_super.h"

namespace umd::bitmap {

enum class LlState : uint8_t { unwritten = 0, clean = 1, dirty = 2, need_sync = 3, syncing = 4 };
inline constexpr size_t kLlStateCount = 5;

enum class LlAction : uint8_t {
  startwrite = 0,
  startsync,
  endsync,
  abortsync,
  reload,
  daemon,
  discard,
  stale
};
inline constexpr size_t kLlActionCount = 8;

// "no transition" in the table (BitNone).
inline constexpr uint8_t kLlNone = 0xff;

// clang-format off
namespace ll_detail {
inline constexpr uint8_t U = uint8_t(LlState::unwritten), C = uint8_t(LlState::clean), D = uint8_t(LlState::dirty),
                         N = uint8_t(LlState::need_sync), S = uint8_t(LlState::syncing), x = kLlNone;
}  // namespace ll_detail

// kLlTransitions[state][action]: the new state, or kLlNone.
inline constexpr auto kLlTransitions = [] {
  using namespace ll_detail;
  return std::array<std::array<uint8_t, kLlActionCount>, kLlStateCount>{{
      // startwrite startsync endsync abortsync reload daemon discard stale
      {D,          x,        x,      x,        x,     x,     x,      x},  // unwritten
      {D,          x,        x,      x,        x,     x,     U,      N},  // clean
      {x,          x,        x,      x,        N,     C,     U,      N},  // dirty
      {x,          S,        x,      x,        x,     x,     U,      x},  // need-sync
      {x,          S,        D,      N,        N,     x,     U,      N},  // syncing
  }};
}();
// clang-format on

// The table alone: nullopt where the kernel leaves the chunk alone.
std::optional<LlState> next_state(LlState s, LlAction a);

struct LlArrayKind {
  bool degraded = false;
  bool raid456 = false;
};
// What the kernel does to one chunk whose byte is `raw` (any byte, valid or not): the
// table and the overrides above. nullopt: the byte is not rewritten.
std::optional<LlState> next_state_in(uint8_t raw, LlAction a, LlArrayKind kind);

// The block-infection rule for one byte of the block; nullopt: left as it is.
std::optional<LlState> infect_state(uint8_t raw, bool raid456);

// "unwritten", "clean", "dirty", "need sync", "syncing" (the words of sysfs bits);
// "startwrite", ..., "stale" for actions.
const char* ll_state_name(LlState s);
const char* ll_action_name(LlAction a);
bool is_ll_state(uint8_t raw);

// --- on-disk layout ------------------------------------------------------------------

inline constexpr size_t kLlDataOffset = 1024;  // byte of chunk 0's state
inline constexpr size_t kLlPageBytes = 4096;   // the kernel's page (x86-64, arm64 with 4K pages)
inline constexpr uint32_t kLlMinChunkSectors = 128;    // 64 KiB
inline constexpr uint32_t kLlDefaultDaemonSleep = 30;  // seconds
inline constexpr uint32_t kLlBarrierIdle = 5;  // seconds a page stays dirty after its last write

uint64_t ll_chunk_count(uint64_t sync_sectors, uint64_t chunk_sectors);
// Bytes from the bitmap superblock to the end of the last state byte.
inline uint64_t ll_region_bytes(uint64_t chunks) { return kLlDataOffset + chunks; }
// Pages the kernel reads and keeps: ceil((1024 + chunks) / 4096).
inline uint64_t ll_page_count(uint64_t chunks) {
  return (ll_region_bytes(chunks) + kLlPageBytes - 1) / kLlPageBytes;
}
// The logical block (of block_bytes) of the region holding chunk c's state.
inline uint64_t ll_block_of_chunk(uint64_t chunk, uint32_t block_bytes) {
  return (kLlDataOffset + chunk) / block_bytes;
}
// The chunk the kernel picks on first use (llbitmap_init): 128 sectors, doubled while
// more chunks than reserved_sectors * 512 would be needed.
uint32_t ll_initial_chunk_sectors(uint64_t sync_sectors, uint32_t reserved_sectors);

// Chunks per state among the first `chunks` state bytes of `region` (which starts at
// the bitmap superblock). Bytes that are no state count in `invalid`, as the kernel
// logs and skips them; a region too short counts what it holds (truncated).
struct LlCounts {
  std::array<uint64_t, kLlStateCount> per_state{};
  uint64_t invalid = 0;
  uint64_t total = 0;
  bool truncated = false;
  uint64_t of(LlState s) const { return per_state[size_t(s)]; }
  bool operator==(const LlCounts&) const = default;
};
LlCounts count_ll_states(std::span<const uint8_t> region, uint64_t chunks);

// The state of chunk c (a raw byte; 0 = unwritten beyond the region).
uint8_t ll_state_byte(std::span<const uint8_t> region, uint64_t chunk);

// The text of /sys/block/mdX/md/llbitmap/bits ("unwritten N\nclean N\n...").
std::string format_ll_bits_show(const LlCounts& c);

// /sys/block/mdX/md/llbitmap/metadata: the chunk in sectors, its log2, the chunk count,
// the bitmap's offset from the md superblock in sectors, the daemon's period.
struct LlMetadata {
  uint64_t chunksize = 0;
  uint64_t chunkshift = 0;
  uint64_t chunks = 0;
  int64_t offset = 0;
  uint64_t daemon_sleep = 0;
};
LlMetadata ll_metadata(const BitmapSuper& sb, int64_t bitmap_offset_sectors);
std::string format_ll_metadata_show(const LlMetadata& m);

// A whole region: the superblock, zero up to byte 1024, then one byte per state.
std::vector<uint8_t> encode_ll_region(const BitmapSuper& sb, std::span<const LlState> states);

}  // namespace umd::bitmap
