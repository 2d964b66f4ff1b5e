#include "layout/raid10.h"

#include <cstdio>
#include <string>

#include "layout/validate.h"

namespace umd::layout {

Result<Raid10Geometry> Raid10Geometry::create(const GeometryParams& p) {
  UMD_ASSIGN_OR_RETURN(LevelLimits lim, level_limits(kLevelRaid10));
  UMD_TRY(validate_common(p, lim));
  using R = Result<Raid10Geometry>;
  const uint32_t lay = p.layout;
  const std::string word = "raid10 layout 0x" + [&] {
    char b[16];
    snprintf(b, sizeof b, "%x", lay);
    return std::string(b);
  }();
  if (lay >> 19) return R(Err::unsupported, word + ": unknown bits above bit 18");
  Raid10Geometry g;
  g.layout_ = lay;
  g.raid_disks_ = p.raid_disks;
  g.near_ = lay & 0xff;
  g.far_ = (lay >> 8) & 0xff;
  g.offset_ = (lay & kRaid10OffsetBit) != 0;
  const uint32_t copies = g.near_ * g.far_;
  if (g.near_ == 0 || g.far_ == 0)
    return R(Err::invalid, word + ": near and far copies must both be at least 1");
  if (copies < 2 || copies > p.raid_disks)
    return R(Err::invalid, word + " keeps " + std::to_string(copies) +
                               " copies; md needs 2..raid_disks(" +
                               std::to_string(p.raid_disks) + ")");
  if (copies > kMaxRaid10Copies)
    return R(Err::unsupported, word + ": umd supports at most " +
                                   std::to_string(kMaxRaid10Copies) + " copies");
  // Bits 17-18 group far copies into sets. mdadm never creates those words and umd's reverse
  // map does not follow them, so they are refused rather than half supported.
  if (lay >> 17)
    return R(Err::unsupported, word + ": far-set layouts (bits 17-18) are not supported");
  // With the offset bit, a row of near copies that wraps past the last member lands in the
  // next chunk row, which the previous row's offset copies already occupy: md would map two
  // chunks onto one place.
  if (g.offset_ && p.raid_disks % g.near_ != 0)
    return R(Err::unsupported, word + ": offset copies with " + std::to_string(g.near_) +
                                   " near copies on " + std::to_string(p.raid_disks) +
                                   " members overlap each other");
  g.chunk_shift_ = log2_exact(p.chunk_sectors);

  // The same arithmetic as md's calc_sectors then raid10_size, including the round-up when
  // spreading used chunks over the members, so sizes agree to the sector.
  const uint64_t size = uniform_member_sectors(p);
  uint64_t chunks = ((size >> g.chunk_shift_) / g.far_) * p.raid_disks / g.near_;
  uint64_t dev_chunks = (chunks * copies + p.raid_disks - 1) / p.raid_disks;
  g.dev_sectors_ = dev_chunks << g.chunk_shift_;
  g.stride_ = g.offset_ ? (uint64_t{1} << g.chunk_shift_) : ((dev_chunks / g.far_) << g.chunk_shift_);
  g.array_sectors_ = (((g.dev_sectors_ >> g.chunk_shift_) / g.far_) * p.raid_disks / g.near_)
                     << g.chunk_shift_;
  return g;
}

Raid10Copies Raid10Geometry::copies(uint64_t a) const {
  Raid10Copies out;
  if (a >= array_sectors_) return out;
  const uint64_t mask = (uint64_t{1} << chunk_shift_) - 1;
  const uint64_t off = a & mask;
  out.len = mask + 1 - off;
  const uint64_t first = (a >> chunk_shift_) * near_;
  uint64_t row = first / raid_disks_;
  uint32_t dev = static_cast<uint32_t>(first % raid_disks_);
  if (offset_) row *= far_;
  uint64_t sector = (row << chunk_shift_) + off;
  for (uint32_t n = 0; n < near_; ++n) {
    uint32_t d = dev;
    uint64_t s = sector;
    out.at[out.count++] = {d, s};
    for (uint32_t f = 1; f < far_; ++f) {
      // Each further copy shifts by `near` members so it never shares a member with the last.
      d = (d + near_) % raid_disks_;
      s += stride_;
      out.at[out.count++] = {d, s};
    }
    if (++dev >= raid_disks_) {
      dev = 0;
      sector += mask + 1;
    }
  }
  return out;
}

std::optional<uint64_t> Raid10Geometry::to_array(DevAddr a) const {
  if (a.disk >= raid_disks_ || a.sector >= dev_sectors_) return std::nullopt;
  int64_t dev = a.disk;
  const uint64_t mask = (uint64_t{1} << chunk_shift_) - 1;
  const uint64_t off = a.sector & mask;
  uint64_t chunk;
  if (offset_) {
    chunk = a.sector >> chunk_shift_;
    const uint64_t fc = chunk % far_;
    chunk /= far_;
    dev -= static_cast<int64_t>(fc * near_);
    if (dev < 0) dev += raid_disks_;
  } else {
    uint64_t s = a.sector;
    if (s >= stride_ * far_) return std::nullopt;  // tail the far copies leave unused
    while (s >= stride_) {
      s -= stride_;
      dev = dev < near_ ? dev + raid_disks_ - near_ : dev - near_;
    }
    chunk = s >> chunk_shift_;
  }
  const uint64_t vchunk = (chunk * raid_disks_ + static_cast<uint64_t>(dev)) / near_;
  const uint64_t array_sector = (vchunk << chunk_shift_) + off;
  if (array_sector >= array_sectors_) return std::nullopt;
  return array_sector;
}

bool Raid10Geometry::survives(std::span<const uint32_t> missing) const {
  auto is_missing = [&](uint32_t d) {
    for (uint32_t m : missing)
      if (m == d) return true;
    return false;
  };
  uint32_t first = 0;
  do {
    uint32_t present = 0;
    for (uint32_t i = 0, d = first; i < copies(); ++i, d = (d + 1) % raid_disks_)
      if (!is_missing(d)) ++present;
    if (present == 0) return false;
    first = (first + near_) % raid_disks_;
  } while (first != 0);
  return true;
}

}  // namespace umd::layout
