#include "personality/reshaping_personality.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "block/block_wait.h"
#include "util/aligned_buffer.h"
#include "util/fan_in.h"

namespace umd::engine {

namespace {

uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

}  // namespace

ReshapingPersonality::ReshapingPersonality(std::unique_ptr<Personality> previous, std::unique_ptr<Personality> next,
                                           layout::GeometryView view, int64_t room)
    : previous_(std::move(previous)), next_(std::move(next)), view_(std::move(view)),
      generation_(view_.generation()), backwards_(view_.backwards()), room_(room) {
  recorded_ = view_.position();
  const auto* o = previous_->geometry().as<layout::Raid456Geometry>();
  const auto* n = next_->geometry().as<layout::Raid456Geometry>();
  if (o && n) {
    old_chunk_ = o->chunk_sectors();
    new_chunk_ = n->chunk_sectors();
    old_row_ = old_chunk_ * o->data_disks();
    new_row_ = new_chunk_ * n->data_disks();
    granule_ = std::max(old_chunk_, new_chunk_) * n->data_disks();
  }
  // raid10 near (md's raid10 reshape_request): copies, not parity, so any chunk boundary
  // will do; the rows a section touches follow first/last_dev_address.
  const auto* o10 = previous_->geometry().as<layout::Raid10Geometry>();
  const auto* n10 = next_->geometry().as<layout::Raid10Geometry>();
  if (o10 && n10 && o10->far_copies() == 1 && n10->far_copies() == 1) {
    raid10_ = true;
    old_chunk_ = o10->chunk_sectors();
    new_chunk_ = n10->chunk_sectors();
    old_near_ = o10->near_copies();
    new_near_ = n10->near_copies();
    old_disks_ = o10->raid_disks();
    new_disks_ = n10->raid_disks();
    old_row_ = old_chunk_;  // the barrier's rounding: a copy is rebuilt from its own chunk
    new_row_ = new_chunk_;
    granule_ = std::max(old_chunk_, new_chunk_);
  }
}

bool ReshapingPersonality::can_move() const { return old_row_ && new_row_ && (room_ > 0 || in_place()); }

bool ReshapingPersonality::resumes_alone() const {
  if (!in_place() || done()) return true;
  std::lock_guard l(view_mu_);
  const uint64_t at = recorded_;
  return backwards_ ? safe_limit(at) < at : safe_limit(at) > at;
}

Status ReshapingPersonality::restore(uint64_t lo, std::span<const uint8_t> data) {
  if (data.size() % 512 || lo + data.size() / 512 > next_->array_sectors()) {
    return Status(Err::invalid, fmt::format("restoring array sectors {}+{}: past the new geometry's end {}", lo,
                                            data.size() / 512, next_->array_sectors()));
  }
  return submit_and_wait(*next_, BlockOp::write, lo * 512, data.size(), const_cast<uint8_t*>(data.data()))
      .with_context(fmt::format("restoring array sectors {}..{} through the new geometry", lo, lo + data.size() / 512));
}

void ReshapingPersonality::restored_to(uint64_t position) {
  std::lock_guard l(view_mu_);
  view_ = view_.at(position);
  recorded_ = position;
}

uint64_t ReshapingPersonality::sync_unit() const {
  if (collapsed()) return next_->sync_unit();
  return raid10_ || !new_chunk_ ? 1 : new_row_ / new_chunk_;  // the new data disks
}

uint64_t ReshapingPersonality::position() const {
  std::lock_guard l(view_mu_);
  return view_.position();
}

bool ReshapingPersonality::done() const {
  const uint64_t p = position();
  return backwards_ ? p == 0 : p >= next_->array_sectors();
}

uint64_t ReshapingPersonality::backwards_top() const {
  return ceil_div(std::min(previous_->array_sectors(), next_->array_sectors()), granule_) * granule_;
}

uint64_t ReshapingPersonality::progress_of(uint64_t position) const {
  return backwards_ ? backwards_top() - std::min(position, backwards_top()) : position;
}

uint64_t ReshapingPersonality::sync_sectors(SyncOp op) const {
  if (collapsed()) return next_->sync_sectors(op);
  if (op != SyncOp::reshape || !can_move() || !host_) return 0;
  return backwards_ ? backwards_top() : next_->array_sectors();
}

uint64_t ReshapingPersonality::safe_limit(uint64_t recorded) const {
  const int64_t room = room_;
  if (raid10_) {
    // md's first_dev_address / last_dev_address (near layouts): the member sector where the
    // first copy of array sector s lies, and the end of the rows [0, s) touches.
    auto first_dev = [](uint64_t s, uint64_t chunk, uint64_t near, uint64_t disks) {
      return s / chunk * near / disks * chunk;
    };
    auto last_dev = [](uint64_t s, uint64_t chunk, uint64_t near, uint64_t disks) {
      return ceil_div(ceil_div(s, chunk) * near, disks) * chunk;
    };
    if (!backwards_) {
      // The new rows written up to `to` must end below the old rows still needed: reshape_request's
      // last_dev_address(progress, geo) <= first_dev_address(safe, prev) + offset_diff.
      const uint64_t rows = (first_dev(recorded, old_chunk_, old_near_, old_disks_) + uint64_t(room)) / new_chunk_;
      const uint64_t limit = rows * new_disks_ / new_near_ * new_chunk_;
      (void)last_dev;
      return limit / granule_ * granule_;
    }
    // Backwards: the lowest new row written must start at or above the end of the old rows
    // still needed, less the room.
    const int64_t need = int64_t(last_dev(recorded, old_chunk_, old_near_, old_disks_)) - room;
    const uint64_t rows = need <= 0 ? 0 : ceil_div(uint64_t(need), new_chunk_);
    return ceil_div(ceil_div(rows * new_disks_, new_near_) * new_chunk_, granule_) * granule_;
  }
  if (!backwards_) {
    // New rows may reach member sector old_row(recorded) * old_chunk + room.
    const uint64_t dev = recorded / old_row_ * old_chunk_ + uint64_t(room);
    return dev / new_chunk_ * new_row_ / granule_ * granule_;
  }
  // Backwards the old data still needed is below old row ceil(recorded / old_row): the new
  // rows written must start at or above it, less the room.
  const int64_t need = int64_t(ceil_div(recorded, old_row_) * old_chunk_) - room;
  const uint64_t rows = need <= 0 ? 0 : ceil_div(uint64_t(need), new_chunk_);
  return ceil_div(rows * new_row_, granule_) * granule_;
}

Status ReshapingPersonality::move(uint64_t lo, uint64_t hi) {
  // One buffer for every step (a fresh one each time cost an allocation and a memset of
  // the whole section: a tenth of the sync thread's time in a profile of a grow).
  const uint64_t bytes = (hi - lo) * 512;
  if (move_buf_.size() < bytes) move_buf_ = AlignedBuffer(bytes);
  uint8_t* buf = move_buf_.data();
  const uint64_t old_end = previous_->array_sectors();
  const uint64_t read_to = std::clamp(old_end, lo, hi);
  if (read_to > lo) {
    UMD_TRY(previous_->read(lo, read_to - lo, buf)
                .with_context(fmt::format("reshape: reading array sectors {}..{} through the old geometry", lo, hi)));
  }
  std::memset(buf + (read_to - lo) * 512, 0, (hi - read_to) * 512);  // new rows past the old end hold zeros
  return submit_and_wait(*next_, BlockOp::write, lo * 512, bytes, buf)
      .with_context(fmt::format("reshape: writing array sectors {}..{} through the new geometry", lo, hi));
}

Status ReshapingPersonality::sync(SyncOp op, uint64_t pos, uint64_t n, SyncReport* report) {
  if (collapsed()) return next_->sync(op, pos, n, report);
  if (op != SyncOp::reshape || !can_move() || !host_) {
    return Status(Err::unsupported, "this reshape cannot be moved here (see reshaping_personality.h)");
  }
  const bool back = backwards_;
  uint64_t lo, hi;
  if (!back) {
    lo = pos;
    hi = std::min(pos + n, next_->array_sectors());
  } else {
    const uint64_t top = backwards_top();
    hi = std::min(top - std::min(pos, top), std::min(previous_->array_sectors(), next_->array_sectors()));
    lo = top - std::min(top, pos + n);
  }
  if (lo >= hi) return Status::ok();
  // The window: the section, and the old rows it shares with its neighbours (a degraded
  // read of the section rebuilds from those rows).
  barrier_.raise(std::min(lo, lo / old_row_ * old_row_), std::max(hi, ceil_div(hi, old_row_) * old_row_));
  Status st;
  uint64_t cur = back ? hi : lo;
  auto recorded_now = [&] {
    std::lock_guard l(view_mu_);
    return recorded_;
  };
  while (st.is_ok() && (back ? cur > lo : cur < hi)) {
    uint64_t lim = safe_limit(recorded_now());
    if (back ? lim >= cur : lim <= cur) {
      st = host_->record_reshape_position(cur);  // the host tells recorded() once it is on disk
      if (!st.is_ok()) break;
      lim = safe_limit(cur);
      if (back ? lim >= cur : lim <= cur) {
        // IN PLACE (top of the header): only what the overseer has suspended, and so
        // backed up, is rewritten over the data it replaces.
        const auto [slo, shi] = host_->reshape_suspended();
        if (in_place()) lim = back ? ceil_div(std::max(slo, lo), granule_) * granule_ : std::min(shi, hi) / granule_ * granule_;
        const bool covered = in_place() && (back ? shi >= cur && lim < cur : slo <= cur && lim > cur);
        if (!covered) {
          st = Status(Err::unsupported,
                      in_place() ? fmt::format("reshape: the rows at array sector {} are rewritten in place and are not "
                                               "suspended (suspend_lo {}, suspend_hi {}): only an overseer with a "
                                               "backup file may move them (umd --grow --backup-file)",
                                               cur, slo, shi)
                                 : fmt::format("reshape: the data offset moves by {} sectors, too little to move the "
                                               "rows at array sector {} without overwriting data still needed; this "
                                               "reshape needs a backup file",
                                               room_, cur));
          break;
        }
      }
    }
    const uint64_t to = back ? std::max(lo, lim) : std::min(hi, lim);
    st = back ? move(to, cur) : move(cur, to);
    if (!st.is_ok()) break;
    {
      std::lock_guard l(view_mu_);
      view_ = view_.at(to);
    }
    cur = to;
  }
  barrier_.lower();
  return st;
}

const layout::Geometry& ReshapingPersonality::geometry() const {
  if (collapsed()) return next_->geometry();
  return previous_->array_sectors() <= next_->array_sectors() ? previous_->geometry() : next_->geometry();
}

Status ReshapingPersonality::read(uint64_t sector, uint64_t sectors, uint8_t* out) {
  if (collapsed()) return next_->read(sector, sectors, out);
  if (sector > array_sectors() || sectors > array_sectors() - sector) {
    return Status(Err::invalid,
                  fmt::format("read of sectors {}+{} is past the end ({})", sector, sectors, array_sectors()));
  }
  std::vector<layout::GeometryPiece> pieces;
  {
    std::lock_guard l(view_mu_);
    pieces = view_.pieces(sector, sector + sectors);
  }
  for (const layout::GeometryPiece& p : pieces) {
    UMD_TRY(of(p.generation).read(p.lo, p.hi - p.lo, out + (p.lo - sector) * 512));
  }
  return Status::ok();
}

void ReshapingPersonality::submit(BlockRequest& req) {
  if (collapsed()) {
    next_->submit(req);
    return;
  }
  const uint64_t end = array_sectors() * 512;
  if (req.offset % 512 || req.length % 512 || req.offset > end || req.length > end - req.offset) {
    req.done(Status(Err::invalid, fmt::format("request {}+{} bytes is not inside the array ({} bytes) in 512-byte "
                                              "sectors",
                                              req.offset, req.length, end)));
    return;
  }
  SyncBarrier::Ticket t;
  // Parked behind a reshape step's window: submitted again once it lowers, and routed by
  // the position the step left.
  if (!barrier_.enter(req.offset / 512, (req.offset + req.length) / 512, &t, [this, &req] { submit(req); })) return;
  route(req, t);
}

void ReshapingPersonality::route(BlockRequest& req, const SyncBarrier::Ticket& t) {
  std::vector<layout::GeometryPiece> pieces;
  {
    std::lock_guard l(view_mu_);
    pieces = view_.pieces(req.offset / 512, (req.offset + req.length) / 512);
  }
  if (pieces.empty()) pieces.push_back({req.offset / 512, req.offset / 512, generation_, false});
  // A write reaching the part moved since the last record is held (see the top).
  const bool changes = req.op == BlockOp::write || req.op == BlockOp::trim || req.op == BlockOp::write_zeroes;
  std::optional<uint64_t> need;
  for (const layout::GeometryPiece& p : pieces) {
    if (!changes || p.generation == generation_ || p.lo == p.hi) continue;
    need = backwards_ ? std::min(need.value_or(p.lo), p.lo) : std::max(need.value_or(p.hi), p.hi);
  }
  // Cut where the geometry changes; the client's request completes with the first error,
  // after the pieces have left the window's count.
  struct Split {
    std::vector<BlockRequest> parts;
  };
  auto split = std::make_shared<Split>();
  split->parts.resize(pieces.size());
  FanIn* fan = FanIn::start(pieces.size() + 1, [this, &req, split, t, need](std::vector<Status>& st) {
    Status first;
    for (size_t i = 0; i + 1 < st.size(); i++) {
      if (!st[i].is_ok()) {
        first = std::move(st[i]);
        break;
      }
    }
    barrier_.leave(t);
    if (need && host_) {
      bool held = false;
      {
        std::lock_guard l(view_mu_);
        if (!covered(*need)) {
          held_.push_back({&req, *need, std::move(first)});
          held = true;
        }
      }
      if (held) {
        host_->record_reshape_position_soon();
        return;
      }
    }
    req.done(std::move(first));
  });
  for (size_t i = 0; i < pieces.size(); i++) {
    const layout::GeometryPiece& p = pieces[i];
    BlockRequest& part = split->parts[i];
    part.op = req.op;
    part.fua = req.fua;
    part.offset = p.lo * 512;
    part.length = (p.hi - p.lo) * 512;
    part.buf = req.buf ? req.buf + (part.offset - req.offset) : nullptr;
    part.done = [fan, i](Status s) { fan->arrive(i, std::move(s)); };
    of(p.generation).submit(part);
  }
  fan->arrive(pieces.size(), Status::ok());
}

std::pair<uint64_t, uint64_t> ReshapingPersonality::sync_span(uint64_t lo, uint64_t hi) const {
  if (collapsed()) return next_->sync_span(lo, hi);
  uint64_t a = ~0ull, b = 0;
  for (const Personality* p : {previous_.get(), next_.get()}) {
    const uint64_t end = p->array_sectors();
    if (lo >= end) continue;
    const auto [x, y] = p->sync_span(lo, std::min(hi, end));
    a = std::min(a, x);
    b = std::max(b, y);
  }
  return a < b ? std::pair{a, b} : std::pair{lo, lo};
}

void ReshapingPersonality::recorded(uint64_t position) {
  {
    std::lock_guard l(view_mu_);
    recorded_ = position;
  }
  release_held(nullptr);
}

void ReshapingPersonality::record_failed(const Status& why) { release_held(&why); }

void ReshapingPersonality::collapse() {
  collapsed_.store(true, std::memory_order_release);
  // The superblocks now describe the new geometry alone: nothing is behind a record.
  {
    std::lock_guard l(view_mu_);
    recorded_ = backwards_ ? 0 : ~0ull;
  }
  release_held(nullptr);
}

void ReshapingPersonality::release_held(const Status* failed) {
  std::vector<HeldWrite> go;
  {
    std::lock_guard l(view_mu_);
    std::erase_if(held_, [&](HeldWrite& h) {
      if (!failed && !covered(h.need)) return false;
      go.push_back(std::move(h));
      return true;
    });
  }
  for (HeldWrite& h : go) {
    Status s = std::move(h.status);
    if (failed && s.is_ok()) {
      s = failed->with_context("reshape: the write is done but its position could not be recorded");
    }
    h.req->done(std::move(s));
  }
}

void ReshapingPersonality::quiesce() {
  previous_->quiesce();
  next_->quiesce();
}

uint32_t ReshapingPersonality::block_size() const {
  if (collapsed()) return next_->block_size();
  return std::max(previous_->block_size(), next_->block_size());
}

void ReshapingPersonality::attach(uint32_t slot, Slot s, uint64_t valid_below) {
  if (collapsed()) {
    next_->attach(slot, s, valid_below);
    return;
  }
  // The slot's data starts at data_offset in the previous geometry and at new_data_offset
  // in the new one; a caller attaching here gives the previous offset (the Array does not
  // attach while a reshape is recorded).
  if (has_slot(*previous_, slot)) previous_->attach(slot, s, valid_below);
  if (has_slot(*next_, slot)) next_->attach(slot, s, valid_below);
}

void ReshapingPersonality::detach(uint32_t slot) {
  if (collapsed()) {
    next_->detach(slot);
    return;
  }
  if (has_slot(*previous_, slot)) previous_->detach(slot);
  if (has_slot(*next_, slot)) next_->detach(slot);
}

uint64_t ReshapingPersonality::valid_below(uint32_t slot) const {
  if (collapsed()) return next_->valid_below(slot);
  uint64_t v = ~0ull;
  if (has_slot(*previous_, slot)) v = std::min(v, previous_->valid_below(slot));
  if (has_slot(*next_, slot)) v = std::min(v, next_->valid_below(slot));
  return v;
}

io::Member* ReshapingPersonality::slot_dev(uint32_t slot) const {
  if (collapsed()) return next_->slot_dev(slot);
  return has_slot(*next_, slot) ? next_->slot_dev(slot) : previous_->slot_dev(slot);
}

void ReshapingPersonality::sync_arm(bool on) {
  if (collapsed()) {
    next_->sync_arm(on);
    return;
  }
  if (on) barrier_.arm();
  else barrier_.disarm();
}

}  // namespace umd::engine
