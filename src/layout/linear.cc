#include "layout/linear.h"

#include <algorithm>

#include "layout/level_limits.h"
#include "layout/validate.h"

namespace umd::layout {

Result<LinearGeometry> LinearGeometry::create(const GeometryParams& p) {
  UMD_ASSIGN_OR_RETURN(LevelLimits lim, level_limits(kLevelLinear));
  UMD_TRY(validate_common(p, lim));
  auto ends = std::make_shared<std::vector<uint64_t>>();
  ends->reserve(p.raid_disks);
  uint64_t end = 0;
  for (uint64_t s : p.member_sectors) {
    if (p.chunk_sectors) s -= s % p.chunk_sectors;
    end += s;
    ends->push_back(end);
  }
  LinearGeometry g;
  g.layout_ = p.layout;
  g.chunk_ = p.chunk_sectors;
  g.ends_ = std::move(ends);
  return g;
}

DevExtent LinearGeometry::map(uint64_t array_sector) const {
  const std::vector<uint64_t>& e = *ends_;
  // First member ending after the sector; members rounded to nothing are skipped this way.
  auto it = std::upper_bound(e.begin(), e.end(), array_sector);
  if (it == e.end()) return {};
  const auto disk = static_cast<uint32_t>(it - e.begin());
  const uint64_t start = member_start(disk);
  return {{disk, array_sector - start}, *it - array_sector};
}

std::optional<uint64_t> LinearGeometry::to_array(DevAddr a) const {
  if (a.disk >= raid_disks() || a.sector >= member_used(a.disk)) return std::nullopt;
  return member_start(a.disk) + a.sector;
}

}  // namespace umd::layout
