#include "bitmap/classic_bitmap.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "bitmap/classic_bits.h"
#include "util/aligned_buffer.h"
#include "util/numbers.h"

namespace umd::bitmap {

Result<std::unique_ptr<ClassicBitmap>> ClassicBitmap::open(std::unique_ptr<BitmapStore> store, BitmapHost& host,
                                                           const Options& opts) {
  const std::string where = store->where();
  std::unique_ptr<ClassicBitmap> b(new ClassicBitmap(std::move(store), host));
  b->block_ = b->store_->block_bytes();
  AlignedBuffer head(b->block_);
  UMD_TRY(b->store_->read(0, head.span()));
  UMD_ASSIGN_OR_RETURN(b->sb_, decode_bitmap_super(head.span().first(kBitmapSuperBytes)));
  BitmapSuper& sb = b->sb_;
  if (sb.version != kVersionLittleEndian && sb.version != kVersionHostEndian) {
    return Result<std::unique_ptr<ClassicBitmap>>(
        Err::unsupported, fmt::format("bitmap ({}): version {} is not a classic bitmap this array can use", where,
                                      sb.version));
  }
  if (sb.uuid != opts.uuid) {
    return Result<std::unique_ptr<ClassicBitmap>>(Err::invalid,
                                                  fmt::format("bitmap ({}) belongs to another array", where));
  }
  if (sb.sync_size != opts.sync_sectors) {
    return Result<std::unique_ptr<ClassicBitmap>>(
        Err::corrupt, fmt::format("bitmap ({}): sync_size {} does not match the array's {} sectors", where,
                                  sb.sync_size, opts.sync_sectors));
  }
  b->chunk_sectors_ = sb.chunk_sectors();
  b->chunks_ = classic_chunk_count(sb.sync_size, sb.chunk_bytes());
  const uint64_t region = classic_bitmap_bytes(b->chunks_);
  const uint64_t region_blocks = (region + b->block_ - 1) / b->block_;
  AlignedBuffer all(region_blocks * b->block_);
  UMD_TRY(b->store_->read(0, all.span()));
  b->bits_.assign(all.data() + kClassicBitsOffset, all.data() + all.size());
  b->chunk_.resize(b->chunks_);
  const bool stale = sb.events < opts.events || sb.has_state(kStateStale);
  for (uint64_t c = 0; c < b->chunks_; c++) {
    if (stale) b->set_bit(c, true);
    if (b->bit(c)) b->chunk_[c].needed = true;
  }
  if (stale) {
    sb.set_state(kStateStale, false);
    for (uint64_t blk = 0; blk < region_blocks; blk++) b->dirty_blocks_.insert(blk);
  }
  b->daemon_sleep_ = std::chrono::milliseconds(uint64_t(sb.daemon_sleep) * 1000);
  b->writer_ = std::thread([p = b.get()] { p->writer_loop(); });
  b->daemon_ = std::thread([p = b.get()] { p->daemon_loop(); });
  return b;
}

ClassicBitmap::~ClassicBitmap() { (void)stop(); }

void ClassicBitmap::set_bit(uint64_t c, bool on) {
  if (on) bits_[c / 8] |= uint8_t(1u << (c % 8));
  else bits_[c / 8] &= uint8_t(~(1u << (c % 8)));
}

std::vector<uint8_t> ClassicBitmap::block_image(uint64_t block) const {
  std::vector<uint8_t> img(block_, 0);
  const uint64_t start = block * block_;
  if (block == 0) {
    const auto sbb = encode_bitmap_super(sb_);
    std::memcpy(img.data(), sbb.data(), sbb.size());
  }
  for (uint64_t i = std::max<uint64_t>(start, kClassicBitsOffset); i < start + block_; i++) {
    const uint64_t bi = i - kClassicBitsOffset;
    if (bi < bits_.size()) img[i - start] = bits_[bi];
  }
  return img;
}

Status ClassicBitmap::write_blocks(const std::set<uint64_t>& blocks) {
  Status first;
  for (uint64_t blk : blocks) {
    std::vector<uint8_t> img;
    {
      std::lock_guard l(mu_);
      img = block_image(blk);
    }
    AlignedBuffer buf(block_);
    std::memcpy(buf.data(), img.data(), block_);
    Status s = store_->write(blk * block_, buf.span());
    if (!s.is_ok() && first.is_ok()) first = s;
  }
  return first;
}

void ClassicBitmap::start_write(uint64_t lo, uint64_t hi, std::function<void()> go) {
  if (hi <= lo || chunks_ == 0) {
    go();
    return;
  }
  const uint64_t c0 = lo / chunk_sectors_, c1 = std::min(chunks_ - 1, (hi - 1) / chunk_sectors_);
  std::unique_lock l(mu_);
  uint64_t need = 0;
  for (uint64_t c = c0; c <= c1; c++) {
    Chunk& ch = chunk_[c];
    ch.writing++;
    if (!bit(c)) {
      set_bit(c, true);
      ch.batch = seq_flush_ + 1;
      dirty_blocks_.insert((kClassicBitsOffset + c / 8) / block_);
    }
    need = std::max(need, ch.batch);
  }
  if (need <= seq_write_) {
    l.unlock();
    go();
    return;
  }
  waiting_.emplace(need, std::move(go));
  cv_.notify_all();
}

void ClassicBitmap::end_write(uint64_t lo, uint64_t hi) {
  if (hi <= lo || chunks_ == 0) return;
  const uint64_t c0 = lo / chunk_sectors_, c1 = std::min(chunks_ - 1, (hi - 1) / chunk_sectors_);
  const auto now = Clock::now();
  std::lock_guard l(mu_);
  for (uint64_t c = c0; c <= c1; c++) {
    Chunk& ch = chunk_[c];
    if (ch.writing > 0) ch.writing--;
    ch.quiet = now;
  }
}

void ClassicBitmap::writer_loop() {
  std::unique_lock l(mu_);
  for (;;) {
    cv_.wait(l, [&] { return stopping_ || !waiting_.empty() || !dirty_blocks_.empty(); });
    if (dirty_blocks_.empty() && waiting_.empty() && stopping_) return;
    // Unplug: close the batch, write what it marked, release who waited for it.
    const uint64_t closing = ++seq_flush_;
    std::set<uint64_t> blocks;
    blocks.swap(dirty_blocks_);
    l.unlock();
    Status s;
    {
      std::lock_guard w(write_mu_);
      s = write_blocks(blocks);
    }
    l.lock();
    if (!s.is_ok()) last_error_ = s;
    seq_write_ = closing;
    written_cv_.notify_all();
    std::vector<std::function<void()>> go;
    while (!waiting_.empty() && waiting_.begin()->first <= seq_write_) {
      go.push_back(std::move(waiting_.begin()->second));
      waiting_.erase(waiting_.begin());
    }
    l.unlock();
    for (auto& g : go) g();
    l.lock();
  }
}

Status ClassicBitmap::clear_pass(Clock::duration quiet_for) {
  {
    std::lock_guard l(mu_);
    if (degraded_) return Status::ok();
    bool any = false;
    const auto now = Clock::now();
    for (uint64_t c = 0; c < chunks_ && !any; c++) {
      const Chunk& ch = chunk_[c];
      any = bit(c) && ch.writing == 0 && !ch.needed && ch.batch <= seq_write_ && now - ch.quiet >= quiet_for;
    }
    if (!any) return Status::ok();
  }
  // What the bits covered must be durable before the bits go.
  UMD_TRY(host_.flush_members().with_context("bitmap: flushing the members before clearing bits"));
  const uint64_t events = host_.events();
  std::lock_guard l(mu_);
  if (degraded_) return Status::ok();
  const auto now = Clock::now();
  bool cleared = false;
  for (uint64_t c = 0; c < chunks_; c++) {
    const Chunk& ch = chunk_[c];
    if (bit(c) && ch.writing == 0 && !ch.needed && ch.batch <= seq_write_ && now - ch.quiet >= quiet_for) {
      set_bit(c, false);
      dirty_blocks_.insert((kClassicBitsOffset + c / 8) / block_);
      cleared = true;
    }
  }
  if (cleared) {
    sb_.events_cleared = events;
    dirty_blocks_.insert(0);
    cv_.notify_all();
  }
  return Status::ok();
}

void ClassicBitmap::daemon_loop() {
  std::unique_lock l(mu_);
  while (!stopping_) {
    cv_.wait_for(l, std::min<std::chrono::milliseconds>(daemon_sleep_, std::chrono::milliseconds(1000)));
    if (stopping_) break;
    const auto sleep = daemon_sleep_;
    l.unlock();
    Status s = clear_pass(sleep);
    l.lock();
    if (!s.is_ok()) last_error_ = s;
  }
}

Status ClassicBitmap::run_daemon_now() {
  UMD_TRY(clear_pass(Clock::duration::zero()));
  // Wait for the writer to put the cleared blocks on disk: they are still marked (the next
  // batch takes them), or the writer has taken them into the batch it closed last.
  std::unique_lock l(mu_);
  const uint64_t target = dirty_blocks_.empty() ? seq_flush_ : seq_flush_ + 1;
  cv_.notify_all();
  written_cv_.wait(l, [&] { return seq_write_ >= target || stopping_; });
  return Status::ok();
}

Status ClassicBitmap::write_super(uint64_t events) {
  {
    std::lock_guard l(mu_);
    sb_.events = events;
  }
  std::lock_guard w(write_mu_);
  return write_blocks({0});
}

uint64_t ClassicBitmap::sync_skip(SyncKind kind, uint64_t pos, uint64_t end) {
  if (kind == SyncKind::rebuild || kind == SyncKind::check || chunks_ == 0) return 0;
  std::lock_guard l(mu_);
  uint64_t c = pos / chunk_sectors_;
  while (c < chunks_ && !bit(c) && !chunk_[c].needed) c++;
  const uint64_t to = std::min(end, c * chunk_sectors_);
  return to > pos ? to - pos : 0;
}

uint64_t ClassicBitmap::sync_run(SyncKind kind, uint64_t pos, uint64_t end) {
  if (kind == SyncKind::rebuild || kind == SyncKind::check || chunks_ == 0) return end > pos ? end - pos : 0;
  std::lock_guard l(mu_);
  uint64_t c = pos / chunk_sectors_;
  while (c < chunks_ && (bit(c) || chunk_[c].needed)) c++;
  const uint64_t to = std::min(end, c * chunk_sectors_);
  return to > pos ? to - pos : 0;
}

void ClassicBitmap::sync_done(SyncKind kind, uint64_t lo, uint64_t hi) {
  if (kind == SyncKind::check || chunks_ == 0 || hi <= lo) return;
  const auto now = Clock::now();
  std::lock_guard l(mu_);
  // Whole chunks only: a chunk partly synced still needs the rest.
  const uint64_t c0 = (lo + chunk_sectors_ - 1) / chunk_sectors_;
  const uint64_t c1 = std::min(chunks_, hi / chunk_sectors_ + (hi >= sb_.sync_size ? 1 : 0));
  for (uint64_t c = c0; c < c1; c++) {
    chunk_[c].needed = false;
    chunk_[c].quiet = now;
  }
}

uint64_t ClassicBitmap::dirty_chunks() const {
  std::lock_guard l(mu_);
  uint64_t n = 0;
  for (uint64_t c = 0; c < chunks_; c++) n += bit(c);
  return n;
}

void ClassicBitmap::set_degraded(bool degraded) {
  std::lock_guard l(mu_);
  degraded_ = degraded;
}

uint64_t ClassicBitmap::batches_written() const {
  std::lock_guard l(mu_);
  return seq_write_;
}

Status ClassicBitmap::stop() {
  {
    std::lock_guard l(mu_);
    if (stopping_ && !writer_.joinable()) return last_error_;
  }
  Status s = clear_pass(Clock::duration::zero());
  {
    std::lock_guard l(mu_);
    stopping_ = true;
    dirty_blocks_.insert(0);  // the superblock with the last events and events_cleared
    cv_.notify_all();
  }
  if (writer_.joinable()) writer_.join();
  if (daemon_.joinable()) daemon_.join();
  std::lock_guard l(mu_);
  return s.is_ok() ? last_error_ : s;
}

std::vector<std::string> ClassicBitmap::attr_names() const {
  return {"bitmap/location", "bitmap/chunksize", "bitmap/time_base", "bitmap/backlog", "bitmap/metadata",
          "bitmap/can_clear", "bitmap/umd_dirty_chunks"};
}

Result<std::string> ClassicBitmap::attr(const std::string& name) const {
  std::lock_guard l(mu_);
  if (name == "bitmap/location") return store_->where() == "internal" ? std::string("+8") : store_->where();
  if (name == "bitmap/chunksize") return std::to_string(sb_.chunk_bytes());
  if (name == "bitmap/time_base") return std::to_string(daemon_sleep_.count() / 1000);
  if (name == "bitmap/backlog") return std::to_string(sb_.write_behind);
  if (name == "bitmap/metadata") return std::string("internal");
  if (name == "bitmap/can_clear") return std::string(degraded_ ? "false" : "true");
  if (name == "bitmap/umd_dirty_chunks") {
    uint64_t n = 0;
    for (uint64_t c = 0; c < chunks_; c++) n += bit(c);
    return std::to_string(n);
  }
  return Result<std::string>(Err::not_found, "no attribute " + name);
}

Status ClassicBitmap::set_attr(const std::string& name, const std::string& value) {
  if (name == "bitmap/time_base") {
    const std::optional<double> parsed = parse_seconds(value);
    if (!parsed || *parsed <= 0) {
      return Status(Err::invalid, fmt::format("bitmap/time_base: \"{}\" is not a positive number of seconds", value));
    }
    const double secs = *parsed;
    std::lock_guard l(mu_);
    daemon_sleep_ = std::chrono::milliseconds(int64_t(secs * 1000));
    // Kept in the superblock (written with the next one), as md does: whole seconds.
    sb_.daemon_sleep = uint32_t(std::max(1.0, secs + 0.5));
    cv_.notify_all();
    return Status::ok();
  }
  return refuse_attr(attr_names(), name);
}

}  // namespace umd::bitmap
