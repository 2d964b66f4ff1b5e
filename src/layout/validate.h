// Checks every level shares (member counts, chunk rules), driven by LevelLimits.
// Internal to the layout module: each geometry's create() calls it first.
#pragma once

#include <cstdint>
#include <span>

#include "layout/geometry_types.h"
#include "layout/level_limits.h"
#include "util/status.h"

namespace umd::layout {

[[nodiscard]] Status validate_common(const GeometryParams& p, const LevelLimits& limits);

// The single per-member size md uses for uniform levels: the smallest one given.
[[nodiscard]] uint64_t uniform_member_sectors(const GeometryParams& p);

// How many distinct members of 0..raid_disks-1 the list names (it may repeat some, or
// name slots past the end).
[[nodiscard]] uint32_t count_missing(std::span<const uint32_t> missing, uint32_t raid_disks);

[[nodiscard]] constexpr bool is_power_of_two(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

[[nodiscard]] constexpr uint32_t log2_exact(uint64_t v) {
  uint32_t s = 0;
  while ((uint64_t{1} << s) < v) ++s;
  return s;
}

}  // namespace umd::layout
