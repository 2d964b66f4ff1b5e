#include "bitmap/lockless_bitmap.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "util/aligned_buffer.h"

namespace umd::bitmap {

namespace {

// Room md gives a v1.x bitmap whose superblock reserves none (super_1_validate's
// default_space: 3 KiB after the 1 KiB offset).
constexpr uint32_t kDefaultSpaceSectors = (4096 - 1024) / 512;

int64_t ticks(std::chrono::steady_clock::time_point t) { return t.time_since_epoch().count(); }

// "30", "30\n": an unsigned decimal number as kstrtoul reads it.
bool parse_seconds(const std::string& value, uint32_t* out) {
  std::string v = value;
  if (!v.empty() && v.back() == '\n') v.pop_back();
  if (v.empty() || v.size() > 9) return false;
  uint32_t n = 0;
  for (char ch : v) {
    if (ch < '0' || ch > '9') return false;
    n = n * 10 + uint32_t(ch - '0');
  }
  *out = n;
  return true;
}

}  // namespace

Result<std::unique_ptr<LocklessBitmap>> LocklessBitmap::open(std::unique_ptr<BitmapStore> store, BitmapHost& host,
                                                             const Options& opts) {
  const std::string where = store->where();
  std::unique_ptr<LocklessBitmap> b(new LocklessBitmap(std::move(store), host));
  b->block_ = b->store_->block_bytes();
  if (b->block_ < kBitmapSuperBytes || b->block_ > kLlPageBytes || (b->block_ & (b->block_ - 1)) != 0) {
    return Result<std::unique_ptr<LocklessBitmap>>(
        Err::unsupported, fmt::format("bitmap ({}): blocks of {} bytes (512 to 4096 only)", where, b->block_));
  }
  AlignedBuffer head(b->block_);
  UMD_TRY(b->store_->read(0, head.span()));
  UMD_ASSIGN_OR_RETURN(b->sb_, decode_bitmap_super(head.span().first(kBitmapSuperBytes)));
  const BitmapSuper& sb = b->sb_;
  if (sb.version != kVersionLockless) {
    return Result<std::unique_ptr<LocklessBitmap>>(
        Err::unsupported, fmt::format("bitmap ({}): version {} is not a lockless bitmap", where, sb.version));
  }
  if (sb.uuid != opts.uuid) {
    return Result<std::unique_ptr<LocklessBitmap>>(Err::invalid,
                                                   fmt::format("bitmap ({}) belongs to another array", where));
  }
  // mdadm writes sync_size with the header; the kernel takes the array's (0: not set).
  if (sb.sync_size != opts.sync_sectors && !(sb.has_state(kStateFirstUse) && sb.sync_size == 0)) {
    return Result<std::unique_ptr<LocklessBitmap>>(
        Err::corrupt, fmt::format("bitmap ({}): sync_size {} does not match the array's {} sectors", where,
                                  sb.sync_size, opts.sync_sectors));
  }
  b->raid456_ = opts.raid456;
  b->offset_sectors_ = opts.offset_sectors;
  b->sync_sectors_ = opts.sync_sectors;
  if (b->sb_.sectors_reserved == 0) b->sb_.sectors_reserved = kDefaultSpaceSectors;
  Status s = b->sb_.has_state(kStateFirstUse) ? b->init_first_use(opts) : b->load(opts);
  if (!s.is_ok()) return s.with_context(fmt::format("bitmap ({})", where));
  b->daemon_sleep_s_.store(b->sb_.daemon_sleep);
  b->started_ = true;
  b->daemon_ = std::thread([p = b.get()] { p->daemon_loop(); });
  return b;
}

LocklessBitmap::~LocklessBitmap() { (void)stop(); }

void LocklessBitmap::allocate() {
  blocks_ = (ll_region_bytes(chunks_) + block_ - 1) / block_;
  pages_ = ll_page_count(chunks_);
  bytes_.reset(new std::atomic<uint8_t>[chunks_]());
  block_mu_.reset(new std::mutex[blocks_]);
  pending_.reset(new std::atomic<uint64_t>[blocks_]());
  durable_.reset(new std::atomic<uint64_t>[blocks_]());
  page_.reset(new Page[pages_]);
}

Status LocklessBitmap::init_first_use(const Options& opts) {
  // The kernel's llbitmap_init: the smallest chunk (64 KiB, doubled) whose states fit
  // the reserved room, every state unwritten (or clean after --assume-clean).
  const LlState initial = sb_.has_state(kStateClean) ? LlState::clean : LlState::unwritten;
  chunk_sectors_ = ll_initial_chunk_sectors(opts.sync_sectors, sb_.sectors_reserved);
  chunks_ = ll_chunk_count(opts.sync_sectors, chunk_sectors_);
  sb_.chunksize = uint32_t(chunk_sectors_);
  sb_.sync_size = opts.sync_sectors;
  sb_.daemon_sleep = kLlDefaultDaemonSleep;
  sb_.set_state(kStateFirstUse, false);
  sb_.set_state(kStateClean, false);
  allocate();
  AlignedBuffer region(blocks_ * block_);
  UMD_TRY(store_->read(0, region.span()));
  as_read_.assign(region.data(), region.data() + region.size());
  for (uint64_t c = 0; c < chunks_; c++) bytes_[c].store(uint8_t(initial));
  // The superblock last: until it is written the bitmap is still "first use".
  for (uint64_t blk = 1; blk <= blocks_; blk++) {
    const uint64_t b = blk % blocks_;
    std::lock_guard l(block_mu_[b]);
    UMD_TRY(write_block_locked(b));
  }
  return Status::ok();
}

Status LocklessBitmap::load(const Options& opts) {
  chunk_sectors_ = sb_.chunk_sectors();
  // llbitmap_read_sb: the states of the whole array must fit the reserved room.
  const uint64_t room = uint64_t(sb_.sectors_reserved) * 512;
  if (chunk_sectors_ < (opts.sync_sectors + room - 1) / room) {
    return Status(Err::corrupt, fmt::format("chunksize {} sectors is too small for {} sectors in {} reserved",
                                            chunk_sectors_, opts.sync_sectors, sb_.sectors_reserved));
  }
  chunks_ = ll_chunk_count(opts.sync_sectors, chunk_sectors_);
  allocate();
  AlignedBuffer region(blocks_ * block_);
  UMD_TRY(store_->read(0, region.span()));
  as_read_.assign(region.data(), region.data() + region.size());
  // llbitmap_load: every chunk goes through "reload" (a crash may have left dirty and
  // syncing chunks inconsistent), or "stale" when the bitmap missed events.
  const bool stale = sb_.events < opts.events || sb_.has_state(kStateStale);
  const LlAction action = stale ? LlAction::stale : LlAction::reload;
  const LlArrayKind kind{false, raid456_};
  std::vector<bool> changed(blocks_, false);
  for (uint64_t c = 0; c < chunks_; c++) {
    const uint8_t raw = region.data()[kLlDataOffset + c];
    const auto n = next_state_in(raw, action, kind);
    bytes_[c].store(n ? uint8_t(*n) : raw);
    if (n && uint8_t(*n) != raw) changed[block_of(c)] = true;
  }
  if (stale) {
    sb_.set_state(kStateStale, false);
    changed[0] = true;
  }
  for (uint64_t blk = 1; blk <= blocks_; blk++) {
    const uint64_t b = blk % blocks_;
    if (!changed[b]) continue;
    std::lock_guard l(block_mu_[b]);
    UMD_TRY(write_block_locked(b));
  }
  return Status::ok();
}

std::pair<uint64_t, uint64_t> LocklessBitmap::chunks_of_block(uint64_t b) const {
  const uint64_t start = b * block_, end = start + block_;
  const uint64_t first = std::min(chunks_, start > kLlDataOffset ? start - kLlDataOffset : 0);
  const uint64_t last = std::min(chunks_, end > kLlDataOffset ? end - kLlDataOffset : 0);
  return {first, last};
}

// --- the barrier -------------------------------------------------------------------

void LocklessBitmap::enter(uint64_t page, int64_t expire) {
  Page& p = page_[page];
  for (;;) {
    if (!p.suspended.load()) {
      p.refs.fetch_add(1);
      // The daemon sets `suspended` before it reads `refs`: it sees this reference, or
      // this sees its flag.
      if (!p.suspended.load()) break;
      leave(page);
    }
    std::unique_lock l(barrier_mu_);
    barrier_cv_.wait(l, [&] { return !p.suspended.load(); });
  }
  p.expire.store(expire, std::memory_order_release);
}

void LocklessBitmap::leave(uint64_t page) {
  Page& p = page_[page];
  if (p.refs.fetch_sub(1) == 1 && p.suspended.load()) {
    std::lock_guard l(barrier_mu_);
    barrier_cv_.notify_all();
  }
}

bool LocklessBitmap::suspend(uint64_t page, Clock::duration limit) {
  Page& p = page_[page];
  p.suspended.store(true);
  std::unique_lock l(barrier_mu_);
  if (barrier_cv_.wait_for(l, limit, [&] { return p.refs.load() == 0; })) return true;
  l.unlock();
  resume(page);
  return false;
}

void LocklessBitmap::resume(uint64_t page) {
  {
    std::lock_guard l(barrier_mu_);
    page_[page].suspended.store(false);
  }
  barrier_cv_.notify_all();
}

// --- changing and writing state bytes -------------------------------------------------

void LocklessBitmap::record(const Status& s) {
  std::lock_guard l(mu_);
  if (last_error_.is_ok()) last_error_ = s;
}

Status LocklessBitmap::write_block_locked(uint64_t b) {
  // Nobody changes a byte of this block while we hold its mutex: the image carries at
  // least generation `gen`.
  const uint64_t gen = pending_[b].load();
  AlignedBuffer buf(block_);
  uint8_t* img = buf.data();
  const uint64_t start = b * block_;
  std::memcpy(img, as_read_.data() + start, block_);
  if (start < kBitmapSuperBytes) {
    std::lock_guard l(mu_);
    const auto sbb = encode_bitmap_super(sb_);
    std::memcpy(img, sbb.data(), sbb.size());
  }
  const auto [c0, c1] = chunks_of_block(b);
  for (uint64_t c = c0; c < c1; c++) img[kLlDataOffset + c - start] = bytes_[c].load(std::memory_order_acquire);
  Status s = store_->write(start, buf.span());
  // A failed copy is the array's to fail (as md fails the member); the others have it.
  durable_[b].store(gen);
  if (!s.is_ok()) {
    s = s.with_context(fmt::format("llbitmap: writing block {}", b));
    record(s);
  }
  return s;
}

bool LocklessBitmap::apply_in_block(uint64_t b, uint64_t c0, uint64_t c1, std::span<const LlAction> actions) {
  bool changed = false, need_sync = false;
  {
    std::lock_guard l(block_mu_[b]);
    const LlArrayKind kind = array_kind();
    for (uint64_t c = c0; c < c1; c++) {
      const uint8_t raw = bytes_[c].load(std::memory_order_acquire);
      uint8_t now = raw;
      for (LlAction a : actions) {
        if (const auto n = next_state_in(now, a, kind)) now = uint8_t(*n);
      }
      if (now == raw) continue;
      if (!changed) {
        // Before the byte: a reader that sees the new byte sees this generation too.
        pending_[b].fetch_add(1);
        changed = true;
      }
      bytes_[c].store(now, std::memory_order_release);
      need_sync |= now == uint8_t(LlState::need_sync);
    }
    if (durable_[b].load() < pending_[b].load()) (void)write_block_locked(b);
  }
  // The kernel starts a sync when a chunk turns need-sync under I/O (lazy recovery of a
  // raid4/5/6 chunk written for the first time; writes while degraded).
  if (need_sync && actions.size() == 1 && actions[0] == LlAction::startwrite) host_.sync_needed();
  return changed;
}

void LocklessBitmap::apply_range(uint64_t c0, uint64_t c1, std::span<const LlAction> actions) {
  if (c0 >= c1) return;
  for (uint64_t b = block_of(c0); b <= block_of(c1 - 1); b++) {
    const auto [f, l] = chunks_of_block(b);
    apply_in_block(b, std::max(f, c0), std::min(l, c1), actions);
  }
}

// --- the write path --------------------------------------------------------------------

void LocklessBitmap::start_write(uint64_t lo, uint64_t hi, std::function<void()> go) {
  if (hi <= lo || chunks_ == 0 || lo / chunk_sectors_ >= chunks_) {
    go();
    return;
  }
  const uint64_t c0 = lo / chunk_sectors_, c1 = std::min(chunks_, (hi - 1) / chunk_sectors_ + 1);
  const int64_t expire = ticks(Clock::now() + std::chrono::seconds(barrier_idle_s_.load()));
  for (uint64_t p = page_of(c0); p <= page_of(c1 - 1); p++) enter(p, expire);
  const LlArrayKind kind = array_kind();
  static constexpr LlAction kStart[] = {LlAction::startwrite};
  for (uint64_t b = block_of(c0); b <= block_of(c1 - 1); b++) {
    const auto [bf, bl] = chunks_of_block(b);
    const uint64_t f = std::max(bf, c0), l = std::min(bl, c1);
    bool slow = false;
    for (uint64_t c = f; c < l && !slow; c++) {
      const uint8_t raw = bytes_[c].load(std::memory_order_acquire);
      const auto n = next_state_in(raw, LlAction::startwrite, kind);
      slow = n && uint8_t(*n) != raw;
    }
    // Already marked, but perhaps by a writer whose image is still on its way: its
    // mutex is held until that image is written.
    if (!slow && pending_[b].load() > durable_[b].load()) slow = true;
    if (slow) apply_in_block(b, f, l, kStart);
  }
  go();
}

void LocklessBitmap::end_write(uint64_t lo, uint64_t hi) {
  if (hi <= lo || chunks_ == 0 || lo / chunk_sectors_ >= chunks_) return;
  const uint64_t c0 = lo / chunk_sectors_, c1 = std::min(chunks_, (hi - 1) / chunk_sectors_ + 1);
  for (uint64_t p = page_of(c0); p <= page_of(c1 - 1); p++) leave(p);
}

void LocklessBitmap::discard(uint64_t lo, uint64_t hi) {
  if (hi <= lo || chunks_ == 0) return;
  // Only chunks the discard covers whole (the last one may end at the array's end).
  const uint64_t c0 = (lo + chunk_sectors_ - 1) / chunk_sectors_;
  const uint64_t c1 = hi >= sync_sectors_ ? chunks_ : std::min(chunks_, hi / chunk_sectors_);
  if (c0 >= c1) return;
  const int64_t expire = ticks(Clock::now() + std::chrono::seconds(barrier_idle_s_.load()));
  for (uint64_t p = page_of(c0); p <= page_of(c1 - 1); p++) enter(p, expire);
  static constexpr LlAction kDiscard[] = {LlAction::discard};
  apply_range(c0, c1, kDiscard);
  for (uint64_t p = page_of(c0); p <= page_of(c1 - 1); p++) leave(p);
}

// --- the sync thread ---------------------------------------------------------------------

bool LocklessBitmap::visit(SyncKind kind, uint8_t raw) const {
  if (raw == uint8_t(LlState::unwritten)) return false;  // never written: nothing to sync
  if (!is_ll_state(raw)) return true;
  switch (kind) {
    case SyncKind::rebuild:
    case SyncKind::check:
      return true;
    case SyncKind::resync:
      // skip_sync_blocks: a resync passes over clean and dirty chunks (written to every
      // member since assembly) -- unless degraded, where start_sync syncs dirty ones.
      if (!degraded_.load()) return raw == uint8_t(LlState::need_sync) || raw == uint8_t(LlState::syncing);
      [[fallthrough]];
    case SyncKind::recover:
      // start_sync has nothing to do on a clean chunk; dirty ones (written while
      // degraded) and need-sync ones are synced.
      return raw != uint8_t(LlState::clean);
  }
  return true;
}

uint64_t LocklessBitmap::sync_skip(SyncKind kind, uint64_t pos, uint64_t end) {
  if (chunks_ == 0) return 0;
  uint64_t c = pos / chunk_sectors_;
  while (c < chunks_ && !visit(kind, bytes_[c].load(std::memory_order_acquire))) c++;
  const uint64_t to = std::min(end, c * chunk_sectors_);
  return to > pos ? to - pos : 0;
}

uint64_t LocklessBitmap::sync_run(SyncKind kind, uint64_t pos, uint64_t end) {
  if (chunks_ == 0) return end > pos ? end - pos : 0;
  uint64_t c = pos / chunk_sectors_;
  while (c < chunks_ && visit(kind, bytes_[c].load(std::memory_order_acquire))) c++;
  const uint64_t to = std::min(end, c * chunk_sectors_);
  return to > pos ? to - pos : 0;
}

void LocklessBitmap::sync_done(SyncKind kind, uint64_t lo, uint64_t hi) {
  if (kind == SyncKind::check || chunks_ == 0 || hi <= lo) return;
  // Whole chunks only: a chunk partly synced still needs the rest.
  const uint64_t c0 = (lo + chunk_sectors_ - 1) / chunk_sectors_;
  const uint64_t c1 = hi >= sync_sectors_ ? chunks_ : std::min(chunks_, hi / chunk_sectors_);
  if (c0 >= c1) return;
  // As close_sync does: the pages expire at once, so the next pass cleans them.
  const int64_t expire = ticks(Clock::now());
  for (uint64_t p = page_of(c0); p <= page_of(c1 - 1); p++) enter(p, expire);
  static constexpr LlAction kSynced[] = {LlAction::startsync, LlAction::endsync};
  apply_range(c0, c1, kSynced);
  for (uint64_t p = page_of(c0); p <= page_of(c1 - 1); p++) leave(p);
}

uint64_t LocklessBitmap::dirty_chunks() const {
  uint64_t n = 0;
  for (uint64_t c = 0; c < chunks_; c++) {
    const uint8_t raw = bytes_[c].load(std::memory_order_relaxed);
    n += raw == uint8_t(LlState::dirty) || raw == uint8_t(LlState::need_sync) || raw == uint8_t(LlState::syncing);
  }
  return n;
}

// --- the daemon ----------------------------------------------------------------------------

Status LocklessBitmap::pass(Clock::time_point now, bool force) {
  std::lock_guard pl(pass_mu_);
  if (degraded_.load()) return Status::ok();
  const Clock::duration limit = daemon_sleep();
  const LlArrayKind kind = array_kind();
  auto cleanable = [&](uint64_t page) {
    const uint64_t start = page * kLlPageBytes;
    const uint64_t first = std::min(chunks_, start > kLlDataOffset ? start - kLlDataOffset : 0);
    const uint64_t last = std::min(chunks_, start + kLlPageBytes - kLlDataOffset);
    for (uint64_t c = first; c < last; c++) {
      const uint8_t raw = bytes_[c].load(std::memory_order_acquire);
      const auto n = next_state_in(raw, LlAction::daemon, kind);
      if (n && uint8_t(*n) != raw) return true;
    }
    return false;
  };
  // 1. Drain the expired pages that have something to clean.
  std::vector<uint64_t> drained;
  for (uint64_t p = 0; p < pages_; p++) {
    if (!force && page_[p].expire.load(std::memory_order_acquire) > ticks(now)) continue;
    if (!cleanable(p) || !suspend(p, limit)) continue;
    page_[p].expire.store(kNever);
    resume(p);
    drained.push_back(p);
  }
  if (drained.empty()) return Status::ok();
  // 2. What those writes put on the members is durable before any byte goes clean.
  auto retry_later = [&](uint64_t p) {
    int64_t never = kNever;  // unless a write moved it, the next pass looks again
    page_[p].expire.compare_exchange_strong(never, ticks(now));
  };
  Status s = host_.flush_members();
  if (!s.is_ok()) {
    for (uint64_t p : drained) retry_later(p);
    return s.with_context("llbitmap: flushing the members before cleaning chunks");
  }
  // 3. Clean the pages no write entered since step 1.
  static constexpr LlAction kDaemon[] = {LlAction::daemon};
  for (uint64_t p : drained) {
    if (page_[p].expire.load() != kNever) continue;  // written since: not this time
    if (degraded_.load() || !suspend(p, limit)) {
      retry_later(p);
      continue;
    }
    if (page_[p].expire.load() == kNever) {
      const uint64_t first = p * kLlPageBytes > kLlDataOffset ? p * kLlPageBytes - kLlDataOffset : 0;
      const uint64_t last = std::min(chunks_, (p + 1) * kLlPageBytes - kLlDataOffset);
      apply_range(first, last, kDaemon);
    }
    resume(p);
  }
  return Status::ok();  // a block that failed to write is in last_error_ (stop() reports it)
}

void LocklessBitmap::daemon_loop() {
  std::unique_lock l(mu_);
  while (!stopping_) {
    rearm_ = false;
    const bool woken = cv_.wait_for(l, daemon_sleep(), [&] { return stopping_ || rearm_; });
    if (stopping_) break;
    if (woken) continue;  // a new daemon_sleep: wait that long from now
    l.unlock();
    Status s = pass(Clock::now(), false);
    l.lock();
    if (!s.is_ok() && last_error_.is_ok()) last_error_ = s;
  }
}

Status LocklessBitmap::run_daemon_now() { return pass(Clock::now(), true); }

Status LocklessBitmap::run_daemon_at(Clock::time_point now) { return pass(now, false); }

Status LocklessBitmap::write_super(uint64_t events) {
  {
    std::lock_guard l(mu_);
    sb_.events = events;
    // llbitmap_update_sb: events_cleared never runs ahead of the events.
    if (events < sb_.events_cleared) sb_.events_cleared = events;
  }
  std::lock_guard b(block_mu_[0]);
  return write_block_locked(0);
}

uint64_t LocklessBitmap::events_cleared() const {
  std::lock_guard l(mu_);
  return sb_.events_cleared;
}

Status LocklessBitmap::stop() {
  {
    std::lock_guard l(mu_);
    if (stopping_) return last_error_;
    stopping_ = true;
    cv_.notify_all();
  }
  if (!started_) return Status::ok();  // open() failed: nothing of ours to write
  if (daemon_.joinable()) daemon_.join();
  Status s = pass(Clock::now(), true);
  // The kernel's flush at stop: every block, from memory.
  for (uint64_t blk = 1; blk <= blocks_; blk++) {
    const uint64_t b = blk % blocks_;
    std::lock_guard l(block_mu_[b]);
    (void)write_block_locked(b);
  }
  std::lock_guard l(mu_);
  return s.is_ok() ? last_error_ : s;
}

// --- attributes ------------------------------------------------------------------------

std::vector<std::string> LocklessBitmap::attr_names() const {
  return {"llbitmap/bits", "llbitmap/metadata", "llbitmap/daemon_sleep", "llbitmap/barrier_idle"};
}

Result<std::string> LocklessBitmap::attr(const std::string& name) const {
  if (name == "llbitmap/bits") {
    std::vector<uint8_t> region(ll_region_bytes(chunks_), 0);
    for (uint64_t c = 0; c < chunks_; c++) region[kLlDataOffset + c] = bytes_[c].load(std::memory_order_relaxed);
    return format_ll_bits_show(count_ll_states(region, chunks_));
  }
  if (name == "llbitmap/metadata") {
    std::lock_guard l(mu_);
    return format_ll_metadata_show(ll_metadata(sb_, offset_sectors_));
  }
  if (name == "llbitmap/daemon_sleep") return std::to_string(daemon_sleep_s_.load());
  if (name == "llbitmap/barrier_idle") return std::to_string(barrier_idle_s_.load());
  return Result<std::string>(Err::not_found, "no attribute " + name);
}

Status LocklessBitmap::set_attr(const std::string& name, const std::string& value) {
  const bool sleep = name == "llbitmap/daemon_sleep";
  if (sleep || name == "llbitmap/barrier_idle") {
    uint32_t secs = 0;
    // The kernel takes 0 for daemon_sleep too, and then refuses its own superblock at
    // the next assembly (daemon sleep out of range): umd refuses it here.
    if (!parse_seconds(value, &secs) || (sleep && secs == 0)) {
      return Status(Err::invalid, fmt::format("{}: \"{}\" is not a {} number of seconds", name, value,
                                              sleep ? "positive" : "whole"));
    }
    if (!sleep) {
      barrier_idle_s_.store(secs);
      return Status::ok();
    }
    std::lock_guard l(mu_);
    daemon_sleep_s_.store(secs);
    sb_.daemon_sleep = secs;  // written with the next superblock, as update_sb does
    rearm_ = true;
    cv_.notify_all();
    return Status::ok();
  }
  return refuse_attr(attr_names(), name);
}

}  // namespace umd::bitmap
