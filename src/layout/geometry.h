// The geometry of an md array: given the superblock's level, layout, chunk and member
// sizes, where every array sector lives. Pure functions, no I/O.
//
// Geometries are immutable values built by make_geometry; copying one is cheap (per-member
// tables are shared), so a reshape can hold the old and the new side by side. The
// per-sector functions of each level class neither allocate nor fail: an address past the
// end comes back with len == 0 / nullopt.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <variant>

#include "layout/geometry_types.h"
#include "layout/level_limits.h"
#include "layout/linear.h"
#include "layout/raid0.h"
#include "layout/raid1.h"
#include "layout/raid10.h"
#include "layout/raid456.h"
#include "util/status.h"

namespace umd::layout {

class Geometry {
 public:
  using Variant = std::variant<LinearGeometry, Raid0Geometry, Raid1Geometry, Raid10Geometry,
                               Raid456Geometry>;

  explicit Geometry(Variant v) : v_(std::move(v)) {}

  template <class F>
  decltype(auto) visit(F&& f) const {
    return std::visit(std::forward<F>(f), v_);
  }

  [[nodiscard]] int level() const { return visit([](const auto& g) { return g.level(); }); }
  [[nodiscard]] uint32_t layout() const { return visit([](const auto& g) { return g.layout(); }); }
  [[nodiscard]] uint32_t chunk_sectors() const {
    return visit([](const auto& g) { return g.chunk_sectors(); });
  }
  [[nodiscard]] uint32_t raid_disks() const {
    return visit([](const auto& g) { return g.raid_disks(); });
  }
  [[nodiscard]] uint64_t array_sectors() const {
    return visit([](const auto& g) { return g.array_sectors(); });
  }
  // Members that may be absent, whichever they are, without losing data.
  [[nodiscard]] uint32_t max_missing() const;
  // Whether the array still holds all its data with exactly these members absent.
  [[nodiscard]] bool survives(std::span<const uint32_t> missing) const;

  [[nodiscard]] const Variant& variant() const { return v_; }
  template <class T>
  [[nodiscard]] const T* as() const {
    return std::get_if<T>(&v_);
  }

 private:
  Variant v_;
};

// Validates the parameters as md would before running the array: Err::invalid for
// nonsense (unknown layout for the level, chunk not a power of two where md needs one,
// too few members, more raid10 copies than members), Err::unsupported for valid arrays
// umd cannot serve (unknown level, unset raid0 multi-zone layout, too many members).
[[nodiscard]] Result<Geometry> make_geometry(const GeometryParams& p);

}  // namespace umd::layout
