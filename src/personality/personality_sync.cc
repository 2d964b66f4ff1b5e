// What every level's sync shares: issuing a step's member I/Os together.
#include <fmt/format.h>

#include <condition_variable>
#include <mutex>

#include "personality/personality_impl.h"
#include "personality/replacing_member.h"

namespace umd::engine {

void run_ios(PersonalityBase& p, std::vector<MemberIo>& ios) {
  IoBatch b(p, std::move(ios));
  ios = std::move(b.wait());
}

IoBatch::IoBatch(PersonalityBase& p, std::vector<MemberIo> ios) : pending_(ios.size()), ios_(std::move(ios)) {
  for (MemberIo& m : ios_) {
    issue_io(p.member(m.slot), m.op, false, m.offset, m.length, m.buf, [this, mp = &m](Status s) {
      std::lock_guard l(mu_);
      mp->st = std::move(s);
      if (--pending_ == 0) cv_.notify_all();
    });
  }
}

std::vector<MemberIo>& IoBatch::wait() {
  std::unique_lock l(mu_);
  cv_.wait(l, [&] { return pending_ == 0; });
  return ios_;
}

std::vector<uint32_t> PersonalityBase::rebuilding_below(SyncOp op, uint64_t hi) const {
  std::vector<uint32_t> out;
  if (op == SyncOp::recover) return recovering_at(0, hi);
  if (op == SyncOp::replace) {
    for (uint32_t s = 0; s < slots_.size(); s++) {
      auto* rm = dynamic_cast<ReplacingMember*>(slots_[s].dev);
      if (rm && usable(s) && rm->valid_below() < hi) out.push_back(s);
    }
  }
  return out;
}

Status PersonalityBase::sync_replace(uint64_t pos, uint64_t n) {
  const uint64_t end = std::min(pos + n, sync_sectors(SyncOp::replace));
  last_step_targets_.clear();
  for (uint32_t s = 0; s < slots_.size(); s++) {
    auto* rm = dynamic_cast<ReplacingMember*>(slots_[s].dev);
    if (!rm || !usable(s) || rm->valid_below() < pos || pos >= end) continue;
    last_step_targets_.push_back(s);
    if (rm->new_failed()) return Status(Err::io, fmt::format("replace: the new member of slot {} failed", s));
    const auto [lo, hi] = array_span(s, pos, end);
    barrier_.raise(lo, hi);
    uint8_t* buf = sync_buffer((end - pos) * 512);
    const std::span<uint8_t> span{buf, size_t(end - pos) * 512};
    Status st = rm->copy(member_offset(s, pos), span);
    if (!st.is_ok() && !rm->new_failed() && is_member_failure(st)) {
      // The old member cannot read this range: rebuild it from the others (md does the
      // same) and write it to the new member only. The old one leaves at the swap anyway.
      Status rebuilt = rebuild_slot_range(s, pos, end, buf);
      if (rebuilt.is_ok()) {
        st = rm->write_new(member_offset(s, pos), span);
      } else {
        st = rebuilt.with_context(st.message());
      }
    }
    if (st.is_ok()) rm->set_valid_below(end);
    barrier_.lower();
    if (!st.is_ok()) {
      return st.with_context(fmt::format("replace: copying member sectors {}..{} of slot {}", pos, end, s));
    }
  }
  return Status::ok();
}

uint64_t PersonalityBase::skip_recovery(uint64_t pos, uint64_t to,
                                        const std::function<uint64_t(uint64_t, uint64_t)>& recheck) {
  std::vector<uint32_t> slots;
  for (uint32_t s = 0; s < slots_.size(); s++) {
    const uint64_t vb = valid_below_[s].load();
    if (usable(s) && vb != ~0ull && vb >= pos && vb < to) slots.push_back(s);
  }
  if (slots.empty()) return pos;
  uint64_t lo = ~0ull, hi = 0;
  for (uint32_t s : slots) {
    const auto [a, b] = array_span(s, pos, to);
    if (a < b) {
      lo = std::min(lo, a);
      hi = std::max(hi, b);
    }
  }
  if (lo < hi) barrier_.raise(lo, hi);
  const uint64_t upto = std::min(to, recheck(pos, to));
  if (upto > pos) {
    for (uint32_t s : slots) {
      if (valid_below_[s].load() < upto) {
        valid_below_[s].store(upto >= sync_sectors(SyncOp::recover) ? ~0ull : upto, std::memory_order_release);
      }
    }
  }
  if (lo < hi) barrier_.lower();
  return upto;
}

}  // namespace umd::engine
