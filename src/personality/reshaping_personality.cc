#include "personality/reshaping_personality.h"

#include <fmt/format.h>

#include <algorithm>

#include "util/fan_in.h"

namespace umd::engine {

ReshapingPersonality::ReshapingPersonality(std::unique_ptr<Personality> previous, std::unique_ptr<Personality> next,
                                           layout::GeometryView view)
    : previous_(std::move(previous)), next_(std::move(next)), view_(std::move(view)) {}

const layout::Geometry& ReshapingPersonality::geometry() const {
  return previous_->array_sectors() <= next_->array_sectors() ? previous_->geometry() : next_->geometry();
}

Status ReshapingPersonality::read(uint64_t sector, uint64_t sectors, uint8_t* out) {
  if (sector > array_sectors() || sectors > array_sectors() - sector) {
    return Status(Err::invalid,
                  fmt::format("read of sectors {}+{} is past the end ({})", sector, sectors, array_sectors()));
  }
  for (const layout::GeometryPiece& p : view_.pieces(sector, sector + sectors)) {
    UMD_TRY(of(p.generation).read(p.lo, p.hi - p.lo, out + (p.lo - sector) * 512));
  }
  return Status::ok();
}

void ReshapingPersonality::submit(BlockRequest& req) {
  const uint64_t end = array_sectors() * 512;
  if (req.offset % 512 || req.length % 512 || req.offset > end || req.length > end - req.offset) {
    req.done(Status(Err::invalid, fmt::format("request {}+{} bytes is not inside the array ({} bytes) in 512-byte "
                                              "sectors",
                                              req.offset, req.length, end)));
    return;
  }
  auto pieces = view_.pieces(req.offset / 512, (req.offset + req.length) / 512);
  if (pieces.size() <= 1) {
    of(pieces.empty() ? view_.generation() : pieces[0].generation).submit(req);
    return;
  }
  // Cut where the geometry changes; the client's request completes with the first error.
  struct Split {
    std::vector<BlockRequest> parts;
  };
  auto split = std::make_shared<Split>();
  split->parts.resize(pieces.size());
  FanIn* fan = FanIn::start(pieces.size() + 1, [&req, split](std::vector<Status>& st) {
    Status first;
    for (size_t i = 0; i + 1 < st.size(); i++) {
      if (!st[i].is_ok()) {
        first = std::move(st[i]);
        break;
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

void ReshapingPersonality::quiesce() {
  previous_->quiesce();
  next_->quiesce();
}

uint32_t ReshapingPersonality::block_size() const { return std::max(previous_->block_size(), next_->block_size()); }

void ReshapingPersonality::attach(uint32_t slot, Slot s, uint64_t valid_below) {
  // The slot's data starts at data_offset in the previous geometry and at new_data_offset
  // in the new one; a caller attaching here gives the previous offset (the Array does not
  // attach while a reshape is recorded).
  if (has_slot(*previous_, slot)) previous_->attach(slot, s, valid_below);
  if (has_slot(*next_, slot)) next_->attach(slot, s, valid_below);
}

void ReshapingPersonality::detach(uint32_t slot) {
  if (has_slot(*previous_, slot)) previous_->detach(slot);
  if (has_slot(*next_, slot)) next_->detach(slot);
}

uint64_t ReshapingPersonality::valid_below(uint32_t slot) const {
  uint64_t v = ~0ull;
  if (has_slot(*previous_, slot)) v = std::min(v, previous_->valid_below(slot));
  if (has_slot(*next_, slot)) v = std::min(v, next_->valid_below(slot));
  return v;
}

io::Member* ReshapingPersonality::slot_dev(uint32_t slot) const {
  return has_slot(*next_, slot) ? next_->slot_dev(slot) : previous_->slot_dev(slot);
}

void ReshapingPersonality::sync_arm(bool on) {
  previous_->sync_arm(on);
  next_->sync_arm(on);
}

}  // namespace umd::engine
