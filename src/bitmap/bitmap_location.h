// Where a member keeps md's internal bitmap, from its md superblock:
//   1.x   the superblock's bitmap_offset, a signed count of sectors from the start of
//         the superblock, valid when feature bit 0 is set. mdadm puts it 4 KiB after the
//         superblock for 1.1/1.2 (between superblock and data) and before the superblock
//         for 1.0 (between data and superblock), reserving 4 KiB to 128 KiB
//         (placement.h).
//   0.90  4 KiB after the superblock, inside its 64 KiB reserved area, when the
//         superblock's state has the bitmap-present bit.
// The kernel reads the lockless bitmap (version 6) from the same place.
#pragma once

#include <cstdint>

#include "format/member_info.h"
#include "util/status.h"

namespace umd::bitmap {

// The sector of the member where the bitmap superblock starts. Errors: Err::not_found
// "no write-intent bitmap (feature map 0x0)" (0.90: names the state bit instead);
// Err::corrupt when the offset points before the start of the device; Err::invalid for
// a 0.90 MemberInfo made without the device size (its superblock offset is unknown).
Result<uint64_t> internal_bitmap_sector(const MemberInfo& info);

}  // namespace umd::bitmap
