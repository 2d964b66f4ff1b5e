#include "layout/takeover.h"

#include <fmt/format.h>

#include "layout/layout_names.h"

namespace umd::layout {
namespace {

using A = ParityAlgorithm;
using R = Result<Takeover>;

R refuse(Err e, const std::string& why) { return R(e, why); }

std::string lname(int level, uint32_t layout) { return layout_name(level, layout); }

// raid5's layout -> the raid6 "-6" layout that keeps it (raid6_takeover), and back.
std::optional<uint32_t> raid6_of(uint32_t l) {
  switch (A(l)) {
    case A::left_asymmetric: return uint32_t(A::left_asymmetric_6);
    case A::right_asymmetric: return uint32_t(A::right_asymmetric_6);
    case A::left_symmetric: return uint32_t(A::left_symmetric_6);
    case A::right_symmetric: return uint32_t(A::right_symmetric_6);
    case A::parity_0: return uint32_t(A::parity_0_6);
    case A::parity_n: return uint32_t(A::parity_n);
    default: return std::nullopt;
  }
}
std::optional<uint32_t> raid5_of(uint32_t l) {
  switch (A(l)) {
    case A::left_asymmetric_6: return uint32_t(A::left_asymmetric);
    case A::right_asymmetric_6: return uint32_t(A::right_asymmetric);
    case A::left_symmetric_6: return uint32_t(A::left_symmetric);
    case A::right_symmetric_6: return uint32_t(A::right_symmetric);
    case A::parity_0_6: return uint32_t(A::parity_0);
    case A::parity_n: return uint32_t(A::parity_n);
    default: return std::nullopt;
  }
}

std::vector<int> identity(uint32_t n) {
  std::vector<int> v(n);
  for (uint32_t s = 0; s < n; s++) v[s] = int(s);
  return v;
}

// The new geometry's params with one component size for every member.
GeometryParams params(int level, uint32_t layout, uint32_t chunk, uint32_t disks, uint64_t component) {
  GeometryParams p;
  p.level = level;
  p.layout = layout;
  p.chunk_sectors = chunk;
  p.raid_disks = disks;
  p.member_sectors = level == kLevelRaid0 ? std::vector<uint64_t>(disks, component) : std::vector<uint64_t>{component};
  return p;
}

Status check_disks(const TakeoverRequest& rq, uint32_t makes, const std::string& step) {
  if (rq.raid_disks && *rq.raid_disks != makes) {
    return Status(Err::invalid, fmt::format("{} makes {} devices, not {}; change the number of devices with a "
                                            "separate --grow --raid-devices",
                                            step, makes, *rq.raid_disks));
  }
  return Status::ok();
}

Status check_chunk(const TakeoverRequest& rq, uint32_t chunk, const std::string& step) {
  if (rq.chunk_sectors && *rq.chunk_sectors != chunk) {
    return Status(Err::invalid, fmt::format("{} keeps the chunk ({}K); change it with a separate --grow --chunk", step,
                                            chunk / 2));
  }
  return Status::ok();
}

// What the new level's layout ends as: `keeps` (the takeover's own, no restripe) when
// preserved or asked for, else what was asked for or mdadm's default.
std::optional<uint32_t> restripe_to(const TakeoverRequest& rq, uint32_t keeps, uint32_t fallback) {
  if (rq.preserve) return std::nullopt;
  const uint32_t want = rq.layout.value_or(fallback);
  if (want == keeps) return std::nullopt;
  return want;
}

Takeover restripe_first(uint32_t layout) {
  Takeover t;
  t.restripe_before = layout;
  return t;
}

R from_raid1(const Raid1Geometry& g, const TakeoverRequest& rq) {
  if (rq.level != kLevelRaid5) return refuse(Err::invalid, "raid1 can change level only to raid5 (with 2 devices)");
  if (g.raid_disks() != 2) return refuse(Err::invalid, "Can only convert a 2-device array to RAID5");
  const std::string step = "raid1 to raid5";
  UMD_TRY(check_disks(rq, 2, step));
  const uint64_t size = g.array_sectors();
  if (size & 7) return refuse(Err::invalid, "Cannot convert RAID1 of this size - reduce size to multiple of 4K first");
  uint32_t chunk = 128;  // raid5_takeover_raid1: 64K, halved until it divides the size
  while (size & (chunk - 1)) chunk >>= 1;
  if (rq.chunk_sectors) {
    if (size % *rq.chunk_sectors) {
      return refuse(Err::invalid, fmt::format("New chunk size ({}K) does not evenly divide device size ({}k)",
                                              *rq.chunk_sectors / 2, size / 2));
    }
    chunk = *rq.chunk_sectors;
  }
  // With one data disk every layout puts the same bytes on both members.
  const uint32_t layout = rq.layout.value_or(uint32_t(A::left_symmetric));
  Takeover t;
  t.params = params(kLevelRaid5, layout, chunk, 2, size);
  t.component_sectors = size;
  t.from_slot = identity(2);
  return t;
}

R from_raid456(const Raid456Geometry& g, const std::vector<bool>& working, const TakeoverRequest& rq) {
  const uint32_t n = g.raid_disks();
  const uint64_t comp = g.component_sectors();
  const uint32_t chunk = g.chunk_sectors();
  const std::string step = fmt::format("raid{} to raid{}", g.level(), rq.level);
  Takeover t;
  t.component_sectors = comp;
  if (rq.level != kLevelRaid1) UMD_TRY(check_chunk(rq, chunk, step));
  // raid4 maps as raid5 parity-last.
  const uint32_t algo = g.level() == kLevelRaid4 ? uint32_t(A::parity_n) : g.layout();
  if (g.level() == kLevelRaid6) {
    if (rq.level != kLevelRaid5) return refuse(Err::invalid, "raid6 can change level only to raid5");
    UMD_TRY(check_disks(rq, n - 1, step));
    // The raid5 layout it ends as: --layout, else the one the raid6 layout keeps or is named as.
    const auto now5 = raid5_of(g.layout());
    if (!now5 && g.layout() > uint32_t(A::parity_n)) {
      return refuse(Err::invalid, fmt::format("raid6 {} has no raid5 equivalent: give --layout for the raid5",
                                              lname(6, g.layout())));
    }
    const uint32_t want5 = rq.layout.value_or(now5.value_or(g.layout()));
    const auto want6 = raid6_of(want5);
    if (!want6) return refuse(Err::invalid, fmt::format("raid5 {} has no raid6 twin to restripe into", lname(5, want5)));
    if (*want6 != g.layout()) return restripe_first(*want6);
    t.params = params(kLevelRaid5, want5, chunk, n - 1, comp);
    t.from_slot = identity(n - 1);
    t.leaving = {n - 1};
    t.leaving_as_spares = true;  // level_store: the Q member's slot is gone; it stays as a spare
    return t;
  }
  switch (rq.level) {
    case kLevelRaid0: {
      UMD_TRY(check_disks(rq, n - 1, step));
      if (algo != uint32_t(A::parity_n)) return restripe_first(uint32_t(A::parity_n));
      t.params = params(kLevelRaid0, 0, chunk, n - 1, comp);
      t.from_slot = identity(n - 1);
      t.leaving = {n - 1};
      t.data_size_is_component = true;
      return t;
    }
    case kLevelRaid4:
    case kLevelRaid5: {
      if (rq.level == g.level()) return refuse(Err::invalid, fmt::format("the array is raid{} already", g.level()));
      // raid4_takeover / raid5_takeover: raid4 is raid5 parity-last.
      UMD_TRY(check_disks(rq, n, step));
      if (algo != uint32_t(A::parity_n)) return restripe_first(uint32_t(A::parity_n));
      t.params = params(rq.level, rq.level == kLevelRaid4 ? 0 : uint32_t(A::parity_n), chunk, n, comp);
      t.from_slot = identity(n);
      if (rq.level == kLevelRaid5) t.restripe_after = restripe_to(rq, uint32_t(A::parity_n), uint32_t(A::parity_n));
      return t;
    }
    case kLevelRaid6: {
      if (g.level() != kLevelRaid5) {
        return refuse(Err::invalid, "raid4 becomes raid6 by way of raid5 (--level=5 first; the kernel's raid6 "
                                    "takes over raid5 only)");
      }
      if (n < 3) return refuse(Err::invalid, "a raid5 of 2 devices cannot become raid6 (it needs 3)");
      uint32_t missing = 0;
      for (uint32_t s = 0; s < n; s++) missing += s < working.size() && working[s] ? 0 : 1;
      if (missing > 1) return refuse(Err::invalid, "the raid5 is missing more than one member");
      const auto l6 = raid6_of(algo);
      if (!l6) return refuse(Err::invalid, fmt::format("raid5 {} has no raid6 equivalent", lname(5, algo)));
      UMD_TRY(check_disks(rq, n + 1, step));
      t.params = params(kLevelRaid6, *l6, chunk, n + 1, comp);
      t.from_slot = identity(n);
      t.from_slot.push_back(-1);
      // mdadm's default: the raid6 layout of the raid5's number (left-symmetric stays so).
      t.restripe_after = restripe_to(rq, *l6, algo);
      return t;
    }
    case kLevelRaid1: {
      if (g.level() != kLevelRaid5 || n != 2) return refuse(Err::invalid, "Can only convert a 2-device array to RAID1");
      UMD_TRY(check_disks(rq, 2, step));
      t.params = params(kLevelRaid1, 0, 0, 2, comp);
      t.from_slot = identity(2);
      return t;
    }
    default:
      return refuse(Err::invalid, fmt::format("raid{} can change level to raid0, raid1 (2 devices), raid4, raid5 "
                                              "and raid6, not raid{}",
                                              g.level(), rq.level));
  }
}

R from_raid0(const Raid0Geometry& g, const TakeoverRequest& rq) {
  const uint32_t n = g.raid_disks();
  if (g.zones().size() != 1) {
    return refuse(Err::invalid, "cannot take over a raid0 with more than one zone (members of different sizes)");
  }
  const uint64_t comp = g.array_sectors() / n;
  const uint32_t chunk = g.chunk_sectors();
  const std::string step = fmt::format("raid0 to raid{}", rq.level);
  UMD_TRY(check_chunk(rq, chunk, step));
  if ((chunk & (chunk - 1)) != 0) return refuse(Err::invalid, "the raid0's chunk is not a power of two");
  Takeover t;
  t.component_sectors = comp;
  switch (rq.level) {
    case kLevelRaid4:
    case kLevelRaid5: {
      UMD_TRY(check_disks(rq, n + 1, step));
      // mdadm's default for raid5: left-symmetric, by a restripe after the recovery.
      if (rq.level == kLevelRaid5) t.restripe_after = restripe_to(rq, uint32_t(A::parity_n), uint32_t(A::left_symmetric));
      // raid45_takeover_raid0: parity-last for both levels.
      t.params = params(rq.level, uint32_t(A::parity_n), chunk, n + 1, comp);
      t.from_slot = identity(n);
      t.from_slot.push_back(-1);
      return t;
    }
    case kLevelRaid10: {
      constexpr uint32_t kNear2 = 0x102;
      if (rq.layout && *rq.layout != kNear2 && !rq.preserve) {
        return refuse(Err::invalid, "raid0 becomes raid10 with 2 near copies only (--layout=n2)");
      }
      UMD_TRY(check_disks(rq, 2 * n, step));
      t.params = params(kLevelRaid10, kNear2, chunk, 2 * n, comp);
      for (uint32_t s = 0; s < n; s++) {
        t.from_slot.push_back(int(s));
        t.from_slot.push_back(-1);
      }
      return t;
    }
    case kLevelRaid6:
      return refuse(Err::invalid, "raid0 becomes raid6 by way of raid5 (--level=5 first; the kernel's raid6 takes "
                                  "over raid5 only)");
    default:
      return refuse(Err::invalid, fmt::format("raid0 can change level to raid4, raid5 and raid10, not raid{}",
                                              rq.level));
  }
}

R from_raid10(const Raid10Geometry& g, const std::vector<bool>& working, const TakeoverRequest& rq) {
  if (rq.level != kLevelRaid0) return refuse(Err::invalid, "RAID10 can only be changed to RAID0");
  if (g.layout() != 0x102) {
    return refuse(Err::invalid, fmt::format("raid10 {} cannot become raid0: only 2 near copies can",
                                            lname(10, g.layout())));
  }
  const uint32_t n = g.raid_disks();
  if (n & 1) return refuse(Err::invalid, "RAID10 layout too complex for Grow operation (an odd number of devices)");
  UMD_TRY(check_disks(rq, n / 2, "raid10 to raid0"));
  UMD_TRY(check_chunk(rq, g.chunk_sectors(), "raid10 to raid0"));
  Takeover t;
  t.component_sectors = g.dev_sectors();
  t.params = params(kLevelRaid0, 0, g.chunk_sectors(), n / 2, g.dev_sectors());
  t.data_size_is_component = true;
  for (uint32_t k = 0; k < n / 2; k++) {
    // remove_disks_for_takeover: the first working member of each pair stays.
    int keep = -1;
    for (uint32_t s = 2 * k; s < 2 * k + 2 && keep < 0; s++) {
      if (s < working.size() && working[s]) keep = int(s);
    }
    if (keep < 0) {
      return refuse(Err::invalid, fmt::format("slots {} and {} both lack a working member", 2 * k, 2 * k + 1));
    }
    t.from_slot.push_back(keep);
    t.leaving.push_back(uint32_t(keep) ^ 1u);
  }
  return t;
}

}  // namespace

Result<Takeover> plan_takeover(const Geometry& old, const std::vector<bool>& working, const TakeoverRequest& rq) {
  if (rq.level == old.level()) return R(Err::invalid, fmt::format("the array is {} already", level_name(rq.level)));
  R r = old.visit([&](const auto& g) -> R {
    using G = std::decay_t<decltype(g)>;
    if constexpr (std::is_same_v<G, Raid1Geometry>) return from_raid1(g, rq);
    else if constexpr (std::is_same_v<G, Raid456Geometry>) return from_raid456(g, working, rq);
    else if constexpr (std::is_same_v<G, Raid0Geometry>) return from_raid0(g, rq);
    else if constexpr (std::is_same_v<G, Raid10Geometry>) return from_raid10(g, working, rq);
    else return R(Err::invalid, fmt::format("{} cannot change level", level_name(old.level())));
  });
  if (!r.is_ok() || r->restripe_before) return r;
  if (r->restripe_after && !algorithm_valid(r->params.level, *r->restripe_after)) {
    return R(Err::invalid, fmt::format("{} has no layout {}", level_name(r->params.level), *r->restripe_after));
  }
  // The new geometry must stand and hold exactly the old array.
  auto ng = make_geometry(r->params);
  if (!ng.is_ok()) return R(ng.status().code(), fmt::format("the new geometry: {}", ng.status().message()));
  if (ng->array_sectors() != old.array_sectors()) {
    return R(Err::invalid, fmt::format("{} to {} would change the array's size from {} to {} sectors",
                                       level_name(old.level()), level_name(rq.level), old.array_sectors(),
                                       ng->array_sectors()));
  }
  return r;
}

}  // namespace umd::layout
