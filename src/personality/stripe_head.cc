// The protocol is described in stripe_head.h.
#include "personality/stripe_head.h"

#include <bit>

#include "parity/parity.h"
#include "layout/layout_names.h"

namespace umd::engine {
namespace {

constexpr uint64_t bit(uint32_t d) { return uint64_t(1) << d; }

template <class F>
void each_bit(uint64_t mask, F f) {
  while (mask) {
    const uint32_t d = uint32_t(std::countr_zero(mask));
    mask &= mask - 1;
    f(d);
  }
}


}  // namespace

StripeHead::Strategy StripeHead::choose(uint64_t data, uint64_t parity, uint64_t touched, uint64_t gone,
                                        uint64_t* need) {
  const uint64_t all = data | parity;
  const uint64_t untouched = data & ~touched;
  if (untouched == 0) {
    *need = 0;
    return Strategy::full;
  }
  const uint64_t live_parity = parity & ~gone;
  const bool rmw_ok = (touched & gone) == 0;
  const bool rcw_ok = (untouched & gone) == 0;
  const int rmw_reads = live_parity ? std::popcount(touched | live_parity) : 0;
  const int rcw_reads = std::popcount(untouched);
  if (rmw_ok && (!rcw_ok || rmw_reads < rcw_reads)) {
    *need = live_parity ? touched | live_parity : 0;
    return Strategy::rmw;
  }
  if (rcw_ok) {
    *need = untouched;
    return Strategy::rcw;
  }
  *need = all & ~gone;
  return Strategy::reconstruct;
}

int StripeHead::slot_of(uint32_t d) const { return map_.qd_idx >= 0 ? map_.q_slot[d] : map_.data_index[d]; }

void StripeHead::run() {
  const auto& g = p_.raid();
  map_ = g.stripe(row_);
  all_ = map_.raid_disks == 64 ? ~uint64_t(0) : bit(map_.raid_disks) - 1;
  parity_ = bit(uint32_t(map_.pd_idx)) | (map_.qd_idx >= 0 ? bit(uint32_t(map_.qd_idx)) : 0);
  data_ = all_ & ~parity_;
  uint64_t unusable = 0;
  each_bit(all_, [&](uint32_t d) {
    if (!p_.usable_row(d, row_)) unusable |= bit(d);
  });
  for (Segment& s : segs) {
    s.lost = unusable;
    s.bad &= ~unusable;
    s.stride = (len(s) + AlignedBuffer::kAlign - 1) / AlignedBuffer::kAlign * AlignedBuffer::kAlign;
    s.mem = AlignedBuffer(s.stride * map_.raid_disks);
    plan(s);
  }
  read_round();
}

void StripeHead::plan(Segment& s) {
  const uint64_t gone = s.lost | s.bad;
  if (uint32_t(std::popcount(gone)) > p_.tolerated()) {
    if (s.err.is_ok()) {
      s.err = Status(Err::io, fmt::format("{} row {}: {} of the row's {} members are missing or failing, {} tolerates {}",
                                          layout::level_name(p_.raid().level()), row_, std::popcount(gone),
                                          map_.raid_disks, layout::level_name(p_.raid().level()), p_.tolerated()));
    }
    return;
  }
  if (!s.write) {
    s.strategy = Strategy::reconstruct;
    s.need = all_ & ~gone;
  } else if (s.bad) {
    s.strategy = Strategy::reconstruct;
    s.need = all_ & ~gone;
  } else {
    s.strategy = choose(data_, parity_, s.touched, gone, &s.need);
  }
}

void StripeHead::issue(io::IoOp op, void (StripeHead::*then)()) {
  if (ios_.empty()) {
    (this->*then)();
    return;
  }
  pending_.store(uint32_t(ios_.size()) + 1, std::memory_order_relaxed);
  // ios_ is sized before the first I/O and not resized until every one has completed.
  for (size_t i = 0; i < ios_.size(); i++) {
    Segment& s = segs[ios_[i].seg];
    const uint32_t d = ios_[i].disk;
    issue_io(p_.member(d), op, fua_ && op == io::IoOp::write, p_.member_offset(d, row_ * p_.raid().chunk_sectors() + s.lo),
             len(s), buf(s, d), [this, i, then](Status st) {
               ios_[i].st = std::move(st);
               if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) (this->*then)();
             });
  }
  if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) (this->*then)();
}

void StripeHead::read_round() {
  ios_.clear();
  for (uint32_t i = 0; i < segs.size(); i++) {
    Segment& s = segs[i];
    if (!s.err.is_ok()) continue;
    each_bit(s.need & ~s.have & ~s.lost & ~s.bad, [&](uint32_t d) {
      if (!p_.usable_row(d, row_)) {
        s.lost |= bit(d);
      } else {
        ios_.push_back({i, d, Status()});
      }
    });
  }
  // A member found unusable here changes the plan: re-plan before reading.
  bool replan = false;
  for (Segment& s : segs) {
    if (s.err.is_ok() && (s.need & s.lost)) {
      plan(s);
      replan = true;
    }
  }
  if (replan) {
    read_round();
    return;
  }
  issue(io::IoOp::read, &StripeHead::reads_done);
}

