#include "personality/personality.h"

#include "personality/personality_impl.h"

namespace umd::engine {

void RequestState::finish(const Status& s) {
  if (!s.is_ok()) {
    std::lock_guard lk(mu_);
    if (err_.is_ok()) err_ = s;
  }
  if (pending_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  PersonalityBase& owner = owner_;
  Status result;
  {
    std::lock_guard lk(mu_);
    result = err_;
  }
  BlockRequest& req = req_;
  const SyncBarrier::Ticket t = ticket_;
  delete this;
  req.done(std::move(result));
  owner.request_end(t);
}

const uint8_t* zero_block() {
  static const AlignedBuffer zeros(kZeroBytes);
  return zeros.data();
}

PersonalityBase::PersonalityBase(layout::Geometry geo, std::vector<Slot> slots, PersonalityHost* host)
    : geo_(std::move(geo)), slots_(std::move(slots)), host_(host),
      valid_below_(std::make_unique<std::atomic<uint64_t>[]>(slots_.size())) {
  for (size_t i = 0; i < slots_.size(); i++) valid_below_[i].store(~0ull);
  for (const Slot& s : slots_) {
    if (s.present()) block_size_ = std::max(block_size_, s.dev->block_size());
  }
}

bool PersonalityBase::fail_slot(uint32_t slot, const Status& why) {
  if (!host_) return false;
  host_->member_failed(slot, why);
  return true;
}

void PersonalityBase::submit(BlockRequest& req) {
  Status bad;
  switch (req.op) {
    case BlockOp::read:
    case BlockOp::write:
    case BlockOp::trim:
    case BlockOp::write_zeroes: break;
    case BlockOp::flush:
      bad = Status(Err::invalid, "flush reached the personality (the array core handles flushes)");
      break;
  }
  const uint64_t size = array_sectors() * 512;
  if (bad.is_ok() && (req.offset % block_size_ != 0 || req.length % block_size_ != 0)) {
    bad = Status(Err::invalid, fmt::format("request at byte {} ({} bytes) is not aligned to the array's {}-byte blocks",
                                           req.offset, req.length, block_size_));
  }
  if (bad.is_ok() && (req.offset > size || req.length > size - req.offset)) {
    bad = Status(Err::invalid, fmt::format("request at byte {} ({} bytes) is beyond the array's {} bytes", req.offset,
                                           req.length, size));
  }
  if (bad.is_ok() && (req.op == BlockOp::read || req.op == BlockOp::write) && req.length > 0 && !req.buf) {
    bad = Status(Err::invalid, "read or write without a buffer");
  }
  if (!bad.is_ok() || req.length == 0) {
    req.done(std::move(bad));
    return;
  }
  const uint64_t lo = req.offset / 512;
  SyncBarrier::Ticket t;
  // Parked behind a sync step's window: submitted again, from the start, once it lowers.
  if (!barrier_.enter(lo, lo + req.length / 512, &t, [this, &req] { submit(req); }, req.op != BlockOp::read)) return;
  {
    std::lock_guard lk(inflight_mu_);
    inflight_++;
  }
  auto* rs = new RequestState(*this, req, t);
  start(rs);
  rs->finish(Status::ok());
}

void PersonalityBase::request_end(const SyncBarrier::Ticket& t) {
  barrier_.leave(t);
  std::lock_guard lk(inflight_mu_);
  if (--inflight_ == 0) inflight_cv_.notify_all();
}

void PersonalityBase::attach(uint32_t slot, Slot s, uint64_t valid_below) {
  slots_[slot] = s;
  valid_below_[slot].store(valid_below, std::memory_order_release);
  if (s.present()) block_size_ = std::max(block_size_, s.dev->block_size());
}

void PersonalityBase::detach(uint32_t slot) {
  slots_[slot] = Slot{};
  valid_below_[slot].store(~0ull, std::memory_order_release);
}

const char* sync_op_name(SyncOp op) {
  switch (op) {
    case SyncOp::resync: return "resync";
    case SyncOp::check: return "check";
    case SyncOp::repair: return "repair";
    case SyncOp::recover: return "recover";
    case SyncOp::replace: return "recover";  // md's word for both
    case SyncOp::reshape: return "reshape";
  }
  return "?";
}

void PersonalityBase::quiesce() {
  std::unique_lock lk(inflight_mu_);
  inflight_cv_.wait(lk, [&] { return inflight_ == 0; });
}

Result<std::unique_ptr<Personality>> make_personality(const layout::Geometry& geo, std::vector<Slot> slots,
                                                      PersonalityHost* host) {
  if (slots.size() != geo.raid_disks()) {
    return Result<std::unique_ptr<Personality>>(Err::invalid, "slot count does not match raid_disks");
  }
  std::unique_ptr<Personality> p;
  switch (geo.level()) {
    case layout::kLevelLinear:
    case layout::kLevelRaid0: p = std::make_unique<StripedPersonality>(geo, std::move(slots), host); break;
    case layout::kLevelRaid1:
    case layout::kLevelRaid10: p = std::make_unique<MirroredPersonality>(geo, std::move(slots), host); break;
    case layout::kLevelRaid4:
    case layout::kLevelRaid5:
    case layout::kLevelRaid6:
      if (geo.raid_disks() > layout::kMaxStripeDisks) {
        return Result<std::unique_ptr<Personality>>(Err::unsupported, "too many members for the stripe cache");
      }
      p = std::make_unique<ParityPersonality>(geo, std::move(slots), host);
      break;
    default: return Result<std::unique_ptr<Personality>>(Err::unsupported, "no personality for this level");
  }
  return p;
}

}  // namespace umd::engine
