// Sync for raid4, raid5 and raid6 (the rules are in personality.h, "SYNC"), a step's chunk
// rows together, with the barrier raised over the array sectors of those rows.
//  - Every usable member's part of the rows is read in full, one I/O per member (its rows
//    are contiguous on it), all members at once; then each row is computed; then one
//    write per member goes out for the rows that changed it. A member whose read fails is
//    re-read a row at a time; a row it cannot read is rebuilt from the rest and rewritten
//    (md's read-error repair).
//  - recover: the rows' blocks of every recovering slot are rebuilt (parity::recover) and
//    written. On raid6 with one block rebuilt, the parity block it was not rebuilt from
//    is recomputed too and rewritten where it disagrees (md's handle_parity_checks6).
//  - resync / check / repair on a row with all members: P (and Q) are recomputed and
//    compared per 4 KiB block; each block that disagrees counts 8 sectors. resync and
//    repair write the recomputed parity (md). On raid6, repair first asks
//    parity::find_culprit which single member explains a block where P and Q both
//    disagree; when one data member does, its block is rebuilt from P and the others and
//    rewritten instead, and check/repair report it as a SyncFinding. A row with a member
//    missing has no redundancy to compare against and is skipped (md does not resync or
//    check a degraded raid4/5 either).
#include <fmt/format.h>

#include <cstring>
#include <functional>

#include "personality/personality_impl.h"
#include "personality/row_view.h"
#include "parity/parity.h"
#include "util/aligned_buffer.h"

