// What each md level demands of an array, as data, so that validation, the CLI and the
// degraded-mode logic read the same numbers.
#pragma once

#include <cstdint>

#include "util/status.h"

namespace umd::layout {

// How many members may be absent while every array sector stays readable.
enum class MissingRule : uint8_t {
  none,         // linear, raid0: every member holds data nobody else has
  all_but_one,  // raid1: any one member is enough
  fixed,        // raid4/5/6: `max_missing` members, whichever they are
  per_layout,   // raid10: depends on the copies and on WHICH members are missing
};

struct LevelLimits {
  int level = 0;
  const char* name = "";
  uint32_t min_disks = 1;
  uint32_t max_disks = 1;       // umd's own cap (fixed-capacity stripe tables), <= md's
  uint32_t parity_disks = 0;    // members' worth of capacity spent on redundancy (raid4/5/6)
  MissingRule missing = MissingRule::none;
  uint32_t max_missing = 0;     // for MissingRule::fixed; see Geometry::max_missing otherwise
  bool chunk_required = false;  // md refuses chunk_sectors == 0
  bool chunk_power_of_two = false;
  uint32_t min_chunk_sectors = 0;  // raid5/6 and raid10 want at least a page (8 sectors)
  bool uniform_members = false;    // one `size` for all members
};

// Largest member count the striped-parity and raid10 tables hold without heap allocation.
inline constexpr uint32_t kMaxStripeDisks = 64;
inline constexpr uint32_t kMaxRaid10Copies = 16;

// Err::unsupported for a level umd does not know (multipath, faulty, container).
[[nodiscard]] Result<LevelLimits> level_limits(int level);

}  // namespace umd::layout
