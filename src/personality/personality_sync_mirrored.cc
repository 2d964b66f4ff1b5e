// Sync for raid1 and raid10 (the rules are in personality.h, "SYNC").
//  - resync: the first copy that reads is written to every other usable copy (md's
//    raid1 resync: no comparison, nothing counted).
//  - check / repair: every usable copy is read and compared with the first that read;
//    each 4 KiB block where any copy differs counts 8 sectors; repair writes the first
//    copy's data over the ones that differ.
//  - recover: raid1 walks member sectors (= array sectors) and writes the rebuilt range
//    to every recovering slot; raid10 walks the recovering member's own sectors, finds the
//    array sector each chunk holds (to_array) and copies it from another copy, holding
//    the barrier on that array range only.
//  - A copy that fails to read is left out of the step and rewritten with the good data
//    (as a client read error); a write that fails fails its member.
#include <fmt/format.h>

#include <cstring>
#include <optional>

#include "personality/personality_impl.h"

namespace umd::engine {
namespace {
constexpr uint64_t kBlock = 8;  // sectors compared and counted together (4 KiB)
}

uint64_t MirroredPersonality::sync_sectors(SyncOp op) const {
  const bool member_space = op == SyncOp::recover || op == SyncOp::replace;
  if (const auto* r10 = geo_.as<layout::Raid10Geometry>(); r10 && member_space) return r10->dev_sectors();
  return array_sectors();
}

std::pair<uint64_t, uint64_t> MirroredPersonality::array_span(uint32_t slot, uint64_t lo, uint64_t hi) const {
  const auto* r10 = geo_.as<layout::Raid10Geometry>();
  if (!r10) return {lo, hi};
  const uint64_t chunk = r10->chunk_sectors();
  uint64_t a_lo = ~0ull, a_hi = 0;
  for (uint64_t s = lo / chunk * chunk; s < hi; s += chunk) {
    if (auto a = r10->to_array({slot, s})) {
      a_lo = std::min(a_lo, *a / chunk * chunk);
      a_hi = std::max(a_hi, *a / chunk * chunk + chunk);
    }
  }
  return a_lo == ~0ull ? std::pair<uint64_t, uint64_t>{0, 0} : std::pair<uint64_t, uint64_t>{a_lo, a_hi};
}

bool MirroredPersonality::positions_are_bitmap_space(SyncOp op) const {
  return !(geo_.as<layout::Raid10Geometry>() && (op == SyncOp::recover || op == SyncOp::replace));
}

std::vector<std::pair<uint64_t, uint64_t>> MirroredPersonality::bitmap_ranges(SyncOp op, uint64_t lo, uint64_t hi,
                                                                              bool just_done) const {
  if (positions_are_bitmap_space(op)) return {{lo, hi}};
  const auto* r10 = geo_.as<layout::Raid10Geometry>();
  const uint64_t chunk = r10->chunk_sectors();
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (uint32_t slot : just_done ? last_step_targets() : rebuilding_below(op, hi)) {
    for (uint64_t c = lo / chunk * chunk; c < hi; c += chunk) {
      const std::optional<uint64_t> a = r10->to_array({slot, c});
      if (!a) continue;  // past the array's end (or a far copy region holding nothing)
      const uint64_t from = std::max(lo, c), to = std::min(hi, c + chunk);
      out.emplace_back(*a + (from - c), *a + (to - c));
    }
  }
  return out;
}

uint64_t MirroredPersonality::sync_granule() const {
  return geo_.as<layout::Raid10Geometry>() ? geo_.chunk_sectors() : kBlock;
}

Status MirroredPersonality::sync(SyncOp op, uint64_t pos, uint64_t n, SyncReport* report) {
  // A read-ahead is for the step right after the one that issued it, within one sync_array_range
  // call's barrier: a step that goes another way drops it first.
  if (ahead_ && (op != ahead_->op || pos != ahead_->r0)) drop_read_ahead();
  if (op == SyncOp::replace) return sync_replace(pos, n);
  const uint64_t end = std::min(pos + n, sync_sectors(op));
  if (pos >= end) return Status::ok();
  if (op == SyncOp::recover && geo_.as<layout::Raid10Geometry>()) {
    last_step_targets_.clear();
    for (uint32_t slot : recovering_at(pos, end)) {
      if (valid_below_[slot].load() < pos) continue;  // behind: not this step's to do
      UMD_TRY(recover_dev_range(slot, pos, end));
      last_step_targets_.push_back(slot);
      if (usable(slot)) valid_below_[slot].store(end >= sync_sectors(op) ? ~0ull : end, std::memory_order_release);
    }
    return Status::ok();
  }
  std::vector<uint32_t> targets;
  if (op == SyncOp::recover) {
    for (uint32_t slot : recovering_at(pos, end)) {
      if (valid_below_[slot].load() >= pos) targets.push_back(slot);
    }
    if (targets.empty()) return Status::ok();
  }
  barrier_.raise(pos, end);
  Status st = sync_array_range(op, pos, end, report);
  if (st.is_ok()) {
    for (uint32_t slot : targets) {
      if (usable(slot)) valid_below_[slot].store(end >= sync_sectors(op) ? ~0ull : end, std::memory_order_release);
    }
  }
  barrier_.lower();
  return st;
}

// Array sectors [lo, hi), barrier raised by the caller.
Status MirroredPersonality::sync_array_range(SyncOp op, uint64_t lo, uint64_t hi, SyncReport* report) {
  uint64_t sector = lo;
  while (sector < hi) {
    uint64_t len = 0;
    std::vector<layout::DevAddr> copies = copies_of(sector, &len);
    if (len == 0) return Status(Err::corrupt, fmt::format("array sector {} maps nowhere", sector));
    const uint64_t m = std::min(len, hi - sector);
    const size_t bytes = m * 512;
    // Which copies hold valid data (readable), which are being rebuilt (targets).
    std::vector<uint32_t> readable, targets;
    for (uint32_t c = 0; c < copies.size(); c++) {
      const layout::DevAddr at = copies[c];
      if (usable_at(at.disk, at.sector, at.sector + m)) readable.push_back(c);
      else if (op == SyncOp::recover && usable(at.disk)) targets.push_back(c);
    }
    const bool read_all = op == SyncOp::check || op == SyncOp::repair;
    // raid1 resync and recovery read one copy per step: the next step's is read ahead while
    // this one writes (READ-AHEAD in personality_impl.h). One run covers the whole step.
    const bool can_ahead = !read_all && !geo_.as<layout::Raid10Geometry>() && sector == lo && m == hi - lo;
    std::vector<uint32_t> good, bad;
    if (!can_ahead) drop_read_ahead();
    if (can_ahead && ahead_) {
      std::vector<MemberIo>& got = ahead_->batch->wait();
      const bool clean = barrier_.watch_end();
      const bool same = ahead_->op == op && ahead_->r0 == lo && ahead_->r1 == hi && !readable.empty() && got.size() == 1;
      uint8_t* other = sync_bufs_[ahead_->buf].data();
      if (clean && same && got[0].st.is_ok() && got[0].slot == copies[readable[0]].disk &&
          got[0].offset == member_offset(copies[readable[0]].disk, copies[readable[0]].sector) &&
          got[0].length == bytes && got[0].buf == other + bytes * readable[0] &&
          sync_bufs_[ahead_->buf].size() >= bytes * copies.size()) {
        sync_cur_ = ahead_->buf;
        good.push_back(readable[0]);
        if (report) report->read_ahead = true;
      }
      ahead_->batch.reset();
      ahead_.reset();
    }
    uint8_t* buf = can_ahead ? sync_buf(sync_cur_, bytes * copies.size()) : sync_buffer(bytes * copies.size());
    auto cbuf = [&](uint32_t c) { return buf + bytes * c; };
    // Read: all readable copies (check/repair), else the first that reads.
    size_t next = good.empty() ? 0 : 1;
    while (next < readable.size() && (good.empty() || read_all)) {
      std::vector<MemberIo> ios;
      const size_t take = read_all ? readable.size() - next : 1;
      for (size_t i = next; i < next + take; i++) {
        const layout::DevAddr at = copies[readable[i]];
        ios.push_back({at.disk, io::IoOp::read, member_offset(at.disk, at.sector), bytes, cbuf(readable[i]), {}});
      }
      run_ios(*this, ios);
      for (size_t i = 0; i < ios.size(); i++) {
        const uint32_t c = readable[next + i];
        if (ios[i].st.is_ok()) good.push_back(c);
        else if (is_member_failure(ios[i].st)) bad.push_back(c);
        else return ios[i].st;
      }
      next += take;
    }
    if (good.empty()) {
      if (readable.empty() && targets.empty() && op != SyncOp::recover) {
        sector += m;  // nothing here holds data (cannot happen while the level survives)
        continue;
      }
      return Status(Err::io, fmt::format("sync: no copy of array sector {} could be read", sector));
    }
    const uint32_t src = good.front();
    if (can_ahead) read_ahead_mirrored(op, hi, hi - lo);
    std::vector<uint32_t> write;  // copies to overwrite with src's data
    if (op == SyncOp::resync) {
      for (uint32_t c : readable) {
        if (c != src) write.push_back(c);
      }
    } else if (read_all) {
      uint64_t mismatched = 0;
      std::vector<bool> differs(copies.size());
      for (uint64_t b = 0; b < m; b += kBlock) {
        const size_t off = b * 512, blen = std::min<uint64_t>(kBlock, m - b) * 512;
        bool any = false;
        for (uint32_t c : good) {
          if (c != src && std::memcmp(cbuf(c) + off, cbuf(src) + off, blen) != 0) {
            any = true;
            differs[c] = true;
          }
        }
        if (any) mismatched += kBlock;
      }
      if (report) report->mismatch_sectors += mismatched;
      if (op == SyncOp::repair) {
        for (uint32_t c : good) {
          if (differs[c]) write.push_back(c);
        }
      }
    }
    for (uint32_t c : bad) write.push_back(c);       // read errors: rewrite (md's fix_read_error)
    for (uint32_t c : targets) write.push_back(c);   // recovery
    if (!write.empty() && has_host()) {
      std::vector<MemberIo> ios;
      for (uint32_t c : write) {
        const layout::DevAddr at = copies[c];
        if (!usable(at.disk)) continue;
        ios.push_back({at.disk, io::IoOp::write, member_offset(at.disk, at.sector), bytes, cbuf(src), {}});
      }
      run_ios(*this, ios);
      for (const MemberIo& io : ios) {
        if (io.st.is_ok()) continue;
        if (!is_member_failure(io.st)) return io.st;
        fail_slot(io.slot, io.st);
      }
    }
    sector += m;
  }
  return Status::ok();
}

// The raid1 step after the one ending at `lo`, `step` sectors like it, read from its first readable
// copy into the other buffer under the barrier's watch (READ-AHEAD in personality_impl.h).
void MirroredPersonality::read_ahead_mirrored(SyncOp op, uint64_t lo, uint64_t step) {
  const uint64_t hi = std::min(lo + step, sync_sectors(op));
  if (step == 0 || lo >= hi || !barrier_.watch(lo, hi)) return;
  uint64_t len = 0;
  std::vector<layout::DevAddr> copies = copies_of(lo, &len);
  std::optional<uint32_t> first;
  for (uint32_t c = 0; c < copies.size() && len >= hi - lo; c++) {
    if (usable_at(copies[c].disk, copies[c].sector, copies[c].sector + (hi - lo))) {
      first = c;
      break;
    }
  }
  if (!first) {
    (void)barrier_.watch_end();
    return;
  }
  const size_t bytes = (hi - lo) * 512;
  const int other = 1 - sync_cur_;
  uint8_t* mem = sync_buf(other, bytes * copies.size());
  const layout::DevAddr at = copies[*first];
  std::vector<MemberIo> plan{{at.disk, io::IoOp::read, member_offset(at.disk, at.sector), bytes, mem + bytes * *first, {}}};
  ahead_ = ReadAhead{op, lo, hi, other, std::make_unique<IoBatch>(*this, std::move(plan))};
}

// raid10 recovery of member sectors [lo, hi) of `slot`.
Status MirroredPersonality::recover_dev_range(uint32_t slot, uint64_t lo, uint64_t hi) {
  const auto& g = *geo_.as<layout::Raid10Geometry>();
  const uint64_t chunk = g.chunk_sectors();
  uint64_t sec = lo;
  while (sec < hi) {
    const uint64_t m = std::min(hi, (sec / chunk + 1) * chunk) - sec;
    const std::optional<uint64_t> a = g.to_array({slot, sec});
    if (!a) {
      sec += m;
      continue;
    }
    barrier_.raise(*a, *a + m);
    uint64_t len = 0;
    const std::vector<layout::DevAddr> copies = copies_of(*a, &len);
    uint8_t* buf = sync_buffer(m * 512);
    Status st = Status(Err::io, fmt::format("recovery: no other copy of array sector {} could be read", *a));
    for (const layout::DevAddr& at : copies) {
      if (at.disk == slot || !usable_at(at.disk, at.sector, at.sector + m)) continue;
      std::vector<MemberIo> ios{{at.disk, io::IoOp::read, member_offset(at.disk, at.sector), m * 512, buf, {}}};
      run_ios(*this, ios);
      st = ios[0].st;
      if (st.is_ok()) break;
    }
    if (st.is_ok() && usable(slot)) {
      std::vector<MemberIo> ios{{slot, io::IoOp::write, member_offset(slot, sec), m * 512, buf, {}}};
      run_ios(*this, ios);
      if (!ios[0].st.is_ok()) {
        if (is_member_failure(ios[0].st)) fail_slot(slot, ios[0].st);
        else st = ios[0].st;
      }
    }
    barrier_.lower();
    UMD_TRY(st);
    sec += m;
  }
  return Status::ok();
}

// Each piece of the slot's member sectors [pos, end) from another copy of the array
// sectors it holds (raid1: the same sectors; raid10: to_array, a chunk at a time).
Status MirroredPersonality::rebuild_slot_range(uint32_t slot, uint64_t pos, uint64_t end, uint8_t* out) {
  const auto* r10 = geo_.as<layout::Raid10Geometry>();
  uint64_t s = pos;
  while (s < end) {
    uint64_t a = s, room = end - s;
    if (r10) {
      const uint64_t chunk = r10->chunk_sectors(), base = s / chunk * chunk;
      room = std::min(room, base + chunk - s);
      const std::optional<uint64_t> at = r10->to_array({slot, base});
      if (!at) {  // space the layout leaves unused
        std::memset(out + (s - pos) * 512, 0, room * 512);
        s += room;
        continue;
      }
      a = *at + (s - base);
    }
    uint64_t len = 0;
    const std::vector<layout::DevAddr> copies = copies_of(a, &len);
    if (len == 0) return Status(Err::corrupt, fmt::format("array sector {} maps nowhere", a));
    const uint64_t n = std::min(room, len);
    Status last = Status(Err::io, fmt::format("rebuilding slot {}: array sector {} has no other copy", slot, a));
    bool done = false;
    for (const layout::DevAddr& c : copies) {
      if (done || c.disk == slot || !usable_at(c.disk, c.sector, c.sector + n)) continue;
      last = slots_[c.disk].read(c.sector, n, out + (s - pos) * 512);
      done = last.is_ok();
    }
    if (!done) return last;
    s += n;
  }
  return Status::ok();
}

}  // namespace umd::engine
