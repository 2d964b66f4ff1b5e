// md "linear": members concatenated in role order. Each member contributes its size rounded
// down to the chunk when the superblock has one (md-linear does that rounding).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "layout/geometry_types.h"
#include "util/status.h"

namespace umd::layout {

class LinearGeometry {
 public:
  [[nodiscard]] static Result<LinearGeometry> create(const GeometryParams& p);

  [[nodiscard]] int level() const { return kLevelLinear; }
  [[nodiscard]] uint32_t layout() const { return layout_; }
  [[nodiscard]] uint32_t chunk_sectors() const { return chunk_; }
  [[nodiscard]] uint32_t raid_disks() const { return static_cast<uint32_t>(ends_->size()); }
  [[nodiscard]] uint64_t array_sectors() const { return ends_->empty() ? 0 : ends_->back(); }
  // First array sector held by `disk`, and how many sectors of it the array uses.
  [[nodiscard]] uint64_t member_start(uint32_t disk) const { return disk ? (*ends_)[disk - 1] : 0; }
  [[nodiscard]] uint64_t member_used(uint32_t disk) const {
    return (*ends_)[disk] - member_start(disk);
  }

  // len runs to the end of the member.
  [[nodiscard]] DevExtent map(uint64_t array_sector) const;
  // nullopt for sectors past the part of the member the array uses.
  [[nodiscard]] std::optional<uint64_t> to_array(DevAddr a) const;

 private:
  uint32_t layout_ = 0;
  uint32_t chunk_ = 0;
  // Cumulative end sector per member; shared so copies of a geometry stay cheap.
  std::shared_ptr<const std::vector<uint64_t>> ends_;
};

}  // namespace umd::layout