namespace umd::engine {
namespace {
constexpr size_t kBlockBytes = 4096;
}

uint64_t ParityPersonality::sync_sectors(SyncOp) const { return raid().component_sectors(); }

std::pair<uint64_t, uint64_t> ParityPersonality::sync_span(uint64_t lo, uint64_t hi) const {
  const uint64_t chunk = raid().chunk_sectors();
  const uint64_t span = uint64_t(raid().data_disks()) * chunk;
  return {lo / span * chunk, (hi + span - 1) / span * chunk};
}

std::pair<uint64_t, uint64_t> ParityPersonality::array_span(uint32_t, uint64_t lo, uint64_t hi) const {
  const uint64_t chunk = raid().chunk_sectors();
  const uint64_t span = uint64_t(raid().data_disks()) * chunk;
  return {lo / chunk * span, (hi + chunk - 1) / chunk * span};
}

Status ParityPersonality::sync(SyncOp op, uint64_t pos, uint64_t n, SyncReport* report) {
  if (op == SyncOp::replace) return sync_replace(pos, n);
  const auto& g = raid();
  const uint64_t chunk = g.chunk_sectors();
  const uint64_t end = std::min(pos + n, sync_sectors(op));
  if (pos >= end) return Status::ok();
  const uint64_t r0 = pos / chunk, r1 = (end + chunk - 1) / chunk;
  std::vector<uint32_t> targets;
  if (op == SyncOp::recover) {
    for (uint32_t slot : recovering_at(pos, end)) {
      if (valid_below_[slot].load() >= r0 * chunk) targets.push_back(slot);
    }
    if (targets.empty()) return Status::ok();
  }
  const uint64_t span = uint64_t(g.data_disks()) * chunk;
  barrier_.raise(r0 * span, r1 * span);
  Status st = sync_rows(op, r0, r1, targets, report);
  if (st.is_ok()) {
    for (uint32_t slot : targets) {
      if (usable(slot)) valid_below_[slot].store(r1 >= g.rows() ? ~0ull : r1 * chunk, std::memory_order_release);
    }
  }
  barrier_.lower();
  return st;
}

namespace {
// Runs of consecutive rows [first, first + count) of one member that take one I/O.
struct RowRun {
  uint32_t disk;
  uint64_t first, count;
};
template <class Want>
std::vector<RowRun> row_runs(uint32_t disks, uint64_t nrows, Want want) {
  std::vector<RowRun> out;
  for (uint32_t d = 0; d < disks; d++) {
    for (uint64_t i = 0; i < nrows; i++) {
      if (!want(d, i)) continue;
      if (!out.empty() && out.back().disk == d && out.back().first + out.back().count == i) out.back().count++;
      else out.push_back({d, i, 1});
    }
  }
  return out;
}
}  // namespace

// The reads of rows [r0, r1) into `mem` (laid out member by member, each member's rows in
// a run): one per run of rows a member holds and can be read at; `lost` (if given) gets,
// per row, the members that cannot.
std::vector<MemberIo> ParityPersonality::sync_reads(SyncOp, uint64_t r0, uint64_t r1, uint8_t* mem,
                                                    std::vector<uint64_t>* lost) const {
  const auto& g = raid();
  const uint32_t disks = g.raid_disks();
  const uint64_t chunk = g.chunk_sectors();
  const size_t len = chunk * 512;
  const uint64_t nrows = r1 - r0;
  std::vector<uint64_t> gone(nrows, 0);
  for (uint64_t i = 0; i < nrows; i++) {
    for (uint32_t d = 0; d < disks; d++) {
      if (!usable_row(d, r0 + i)) gone[i] |= 1ull << d;
    }
  }
  std::vector<MemberIo> ios;
  for (const RowRun& r : row_runs(disks, nrows, [&](uint32_t d, uint64_t i) { return !(gone[i] >> d & 1); })) {
    ios.push_back({r.disk, io::IoOp::read, member_offset(r.disk, (r0 + r.first) * chunk), r.count * len,
                   mem + len * (r.disk * nrows + r.first), {}});
  }
  if (lost) *lost = std::move(gone);
  return ios;
}

// The step's rows [r0, r1) together: one read per member for every run of rows it holds
// (a member's rows are contiguous on it), then each row's computation, then one write per
// member for every run of rows that changed. A member whose run read fails is re-read a
// row at a time, so a read error costs only its own row. The next step's rows are read
// ahead meanwhile (READ-AHEAD in personality_impl.h).
Status ParityPersonality::sync_rows(SyncOp op, uint64_t r0, uint64_t r1, const std::vector<uint32_t>& targets,
                                    SyncReport* report) {
  const auto& g = raid();
  const uint32_t disks = g.raid_disks();
  const uint64_t chunk = g.chunk_sectors();
  const size_t len = chunk * 512;
  const uint64_t nrows = r1 - r0;
  const size_t bytes = len * (disks * nrows + 2);
  std::vector<uint64_t> lost, bad(nrows, 0), write(nrows, 0);
  std::vector<MemberIo> ios;
  // This step read ahead: taken when it is the same reads and nothing wrote there since.
  if (ahead_) {
    std::vector<MemberIo>& got = ahead_->batch->wait();
    const bool clean = barrier_.watch_end();
    const bool same = ahead_->op == op && ahead_->r0 == r0 && ahead_->r1 == r1;
    std::vector<MemberIo> plan;
    if (clean && same) plan = sync_reads(op, r0, r1, sync_buf(ahead_->buf, bytes), &lost);
    bool take = clean && same && plan.size() == got.size();
    for (size_t k = 0; take && k < plan.size(); k++) {
      take = plan[k].slot == got[k].slot && plan[k].offset == got[k].offset && plan[k].length == got[k].length &&
             plan[k].buf == got[k].buf;  // a read that failed is retried below, as any step's
    }
    if (take) {
      sync_cur_ = ahead_->buf;
      ios = std::move(got);
      if (report) report->read_ahead = true;
    }
    ahead_->batch.reset();
    ahead_.reset();
  }
  uint8_t* mem = sync_buf(sync_cur_, bytes);
  auto buf = [&](uint32_t d, uint64_t i) { return mem + len * (d * nrows + i); };
  auto ios_for = [&](const std::vector<RowRun>& runs, io::IoOp op_) {
    std::vector<MemberIo> out;
    for (const RowRun& r : runs) {
      out.push_back({r.disk, op_, member_offset(r.disk, (r0 + r.first) * chunk), r.count * len, buf(r.disk, r.first), {}});
    }
    return out;
  };
  if (ios.empty()) {
    ios = sync_reads(op, r0, r1, mem, &lost);
    run_ios(*this, ios);
  }
  // The next step's rows, while this one computes and writes (not past the members' rows;
  // not when a client write is inside them now).
  const uint64_t a1 = std::min(r1 + nrows, g.rows());
  if (r1 < a1 && barrier_.watch(r1 * uint64_t(g.data_disks()) * chunk, a1 * uint64_t(g.data_disks()) * chunk)) {
    const int other = 1 - sync_cur_;
    std::vector<MemberIo> plan = sync_reads(op, r1, a1, sync_buf(other, len * (disks * (a1 - r1) + 2)), nullptr);
    ahead_ = ReadAhead{op, r1, a1, other, std::make_unique<IoBatch>(*this, std::move(plan))};
  }
  std::vector<RowRun> retry;
  for (size_t k = 0; k < ios.size(); k++) {
    if (ios[k].st.is_ok()) continue;
    if (!is_member_failure(ios[k].st)) return ios[k].st;
    const uint32_t d = ios[k].slot;
    const uint64_t first = (ios[k].buf - mem) / len - d * nrows, count = ios[k].length / len;
    for (uint64_t i = first; i < first + count; i++) {
      if (count == 1) bad[i] |= 1ull << d;
      else retry.push_back({d, i, 1});
    }
  }
  if (!retry.empty()) {
    ios = ios_for(retry, io::IoOp::read);
    run_ios(*this, ios);
    for (size_t k = 0; k < ios.size(); k++) {
      if (ios[k].st.is_ok()) continue;
      if (!is_member_failure(ios[k].st)) return ios[k].st;
      bad[retry[k].first] |= 1ull << retry[k].disk;
    }
  }
  Status st;
  uint64_t done = 0;
  for (; done < nrows && st.is_ok(); done++) {
    st = sync_row(op, r0 + done, [&](uint32_t d) { return buf(d, done); }, mem + len * disks * nrows, lost[done],
                  bad[done], targets, report, &write[done]);
  }
  if (!has_host()) return st;
  // Write what the rows computed (also those before a row that failed).
  std::vector<RowRun> writes =
      row_runs(disks, nrows, [&](uint32_t d, uint64_t i) { return (write[i] >> d & 1) && usable(d); });
  ios = ios_for(writes, io::IoOp::write);
  run_ios(*this, ios);
  for (const MemberIo& io : ios) {
    if (io.st.is_ok()) continue;
    if (!is_member_failure(io.st)) return io.st;
    fail_slot(io.slot, io.st);
  }
  return st;
}

Status ParityPersonality::sync_row(SyncOp op, uint64_t row, const std::function<uint8_t*(uint32_t)>& buf,
                                   uint8_t* scratch, uint64_t lost, uint64_t bad,
                                   const std::vector<uint32_t>& targets, SyncReport* report, uint64_t* write_out) {
  const auto& g = raid();
  const layout::StripeMap map = g.stripe(row);
  const uint32_t disks = g.raid_disks();
  const uint64_t chunk = g.chunk_sectors();
  const size_t len = chunk * 512;
  const bool has_q = map.qd_idx >= 0;
  uint8_t* new_p = scratch;
  uint8_t* new_q = scratch + len;
  const uint64_t gone = lost | bad;
  const uint32_t ngone = uint32_t(__builtin_popcountll(gone));
  if (ngone > tolerated()) {
    return Status(Err::io, fmt::format("sync: row {} has {} members missing or unreadable; {} tolerates {}", row,
                                       ngone, g.level() == 6 ? "raid6" : "raid5", tolerated()));
  }

  RowView v = row_view(map, disks, buf);
  std::vector<uint8_t*>& slots = v.slots;
  uint8_t* p = v.p;
  uint8_t* q = v.q;
  const std::vector<int>& block_of = v.block_of;
  std::vector<int> missing;
  for (uint32_t d = 0; d < disks; d++) {
    if (gone >> d & 1) missing.push_back(block_of[d]);
  }

  uint64_t& write = *write_out;  // members whose buffer is written back whole
  if (ngone > 0) {
    UMD_TRY(parity::recover(slots, p, q, len, missing).with_context(fmt::format("sync: rebuilding row {}", row)));
    write |= bad;
    for (uint32_t t : targets) {
      if (lost >> t & 1) write |= 1ull << t;
    }
    // raid6 with one block rebuilt still has a parity block that must agree: md checks it
    // (handle_parity_checks6) and, but for a check, rewrites it. Without this a row a
    // crash left inconsistent would come out of a recovery still inconsistent, and a
    // bitmap that counts the recovery as its sync would never look at it again.
    if (has_q && ngone == 1 && op != SyncOp::check) {
      std::vector<const uint8_t*> cslots(slots.begin(), slots.end());
      parity::gen_pq(cslots, new_p, new_q, len);
      if (std::memcmp(p, new_p, len) != 0) {
        std::memcpy(p, new_p, len);
        write |= 1ull << map.pd_idx;
      }
      if (std::memcmp(q, new_q, len) != 0) {
        std::memcpy(q, new_q, len);
        write |= 1ull << map.qd_idx;
      }
    }
  } else if (op != SyncOp::recover) {
    std::vector<const uint8_t*> cslots(slots.begin(), slots.end());
    if (has_q) parity::gen_pq(cslots, new_p, new_q, len);
    else parity::gen_p(cslots, new_p, len);
    const bool fix = op != SyncOp::check;
    for (size_t off = 0; off < len; off += kBlockBytes) {
      const size_t bl = std::min(kBlockBytes, len - off);
      const bool p_bad = std::memcmp(p + off, new_p + off, bl) != 0;
      const bool q_bad = has_q && std::memcmp(q + off, new_q + off, bl) != 0;
      if (!p_bad && !q_bad) continue;
      if (report) report->mismatch_sectors += bl / 512;
      bool culprit_fixed = false;
      if (has_q && p_bad && q_bad && op != SyncOp::resync) {
        std::vector<const uint8_t*> bs(slots.size(), nullptr);
        for (size_t i = 0; i < slots.size(); i++) bs[i] = slots[i] ? slots[i] + off : nullptr;
        Result<parity::Culprit> c = parity::find_culprit(bs, p + off, q + off, bl);
        if (c.is_ok() && c->kind == parity::Culprit::Kind::slot) {
          uint32_t disk = 0;
          for (uint32_t d = 0; d < disks; d++) {
            if (block_of[d] == c->slot) disk = d;
          }
          SyncFinding f{disk, row * chunk + off / 512, uint32_t(bl / 512), fix};
          if (report) report->findings.push_back(f);
          if (fix) {
            // Rebuild the culprit's block from the stored P/Q and the other members.
            std::vector<uint8_t*> ms(slots.size(), nullptr);
            for (size_t i = 0; i < slots.size(); i++) ms[i] = slots[i] ? slots[i] + off : nullptr;
            const int miss[] = {c->slot};
            UMD_TRY(parity::recover(ms, p + off, q + off, bl, miss));
            write |= 1ull << disk;
          }
          culprit_fixed = true;
        }
      }
      if (!culprit_fixed && fix) {
        if (p_bad) {
          std::memcpy(p + off, new_p + off, bl);
          write |= 1ull << map.pd_idx;
        }
        if (q_bad) {
          std::memcpy(q + off, new_q + off, bl);
          write |= 1ull << map.qd_idx;
        }
      }
    }
  }
  return Status::ok();
}

// A row at a time: every other member's chunk of the row is read, and the slot's block is
// recovered as if the slot were missing (with any other member that is missing or does not
// read, up to what the level tolerates).
Status ParityPersonality::rebuild_slot_range(uint32_t slot, uint64_t pos, uint64_t end, uint8_t* out) {
  const auto& g = raid();
  const uint32_t disks = g.raid_disks();
  const uint64_t chunk = g.chunk_sectors();
  const size_t len = chunk * 512;
  AlignedBuffer mem(len * disks);
  auto buf = [&](uint32_t d) { return mem.data() + len * d; };
  for (uint64_t row = pos / chunk; row * chunk < end; row++) {
    uint64_t lost = 1ull << slot;
    std::vector<MemberIo> ios;
    for (uint32_t d = 0; d < disks; d++) {
      if (d == slot) continue;
      if (!usable_row(d, row)) lost |= 1ull << d;
      else ios.push_back({d, io::IoOp::read, member_offset(d, row * chunk), len, buf(d), {}});
    }
    run_ios(*this, ios);
    for (const MemberIo& io : ios) {
      if (io.st.is_ok()) continue;
      if (!is_member_failure(io.st)) return io.st;
      lost |= 1ull << io.slot;
    }
    if (uint32_t(__builtin_popcountll(lost)) > tolerated()) {
      return Status(Err::io, fmt::format("rebuilding slot {}: row {} has {} members missing or unreadable", slot,
                                         row, __builtin_popcountll(lost)));
    }
    const layout::StripeMap map = g.stripe(row);
    RowView v = row_view(map, disks, buf);
    std::vector<int> missing;
    for (uint32_t d = 0; d < disks; d++) {
      if (lost >> d & 1) missing.push_back(v.block_of[d]);
    }
    UMD_TRY(parity::recover(v.slots, v.p, v.q, len, missing)
                .with_context(fmt::format("rebuilding slot {}: row {}", slot, row)));
    const uint64_t lo = std::max(pos, row * chunk), hi = std::min(end, (row + 1) * chunk);
    std::memcpy(out + (lo - pos) * 512, buf(slot) + (lo - row * chunk) * 512, (hi - lo) * 512);
  }
  return Status::ok();
}

}  // namespace umd::engine
