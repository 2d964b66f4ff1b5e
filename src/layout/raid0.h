// md raid0: striping over members of possibly unequal size. md splits the array into zones:
// zone 0 stripes over every member up to the smallest one's size, each later zone over the
// members still larger than the previous zone's top. Sizes are rounded down to the chunk.
//
// Multi-zone arrays come in two layouts that differ only in which member a chunk of a later
// zone lands on: the original one (Linux < 3.14) counts chunks from the start of the array,
// the alternate one from the start of the zone. A single zone, or a second zone of one
// member, maps the same either way.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "layout/geometry_types.h"
#include "util/status.h"

namespace umd::layout {

inline constexpr uint32_t kRaid0LayoutUnset = 0;  // md: "dangerous"; multi-zone can't use it
inline constexpr uint32_t kRaid0LayoutOriginal = 1;
inline constexpr uint32_t kRaid0LayoutAlternate = 2;

struct Raid0Zone {
  uint64_t array_start = 0;  // first array sector of the zone
  uint64_t array_end = 0;    // one past its last
  uint64_t dev_start = 0;    // member sector where the zone begins, on every member it spans
  uint32_t first = 0;        // index into Raid0Geometry::zone_members()
  uint32_t nb_dev = 0;       // members striped in this zone, in role order
};

class Raid0Geometry {
 public:
  // Err::unsupported for a multi-zone array whose layout is neither original nor alternate:
  // the kernel refuses those too unless raid0.default_layout says which one.
  [[nodiscard]] static Result<Raid0Geometry> create(const GeometryParams& p);

  [[nodiscard]] int level() const { return kLevelRaid0; }
  [[nodiscard]] uint32_t layout() const { return layout_; }
  // The layout md actually maps with (original when the layouts coincide).
  [[nodiscard]] uint32_t effective_layout() const { return alt_ ? kRaid0LayoutAlternate : kRaid0LayoutOriginal; }
  [[nodiscard]] uint32_t chunk_sectors() const { return chunk_; }
  [[nodiscard]] uint32_t raid_disks() const { return raid_disks_; }
  [[nodiscard]] uint64_t array_sectors() const { return array_sectors_; }
  [[nodiscard]] std::span<const Raid0Zone> zones() const { return t_->zones; }
  // Member roles striped by each zone; zone z owns [first, first + nb_dev).
  [[nodiscard]] std::span<const uint32_t> zone_members() const { return t_->members; }

  // len runs to the end of the chunk.
  [[nodiscard]] DevExtent map(uint64_t array_sector) const;
  [[nodiscard]] std::optional<uint64_t> to_array(DevAddr a) const;

 private:
  struct Tables {
    std::vector<Raid0Zone> zones;
    std::vector<uint32_t> members;
    std::vector<uint64_t> used;  // per role: sectors after rounding to the chunk
  };
  uint32_t layout_ = 0;
  uint32_t chunk_ = 0;
  uint32_t chunk_shift_ = 0;  // valid when pow2_
  bool pow2_ = false;
  bool alt_ = false;
  uint32_t raid_disks_ = 0;
  uint64_t array_sectors_ = 0;
  std::shared_ptr<const Tables> t_;
};

}  // namespace umd::layout
