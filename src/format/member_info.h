// A metadata-neutral view of one member's superblock: what the engine needs to group
// members into arrays, order them by slot and pick the freshest, whatever the format.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "format/superblock0.h"
#include "format/superblock1.h"

namespace umd {

struct MemberInfo {
  // role values that are not slots
  static constexpr int kSpare = -1;
  static constexpr int kFaulty = -2;
  static constexpr int kJournal = -3;
  static constexpr int kRemoved = -4;  // 0.90 only: an empty/removed descriptor

  int metadata_major = 1;   // 0 or 1
  int metadata_minor = 2;   // 90/91 for 0.x; 0, 1 or 2 for 1.x
  // Array UUID as the kernel holds it (for 0.90: the four words' little-endian bytes).
  std::array<uint8_t, 16> array_uuid{};
  std::array<uint8_t, 16> device_uuid{};  // zero for 0.90
  std::string name;                       // empty for 0.90
  int preferred_minor = -1;               // 0.90: md_minor (the array was /dev/mdN); -1 for 1.x
  int level = 0;
  uint32_t layout = 0;
  uint32_t chunk_sectors = 0;
  uint32_t raid_disks = 0;
  uint64_t component_sectors = 0;  // 'size': sectors of each member used by the array
  uint64_t data_offset = 0;        // sectors
  uint64_t data_size = 0;          // sectors usable for data (0.90: up to the superblock)
  uint64_t super_offset = 0;       // sectors; 0.90: only known when given the device size
  uint64_t events = 0;
  uint64_t resync_offset = kMaxSector;  // kMaxSector when clean
  bool clean = true;
  int role = kSpare;               // slot >= 0, or kSpare/kFaulty/kJournal
  uint32_t dev_number = 0;         // 1.x: index into the roles; 0.90: descriptor number
  bool recovery_offset_valid = false;
  uint64_t recovery_offset = 0;
  uint32_t feature_map = 0;        // 1.x feature bits (0 for 0.90)
  bool raid0_layout_flag = false;  // 1.x: layout of a raid0 is meaningful
  bool has_internal_bitmap = false;
  int32_t bitmap_offset = 0;       // sectors from the superblock (0.90: +8 when present)
  bool reshape_active = false;
  uint64_t reshape_position = kMaxSector;
  int new_level = 0;
  uint32_t new_layout = 0;
  uint32_t new_chunk_sectors = 0;
  int32_t delta_disks = 0;
  // Where each member's data starts in the new geometry (md's rdev->new_data_offset): the
  // data offset plus the signed new_offset of 1.x with kFeatureNewOffset (a reshape that
  // moves the data instead of using a backup file); data_offset otherwise.
  uint64_t new_data_offset = 0;
  // md's reshape_backwards: the reshape walks from the end down (a shrink, or data that
  // moves up). As the kernel reads it: delta_disks < 0, or (1.x, delta_disks == 0)
  // kFeatureReshapeBackwards; mdadm sets the bit only for the latter.
  bool reshape_backwards = false;
  bool write_mostly = false;
  bool fail_fast = false;
  // Role of each device number (1.x: dev_roles[]; 0.90: disks[]), same codes as role.
  std::vector<int> roles_of_dev_numbers;
  uint64_t ctime = 0;  // seconds
  uint64_t utime = 0;  // seconds

  // The UUID as mdadm --examine prints it.
  std::string array_uuid_text() const;
};

[[nodiscard]] MemberInfo from_superblock1(const Superblock1& sb);
// dev_sectors (the member's size) fixes super_offset and data_size; 0 leaves them
// derived from the superblock alone (super_offset 0, data_size = component size).
[[nodiscard]] MemberInfo from_superblock0(const Superblock0& sb, uint64_t dev_sectors = 0);

// "a1b2c3d4:e5f6a7b8:..." as mdadm --examine prints an array UUID. For 1.x (the
// default) the 16 bytes in order; for 0.90 each 4-byte group is a little-endian word
// printed as %08x, so the bytes of each group come out reversed.
[[nodiscard]] std::string format_uuid_mdadm(const std::array<uint8_t, 16>& uuid, int metadata_major = 1);

// Map a 1.x dev_roles value to a MemberInfo role code.
[[nodiscard]] int role_from_sb1(uint16_t raw);

}  // namespace umd
