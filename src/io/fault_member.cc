#include "io/fault_member.h"

#include <cstring>
#include <random>
#include <thread>

#include "io/request_check.h"
#include "util/aligned_buffer.h"

namespace umd::io {
namespace {

uint32_t op_bit(IoOp op) {
  switch (op) {
    case IoOp::read: return FaultyMember::kRead;
    case IoOp::write: return FaultyMember::kWrite;
    case IoOp::flush: return FaultyMember::kFlush;
    case IoOp::discard: return FaultyMember::kDiscard;
  }
  return 0;
}

bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen) {
  if (alen == 0 || blen == 0) return false;
  uint64_t a_end = a + alen < a ? UINT64_MAX : a + alen;
  uint64_t b_end = b + blen < b ? UINT64_MAX : b + blen;
  return a < b_end && b < a_end;
}

}  // namespace

FaultyMember::FaultyMember(std::unique_ptr<Member> target) : MemberWrapper(std::move(target)) {}

void FaultyMember::delay() const {
  int64_t us = delay_us_.load(std::memory_order_relaxed);
  if (us > 0) std::this_thread::sleep_for(std::chrono::microseconds(us));
}

Status FaultyMember::injected_locked(IoOp op, uint64_t offset, uint64_t length) {
  auto fail = [&](int err) {
    ++counters_.injected;
    return Status::from_errno(err, describe_io(name(), op, offset, length) + " [injected]");
  };
  if (vanish_err_ != 0) return fail(vanish_err_);
  for (auto it = faults_.begin(); it != faults_.end(); ++it) {
    Fault& f = it->second;
    if ((f.ops & op_bit(op)) == 0) continue;
    if (op != IoOp::flush && !overlaps(offset, length, f.offset, f.length)) continue;
    int err = f.err;
    if (f.times > 0 && --f.times == 0) faults_.erase(it);
    return fail(err);
  }
  return Status::ok();
}

Status FaultyMember::read(uint64_t offset, std::span<uint8_t> buf) {
  delay();
  std::lock_guard lk(mu_);
  ++counters_.reads;
  Status s = check_request(*this, IoOp::read, offset, buf.size());
  if (s.is_ok()) s = injected_locked(IoOp::read, offset, buf.size());
  if (s.is_ok()) s = target().read(offset, buf);
  if (!s.is_ok()) {
    ++counters_.failed;
    return s;
  }
  if (!dirty_.empty() && !buf.empty()) {
    const uint64_t bs = block_size();
    for (auto it = dirty_.lower_bound(offset / bs); it != dirty_.end() && it->first * bs < offset + buf.size();
         ++it) {
      std::memcpy(buf.data() + (it->first * bs - offset), it->second.data(), bs);
    }
  }
  counters_.bytes_read += buf.size();
  return s;
}

Status FaultyMember::write(uint64_t offset, std::span<const uint8_t> buf, bool fua) {
  delay();
  std::lock_guard lk(mu_);
  ++counters_.writes;
  Status s = check_request(*this, IoOp::write, offset, buf.size());
  if (s.is_ok()) s = injected_locked(IoOp::write, offset, buf.size());
  if (s.is_ok() && !buf.empty()) {
    const uint64_t bs = block_size();
    if (fua || !cache_) {
      s = target().write(offset, buf, fua);
      if (s.is_ok()) {
        dirty_.erase(dirty_.lower_bound(offset / bs), dirty_.lower_bound((offset + buf.size()) / bs));
      }
    } else {
      for (uint64_t done = 0; done < buf.size(); done += bs) {
        dirty_[(offset + done) / bs].assign(buf.data() + done, buf.data() + done + bs);
      }
    }
  }
  if (!s.is_ok()) {
    ++counters_.failed;
    return s;
  }
  counters_.bytes_written += buf.size();
  return s;
}

Status FaultyMember::set_async(bool on) {
  std::lock_guard lk(mu_);
  if (on && cache_) return Status(Err::invalid, name() + ": asynchronous pass-through needs the write cache off");
  async_.store(on);
  return Status::ok();
}

namespace {

// The target's request for an asynchronous pass-through: it completes the caller's
// request with the injected error, if any, on the target's completion thread.
struct Forwarded {
  IoRequest* outer;
  IoRequest inner;
  Status injected;
};

}  // namespace

void FaultyMember::submit(IoRequest& req) {
  if (!async_.load() || delay_us_.load() > 0) {
    Member::submit(req);  // the synchronous calls above, inline
    return;
  }
  Status bad = req.op == IoOp::flush ? Status::ok() : check_request(*this, req.op, req.offset, req.length);
  Status injected;
  {
    std::lock_guard lk(mu_);
    switch (req.op) {
      case IoOp::read: ++counters_.reads; break;
      case IoOp::write: ++counters_.writes; break;
      case IoOp::flush: ++counters_.flushes; break;
      case IoOp::discard: ++counters_.discards; break;
    }
    if (bad.is_ok()) injected = injected_locked(req.op, req.offset, req.length);
    if (!bad.is_ok() || !injected.is_ok()) ++counters_.failed;
  }
  if (!bad.is_ok()) {
    req.done(std::move(bad));
    return;
  }
  auto* f = new Forwarded{&req, IoRequest{req.op, req.fua, req.offset, req.length, req.buf, {}}, std::move(injected)};
  f->inner.done = [this, f](Status s) {
    IoRequest* outer = f->outer;
    const bool was_injected = !f->injected.is_ok();
    Status result = was_injected ? std::move(f->injected) : std::move(s);
    if (result.is_ok() && (outer->op == IoOp::read || outer->op == IoOp::write)) {
      std::lock_guard lk(mu_);
      (outer->op == IoOp::read ? counters_.bytes_read : counters_.bytes_written) += outer->length;
    } else if (!result.is_ok() && !was_injected) {
      std::lock_guard lk(mu_);
      ++counters_.failed;
    }
    delete f;
    outer->done(std::move(result));
  };
  target().submit(f->inner);
}

