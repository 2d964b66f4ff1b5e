// Grouping probed members into one array, as mdadm --assemble does: they must share the
// array UUID; the freshest event count wins; each slot is filled at most once; spares,
// faulty members and members the freshest superblocks no longer count are set aside.
// The result says which slots are present and whether the level survives the rest.
//
// Event margin: a member one event behind the freshest is current, not stale (mdadm's
// `event_margin = 1` in Assemble.c, the kernel's `++ev1` before its check in
// super_90_validate/super_1_validate while assembling). A crash can land between two
// members' superblock writes of one update, so the members of an array that stopped
// cleanly, or crashed, can differ by one. Such a member takes its slot in sync, as in the
// kernel: whatever the update was, the freshest superblock tells what to resync (its
// resync_offset, or a bitmap whose events lag the array's is stale and resyncs all), and
// the next superblock write brings the member's event count up with the others'.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "assemble/superblock_probe.h"
#include "layout/geometry.h"
#include "util/status.h"

namespace umd::engine {

struct GatherOptions {
  // Leave stale members (lower event count) out with a warning instead of refusing.
  bool force = false;
  // Refuse when the level cannot read every sector with the members present.
  bool require_complete_data = true;
};

// A reshape the superblocks record, stopped or cut off half-way (md's reshape_position,
// with the new geometry beside the previous one, as the kernel's raid5 keeps
// previous_raid_disks beside raid_disks). Array sectors below `position` are in the new
// geometry and the rest in the previous one; backwards, the other way round
// (layout/geometry_view.h). The previous geometry reads each member at data_offset, the
// new one at new_data_offset (they differ when the reshape moves the data).
struct RecordedReshape {
  layout::Geometry previous;
  uint64_t position = 0;  // array sectors
  bool backwards = false;
};

struct MemberSet {
  MemberInfo ref;                       // the freshest member's view of the array
  std::vector<ProbedMember> members;    // every member given, in the order given
  // slot -> index into members, or -1 when missing. One entry per slot of the geometry,
  // or of the previous one when a shrink recorded there has more.
  std::vector<int> slot_member;
  std::vector<std::string> warnings;    // one line each: stale members left out, ...
  layout::Geometry geometry;            // during a reshape: the new geometry
  std::optional<RecordedReshape> reshape;
  // Members whose recovery was under way (recovery_offset short of the end): left out of
  // slot_member (their data is only partly there); a running array resumes them.
  struct Recovering {
    uint32_t slot;
    size_t member;
  };
  std::vector<Recovering> recovering;

  std::vector<uint32_t> missing_slots() const;
};

// Errors name the member and the field: "b1.img belongs to array 1a2b...:..., not
// 9f8e...:... (of a0.img)", "d0.img is stale: events 10, the others have 15 ...",
// "cannot read raid5 array: 2 of 4 members missing (slots 1, 3); raid5 survives 1".
Result<MemberSet> gather_members(std::vector<ProbedMember> members, const GatherOptions& opts);

// GeometryParams for an array as the kernel would build it from these superblocks.
layout::GeometryParams geometry_params(const MemberInfo& ref, const std::vector<const MemberInfo*>& by_slot);
// The same for the geometry a recorded reshape leaves (level, layout, chunk and
// raid_disks - delta_disks of the superblock); by_slot has that many entries.
layout::GeometryParams previous_geometry_params(const MemberInfo& ref,
                                                const std::vector<const MemberInfo*>& by_slot);
// raid_disks of the geometry a recorded reshape leaves (ref.raid_disks when none).
uint32_t previous_raid_disks(const MemberInfo& ref);

}  // namespace umd::engine
