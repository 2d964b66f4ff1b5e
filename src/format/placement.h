// Where mdadm 4.2 `--create` puts the pieces of a 1.x (or 0.90) member: superblock, bitmap,
// bad-block log and data. umd creates arrays the same way so that mdadm and the kernel
// see what they would have written themselves. Pure arithmetic; all sizes in sectors.
#pragma once

#include <cstdint>

#include "util/status.h"

namespace umd {

struct Placement {
  uint64_t super_offset = 0;       // sectors from the start of the member
  uint64_t data_offset = 0;        // sectors
  uint64_t data_size = 0;          // sectors written as data_size ("Avail Dev Size")
  uint64_t component_sectors = 0;  // the array's 'size' ("Used Dev Size")
  int32_t bitmap_offset = 0;       // sectors from the superblock; 0 = no internal bitmap
  uint32_t bitmap_chunk_bytes = 0; // bitmap chunk mdadm picks (0 without a bitmap)
  uint64_t bitmap_sectors = 0;     // space the bitmap takes (superblock + bits, 4 KiB units)
  int32_t bblog_offset = 0;        // sectors from the superblock; 0 = no bad-block log
  uint16_t bblog_size = 0;         // sectors
  bool operator==(const Placement&) const = default;
};

// mdadm's reservation for a bitmap it may add later: 4 KiB, 64 KiB above 8 GiB,
// 128 KiB from 200 GiB (choose_bm_space in super1.c; the kernel has the same rule).
[[nodiscard]] uint64_t mdadm_bitmap_reserve_sectors(uint64_t sectors);

// What mdadm 4.2 --create --metadata=1.<minor> writes on a member of dev_sectors when
// every member has that size.
//  chunk_sectors: 0 for raid1 (the size is then rounded down to 64 KiB, as mdadm does
//    "in case of a later reshape to raid5"); otherwise the chunk, and the size is
//    rounded down to it. It also bounds the reshape headroom for 1.1/1.2.
//  internal_bitmap: --bitmap=internal (mdadm also turns it on by itself for levels >= 1
//    when the component exceeds 100 GiB; see mdadm_auto_bitmap). The bitmap is sized
//    for the component, which is right for raid1/4/5/6 (not raid10).
//  component_hint: --size in sectors (rounded down to the chunk); 0 = all the space.
// Err::no_space when the member cannot hold the metadata, the requested size, or the
// bitmap; Err::invalid for another minor.
[[nodiscard]] Result<Placement> mdadm_placement(int minor, uint64_t dev_sectors, uint32_t chunk_sectors,
                                                bool internal_bitmap, uint64_t component_hint = 0);

// What mdadm 4.2 --create --metadata=0.90 uses of a member: data from sector 0, the
// superblock in the last 64 KiB-aligned 64 KiB (MD_NEW_SIZE_SECTORS), at most 2 TiB of
// data (the superblock records KiB in 32 bits), the component rounded as above. An
// internal bitmap lies 4 KiB after the superblock, in the rest of the 64 KiB reserved
// (bitmap_offset 8, bitmap_sectors 120: mdadm's add_internal_bitmap0 allows 60 KiB). No
// bad-block log or headroom.
[[nodiscard]] Result<Placement> mdadm_placement090(uint64_t dev_sectors, uint32_t chunk_sectors, bool internal_bitmap,
                                                   uint64_t component_hint = 0);

// mdadm adds an internal bitmap on its own to arrays of level >= 1 whose components
// exceed 100 GiB.
[[nodiscard]] bool mdadm_auto_bitmap(int level, uint64_t component_sectors);

}  // namespace umd
