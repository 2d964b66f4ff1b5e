#include "layout/geometry_view.h"

#include <algorithm>

namespace umd::layout {

std::vector<GeometryPiece> GeometryView::pieces(uint64_t lo, uint64_t hi) const {
  std::vector<GeometryPiece> out;
  if (hi <= lo) return out;
  if (!new_) {
    out.push_back({lo, hi, generation_, false});
    return out;
  }
  // Three zones in array sectors: [0, a) one geometry, [a, b) being moved, [b, inf) the
  // other. Forward: [0, position) new, [position, safe) moving, [safe, ...) old.
  // Backwards: [0, safe) old, [safe, position) moving, [position, ...) new.
  const uint64_t a = backwards_ ? std::min(safe_, position_) : position_;
  const uint64_t b = backwards_ ? position_ : std::max(safe_, position_);
  const uint32_t low_gen = backwards_ ? generation_ : generation_ + 1;
  const uint32_t high_gen = backwards_ ? generation_ + 1 : generation_;
  auto add = [&](uint64_t x, uint64_t y, uint32_t gen, bool wait) {
    x = std::max(x, lo);
    y = std::min(y, hi);
    if (x < y) out.push_back({x, y, gen, wait});
  };
  add(0, a, low_gen, false);
  add(a, b, generation_, true);
  add(b, UINT64_MAX, high_gen, false);
  return out;
}

}  // namespace umd::layout
