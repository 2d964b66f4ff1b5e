// Plain value types shared by every md personality's geometry. Nothing here does I/O.
#pragma once

#include <cstdint>
#include <vector>

namespace umd::layout {

// md's personality numbers, as stored in the superblock's `level` field.
inline constexpr int kLevelLinear = -1;
inline constexpr int kLevelRaid0 = 0;
inline constexpr int kLevelRaid1 = 1;
inline constexpr int kLevelRaid4 = 4;
inline constexpr int kLevelRaid5 = 5;
inline constexpr int kLevelRaid6 = 6;
inline constexpr int kLevelRaid10 = 10;

// A place on one member. `sector` counts from the member's data_offset, so the same
// geometry serves 0.90 (offset 0) and 1.x (offset from the superblock) members alike.
struct DevAddr {
  uint32_t disk = 0;  // slot in the array (superblock role), not an index into any device list
  uint64_t sector = 0;
  friend bool operator==(const DevAddr&, const DevAddr&) = default;
};

// Where an array sector lands and how far the run continues contiguously on that member
// before the mapping changes (chunk end, zone end or member end). len == 0 means the array
// sector was beyond the end of the array: map functions never fail any other way.
struct DevExtent {
  DevAddr at;
  uint64_t len = 0;
};

struct GeometryParams {
  int level = kLevelRaid5;
  uint32_t layout = 0;
  uint32_t chunk_sectors = 0;
  uint32_t raid_disks = 0;
  // Usable data sectors per member. Levels whose members all hold the same amount (1, 4, 5,
  // 6, 10) use the smallest entry: md keeps one `size` for them. Linear and raid0 use each
  // entry and need exactly raid_disks of them; the others accept one entry or raid_disks.
  std::vector<uint64_t> member_sectors;
};

}  // namespace umd::layout
