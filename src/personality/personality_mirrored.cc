// raid1 and raid10: every array sector has several copies (every member for raid1; near
// and far copies for raid10).
//
// ASYNC PROTOCOL
//  - Requests are split where the copies' placement changes (raid10: chunk ends; raid1:
//    never), write-zeroes further into kZeroBytes pieces. Pieces run independently; the
//    request completes when all have, with the first error.
//  - READ BALANCE: a piece is read from ONE copy: among the copies on usable members, the
//    member with the fewest reads in flight from this personality; ties go to the earlier
//    copy in md's order. (md's read_balance prefers the member whose head is nearest;
//    queue depth is a simpler stand-in that also spreads concurrent readers.)
//  - READ ERRORS: a copy that fails to read is skipped and the next best copy tried, until
//    one succeeds or none is left (then the last error fails the piece). Once good data
//    is in hand, it is written back to every copy that returned a member error (md's
//    fix_read_error); if that repair write fails too, the member is failed. The piece
//    completes after its repairs. Without a host (read-only tools) nothing is repaired.
//  - WRITES go to every copy on a usable member, a member being rebuilt included. A copy whose write fails with a member
//    error fails its member (host->member_failed, once per slot). The piece succeeds when
//    at least one copy was written, else Err::io; a retry/invalid error from any copy is
//    returned as is (the copies may then differ until the client rewrites).
//  - TRIM forwards a member discard to every usable copy; discard errors are returned but
//    never fail a member. WRITE_ZEROES writes zeros like a write.
//  - Concurrent overlapping writes are not ordered against each other (as in md): the
//    client must not have two in flight on the same sectors.
#include <fmt/format.h>

#include "personality/personality_impl.h"

