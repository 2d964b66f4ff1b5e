// raid1 and raid10: read the first present copy; when its member fails, try the next.
#include <fmt/format.h>

#include "engine/personality_impl.h"

namespace umd::engine {

Status MirroredPersonality::read(uint64_t sector, uint64_t sectors, uint8_t* out) {
  UMD_TRY(check_range(sector, sectors));
  const auto* r1 = geo_.as<layout::Raid1Geometry>();
  const auto* r10 = geo_.as<layout::Raid10Geometry>();
  while (sectors > 0) {
    // raid1 has one copy per member, and may have more members (up to 384) than a
    // Raid10Copies holds (kMaxRaid10Copies): walk the members instead of filling one.
    layout::Raid10Copies copies;
    uint32_t count = 0;
    uint64_t len = 0;
    if (r1) {
      count = r1->raid_disks();
      len = r1->map(sector, 0).len;
    } else {
      copies = r10->copies(sector);
      count = copies.count;
      len = copies.len;
    }
    auto copy_at = [&](uint32_t c) -> layout::DevAddr { return r1 ? r1->map(sector, c).at : copies.at[c]; };
    if (len == 0) return Status(Err::corrupt, fmt::format("array sector {} maps nowhere", sector));
    const uint64_t n = std::min<uint64_t>(sectors, len);
    Status last = Status(Err::io, fmt::format("array sector {}: every copy is on a missing member", sector));
    bool done = false;
    for (uint32_t c = 0; c < count && !done; c++) {
      const layout::DevAddr at = copy_at(c);
      const Slot& s = slots_[at.disk];
      if (!s.present()) continue;
      last = s.read(at.sector, n, out);
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
