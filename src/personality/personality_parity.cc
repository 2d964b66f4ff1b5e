// raid4, raid5 and raid6: data chunks are read where they live; a chunk on a missing
// member is rebuilt from the rest of its stripe row (same member sectors on every
// member) with the parity module, using the layout's syndrome slots.
//
// ASYNC PROTOCOL (the row-level rules are in stripe_head.h, the locking in stripe_cache.h)
//  - READ: split at chunk ends. A chunk piece whose member is usable is read directly
//    into an aligned bounce buffer, without the stripe cache (md's chunk_aligned_read).
//    A piece on a lost member, or whose direct read failed with a member error, becomes
//    a read StripeHead on its row: rebuilt from the row, and repaired when it was a read
//    error.
//  - WRITE / WRITE_ZEROES: split into chunk rows; each row's pieces become one
//    StripeHead (segments at every piece boundary), queued on the row's stripe lock.
//  - TRIM: advisory; completes ok without touching the members (md only discards on
//    raid456 when the members guarantee zeroes, which parity consistency needs).
//  - The request completes when every piece / head has, with the first error.
#include <fmt/format.h>

#include <algorithm>

#include "personality/personality_impl.h"
#include "personality/row_view.h"
#include "personality/stripe_head.h"
#include "parity/parity.h"
#include "layout/layout_names.h"

