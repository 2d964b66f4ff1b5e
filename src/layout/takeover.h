// md's level takeovers: a running array changes level without moving a byte, because the
// new level finds the old one's blocks where they are. What each takes, and what it
// leaves, follows the kernel's takeover functions (raid5.c raid5_takeover_raid1,
// raid45_takeover_raid0, raid4_takeover, raid5_takeover_raid6, raid6_takeover;
// raid0.c raid0_takeover_raid45 and _raid10; raid10.c raid10_takeover_raid0; raid1.c
// raid1_takeover) as mdadm --grow --level reaches them (Grow.c analyse_change,
// impose_level, remove_disks_for_takeover):
//
//   raid1 (2 disks) -> raid5 (2 disks)   left-symmetric; the chunk is the largest power of
//                                        two up to 64K that divides the size (>= 4K)
//   raid5 (2 disks) -> raid1             any layout: with one data disk both copies agree
//   raid4 <-> raid5 (parity-last)        the same blocks
//   raid5 (N) -> raid6 (N+1)             a "-6" layout: the raid5 layout over the first N
//                                        disks, Q on the new last one (recovery builds it)
//   raid6 "-6" or parity-last (N) -> raid5 (N-1)   the Q disk leaves as a spare
//   raid0 (N, one zone) -> raid4/raid5 parity-last (N+1)   parity on the new last disk
//   raid4 or raid5 parity-last (N) -> raid0 (N-1)          the parity disk leaves
//   raid0 (N, one zone) -> raid10 near-2 (2N)   member k takes slot 2k; 2k+1 are new
//   raid10 near-2 (2N) -> raid0 (N)      one working member of each pair stays
//
// Where mdadm also restripes (Grow.c analyse_change), the plan says so and the array
// chains a reshape of the same disks (array/array_takeover.cc):
//  - after the takeover and its recovery (restripe_after): raid5 -> raid6 into the raid6
//    layout of the raid5's name (or --layout), raid0 -> raid5 into left-symmetric (or
//    --layout). --layout=preserve (or naming the layout above) stops at the takeover.
//  - before it (restripe_before; the takeover is planned again once the reshape ends):
//    raid5 -> raid0/raid4 from a layout other than parity-last, raid6 -> raid5 from a
//    layout without Q on the last disk (into its "-6" twin, or that of --layout).
// The array's size never changes.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "layout/geometry.h"
#include "util/status.h"

namespace umd::layout {

struct TakeoverRequest {
  int level = 0;                          // the level to become
  std::optional<uint32_t> layout;         // --layout for the new level (md's number)
  bool preserve = false;                  // --layout=preserve: whatever needs no restripe
  std::optional<uint32_t> chunk_sectors;  // --chunk
  std::optional<uint32_t> raid_disks;     // --raid-devices, when given: must be what the step makes
};

struct Takeover {
  GeometryParams params;           // the new geometry (member_sectors as make_geometry takes them)
  uint64_t component_sectors = 0;  // the superblocks' size (md's dev_sectors) from now on
  // New slot -> the old slot whose member takes it, or -1 for a new empty slot that a spare
  // fills (recovery builds it).
  std::vector<int> from_slot;
  std::vector<uint32_t> leaving;   // old slots whose members leave the array
  bool leaving_as_spares = false;  // raid6 -> raid5: the Q member stays as a spare
  // To raid0 (which sizes each member by its own data_size): every staying member's
  // data_size becomes the component size, so the array keeps its size (the kernel sets
  // rdev->sectors so for raid4/5).
  bool data_size_is_component = false;
  // A reshape of the new level's layout, on the same disks, once the recovery is done.
  std::optional<uint32_t> restripe_after;
  // Set alone (nothing else is planned): reshape the old level into this layout first.
  std::optional<uint32_t> restripe_before;
};

// `working`: by old slot, whether a member in sync holds it (raid10 -> raid0 keeps those).
// Errors are Err::invalid (a change the level cannot make) or Err::unsupported (one that
// needs a restripe first), each naming what to ask for instead.
[[nodiscard]] Result<Takeover> plan_takeover(const Geometry& old, const std::vector<bool>& working,
                                             const TakeoverRequest& rq);

}  // namespace umd::layout