namespace umd::engine {

MirroredPersonality::MirroredPersonality(layout::Geometry geo, std::vector<Slot> slots, PersonalityHost* host)
    : PersonalityBase(std::move(geo), std::move(slots), host),
      reads_in_flight_(std::make_unique<std::atomic<uint32_t>[]>(slots_.size())) {}

std::vector<layout::DevAddr> MirroredPersonality::copies_of(uint64_t sector, uint64_t* len) const {
  std::vector<layout::DevAddr> out;
  if (const auto* r1 = geo_.as<layout::Raid1Geometry>()) {
    *len = r1->map(sector, 0).len;
    out.reserve(r1->raid_disks());
    for (uint32_t d = 0; d < r1->raid_disks(); d++) out.push_back(r1->map(sector, d).at);
  } else {
    const layout::Raid10Copies c = geo_.as<layout::Raid10Geometry>()->copies(sector);
    *len = c.len;
    out.assign(c.at.begin(), c.at.begin() + c.count);
  }
  return out;
}

Status MirroredPersonality::read(uint64_t sector, uint64_t sectors, uint8_t* out) {
  UMD_TRY(check_range(sector, sectors));
  while (sectors > 0) {
    uint64_t len = 0;
    const std::vector<layout::DevAddr> copies = copies_of(sector, &len);
    if (len == 0) return Status(Err::corrupt, fmt::format("array sector {} maps nowhere", sector));
    const uint64_t n = std::min<uint64_t>(sectors, len);
    Status last = Status(Err::io, fmt::format("array sector {}: every copy is on a missing member", sector));
    bool done = false;
    for (size_t c = 0; c < copies.size() && !done; c++) {
      const layout::DevAddr at = copies[c];
      if (!usable_at(at.disk, at.sector, at.sector + n)) continue;
      last = slots_[at.disk].read(at.sector, n, out);
      done = last.is_ok();
    }
    if (!done) return last;
    out += n * 512;
    sector += n;
    sectors -= n;
  }
  return Status::ok();
}

struct MirroredPersonality::ReadPiece {
  RequestState* rs = nullptr;
  uint64_t sector = 0;
  uint64_t n = 0;
  uint8_t* out = nullptr;
  std::vector<layout::DevAddr> copies;
  std::vector<uint8_t> tried;    // by copy
  std::vector<uint32_t> repair;  // copies that returned a member error
  Status last;
  std::atomic<uint32_t> repairs_pending{0};
};

struct MirroredPersonality::WritePiece {
  RequestState* rs = nullptr;
  std::atomic<uint32_t> pending{1};
  std::atomic<uint32_t> written{0};
  std::mutex mu;
  Status other;        // a retry/invalid/discard error: returned as is
  Status member_fail;  // the last member failure, for the "no copy left" message
};

void MirroredPersonality::start(RequestState* rs) {
  BlockRequest& req = rs->req();
  const bool zeroes = req.op == BlockOp::write_zeroes;
  uint64_t sector = req.offset / 512;
  uint64_t sectors = req.length / 512;
  uint8_t* buf = req.buf;
  while (sectors > 0) {
    uint64_t len = 0;
    std::vector<layout::DevAddr> copies = copies_of(sector, &len);
    if (len == 0) {
      rs->add();
      rs->finish(Status(Err::corrupt, fmt::format("array sector {} maps nowhere", sector)));
      return;
    }
    uint64_t n = std::min<uint64_t>(sectors, len);
    if (zeroes) n = std::min<uint64_t>(n, kZeroBytes / 512);
    rs->add();
    if (req.op == BlockOp::read) {
      auto* rp = new ReadPiece;
      rp->rs = rs;
      rp->sector = sector;
      rp->n = n;
      rp->out = buf;
      rp->tried.assign(copies.size(), 0);
      rp->copies = std::move(copies);
      rp->last = Status(Err::io, fmt::format("array sector {}: every copy is on a missing or failed member", sector));
      read_next_copy(rp);
    } else {
      const io::IoOp op = req.op == BlockOp::trim ? io::IoOp::discard : io::IoOp::write;
      uint8_t* src = op == io::IoOp::discard ? nullptr : zeroes ? const_cast<uint8_t*>(zero_block()) : buf;
      auto* wp = new WritePiece;
      wp->rs = rs;
      auto piece_done = [wp, sector, op]() {
        Status s;
        {
          std::lock_guard lk(wp->mu);
          if (!wp->other.is_ok()) {
            s = wp->other;
          } else if (wp->written.load() == 0 && op == io::IoOp::write) {
            s = Status(Err::io, fmt::format("array sector {}: no copy could be written{}", sector,
                                            wp->member_fail.is_ok() ? std::string(" (every copy is on a missing or "
                                                                                  "failed member)")
                                                                    : ": " + wp->member_fail.message()));
          }
        }
        RequestState* r = wp->rs;
        delete wp;
        r->finish(s);
      };
      for (const layout::DevAddr& at : copies) {
        const uint32_t disk = at.disk;
        // A member being rebuilt gets every write, also where recovery has not passed yet
        // (recovery later copies the same data there): a piece may straddle the recovery
        // point, and the part below it must not be missed. Only a copy that is valid for
        // the whole piece counts as "written".
        if (!usable(disk)) continue;
        const bool valid = usable_at(disk, at.sector, at.sector + n);
        wp->pending.fetch_add(1, std::memory_order_relaxed);
        issue_io(member(disk), op, req.fua && op == io::IoOp::write, member_offset(disk, at.sector), n * 512, src,
                 [this, wp, disk, op, piece_done, valid](Status s) {
                   if (s.is_ok()) {
                     if (valid) wp->written.fetch_add(1, std::memory_order_relaxed);
                   } else if (op == io::IoOp::write && is_member_failure(s) && fail_slot(disk, s)) {
                     std::lock_guard lk(wp->mu);
                     wp->member_fail = s;
                   } else {
                     std::lock_guard lk(wp->mu);
                     if (wp->other.is_ok()) wp->other = s;
                   }
                   if (wp->pending.fetch_sub(1, std::memory_order_acq_rel) == 1) piece_done();
                 });
      }
      if (wp->pending.fetch_sub(1, std::memory_order_acq_rel) == 1) piece_done();
    }
    if (buf) buf += n * 512;
    sector += n;
    sectors -= n;
  }
}

void MirroredPersonality::read_next_copy(ReadPiece* rp) {
  int best = -1;
  uint32_t best_load = 0;
  for (size_t c = 0; c < rp->copies.size(); c++) {
    const uint32_t disk = rp->copies[c].disk;
    if (rp->tried[c] || !usable_at(disk, rp->copies[c].sector, rp->copies[c].sector + rp->n)) continue;
    const uint32_t load = reads_in_flight_[disk].load(std::memory_order_relaxed);
    if (best < 0 || load < best_load) {
      best = int(c);
      best_load = load;
    }
  }
  if (best < 0) {
    finish_read(rp, rp->last);
    return;
  }
  const uint32_t copy = uint32_t(best);
  const layout::DevAddr at = rp->copies[copy];
  rp->tried[copy] = 1;
  reads_in_flight_[at.disk].fetch_add(1, std::memory_order_relaxed);
  issue_io(member(at.disk), io::IoOp::read, false, member_offset(at.disk, at.sector), rp->n * 512, rp->out,
           [this, rp, copy](Status s) { read_copy_done(rp, copy, std::move(s)); });
}

void MirroredPersonality::read_copy_done(ReadPiece* rp, uint32_t copy, Status s) {
  reads_in_flight_[rp->copies[copy].disk].fetch_sub(1, std::memory_order_relaxed);
  if (!s.is_ok()) {
    if (is_member_failure(s)) rp->repair.push_back(copy);
    rp->last = std::move(s);
    read_next_copy(rp);
    return;
  }
  if (rp->repair.empty() || !has_host()) {
    finish_read(rp, Status::ok());
    return;
  }
  // Rewrite the good data onto the copies that failed to read it.
  rp->repairs_pending.store(1, std::memory_order_relaxed);
  for (uint32_t c : rp->repair) {
    const layout::DevAddr at = rp->copies[c];
    if (!usable_at(at.disk, at.sector, at.sector + rp->n)) continue;
    rp->repairs_pending.fetch_add(1, std::memory_order_relaxed);
    issue_io(member(at.disk), io::IoOp::write, false, member_offset(at.disk, at.sector), rp->n * 512, rp->out,
             [this, rp, disk = at.disk](Status ws) {
               if (!ws.is_ok() && is_member_failure(ws)) fail_slot(disk, ws);
               if (rp->repairs_pending.fetch_sub(1, std::memory_order_acq_rel) == 1) finish_read(rp, Status::ok());
             });
  }
  if (rp->repairs_pending.fetch_sub(1, std::memory_order_acq_rel) == 1) finish_read(rp, Status::ok());
}

void MirroredPersonality::finish_read(ReadPiece* rp, Status s) {
  RequestState* rs = rp->rs;
  delete rp;
  rs->finish(s);
}

}  // namespace umd::engine