Status FaultyMember::write_back_locked() {
  const uint64_t bs = block_size();
  while (!dirty_.empty()) {
    // Coalesce the run of contiguous blocks starting at the first dirty block.
    auto first = dirty_.begin();
    auto end = std::next(first);
    uint64_t n = 1;
    while (end != dirty_.end() && end->first == first->first + n) {
      ++end;
      ++n;
    }
    AlignedBuffer run(n * bs);
    uint64_t i = 0;
    for (auto it = first; it != end; ++it, ++i) std::memcpy(run.data() + i * bs, it->second.data(), bs);
    UMD_TRY(target().write(first->first * bs, run.span(), false));
    dirty_.erase(first, end);
  }
  return Status::ok();
}

Status FaultyMember::flush() {
  delay();
  std::lock_guard lk(mu_);
  ++counters_.flushes;
  Status s = injected_locked(IoOp::flush, 0, 0);
  if (s.is_ok()) s = write_back_locked();
  if (s.is_ok()) s = target().flush();
  if (!s.is_ok()) ++counters_.failed;
  return s;
}

Status FaultyMember::discard(uint64_t offset, uint64_t length) {
  delay();
  std::lock_guard lk(mu_);
  ++counters_.discards;
  Status s = check_request(*this, IoOp::discard, offset, length);
  if (s.is_ok()) s = injected_locked(IoOp::discard, offset, length);
  if (s.is_ok() && length > 0) {
    const uint64_t bs = block_size();
    dirty_.erase(dirty_.lower_bound(offset / bs), dirty_.lower_bound((offset + length) / bs));
    s = target().discard(offset, length);
  }
  if (!s.is_ok()) ++counters_.failed;
  return s;
}

int FaultyMember::add_fault(const Fault& f) {
  std::lock_guard lk(mu_);
  int id = next_fault_id_++;
  faults_[id] = f;
  return id;
}

int FaultyMember::fail_reads(uint64_t offset, uint64_t length, int err, int64_t times) {
  return add_fault(Fault{kRead, offset, length, err, times});
}

int FaultyMember::fail_writes(uint64_t offset, uint64_t length, int err, int64_t times) {
  return add_fault(Fault{kWrite, offset, length, err, times});
}

int FaultyMember::fail_flushes(int err, int64_t times) {
  return add_fault(Fault{kFlush, 0, std::numeric_limits<uint64_t>::max(), err, times});
}

void FaultyMember::remove_fault(int id) {
  std::lock_guard lk(mu_);
  faults_.erase(id);
}

void FaultyMember::clear_faults() {
  std::lock_guard lk(mu_);
  faults_.clear();
}

void FaultyMember::vanish(int err) {
  std::lock_guard lk(mu_);
  vanish_err_ = err == 0 ? ENXIO : err;
}

void FaultyMember::reappear() {
  std::lock_guard lk(mu_);
  vanish_err_ = 0;
}

bool FaultyMember::vanished() const {
  std::lock_guard lk(mu_);
  return vanish_err_ != 0;
}

Status FaultyMember::set_write_cache(bool on) {
  std::lock_guard lk(mu_);
  if (!on) UMD_TRY(write_back_locked());
  cache_ = on;
  return Status::ok();
}

uint64_t FaultyMember::dirty_bytes() const {
  std::lock_guard lk(mu_);
  return dirty_.size() * block_size();
}

void FaultyMember::power_cut() {
  std::lock_guard lk(mu_);
  dirty_.clear();
  ++counters_.power_cuts;
}

Status FaultyMember::power_cut_partial(uint64_t seed, double keep_probability) {
  std::lock_guard lk(mu_);
  std::mt19937_64 rng(seed);
  std::bernoulli_distribution keep(keep_probability);
  for (auto it = dirty_.begin(); it != dirty_.end();) {
    it = keep(rng) ? std::next(it) : dirty_.erase(it);
  }
  ++counters_.power_cuts;
  Status s = write_back_locked();
  dirty_.clear();
  return s;
}

Status FaultyMember::flip_bit(uint64_t offset, unsigned bit) {
  std::lock_guard lk(mu_);
  const uint64_t bs = block_size();
  if (bit > 7 || offset >= size()) {
    return Status(Err::invalid, name() + ": flip_bit at offset " + std::to_string(offset) + " bit " +
                                    std::to_string(bit) + ": out of range");
  }
  AlignedBuffer block(bs);
  const uint64_t base = offset / bs * bs;
  UMD_TRY(target().read(base, block.span()));
  block.data()[offset - base] ^= static_cast<uint8_t>(1u << bit);
  return target().write(base, block.span(), true);
}

FaultyMember::Counters FaultyMember::counters() const {
  std::lock_guard lk(mu_);
  return counters_;
}

void FaultyMember::reset_counters() {
  std::lock_guard lk(mu_);
  counters_ = Counters{};
}

}  // namespace umd::io
