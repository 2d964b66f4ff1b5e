#include "format/placement.h"

#include <algorithm>

#include <fmt/format.h>

#include "format/superblock0.h"

namespace umd {

namespace {

constexpr uint64_t kOneMiB = 2048;            // sectors
constexpr uint64_t kMaxHeadroom = 128 * kOneMiB;
constexpr uint64_t kBitmapSuperBytes = 256;
constexpr uint64_t kDefaultBitmapChunk = 64ull << 20;

uint64_t round_up(uint64_t v, uint64_t m) { return (v + m - 1) / m * m; }

// Bitmap chunk and size for a new internal bitmap, as add_internal_bitmap1 picks them
// when no --bitmap-chunk is given. room: sectors mdadm allows itself.
Status choose_bitmap(uint64_t component, uint64_t room, uint64_t* chunk_bytes) {
  room = std::min<uint64_t>(room, 256);  // no more than 128 KiB of bitmap by default
  if (room <= 1)
    return Status(Err::no_space, fmt::format("no room for an internal bitmap: component of {} sectors", component));
  const uint64_t max_bits = (room * 512 - kBitmapSuperBytes) * 8;
  uint64_t min_chunk = 4096;
  uint64_t bits = component * 512 / min_chunk + 1;
  while (bits > max_bits) {
    min_chunk *= 2;
    bits = (bits + 1) / 2;
  }
  *chunk_bytes = std::max(min_chunk, kDefaultBitmapChunk);
  return Status::ok();
}

// Bytes of bitmap superblock + bits, rounded to 4 KiB (calc_bitmap_size).
uint64_t bitmap_space_sectors(uint64_t component, uint64_t chunk_bytes) {
  const uint64_t bits = (component * 512 + chunk_bytes - 1) / chunk_bytes;
  return round_up((bits + 7) / 8 + kBitmapSuperBytes, 4096) / 512;
}

// The component size from the sectors free for data (Create.c works in KiB): rounded
// down to the chunk, or to 64 KiB without one; --size (hint) rounded down to the chunk.
Result<uint64_t> component_from(uint64_t free_sectors, uint32_t chunk_sectors, uint64_t hint, uint64_t dev_sectors) {
  uint64_t avail_k = free_sectors / 2;
  const uint64_t chunk_k = chunk_sectors / 2;
  if (chunk_k) avail_k &= ~(chunk_k - 1);
  uint64_t size_k = 0;
  if (hint) {
    size_k = hint / 2;
    if (chunk_k) size_k &= ~(chunk_k - 1);
    if (size_k > avail_k)
      return Result<uint64_t>(Err::no_space, fmt::format("requested size {} sectors exceeds the {} available", hint,
                                                         avail_k * 2));
  } else {
    size_k = avail_k;
    if (chunk_sectors == 0) size_k &= ~uint64_t{63};
  }
  if (size_k == 0)
    return Result<uint64_t>(Err::no_space, fmt::format("no space left for data on a member of {} sectors", dev_sectors));
  return size_k * 2;
}

}  // namespace

Result<Placement> mdadm_placement090(uint64_t dev_sectors, uint32_t chunk_sectors, bool internal_bitmap,
                                     uint64_t component_hint) {
  const uint64_t at = superblock0_offset_sectors(dev_sectors);
  if (at == ~uint64_t{0} || at == 0) {
    return Result<Placement>(Err::no_space, fmt::format("member of {} sectors cannot hold a 0.90 superblock (it needs "
                                                        "128 KiB)", dev_sectors));
  }
  Placement pl;
  pl.super_offset = at;
  pl.data_offset = 0;
  pl.data_size = std::min(at, kSb0MaxComponentSectors);
  UMD_ASSIGN_OR_RETURN(pl.component_sectors, component_from(pl.data_size, chunk_sectors, component_hint, dev_sectors));
  if (internal_bitmap) {  // 4 KiB after the superblock, up to the end of the 64 KiB reserved
    pl.bitmap_offset = 8;
    pl.bitmap_sectors = kSb0ReservedSectors - 8;
  }
  return pl;
}

uint64_t mdadm_bitmap_reserve_sectors(uint64_t sectors) {
  if (sectors < 64 * 2) return 0;
  if (sectors - 64 * 2 >= 200ull * 1024 * 1024 * 2) return 128 * 2;
  if (sectors - 4 * 2 > 8ull * 1024 * 1024 * 2) return 64 * 2;
  return 4 * 2;
}

bool mdadm_auto_bitmap(int level, uint64_t component_sectors) {
  return level >= 1 && component_sectors / 2 > 100ull * 1024 * 1024;
}

Result<Placement> mdadm_placement(int minor, uint64_t dev_sectors, uint32_t chunk_sectors, bool internal_bitmap,
                                  uint64_t component_hint) {
  if (minor < 0 || minor > 2)
    return Result<Placement>(Err::invalid, fmt::format("metadata 1.{}: minor must be 0, 1 or 2", minor));
  if (dev_sectors < 24)
    return Result<Placement>(Err::no_space, fmt::format("member of {} sectors cannot hold a 1.x superblock", dev_sectors));
  const uint64_t D = dev_sectors;
  const uint64_t reserve = mdadm_bitmap_reserve_sectors(D);
  Placement pl;

  // Space for data, before rounding to the chunk (validate_geometry1).
  uint64_t free_sectors = 0;
  if (minor == 0) {
    const uint64_t overhead = 8 * 2 + 8 + reserve;  // superblock, bad-block log, bitmap
    const uint64_t rounded = D & ~uint64_t{7};
    if (rounded < overhead)
      return Result<Placement>(Err::no_space, fmt::format("member of {} sectors is too small for 1.0 metadata", D));
    free_sectors = rounded - overhead;
    pl.data_offset = 0;
  } else {
    // Headroom for a later reshape: 128 MiB, halved while over 0.1% of the member, but
    // kept at two chunks or more.
    uint64_t headroom = kMaxHeadroom;
    while ((headroom << 10) > D && (chunk_sectors == 0 || headroom / 2 >= uint64_t(chunk_sectors) * 2))
      headroom >>= 1;
    pl.data_offset = round_up(12 * 2 + reserve + headroom, kOneMiB);
    if (D < pl.data_offset)
      return Result<Placement>(
          Err::no_space, fmt::format("member of {} sectors is smaller than the data offset {}", D, pl.data_offset));
    free_sectors = D - pl.data_offset;
  }

  UMD_ASSIGN_OR_RETURN(pl.component_sectors, component_from(free_sectors, chunk_sectors, component_hint, D));
  const uint64_t comp = pl.component_sectors;

  // Bitmap (add_internal_bitmap1) and the space before/after it (write_init_super1).
  uint64_t bm_space = 0;
  int64_t bm_offset = 8;
  if (internal_bitmap) {
    uint64_t chunk_bytes = 0;
    UMD_TRY(choose_bitmap(comp, mdadm_bitmap_reserve_sectors(comp), &chunk_bytes));
    pl.bitmap_chunk_bytes = uint32_t(chunk_bytes);
    bm_space = bitmap_space_sectors(comp, chunk_bytes);
    pl.bitmap_sectors = bm_space;
    // 1.0: just below the bad-block log, itself just below the superblock.
    bm_offset = minor == 0 ? -int64_t(bm_space) - 8 : 8;
    pl.bitmap_offset = int32_t(bm_offset);
  } else {
    bm_space = mdadm_bitmap_reserve_sectors(comp);
  }

  if (minor == 0) {
    bm_space += 8;  // bad-block log
    pl.super_offset = (D - 16) & ~uint64_t{7};
    if (pl.super_offset < comp + bm_space) bm_space = pl.super_offset - comp;
    pl.data_size = pl.super_offset - bm_space;
    if (bm_space >= 8) {
      pl.bblog_size = 8;
      pl.bblog_offset = -8;
    }
  } else {
    pl.super_offset = minor == 2 ? 8 : 0;
    pl.data_size = D - pl.data_offset;
    if (pl.data_offset >= pl.super_offset + uint64_t(bm_offset) + bm_space + 8) {
      pl.bblog_size = 8;
      pl.bblog_offset = int32_t(bm_offset + int64_t(bm_space));
    } else if (pl.data_offset >= pl.super_offset + 16) {
      pl.bblog_size = 8;
      pl.bblog_offset = int32_t(pl.data_offset - 8 - pl.super_offset);
    }
  }
  return pl;
}

}  // namespace umd
