#include "engine/personality.h"

#include "engine/personality_impl.h"

namespace umd::engine {

Result<std::unique_ptr<Personality>> make_personality(const layout::Geometry& geo, std::vector<Slot> slots) {
  if (slots.size() != geo.raid_disks()) {
    return Result<std::unique_ptr<Personality>>(Err::invalid, "slot count does not match raid_disks");
  }
  std::unique_ptr<Personality> p;
  switch (geo.level()) {
    case layout::kLevelLinear:
    case layout::kLevelRaid0: p = std::make_unique<StripedPersonality>(geo, std::move(slots)); break;
    case layout::kLevelRaid1:
    case layout::kLevelRaid10: p = std::make_unique<MirroredPersonality>(geo, std::move(slots)); break;
    case layout::kLevelRaid4:
    case layout::kLevelRaid5:
    case layout::kLevelRaid6: p = std::make_unique<ParityPersonality>(geo, std::move(slots)); break;
    default: return Result<std::unique_ptr<Personality>>(Err::unsupported, "no personality for this level");
  }
  return p;
}

}  // namespace umd::engine
