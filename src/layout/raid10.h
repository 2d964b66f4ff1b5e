// md raid10: `near` copies of each chunk side by side in a row, the whole row pattern
// repeated `far` times further down each member (or, with the offset bit, in the next
// chunk rows), shifted so no two copies share a member.
//
// Layout word: bits 0-7 near copies, bits 8-15 far copies, bit 16 "offset". Bits 17-18
// (md's far sets: far copies rotated within groups of members instead of over all of them)
// are refused as unsupported; mdadm never creates them.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "layout/geometry_types.h"
#include "layout/level_limits.h"
#include "util/status.h"

namespace umd::layout {

inline constexpr uint32_t kRaid10OffsetBit = 1u << 16;

// Where every copy of an array sector lives, in md's order (each near copy followed by its
// far copies). All copies run contiguously for `len` sectors (to the chunk end).
struct Raid10Copies {
  std::array<DevAddr, kMaxRaid10Copies> at{};
  uint32_t count = 0;
  uint64_t len = 0;  // 0: the array sector is beyond the end of the array
};

class Raid10Geometry {
 public:
  [[nodiscard]] static Result<Raid10Geometry> create(const GeometryParams& p);

  [[nodiscard]] int level() const { return kLevelRaid10; }
  [[nodiscard]] uint32_t layout() const { return layout_; }
  [[nodiscard]] uint32_t chunk_sectors() const { return 1u << chunk_shift_; }
  [[nodiscard]] uint32_t raid_disks() const { return raid_disks_; }
  [[nodiscard]] uint64_t array_sectors() const { return array_sectors_; }
  [[nodiscard]] uint32_t near_copies() const { return near_; }
  [[nodiscard]] uint32_t far_copies() const { return far_; }
  [[nodiscard]] bool far_offset() const { return offset_; }
  [[nodiscard]] uint32_t copies() const { return near_ * far_; }
  // Member sectors the array uses (md's conf->dev_sectors), and the distance between far copies.
  [[nodiscard]] uint64_t dev_sectors() const { return dev_sectors_; }
  [[nodiscard]] uint64_t stride() const { return stride_; }

  [[nodiscard]] Raid10Copies copies(uint64_t array_sector) const;
  // Which array sector a member sector holds a copy of; nullopt for unused space.
  [[nodiscard]] std::optional<uint64_t> to_array(DevAddr a) const;

  // Missing members that never cost data: any copies()-1 of them.
  [[nodiscard]] uint32_t max_missing() const { return copies() - 1; }
  // md's own test: every window of copies() consecutive members starting at a multiple of
  // near_copies must keep one member.
  [[nodiscard]] bool survives(std::span<const uint32_t> missing) const;

 private:
  uint32_t layout_ = 0;
  uint32_t raid_disks_ = 0;
  uint32_t near_ = 1, far_ = 1;
  bool offset_ = false;
  uint32_t chunk_shift_ = 0;
  uint64_t stride_ = 0;
  uint64_t dev_sectors_ = 0;
  uint64_t array_sectors_ = 0;
};

}  // namespace umd::layout