void StripeHead::reads_done() {
  bool again = false;
  for (const IoResult& r : ios_) {
    Segment& s = segs[r.seg];
    if (r.st.is_ok()) {
      s.have |= bit(r.disk);
    } else if (PersonalityBase::is_member_failure(r.st)) {
      s.bad |= bit(r.disk);
      if (s.err.is_ok()) {
        plan(s);
        if (!s.err.is_ok()) s.err = s.err.with_context(r.st.message());
        again = true;
      }
    } else if (s.err.is_ok()) {
      s.err = r.st;
    }
  }
  if (again) {
    read_round();
    return;
  }
  for (Segment& s : segs) {
    if (s.err.is_ok()) compute(s);
  }
  write_round();
}

void StripeHead::compute(Segment& s) {
  const size_t n = len(s);
  const bool has_q = map_.qd_idx >= 0;
  uint8_t* p = buf(s, uint32_t(map_.pd_idx));
  uint8_t* q = has_q ? buf(s, uint32_t(map_.qd_idx)) : nullptr;
  auto put_new = [&](uint32_t d) {
    if (s.src[d]) {
      std::memcpy(buf(s, d), s.src[d], n);
    } else {
      std::memset(buf(s, d), 0, n);
    }
  };
  if (s.strategy == Strategy::rmw) {
    const uint64_t live_parity = parity_ & ~(s.lost | s.bad);
    each_bit(s.touched, [&](uint32_t d) {
      if (live_parity) {
        uint8_t* delta = buf(s, d);
        if (s.src[d]) parity::xor_into(delta, s.src[d], n);  // old ^ new (new zeros: old)
        if (live_parity & bit(uint32_t(map_.pd_idx))) parity::xor_into(p, delta, n);
        if (q && (live_parity & bit(uint32_t(map_.qd_idx)))) parity::q_delta(size_t(slot_of(d)), delta, q, n);
      }
      put_new(d);
    });
    return;
  }
  const size_t width = has_q ? map_.syndrome_width : map_.ndata;
  std::vector<uint8_t*> slots(width, nullptr);
  each_bit(data_, [&](uint32_t d) { slots[size_t(slot_of(d))] = buf(s, d); });
  if (s.strategy == Strategy::reconstruct) {
    std::vector<int> missing;
    each_bit(s.lost | s.bad, [&](uint32_t d) {
      if (d == uint32_t(map_.pd_idx)) {
        missing.push_back(parity::kBlockP);
      } else if (has_q && d == uint32_t(map_.qd_idx)) {
        missing.push_back(parity::kBlockQ);
      } else {
        missing.push_back(slot_of(d));
      }
    });
    if (!missing.empty()) {
      Status st = parity::recover(slots, p, q, n, missing);
      if (!st.is_ok()) {
        s.err = Status(Err::io, fmt::format("cannot rebuild row {}: {}", row_, st.message()));
        return;
      }
    }
  }
  if (!s.write) {
    each_bit(s.touched, [&](uint32_t d) { std::memcpy(s.dst[d], buf(s, d), n); });
    return;
  }
  each_bit(s.touched, put_new);
  std::vector<const uint8_t*> cslots(slots.begin(), slots.end());
  if (has_q) {
    parity::gen_pq(cslots, p, q, n);
  } else {
    parity::gen_p(cslots, p, n);
  }
}

void StripeHead::write_round() {
  ios_.clear();
  for (uint32_t i = 0; i < segs.size(); i++) {
    Segment& s = segs[i];
    if (!s.err.is_ok()) continue;
    uint64_t w = 0;
    if (!s.write) {
      w = p_.has_host() ? s.bad : 0;
    } else if (s.strategy == Strategy::rmw) {
      w = s.touched | (parity_ & ~s.bad);
    } else {
      w = s.touched | parity_ | s.bad;
    }
    each_bit(w & ~s.lost, [&](uint32_t d) {
      if (!p_.usable_row(d, row_)) {
        s.lost |= bit(d);
      } else {
        ios_.push_back({i, d, Status()});
      }
    });
  }
  issue(io::IoOp::write, &StripeHead::writes_done);
}

void StripeHead::writes_done() {
  for (const IoResult& r : ios_) {
    if (r.st.is_ok()) continue;
    Segment& s = segs[r.seg];
    if (PersonalityBase::is_member_failure(r.st) && p_.fail_slot(r.disk, r.st)) {
      s.lost |= bit(r.disk);
    } else if (s.err.is_ok()) {
      s.err = r.st;
    }
  }
  for (Segment& s : segs) {
    if (s.err.is_ok() && s.write && uint32_t(std::popcount(s.lost)) > p_.tolerated()) {
      s.err = Status(Err::io, fmt::format("{} row {}: the row can no longer hold the data: {} of its {} members "
                                          "are missing or failed, {} tolerates {}",
                                          layout::level_name(p_.raid().level()), row_, std::popcount(s.lost),
                                          map_.raid_disks, layout::level_name(p_.raid().level()), p_.tolerated()));
    }
  }
  finish();
}

void StripeHead::finish() {
  Status st;
  for (const Segment& s : segs) {
    if (!s.err.is_ok()) {
      st = s.err;
      break;
    }
  }
  RequestState* rs = rs_;
  ParityPersonality& p = p_;
  const RowKey row{p.generation(), row_};
  delete this;
  // The row passes on before the request may complete: once it does, quiesce() may return
  // and the personality (and its locks) go away.
  p.locks().release(row);
  rs->finish(st);
}

}  // namespace umd::engine
