#include "layout/raid1.h"

#include "layout/level_limits.h"
#include "layout/validate.h"

namespace umd::layout {

Result<Raid1Geometry> Raid1Geometry::create(const GeometryParams& p) {
  UMD_ASSIGN_OR_RETURN(LevelLimits lim, level_limits(kLevelRaid1));
  UMD_TRY(validate_common(p, lim));
  Raid1Geometry g;
  g.layout_ = p.layout;
  g.chunk_ = p.chunk_sectors;
  g.raid_disks_ = p.raid_disks;
  g.size_ = uniform_member_sectors(p);
  return g;
}

bool Raid1Geometry::survives(std::span<const uint32_t> missing) const {
  return count_missing(missing, raid_disks_) < raid_disks_;
}

}  // namespace umd::layout
