// raid1 and raid10: read the first present copy; when its member fails, try the next.
#include <fmt/format.h>

#include "engine/personality_impl.h"

namespace umd::engine {

Status MirroredPersonality::read(uint64_t sector, uint64_t sectors, uint8_t* out) {
  UMD_TRY(check_range(sector, sectors));
  while (sectors > 0) {
    layout::Raid10Copies copies;
    if (const auto* r1 = geo_.as<layout::Raid1Geometry>()) {
      copies.count = r1->raid_disks();
      for (uint32_t d = 0; d < copies.count; d++) {
        layout::DevExtent e = r1->map(sector, d);
        copies.at[d] = e.at;
        copies.len = e.len;
      }
    } else {
      copies = geo_.as<layout::Raid10Geometry>()->copies(sector);
    }
    if (copies.len == 0) return Status(Err::corrupt, fmt::format("array sector {} maps nowhere", sector));
    const uint64_t n = std::min<uint64_t>(sectors, copies.len);
    Status last = Status(Err::io, fmt::format("array sector {}: every copy is on a missing member", sector));
    bool done = false;
    for (uint32_t c = 0; c < copies.count && !done; c++) {
      const Slot& s = slots_[copies.at[c].disk];
      if (!s.present()) continue;
      last = s.read(copies.at[c].sector, n, out);
      done = last.is_ok();
    }
    if (!done) return last;
    out += n * 512;
    sector += n;
    sectors -= n;
  }
  return Status::ok();
}

}  // namespace umd::engine
