// raid4, raid5 and raid6: data chunks are read where they live; a chunk on a missing
// member is rebuilt from the rest of its stripe row (same member sectors on every
// member) with the parity module, using the layout's syndrome slots.
#include <fmt/format.h>

#include "engine/personality_impl.h"
#include "parity/parity.h"

namespace umd::engine {
namespace {

const char* level_name_of(int level) { return level == 4 ? "raid4" : level == 5 ? "raid5" : "raid6"; }

}  // namespace

Status ParityPersonality::read(uint64_t sector, uint64_t sectors, uint8_t* out) {
  UMD_TRY(check_range(sector, sectors));
  const auto& g = *geo_.as<layout::Raid456Geometry>();
  while (sectors > 0) {
    layout::ChunkPlace place = g.compute_sector(sector);
    if (place.len == 0) return Status(Err::corrupt, fmt::format("array sector {} maps nowhere", sector));
    const uint64_t n = std::min<uint64_t>(sectors, place.len);
    const Slot& s = slots_[place.disk];
    Status st = s.present() ? s.read(place.dev_sector, n, out) : missing_error(place.disk);
    if (!st.is_ok()) UMD_TRY(reconstruct(g, place, n, out, st));
    out += n * 512;
    sector += n;
    sectors -= n;
  }
  return Status::ok();
}

Status ParityPersonality::reconstruct(const layout::Raid456Geometry& g, const layout::ChunkPlace& place,
                                      uint64_t n, uint8_t* out, const Status& cause) {
  const layout::StripeMap map = g.stripe(place.row);
  const size_t len = n * 512;
  const uint32_t disks = g.raid_disks();
  if (scratch_.size() < size_t(disks) * len) scratch_ = AlignedBuffer(size_t(disks) * len);
  auto buf = [&](uint32_t disk) { return scratch_.data() + size_t(disk) * len; };

  // raid4/5 have no syndrome: their data blocks are XORed in data-index order.
  const bool has_q = map.qd_idx >= 0;
  std::vector<uint8_t*> slots(has_q ? map.syndrome_width : map.ndata, nullptr);
  uint8_t* p = nullptr;
  uint8_t* q = nullptr;
  std::vector<int> missing;
  for (uint32_t d = 0; d < disks; d++) {
    int block;
    switch (map.role[d]) {
      case layout::DiskRole::p: p = buf(d); block = parity::kBlockP; break;
      case layout::DiskRole::q: q = buf(d); block = parity::kBlockQ; break;
      default: {
        const uint16_t slot = has_q ? map.q_slot[d] : map.data_index[d];
        slots[slot] = buf(d);
        block = int(slot);
        break;
      }
    }
    const Slot& s = slots_[d];
    if (d == place.disk || !s.present() || !s.read(place.dev_sector, n, buf(d)).is_ok()) {
      missing.push_back(block);
    }
  }
  const size_t tolerated = has_q ? 2 : 1;
  if (missing.size() > tolerated) {
    // Redundancy cannot cover this row: a member failure, Err::io as read() promises (the
    // parity module would call it Err::invalid, a caller's mistake).
    return Status(Err::io, fmt::format("cannot rebuild array data at member sector {} of slot {}: {} of the row's {} "
                                       "members are missing or failing, {} tolerates {} ({})",
                                       place.dev_sector, place.disk, missing.size(), disks,
                                       level_name_of(g.level()), tolerated, cause.message()));
  }
  Status st = parity::recover(slots, p, q, len, missing);
  if (!st.is_ok()) {
    return st.with_context(fmt::format("cannot rebuild array data at member sector {} of slot {}", place.dev_sector,
                                       place.disk));
  }
  std::memcpy(out, buf(place.disk), len);
  return Status::ok();
}

}  // namespace umd::engine