namespace umd::engine {
namespace {


}  // namespace

Status ParityPersonality::read(uint64_t sector, uint64_t sectors, uint8_t* out) {
  UMD_TRY(check_range(sector, sectors));
  const auto& g = *geo_.as<layout::Raid456Geometry>();
  while (sectors > 0) {
    layout::ChunkPlace place = g.compute_sector(sector);
    if (place.len == 0) return Status(Err::corrupt, fmt::format("array sector {} maps nowhere", sector));
    const uint64_t n = std::min<uint64_t>(sectors, place.len);
    const Slot& s = slots_[place.disk];
    Status st = usable_row(place.disk, place.row) ? s.read(place.dev_sector, n, out) : unusable_error(place.disk);
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
  std::lock_guard lk(scratch_mu_);
  if (scratch_.size() < size_t(disks) * len) scratch_ = AlignedBuffer(size_t(disks) * len);
  auto buf = [&](uint32_t disk) { return scratch_.data() + size_t(disk) * len; };

  // raid4/5 have no syndrome: their data blocks are XORed in data-index order.
  const bool has_q = map.qd_idx >= 0;
  RowView v = row_view(map, disks, buf);
  std::vector<int> missing;
  for (uint32_t d = 0; d < disks; d++) {
    const Slot& s = slots_[d];
    if (d == place.disk || !usable_row(d, place.row) || !s.read(place.dev_sector, n, buf(d)).is_ok()) {
      missing.push_back(v.block_of[d]);
    }
  }
  const size_t tolerated = has_q ? 2 : 1;
  if (missing.size() > tolerated) {
    // Redundancy cannot cover this row: a member failure, Err::io as read() promises (the
    // parity module would call it Err::invalid, a caller's mistake).
    return Status(Err::io, fmt::format("cannot rebuild array data at member sector {} of slot {}: {} of the row's {} "
                                       "members are missing or failing, {} tolerates {} ({})",
                                       place.dev_sector, place.disk, missing.size(), disks,
                                       layout::level_name(g.level()), tolerated, cause.message()));
  }
  Status st = parity::recover(v.slots, v.p, v.q, len, missing);
  if (!st.is_ok()) {
    return st.with_context(fmt::format("cannot rebuild array data at member sector {} of slot {}", place.dev_sector,
                                       place.disk));
  }
  std::memcpy(out, buf(place.disk), len);
  return Status::ok();
}

ParityPersonality::ParityPersonality(layout::Geometry geo, std::vector<Slot> slots, PersonalityHost* host)
    : PersonalityBase(std::move(geo), std::move(slots), host) {}

void ParityPersonality::start(RequestState* rs) {
  switch (rs->req().op) {
    case BlockOp::read: start_read(rs); break;
    case BlockOp::write: start_write(rs, rs->req().buf); break;
    case BlockOp::write_zeroes: start_write(rs, nullptr); break;
    default: break;  // trim: advisory, nothing to do
  }
}

void ParityPersonality::start_write(RequestState* rs, const uint8_t* src) {
  const auto& g = raid();
  const uint64_t chunk = g.chunk_sectors();
  const uint64_t first = rs->req().offset / 512;
  const uint64_t end = first + rs->req().length / 512;
  struct Piece {
    uint32_t disk;
    uint32_t lo, hi;
    const uint8_t* src;
  };
  std::vector<Piece> pieces;
  uint64_t row = 0;
  // One head per row, with a segment per run of columns where the set of written members
  // does not change.
  auto queue_row = [&] {
    if (pieces.empty()) return;
    auto* head = new StripeHead(*this, rs, row, rs->req().fua);
    std::vector<uint32_t> cuts;
    for (const Piece& p : pieces) {
      cuts.push_back(p.lo);
      cuts.push_back(p.hi);
    }
    std::sort(cuts.begin(), cuts.end());
    cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
    for (size_t i = 0; i + 1 < cuts.size(); i++) {
      StripeHead::Segment seg;
      seg.lo = cuts[i];
      seg.hi = cuts[i + 1];
      seg.write = true;
      for (const Piece& p : pieces) {
        if (p.lo <= seg.lo && seg.hi <= p.hi) {
          seg.touched |= uint64_t(1) << p.disk;
          seg.src[p.disk] = p.src ? p.src + size_t(seg.lo - p.lo) * 512 : nullptr;
        }
      }
      if (seg.touched) head->segs.push_back(std::move(seg));
    }
    pieces.clear();
    rs->add();
    locks_.acquire(RowKey{generation_, row}, head);
  };
  for (uint64_t sector = first; sector < end;) {
    const layout::ChunkPlace place = g.compute_sector(sector);
    if (place.len == 0) {
      queue_row();
      rs->add();
      rs->finish(Status(Err::corrupt, fmt::format("array sector {} maps nowhere", sector)));
      return;
    }
    const uint64_t n = std::min<uint64_t>(end - sector, place.len);
    if (!pieces.empty() && place.row != row) queue_row();
    row = place.row;
    const uint32_t lo = uint32_t(place.dev_sector - place.row * chunk);
    pieces.push_back({place.disk, lo, uint32_t(lo + n), src ? src + (sector - first) * 512 : nullptr});
    sector += n;
  }
  queue_row();
}

void ParityPersonality::start_read(RequestState* rs) {
  const auto& g = raid();
  uint64_t sector = rs->req().offset / 512;
  uint64_t sectors = rs->req().length / 512;
  uint8_t* out = rs->req().buf;
  while (sectors > 0) {
    const layout::ChunkPlace place = g.compute_sector(sector);
    rs->add();
    if (place.len == 0) {
      rs->finish(Status(Err::corrupt, fmt::format("array sector {} maps nowhere", sector)));
      return;
    }
    const uint64_t n = std::min<uint64_t>(sectors, place.len);
    if (!usable_row(place.disk, place.row)) {
      degraded_read(rs, place, n, out, false);
    } else {
      auto* bounce = new AlignedBuffer(n * 512);
      issue_io(member(place.disk), io::IoOp::read, false, member_offset(place.disk, place.dev_sector), n * 512,
               bounce->data(), [this, rs, place, n, out, bounce](Status s) {
                 if (s.is_ok()) std::memcpy(out, bounce->data(), n * 512);
                 delete bounce;
                 if (!s.is_ok() && is_member_failure(s)) {
                   degraded_read(rs, place, n, out, true);
                 } else {
                   rs->finish(s);
                 }
               });
    }
    out += n * 512;
    sector += n;
    sectors -= n;
  }
}

void ParityPersonality::degraded_read(RequestState* rs, const layout::ChunkPlace& place, uint64_t n, uint8_t* out,
                                      bool bad) {
  auto* head = new StripeHead(*this, rs, place.row, false);
  StripeHead::Segment seg;
  seg.lo = uint32_t(place.dev_sector - place.row * raid().chunk_sectors());
  seg.hi = uint32_t(seg.lo + n);
  seg.touched = uint64_t(1) << place.disk;
  seg.dst[place.disk] = out;
  seg.bad = bad ? seg.touched : 0;
  head->segs.push_back(std::move(seg));
  locks_.acquire(RowKey{generation_, place.row}, head);
}

}  // namespace umd::engine
