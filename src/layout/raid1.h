// md raid1: every member holds the whole array at the same member sector.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "layout/geometry_types.h"
#include "util/status.h"

namespace umd::layout {

class Raid1Geometry {
 public:
  [[nodiscard]] static Result<Raid1Geometry> create(const GeometryParams& p);

  [[nodiscard]] int level() const { return kLevelRaid1; }
  [[nodiscard]] uint32_t layout() const { return layout_; }
  [[nodiscard]] uint32_t chunk_sectors() const { return chunk_; }
  [[nodiscard]] uint32_t raid_disks() const { return raid_disks_; }
  [[nodiscard]] uint64_t array_sectors() const { return size_; }

  // The copy on `disk`; len runs to the end of the array.
  [[nodiscard]] DevExtent map(uint64_t array_sector, uint32_t disk) const {
    if (array_sector >= size_ || disk >= raid_disks_) return {};
    return {{disk, array_sector}, size_ - array_sector};
  }
  [[nodiscard]] std::optional<uint64_t> to_array(DevAddr a) const {
    if (a.disk >= raid_disks_ || a.sector >= size_) return std::nullopt;
    return a.sector;
  }
  [[nodiscard]] bool survives(std::span<const uint32_t> missing) const;

 private:
  uint32_t layout_ = 0;
  uint32_t chunk_ = 0;
  uint32_t raid_disks_ = 0;
  uint64_t size_ = 0;
};

}  // namespace umd::layout
