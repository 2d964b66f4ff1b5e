#include "layout/geometry.h"

#include <string>

namespace umd::layout {
namespace {

template <class T>
Result<Geometry> wrap(Result<T> r) {
  if (!r.is_ok()) return r.status();
  return Geometry(std::move(r).value());
}

bool any_missing(std::span<const uint32_t> missing, uint32_t raid_disks) {
  for (uint32_t m : missing)
    if (m < raid_disks) return true;
  return false;
}

}  // namespace

Result<Geometry> make_geometry(const GeometryParams& p) {
  switch (p.level) {
    case kLevelLinear: return wrap(LinearGeometry::create(p));
    case kLevelRaid0: return wrap(Raid0Geometry::create(p));
    case kLevelRaid1: return wrap(Raid1Geometry::create(p));
    case kLevelRaid4:
    case kLevelRaid5:
    case kLevelRaid6: return wrap(Raid456Geometry::create(p));
    case kLevelRaid10: return wrap(Raid10Geometry::create(p));
    default:
      return Result<Geometry>(Err::unsupported,
                              "raid level " + std::to_string(p.level) + " is not supported");
  }
}

uint32_t Geometry::max_missing() const {
  if (auto* g = as<Raid1Geometry>()) return g->raid_disks() - 1;
  if (auto* g = as<Raid10Geometry>()) return g->max_missing();
  if (auto* g = as<Raid456Geometry>()) return g->max_missing();
  return 0;
}

bool Geometry::survives(std::span<const uint32_t> missing) const {
  if (auto* g = as<Raid1Geometry>()) return g->survives(missing);
  if (auto* g = as<Raid10Geometry>()) return g->survives(missing);
  if (auto* g = as<Raid456Geometry>()) return g->survives(missing);
  return !any_missing(missing, raid_disks());
}

}  // namespace umd::layout
