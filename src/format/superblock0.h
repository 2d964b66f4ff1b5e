// md metadata version 0.90 (mdp_super_t): a pure codec. The 4 KiB block is an array of
// 1024 host-endian 32-bit words; umd reads and writes the little-endian (x86, arm64)
// form. A superblock written by a big-endian host is recognised and refused.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "util/status.h"

namespace umd {

inline constexpr size_t kSb0Bytes = 4096;
inline constexpr uint32_t kSb0Words = kSb0Bytes / 4;
inline constexpr uint32_t kSb0Disks = 27;
// 64 KiB reserved at the end of the member; the superblock is its first 4 KiB.
inline constexpr uint64_t kSb0ReservedSectors = 128;
// 0.90 records the member size in KiB in 32 bits: members above 2 TiB - 1 KiB are cut.
inline constexpr uint64_t kSb0MaxComponentSectors = (uint64_t{2} << 32) - 2;

// Word offsets (as in md_p.h); byte offset = 4 * word.
namespace sb0word {
// generic constant (words 0-31)
inline constexpr uint32_t md_magic = 0, major_version = 1, minor_version = 2, patch_version = 3;
inline constexpr uint32_t gvalid_words = 4, set_uuid0 = 5, ctime = 6, level = 7, size = 8;
inline constexpr uint32_t nr_disks = 9, raid_disks = 10, md_minor = 11, not_persistent = 12;
inline constexpr uint32_t set_uuid1 = 13, set_uuid2 = 14, set_uuid3 = 15;
// generic state (words 32-63)
inline constexpr uint32_t utime = 32, state = 33, active_disks = 34, working_disks = 35;
inline constexpr uint32_t failed_disks = 36, spare_disks = 37, sb_csum = 38;
// little-endian hosts store the low half first
inline constexpr uint32_t events_lo = 39, events_hi = 40, cp_events_lo = 41, cp_events_hi = 42;
inline constexpr uint32_t recovery_cp = 43, reshape_position = 44 /* 64-bit: 44,45 */;
inline constexpr uint32_t new_level = 46, delta_disks = 47, new_layout = 48, new_chunk = 49;
// The Linux 6.19 logical_block_size series also proposed this word for 0.90.
inline constexpr uint32_t logical_block_size = 50;
// personality (words 64-127)
inline constexpr uint32_t layout = 64, chunk_size = 65, root_pv = 66, root_block = 67;
// 27 disk descriptors of 32 words from word 128, then the reserved area, then this_disk
inline constexpr uint32_t disks = 128, descriptor_words = 32, this_disk = 992;
// within a descriptor
inline constexpr uint32_t d_number = 0, d_major = 1, d_minor = 2, d_raid_disk = 3, d_state = 4;
}  // namespace sb0word
static_assert(sb0word::disks + kSb0Disks * sb0word::descriptor_words <= sb0word::this_disk);
static_assert((sb0word::this_disk + sb0word::descriptor_words) * 4 == kSb0Bytes);

// Superblock "state" bits.
inline constexpr uint32_t kSb0StateClean = 1u << 0;
inline constexpr uint32_t kSb0StateErrors = 1u << 1;
inline constexpr uint32_t kSb0StateBitmapPresent = 1u << 8;

// Disk descriptor "state" bits.
inline constexpr uint32_t kDiskFaulty = 1u << 0;
inline constexpr uint32_t kDiskActive = 1u << 1;
inline constexpr uint32_t kDiskSync = 1u << 2;
inline constexpr uint32_t kDiskRemoved = 1u << 3;
inline constexpr uint32_t kDiskWriteMostly = 1u << 9;
inline constexpr uint32_t kDiskFailFast = 1u << 10;

struct DiskDescriptor0 {
  uint32_t number = 0;     // 0: index of this descriptor in disks[]
  uint32_t major = 0;      // 1: device numbers when last assembled (informational)
  uint32_t minor = 0;      // 2
  uint32_t raid_disk = 0;  // 3: slot
  uint32_t state = 0;      // 4: kDisk* bits
  bool operator==(const DiskDescriptor0&) const = default;
};

struct Superblock0 {
  // generic constant
  uint32_t md_magic = 0xa92b4efc;  // word 0
  uint32_t major_version = 0;      // 1
  uint32_t minor_version = 90;     // 2: 91 while a reshape is recorded
  uint32_t patch_version = 0;      // 3
  uint32_t gvalid_words = 0;       // 4
  uint32_t set_uuid0 = 0;          // 5
  uint32_t ctime = 0;              // 6: seconds
  int32_t level = 0;               // 7: -4 multipath, -1 linear, 0,1,4,5,6,10
  uint32_t size = 0;               // 8: KiB of each member used by the array
  uint32_t nr_disks = 0;           // 9
  uint32_t raid_disks = 0;         // 10
  uint32_t md_minor = 0;           // 11: preferred /dev/mdN
  uint32_t not_persistent = 0;     // 12
  uint32_t set_uuid1 = 0;          // 13
  uint32_t set_uuid2 = 0;          // 14
  uint32_t set_uuid3 = 0;          // 15
  // generic state
  uint32_t utime = 0;              // 32
  uint32_t state = 0;              // 33: kSb0State* bits
  uint32_t active_disks = 0;       // 34
  uint32_t working_disks = 0;      // 35
  uint32_t failed_disks = 0;       // 36
  uint32_t spare_disks = 0;        // 37
  uint32_t sb_csum = 0;            // 38: as stored (decode) / ignored (encode)
  uint64_t events = 0;             // 39 (lo), 40 (hi)
  uint64_t cp_events = 0;          // 41 (lo), 42 (hi)
  uint32_t recovery_cp = 0;        // 43: sectors
  uint64_t reshape_position = 0;   // 44-45: valid when minor_version >= 91
  uint32_t new_level = 0;          // 46
  uint32_t delta_disks = 0;        // 47
  uint32_t new_layout = 0;         // 48
  uint32_t new_chunk = 0;          // 49: bytes
  uint32_t logical_block_size = 0; // 50: decoded only, encoded as 0
  // personality
  uint32_t layout = 0;             // 64
  uint32_t chunk_size = 0;         // 65: BYTES
  uint32_t root_pv = 0;            // 66
  uint32_t root_block = 0;         // 67
  std::array<DiskDescriptor0, kSb0Disks> disks{};  // words 128 + 32*i
  DiskDescriptor0 this_disk{};                     // word 992

