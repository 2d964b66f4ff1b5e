#include "layout/validate.h"

#include <algorithm>
#include <string>

namespace umd::layout {

Status validate_common(const GeometryParams& p, const LevelLimits& lim) {
  const std::string lvl = lim.name;
  if (p.level != lim.level)
    return Status(Err::invalid, "geometry for " + lvl + " built from level " +
                                    std::to_string(p.level) + " parameters");
  if (p.raid_disks < lim.min_disks)
    return Status(Err::invalid, lvl + " needs at least " + std::to_string(lim.min_disks) +
                                    " members, got raid_disks=" + std::to_string(p.raid_disks));
  if (p.raid_disks > lim.max_disks)
    return Status(Err::unsupported, lvl + " with " + std::to_string(p.raid_disks) +
                                        " members: umd supports at most " +
                                        std::to_string(lim.max_disks));
  const size_t n = p.member_sectors.size();
  if (lim.uniform_members) {
    if (n != 1 && n != p.raid_disks)
      return Status(Err::invalid, lvl + ": member_sectors has " + std::to_string(n) +
                                      " entries, expected 1 or raid_disks=" +
                                      std::to_string(p.raid_disks));
  } else if (n != p.raid_disks) {
    return Status(Err::invalid, lvl + ": member_sectors has " + std::to_string(n) +
                                    " entries, expected raid_disks=" +
                                    std::to_string(p.raid_disks));
  }
  if (lim.chunk_required && p.chunk_sectors == 0)
    return Status(Err::invalid, lvl + " needs a chunk size (chunk_sectors is 0)");
  if (p.chunk_sectors != 0 || lim.chunk_required) {
    if (lim.chunk_power_of_two && !is_power_of_two(p.chunk_sectors))
      return Status(Err::invalid, lvl + ": chunk of " + std::to_string(p.chunk_sectors) +
                                      " sectors is not a power of two");
    if (p.chunk_sectors < lim.min_chunk_sectors)
      return Status(Err::invalid, lvl + ": chunk of " + std::to_string(p.chunk_sectors) +
                                      " sectors is below the minimum of " +
                                      std::to_string(lim.min_chunk_sectors));
  }
  return Status::ok();
}

uint64_t uniform_member_sectors(const GeometryParams& p) {
  if (p.member_sectors.empty()) return 0;
  return *std::min_element(p.member_sectors.begin(), p.member_sectors.end());
}

uint32_t count_missing(std::span<const uint32_t> missing, uint32_t raid_disks) {
  uint32_t gone = 0;
  for (uint32_t d = 0; d < raid_disks; ++d) {
    for (uint32_t m : missing) {
      if (m == d) {
        ++gone;
        break;
      }
    }
  }
  return gone;
}

}  // namespace umd::layout
