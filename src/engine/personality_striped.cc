// linear and raid0: every array sector has exactly one home; nothing to reconstruct.
#include <fmt/format.h>

#include "engine/personality_impl.h"

namespace umd::engine {

Status StripedPersonality::read(uint64_t sector, uint64_t sectors, uint8_t* out) {
  UMD_TRY(check_range(sector, sectors));
  while (sectors > 0) {
    layout::DevExtent ext = geo_.visit([&](const auto& g) -> layout::DevExtent {
      using G = std::decay_t<decltype(g)>;
      if constexpr (std::is_same_v<G, layout::LinearGeometry> || std::is_same_v<G, layout::Raid0Geometry>) {
        return g.map(sector);
      } else {
        return {};
      }
    });
    if (ext.len == 0) return Status(Err::corrupt, fmt::format("array sector {} maps nowhere", sector));
    const Slot& s = slots_[ext.at.disk];
    if (!s.present()) return missing_error(ext.at.disk);
    const uint64_t n = std::min<uint64_t>(sectors, ext.len);
    UMD_TRY(s.read(ext.at.sector, n, out));
    out += n * 512;
    sector += n;
    sectors -= n;
  }
  return Status::ok();
}

}  // namespace umd::engine
