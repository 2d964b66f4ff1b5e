#include "layout/raid0.h"

#include <algorithm>
#include <string>

#include "layout/level_limits.h"
#include "layout/validate.h"

namespace umd::layout {

Result<Raid0Geometry> Raid0Geometry::create(const GeometryParams& p) {
  UMD_ASSIGN_OR_RETURN(LevelLimits lim, level_limits(kLevelRaid0));
  UMD_TRY(validate_common(p, lim));
  const uint64_t chunk = p.chunk_sectors;
  auto t = std::make_shared<Tables>();
  t->used.reserve(p.raid_disks);
  for (uint64_t s : p.member_sectors) t->used.push_back(s - s % chunk);

  // Zones follow distinct sizes in increasing order; within a zone, members keep role order.
  std::vector<uint64_t> tops = t->used;
  std::sort(tops.begin(), tops.end());
  tops.erase(std::unique(tops.begin(), tops.end()), tops.end());
  uint64_t dev_start = 0, array_pos = 0;
  for (uint64_t top : tops) {
    Raid0Zone z;
    z.dev_start = dev_start;
    z.first = static_cast<uint32_t>(t->members.size());
    const bool first_zone = t->zones.empty();  // md's zone 0 spans every member
    for (uint32_t d = 0; d < p.raid_disks; ++d)
      if (first_zone || t->used[d] > dev_start) t->members.push_back(d);
    z.nb_dev = static_cast<uint32_t>(t->members.size()) - z.first;
    z.array_start = array_pos;
    array_pos += (top - dev_start) * z.nb_dev;
    z.array_end = array_pos;
    dev_start = top;
    // A member rounded to zero sectors opens an empty first zone; md's zone 0 has the same
    // zero length, and lookups skip it.
    t->zones.push_back(z);
  }
  if (t->zones.empty() || array_pos == 0)
    return Result<Raid0Geometry>(Err::invalid, "raid0: no member holds a whole chunk");

  Raid0Geometry g;
  g.layout_ = p.layout;
  g.chunk_ = p.chunk_sectors;
  g.pow2_ = is_power_of_two(chunk);
  g.chunk_shift_ = g.pow2_ ? log2_exact(chunk) : 0;
  g.raid_disks_ = p.raid_disks;
  const bool layouts_differ = t->zones.size() > 1 && t->zones[1].nb_dev > 1;
  if (layouts_differ) {
    if (p.layout == kRaid0LayoutOriginal) {
      g.alt_ = false;
    } else if (p.layout == kRaid0LayoutAlternate) {
      g.alt_ = true;
    } else {
      return Result<Raid0Geometry>(
          Err::unsupported,
          "raid0: members of unequal size need layout original(1) or alternate(2), got " +
              std::to_string(p.layout));
    }
  }
  // md sizes the array by masking each member with chunk-1, which for a chunk that is not a
  // power of two cuts more than the rounding did: the tail of the last zone stays unused.
  for (uint64_t u : t->used) g.array_sectors_ += u & ~(chunk - 1);
  g.t_ = std::move(t);
  return g;
}

DevExtent Raid0Geometry::map(uint64_t a) const {
  const std::vector<Raid0Zone>& zs = t_->zones;
  if (a >= array_sectors_) return {};
  size_t zi = 0;
  while (zi < zs.size() && a >= zs[zi].array_end) ++zi;
  if (zi == zs.size()) return {};
  const Raid0Zone& z = zs[zi];
  const uint64_t in_zone = a - z.array_start;
  // The original layout picks the member from the chunk number counted over the whole array.
  const uint64_t basis = alt_ ? in_zone : a;
  uint64_t chunk_no, off, dev_chunk;
  if (pow2_) {
    chunk_no = basis >> chunk_shift_;
    off = a & (chunk_ - 1);
    dev_chunk = (in_zone >> chunk_shift_) / z.nb_dev;
  } else {
    chunk_no = basis / chunk_;
    off = a % chunk_;
    dev_chunk = in_zone / chunk_ / z.nb_dev;
  }
  const uint32_t disk = t_->members[z.first + chunk_no % z.nb_dev];
  return {{disk, z.dev_start + dev_chunk * chunk_ + off}, chunk_ - off};
}

std::optional<uint64_t> Raid0Geometry::to_array(DevAddr a) const {
  if (a.disk >= raid_disks_ || a.sector >= t_->used[a.disk]) return std::nullopt;
  auto in_array = [&](uint64_t s) -> std::optional<uint64_t> {
    if (s >= array_sectors_) return std::nullopt;
    return s;
  };
  for (const Raid0Zone& z : t_->zones) {
    const uint64_t zone_dev_sectors = (z.array_end - z.array_start) / (z.nb_dev ? z.nb_dev : 1);
    if (a.sector < z.dev_start || a.sector >= z.dev_start + zone_dev_sectors) continue;
    const uint32_t* first = t_->members.data() + z.first;
    const uint32_t* hit = std::find(first, first + z.nb_dev, a.disk);
    if (hit == first + z.nb_dev) return std::nullopt;
    const auto k = static_cast<uint64_t>(hit - first);
    const uint64_t rel = a.sector - z.dev_start;
    const uint64_t dev_chunk = rel / chunk_, off = rel % chunk_;
    uint64_t j;  // chunk index within the zone
    if (alt_) {
      j = dev_chunk * z.nb_dev + k;
    } else {
      // Row dev_chunk holds zone chunks [dev_chunk*nb, +nb); the one whose array-wide chunk
      // number is k modulo nb is ours.
      const uint64_t base = (z.array_start / chunk_) % z.nb_dev;
      j = dev_chunk * z.nb_dev + (k + z.nb_dev - base) % z.nb_dev;
    }
    return in_array(z.array_start + j * chunk_ + off);
  }
  return std::nullopt;
}

}  // namespace umd::layout