  // The 16-byte array UUID as the kernel holds it (the four words' bytes in order);
  // the bitmap superblock of a 0.90 array carries these bytes.
  std::array<uint8_t, 16> uuid_bytes() const;
  void set_uuid_bytes(const std::array<uint8_t, 16>& u);

  bool operator==(const Superblock0&) const = default;
};

// Sum of the 1024 little-endian words with sb_csum as zero, the 64-bit sum folded to 32
// bits (low + high), as mdadm stores it. The kernel compares only the 16-bit fold.
// The buffer must hold kSb0Bytes.
[[nodiscard]] uint32_t superblock0_checksum(std::span<const uint8_t> bytes);

// Validates size, magic (a byte-swapped magic gives Err::unsupported), version 0.90/0.91,
// raid_disks > 0 and the checksum (accepted when its 16-bit fold matches, as the kernel
// does).
[[nodiscard]] Result<Superblock0> decode_superblock0(std::span<const uint8_t> bytes);

// kSb0Bytes bytes, reserved words zero, with a fresh checksum.
[[nodiscard]] std::vector<uint8_t> encode_superblock0(const Superblock0& sb);

// Where the 0.90 superblock sits: the member size rounded down to 64 KiB, less 64 KiB.
// Returns kMaxSector (~0) for a member smaller than 128 KiB.
[[nodiscard]] uint64_t superblock0_offset_sectors(uint64_t dev_sectors);

}  // namespace umd
