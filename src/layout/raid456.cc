#include "layout/raid456.h"

#include <string>

#include "layout/validate.h"

namespace umd::layout {

using A = ParityAlgorithm;

bool algorithm_valid(int level, uint32_t layout) {
  if (level == kLevelRaid4) return true;  // md ignores the layout of raid4
  if (layout <= 5) return level == kLevelRaid5 || level == kLevelRaid6;
  if (level != kLevelRaid6) return false;
  return (layout >= 8 && layout <= 10) || (layout >= 16 && layout <= 20);
}

Result<Raid456Geometry> Raid456Geometry::create(const GeometryParams& p) {
  using R = Result<Raid456Geometry>;
  if (p.level != kLevelRaid4 && p.level != kLevelRaid5 && p.level != kLevelRaid6)
    return R(Err::invalid, "raid4/5/6 geometry asked for level " + std::to_string(p.level));
  UMD_ASSIGN_OR_RETURN(LevelLimits lim, level_limits(p.level));
  UMD_TRY(validate_common(p, lim));
  if (!algorithm_valid(p.level, p.layout))
    return R(Err::invalid, std::string(lim.name) + ": unknown layout " + std::to_string(p.layout));
  Raid456Geometry g;
  g.level_ = p.level;
  g.layout_ = p.layout;
  g.algo_ = p.level == kLevelRaid4 ? A::parity_n : static_cast<A>(p.layout);
  g.raid_disks_ = p.raid_disks;
  g.chunk_shift_ = log2_exact(p.chunk_sectors);
  g.rows_ = uniform_member_sectors(p) >> g.chunk_shift_;
  return g;
}

bool Raid456Geometry::ddf() const {
  return algo_ == A::rotating_zero_restart || algo_ == A::rotating_n_restart ||
         algo_ == A::rotating_n_continue;
}

// Which members hold P and Q in a row. The raid5 and raid6 variants of one name rotate
// differently (raid6's left layouts count down from the last member, not the last data one).
Raid456Geometry::Parity Raid456Geometry::parity_of(uint64_t row) const {
  const auto n = static_cast<int32_t>(raid_disks_);
  const auto nd = static_cast<int32_t>(data_disks());
  const auto r_n = static_cast<int32_t>(row % raid_disks_);
  const auto r_n1 = static_cast<int32_t>(row % (raid_disks_ - 1));
  Parity par;
  if (level_ != kLevelRaid6) {
    switch (algo_) {
      case A::left_asymmetric:
      case A::left_symmetric: par.pd = nd - r_n; break;
      case A::right_asymmetric:
      case A::right_symmetric: par.pd = r_n; break;
      case A::parity_0: par.pd = 0; break;
      default: par.pd = nd; break;
    }
    return par;
  }
  // Q right after P, wrapping to member 0 when P is last.
  auto q_after = [&](int32_t pd) { return Parity{pd, pd == n - 1 ? 0 : pd + 1}; };
  switch (algo_) {
    case A::left_asymmetric:
    case A::left_symmetric: return q_after(n - 1 - r_n);
    case A::right_asymmetric:
    case A::right_symmetric:
    case A::rotating_zero_restart: return q_after(r_n);
    case A::rotating_n_restart:
      // Starts one step later than left-asymmetric, so row 0 reads D..D P Q.
      return q_after(n - 1 - static_cast<int32_t>((row + 1) % raid_disks_));
    case A::rotating_n_continue: {
      const int32_t pd = n - 1 - r_n;
      return {pd, (pd + n - 1) % n};
    }
    case A::parity_0: return {0, 1};
    case A::parity_n: return {nd, nd + 1};
    case A::left_asymmetric_6:
    case A::left_symmetric_6: return {nd - r_n1, n - 1};
    case A::right_asymmetric_6:
    case A::right_symmetric_6: return {r_n1, n - 1};
    case A::parity_0_6: return {0, n - 1};
  }
  return par;
}

uint32_t Raid456Geometry::data_to_disk(Parity par, uint32_t dd) const {
  const uint32_t n = raid_disks_;
  const auto pd = static_cast<uint32_t>(par.pd);
  if (level_ != kLevelRaid6) {
    switch (algo_) {
      case A::left_asymmetric:
      case A::right_asymmetric: return dd >= pd ? dd + 1 : dd;
      case A::left_symmetric:
      case A::right_symmetric: return (pd + 1 + dd) % n;
      case A::parity_0: return dd + 1;
      default: return dd;
    }
  }
  switch (algo_) {
    case A::left_asymmetric:
    case A::right_asymmetric:
    case A::rotating_zero_restart:
    case A::rotating_n_restart:
      if (pd == n - 1) return dd + 1;  // Q D .. D P
      return dd >= pd ? dd + 2 : dd;   // D .. P Q .. D
    case A::left_symmetric:
    case A::right_symmetric: return (pd + 2 + dd) % n;
    case A::rotating_n_continue: return (pd + 1 + dd) % n;
    case A::parity_0: return dd + 2;
    case A::parity_n: return dd;
    case A::left_asymmetric_6:
    case A::right_asymmetric_6: return dd >= pd ? dd + 1 : dd;
    case A::left_symmetric_6:
    case A::right_symmetric_6: return (pd + 1 + dd) % (n - 1);
    case A::parity_0_6: return dd + 1;
  }
  return dd;
}

// Inverse of data_to_disk for a member that holds neither P nor Q.
uint32_t Raid456Geometry::disk_to_data(Parity par, uint32_t disk) const {
  const uint32_t n = raid_disks_;
  const auto pd = static_cast<uint32_t>(par.pd);
  if (level_ != kLevelRaid6) {
    switch (algo_) {
      case A::left_asymmetric:
      case A::right_asymmetric: return disk > pd ? disk - 1 : disk;
      case A::left_symmetric:
      case A::right_symmetric: return (disk + n - pd - 1) % n;
      case A::parity_0: return disk - 1;
      default: return disk;
    }
  }
  switch (algo_) {
    case A::left_asymmetric:
    case A::right_asymmetric:
    case A::rotating_zero_restart:
    case A::rotating_n_restart:
      if (pd == n - 1) return disk - 1;
      return disk > pd ? disk - 2 : disk;
    case A::left_symmetric:
    case A::right_symmetric: return (disk + 2 * n - pd - 2) % n;
    case A::rotating_n_continue: return (disk + n - pd - 1) % n;
    case A::parity_0: return disk - 2;
    case A::parity_n: return disk;
    case A::left_asymmetric_6:
    case A::right_asymmetric_6: return disk > pd ? disk - 1 : disk;
    case A::left_symmetric_6:
    case A::right_symmetric_6: return (disk + (n - 1) - pd - 1) % (n - 1);
    case A::parity_0_6: return disk - 1;
  }
  return disk;
}

ChunkPlace Raid456Geometry::compute_sector(uint64_t a) const {
  ChunkPlace c;
  if (a >= array_sectors()) return c;
  const uint64_t mask = (uint64_t{1} << chunk_shift_) - 1;
  const uint64_t off = a & mask;
  const uint64_t chunk_no = a >> chunk_shift_;
  const uint32_t nd = data_disks();
  c.row = chunk_no / nd;
  c.data_index = static_cast<uint32_t>(chunk_no % nd);
  const Parity par = parity_of(c.row);
  c.pd_idx = par.pd;
  c.qd_idx = par.qd;
  c.disk = data_to_disk(par, c.data_index);
  c.dev_sector = (c.row << chunk_shift_) + off;
  c.len = static_cast<uint32_t>(mask + 1 - off);
  return c;
}

StripeMap Raid456Geometry::stripe(uint64_t row) const {
  StripeMap m;
  const Parity par = parity_of(row);
  const uint32_t n = raid_disks_;
  m.pd_idx = par.pd;
  m.qd_idx = par.qd;
  m.raid_disks = n;
  m.ndata = data_disks();
  for (uint32_t d = 0; d < n; ++d) {
    m.data_index[d] = kNoSlot;
    m.q_slot[d] = kNoSlot;
  }
  for (uint32_t dd = 0; dd < m.ndata; ++dd) {
    const uint32_t disk = data_to_disk(par, dd);
    m.data_disk[dd] = static_cast<uint16_t>(disk);
    m.role[disk] = DiskRole::data;
    m.data_index[disk] = static_cast<uint16_t>(dd);
  }
  m.role[static_cast<uint32_t>(par.pd)] = DiskRole::p;
  if (par.qd < 0) {
    m.syndrome_width = 0;
    return m;
  }
  m.role[static_cast<uint32_t>(par.qd)] = DiskRole::q;
  if (ddf()) {
    // Every member position is a syndrome slot, P's and Q's contributing zeros.
    m.syndrome_width = n;
    for (uint32_t d = 0; d < n; ++d)
      if (m.role[d] == DiskRole::data) m.q_slot[d] = static_cast<uint16_t>(d);
    return m;
  }
  // md enumerates data members starting just after Q, wrapping around.
  m.syndrome_width = m.ndata;
  const uint32_t start = static_cast<uint32_t>(par.qd) == n - 1 ? 0 : static_cast<uint32_t>(par.qd) + 1;
  uint16_t slot = 0;
  for (uint32_t i = 0, d = start; i < n; ++i, d = (d + 1) % n)
    if (m.role[d] == DiskRole::data) m.q_slot[d] = slot++;
  return m;
}

SectorRole Raid456Geometry::locate(DevAddr a) const {
  SectorRole r;
  if (a.disk >= raid_disks_ || a.sector >= component_sectors()) return r;
  r.valid = true;
  r.row = a.sector >> chunk_shift_;
  const Parity par = parity_of(r.row);
  if (static_cast<int32_t>(a.disk) == par.pd) {
    r.role = DiskRole::p;
    return r;
  }
  if (static_cast<int32_t>(a.disk) == par.qd) {
    r.role = DiskRole::q;
    return r;
  }
  r.data_index = disk_to_data(par, a.disk);
  const uint64_t mask = (uint64_t{1} << chunk_shift_) - 1;
  r.array_sector = ((r.row * data_disks() + r.data_index) << chunk_shift_) + (a.sector & mask);
  return r;
}

bool Raid456Geometry::survives(std::span<const uint32_t> missing) const {
  return count_missing(missing, raid_disks_) <= parity_disks();
}

}  // namespace umd::layout
