// GeometryView: which geometry holds an array sector, when there may be two.
//
// A running array has one geometry. During a reshape it has two, split at the reshape
// position, as md's raid5 keeps conf->previous_raid_disks beside conf->raid_disks and
// routes each request by conf->reshape_progress:
//  - forward (md's default: growing, or a data offset that moves down): array sectors
//    below `position` are already in the new geometry, those at or above it still in the
//    old one;
//  - backwards (mddev->reshape_backwards: shrinking, or a data offset that moves up): the
//    other way round, sectors at or above `position` are new.
//  - the section being moved now, between `position` and `safe` (md's reshape_safe), is
//    in neither for a client: a request there waits until the reshape passes it.
// Pieces carry the generation of the geometry that holds them (new = old + 1), and stripe
// locks are keyed by (generation, row) (personality/stripe_cache.h), so row N of the old
// geometry is never confused with row N of the new one. Pure: no I/O, no locks; the array
// swaps a whole view when the reshape moves.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "layout/geometry.h"

namespace umd::layout {

struct GeometryPiece {
  uint64_t lo = 0, hi = 0;    // array sectors [lo, hi)
  uint32_t generation = 0;    // of the geometry that holds them
  bool wait = false;          // inside the section being moved: neither geometry yet
};

class GeometryView {
 public:
  // One geometry: every sector in it.
  explicit GeometryView(Geometry current, uint32_t generation = 0)
      : old_(std::move(current)), generation_(generation) {}
  // A reshape from `old_geo` to `new_geo`, at `position` (array sectors), with the
  // section [position, safe) (forward) or [safe, position) (backwards) being moved.
  GeometryView(Geometry old_geo, Geometry new_geo, uint64_t position, uint64_t safe, bool backwards,
               uint32_t old_generation = 0)
      : old_(std::move(old_geo)), new_(std::move(new_geo)), position_(position), safe_(safe),
        backwards_(backwards), generation_(old_generation) {}

  bool reshaping() const { return new_.has_value(); }
  // The geometry of a generation this view holds (the old one for anything else).
  const Geometry& geometry(uint32_t generation) const {
    return new_ && generation == generation_ + 1 ? *new_ : old_;
  }
  const Geometry& current() const { return new_ ? *new_ : old_; }
  uint32_t generation() const { return generation_; }
  uint64_t position() const { return position_; }
  bool backwards() const { return backwards_; }
  // The same reshape with its position moved (nothing in flight: safe == position).
  GeometryView at(uint64_t position) const {
    GeometryView v = *this;
    v.position_ = v.safe_ = position;
    return v;
  }
  // The array's size for clients: while a reshape runs, the smaller of the two geometries'
  // (md's raid5_size/raid10_size count the fewer data disks and round to both chunks; a
  // grow changes the size when it is done, a shrink needs --array-size set down first).
  uint64_t array_sectors() const {
    return new_ ? std::min(old_.array_sectors(), new_->array_sectors()) : old_.array_sectors();
  }

  // [lo, hi) cut where the geometry changes: one piece, or up to three around the
  // section being moved. Pieces are in order and cover [lo, hi) exactly.
  std::vector<GeometryPiece> pieces(uint64_t lo, uint64_t hi) const;

 private:
  Geometry old_;
  std::optional<Geometry> new_;
  uint64_t position_ = 0, safe_ = 0;
  bool backwards_ = false;
  uint32_t generation_ = 0;
};

}  // namespace umd::layout
