#include "layout/level_limits.h"

#include <array>
#include <string>

#include "layout/geometry_types.h"

namespace umd::layout {
namespace {

// md's own ceiling on members is the 1.x superblock's role table (far above these); umd
// caps lower so per-stripe tables stay fixed-size on the I/O path.
constexpr uint32_t kMaxMembers = 384;

constexpr std::array<LevelLimits, 7> kLimits{{
    {kLevelLinear, "linear", 1, kMaxMembers, 0, MissingRule::none, 0, false, false, 0, false},
    {kLevelRaid0, "raid0", 1, kMaxMembers, 0, MissingRule::none, 0, true, false, 1, false},
    {kLevelRaid1, "raid1", 1, kMaxMembers, 0, MissingRule::all_but_one, 0, false, false, 0, true},
    {kLevelRaid4, "raid4", 2, kMaxStripeDisks, 1, MissingRule::fixed, 1, true, true, 8, true},
    {kLevelRaid5, "raid5", 2, kMaxStripeDisks, 1, MissingRule::fixed, 1, true, true, 8, true},
    {kLevelRaid6, "raid6", 4, kMaxStripeDisks, 2, MissingRule::fixed, 2, true, true, 8, true},
    {kLevelRaid10, "raid10", 2, kMaxMembers, 0, MissingRule::per_layout, 1, true, true, 8, true},
}};

}  // namespace

Result<LevelLimits> level_limits(int level) {
  for (const LevelLimits& l : kLimits)
    if (l.level == level) return l;
  return Result<LevelLimits>(Err::unsupported,
                             "raid level " + std::to_string(level) + " is not supported");
}

}  // namespace umd::layout
