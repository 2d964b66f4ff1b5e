// Test helper: draws the first rows of a geometry as text, one row per line segment, so
// tests can compare against the pictures in md(4) and the kernel sources.
#pragma once

#include <string>
#include <vector>

#include "layout/geometry.h"

namespace umd::layout::testing {

// Cells hold the array chunk number stored at the start of that member chunk, P, Q, or '.'
// when unused; rows are separated by " | ".
inline std::string picture(const Geometry& g, uint64_t rows) {
  const uint32_t n = g.raid_disks();
  const uint64_t c = g.chunk_sectors();
  std::vector<std::vector<std::string>> grid(rows, std::vector<std::string>(n, "."));
  auto put = [&](DevAddr a, uint64_t chunk_no) {
    if (a.sector % c == 0 && a.sector / c < rows) grid[a.sector / c][a.disk] = std::to_string(chunk_no);
  };
  for (uint64_t ch = 0; ch * c < g.array_sectors() && ch < rows * n; ++ch) {
    const uint64_t s = ch * c;
    if (auto* r = g.as<Raid0Geometry>()) put(r->map(s).at, ch);
    if (auto* r = g.as<Raid10Geometry>()) {
      Raid10Copies cp = r->copies(s);
      for (uint32_t i = 0; i < cp.count; ++i) put(cp.at[i], ch);
    }
    if (auto* r = g.as<Raid456Geometry>()) {
      ChunkPlace p = r->compute_sector(s);
      put({p.disk, p.dev_sector}, ch);
    }
  }
  if (auto* r = g.as<Raid456Geometry>())
    for (uint64_t row = 0; row < rows && row < r->rows(); ++row) {
      StripeMap m = r->stripe(row);
      grid[row][m.pd_idx] = "P";
      if (m.qd_idx >= 0) grid[row][m.qd_idx] = "Q";
    }
  std::string out;
  for (uint64_t row = 0; row < rows; ++row) {
    if (row) out += " | ";
    for (uint32_t d = 0; d < n; ++d) out += (d ? " " : "") + grid[row][d];
  }
  return out;
}

inline GeometryParams params(int level, uint32_t layout, uint32_t chunk, uint32_t disks,
                             std::vector<uint64_t> sizes) {
  return GeometryParams{level, layout, chunk, disks, std::move(sizes)};
}

}  // namespace umd::layout::testing
