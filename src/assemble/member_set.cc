#include "assemble/member_set.h"

#include "layout/layout_names.h"

#include "assemble/superblock_writer.h"
#include "format/superblock1.h"

#include <fmt/format.h>

#include <algorithm>

#include "layout/level_limits.h"

namespace umd::engine {

namespace {
// How far behind the freshest a member may be and still count as current (see the header).
constexpr uint64_t kEventMargin = 1;
// The most slots a 1.x role table can hold as the kernel reads it (super_1_load refuses
// max_dev > (4096 - 256) / 2); more in raid_disks is a corrupt superblock, not an array.
constexpr uint32_t kMaxSlots = (4096 - 256) / 2;
}  // namespace

std::vector<uint32_t> MemberSet::missing_slots() const {
  std::vector<uint32_t> out;
  for (size_t s = 0; s < slot_member.size(); s++) {
    if (slot_member[s] < 0) out.push_back(uint32_t(s));
  }
  return out;
}

namespace {

layout::GeometryParams params_of(const MemberInfo& ref, int level, uint32_t layout, uint32_t chunk_sectors,
                                 uint32_t raid_disks, const std::vector<const MemberInfo*>& by_slot) {
  layout::GeometryParams p;
  p.level = level;
  p.layout = layout;
  p.chunk_sectors = chunk_sectors;
  p.raid_disks = raid_disks;
  const bool per_member = level == layout::kLevelLinear || level == layout::kLevelRaid0;
  if (per_member) {
    // linear and raid0 use each member's own data size; a missing member's is unknown
    // (and nothing can be read without it anyway).
    for (const MemberInfo* m : by_slot) p.member_sectors.push_back(m ? m->data_size : ref.data_size);
  } else {
    p.member_sectors.push_back(ref.component_sectors);
  }
  return p;
}

std::string slot_list(const std::vector<uint32_t>& slots) {
  std::string out;
  for (uint32_t s : slots) out += (out.empty() ? "" : ", ") + std::to_string(s);
  return out;
}

}  // namespace

layout::GeometryParams geometry_params(const MemberInfo& ref, const std::vector<const MemberInfo*>& by_slot) {
  if (!ref.reshape_active) return params_of(ref, ref.level, ref.layout, ref.chunk_sectors, ref.raid_disks, by_slot);
  return params_of(ref, ref.new_level, ref.new_layout, ref.new_chunk_sectors, ref.raid_disks, by_slot);
}

uint32_t previous_raid_disks(const MemberInfo& ref) {
  return ref.reshape_active ? uint32_t(int64_t(ref.raid_disks) - ref.delta_disks) : ref.raid_disks;
}

layout::GeometryParams previous_geometry_params(const MemberInfo& ref,
                                                const std::vector<const MemberInfo*>& by_slot) {
  return params_of(ref, ref.level, ref.layout, ref.chunk_sectors, previous_raid_disks(ref), by_slot);
}

Result<MemberSet> gather_members(std::vector<ProbedMember> members, const GatherOptions& opts) {
  if (members.empty()) return Result<MemberSet>(Err::invalid, "no members given");
  // 1. One array: every member carries the first member's array UUID.
  const ProbedMember& first = members.front();
  for (const ProbedMember& m : members) {
    if (m.info.array_uuid != first.info.array_uuid) {
      return Result<MemberSet>(
          Err::invalid, fmt::format("{} belongs to array {}, not {} (of {})", m.path, m.info.array_uuid_text(),
                                    first.info.array_uuid_text(), first.path));
    }
  }
  // 2. The freshest event count is the array's story; older members are stale.
  size_t fresh = 0;
  for (size_t i = 1; i < members.size(); i++) {
    if (members[i].info.events > members[fresh].info.events) fresh = i;
  }
  const MemberInfo ref = members[fresh].info;
  std::vector<std::string> warnings;
  // 3. Slots: the member's own role, unless the freshest superblock says otherwise. Only
  // members that would fill a slot are judged stale: a member the freshest superblock
  // marks faulty (or no longer counts) normally stopped at an older event count, and is
  // set aside like a spare rather than refused.
  // A shrink recorded half-way still has data on the slots it is taking away.
  if (ref.raid_disks == 0 || ref.raid_disks > kMaxSlots) {
    return Result<MemberSet>(Err::corrupt, fmt::format("{}: raid_disks {} is outside 1..{}", members[fresh].path,
                                                       ref.raid_disks, kMaxSlots));
  }
  if (ref.reshape_active &&
      (int64_t(ref.raid_disks) - ref.delta_disks < 1 || int64_t(ref.raid_disks) - ref.delta_disks > kMaxSlots)) {
    return Result<MemberSet>(Err::corrupt, fmt::format("{}: a reshape by {} disks to {} leaves no possible previous "
                                                       "geometry", members[fresh].path, ref.delta_disks,
                                                       ref.raid_disks));
  }
  const uint32_t slots = std::max(ref.raid_disks, previous_raid_disks(ref));
  std::vector<int> slot_member(slots, -1);
  std::vector<MemberSet::Recovering> recovering;
  for (size_t i = 0; i < members.size(); i++) {
    const MemberInfo& mi = members[i].info;
    int role = mi.role;
    if (mi.dev_number < ref.roles_of_dev_numbers.size() && ref.metadata_major == 1) {
      int fresh_role = ref.roles_of_dev_numbers[mi.dev_number];
      if (fresh_role != role) {
        warnings.push_back(fmt::format("{}: the freshest superblock no longer counts it in slot {}; left out",
                                       members[i].path, role));
        continue;
      }
    }
    if (role < 0) continue;  // spare, faulty, journal: no data of the array
    if (mi.metadata_major == 1 && (mi.feature_map & kFeatureReplacement)) {
      warnings.push_back(fmt::format("{}: a --replace into slot {} was under way; it stays a spare",
                                     members[i].path, role));
      continue;
    }
    if (mi.events + kEventMargin < ref.events) {
      std::string msg = fmt::format("{} is stale: events {}, {} has {}", members[i].path, mi.events,
                                    members[fresh].path, ref.events);
      if (!opts.force) {
        return Result<MemberSet>(Err::invalid, msg + "; leave it out, or use --force to read the array without it");
      }
      warnings.push_back(msg + "; left out");
      continue;
    }
    if (uint32_t(role) >= slots) {
      return Result<MemberSet>(Err::corrupt, fmt::format("{}: role {} is beyond raid_disks {}", members[i].path,
                                                         role, slots));
    }
    if (slot_member[role] >= 0) {
      // Of two members claiming a slot, mdadm's Assemble keeps the one with the newer
      // events: the other missed the superblock writes that gave the slot away (a 0.90
      // --replace's old member, cut off one event behind; 0.90 has no role table to say so,
      // and the new member takes its number). The same events: nothing tells them apart.
      const size_t other = size_t(slot_member[role]);
      if (members[other].info.events == mi.events) {
        return Result<MemberSet>(Err::invalid, fmt::format("{} and {} both claim slot {}", members[other].path,
                                                           members[i].path, role));
      }
      const size_t older = members[other].info.events < mi.events ? other : i;
      const size_t newer = older == i ? other : i;
      warnings.push_back(fmt::format("{}: {} holds slot {} with newer events ({} > {}); left out", members[older].path,
                                     members[newer].path, role, members[newer].info.events,
                                     members[older].info.events));
      if (older == i) continue;
      slot_member[role] = -1;
    }
    if (mi.recovery_offset_valid && mi.recovery_offset < ref.component_sectors) {
      warnings.push_back(fmt::format("{}: recovery was under way (recovery_offset {}); not read", members[i].path,
                                     mi.recovery_offset));
      recovering.push_back({uint32_t(role), i});
      continue;
    }
    slot_member[role] = int(i);
  }
  // A member one event behind missed the last superblock wave; it takes the freshest's
  // story of the array before anything reads its geometry or writes its superblock
  // (catch_up_sb1: a crash inside md_finish_reshape's wave leaves the reshape on it).
  if (const Superblock1* fresh_sb = members[fresh].sb1()) {
    for (ProbedMember& m : members) {
      Superblock1* sb = std::get_if<Superblock1>(&m.sb);
      if (!sb || m.info.events >= ref.events || m.info.events + kEventMargin < ref.events) continue;
      const Superblock1 before = *sb;
      catch_up_sb1(*sb, *fresh_sb);
      m.info = from_superblock1(*sb);
      const uint32_t kShape = kFeatureReshapeActive | kFeatureNewOffset | kFeatureReshapeBackwards;
      if ((before.feature_map & kShape) != (sb->feature_map & kShape) || before.level != sb->level ||
          before.layout != sb->layout || before.chunksize != sb->chunksize || before.raid_disks != sb->raid_disks ||
          before.size != sb->size || before.data_offset != sb->data_offset) {
        warnings.push_back(fmt::format("{}: one event behind {}, cut off inside the superblock writes that changed the "
                                       "array's shape; it takes the new shape (data offset {} sectors)",
                                       m.path, members[fresh].path, sb->data_offset));
      }
    }
  }
  if (const Superblock0* fresh_sb = members[fresh].sb0()) {
    for (ProbedMember& m : members) {
      Superblock0* sb = std::get_if<Superblock0>(&m.sb);
      if (!sb || m.info.events >= ref.events || m.info.events + kEventMargin < ref.events) continue;
      const Superblock0 before = *sb;
      catch_up_sb0(*sb, *fresh_sb);
      m.info = from_superblock0(*sb, m.dev_sectors);
      if (before.minor_version != sb->minor_version || before.level != sb->level || before.layout != sb->layout ||
          before.chunk_size != sb->chunk_size || before.raid_disks != sb->raid_disks || before.size != sb->size) {
        warnings.push_back(fmt::format("{}: one event behind {}, cut off inside the superblock writes that changed the "
                                       "array's shape; it takes the new shape",
                                       m.path, members[fresh].path));
      }
    }
  }
  // 4. Geometry (both, while a reshape is recorded), and whether the level survives the
  // missing slots in each.
  auto geometry_of = [&](uint32_t disks, bool previous) -> Result<layout::Geometry> {
    std::vector<const MemberInfo*> by_slot(disks, nullptr);
    for (uint32_t s = 0; s < disks; s++) {
      if (slot_member[s] >= 0) by_slot[s] = &members[slot_member[s]].info;
    }
    auto geo = layout::make_geometry(previous ? previous_geometry_params(ref, by_slot) : geometry_params(ref, by_slot));
    if (!geo.is_ok()) {
      return geo.status().with_context(fmt::format("{}array of {}", previous ? "the geometry a reshape leaves, " : "",
                                                   first.path));
    }
    if (opts.require_complete_data) {
      std::vector<uint32_t> missing;
      for (uint32_t s = 0; s < disks; s++) {
        if (slot_member[s] < 0) missing.push_back(s);
      }
      if (!missing.empty() && !geo->survives(missing)) {
        const int level = previous ? ref.level : geometry_params(ref, by_slot).level;
        return Result<layout::Geometry>(
            Err::invalid,
            fmt::format("cannot read {} array{}: {} of {} members missing (slot{} {}); {} survives {}",
                        layout::level_name(level), previous ? " (the geometry its reshape leaves)" : "",
                        missing.size(), disks, missing.size() > 1 ? "s" : "", slot_list(missing),
                        layout::level_name(level), geo->max_missing()));
      }
    }
    return geo;
  };
  UMD_ASSIGN_OR_RETURN(layout::Geometry geo, geometry_of(ref.raid_disks, false));
  std::optional<RecordedReshape> reshape;
  if (ref.reshape_active) {
    UMD_ASSIGN_OR_RETURN(layout::Geometry prev, geometry_of(previous_raid_disks(ref), true));
    const uint64_t end = std::max(prev.array_sectors(), geo.array_sectors());
    if (ref.reshape_position > end) {
      return Result<MemberSet>(Err::corrupt, fmt::format("{}: reshape position {} is past the end of the array ({} "
                                                         "sectors)", members[fresh].path, ref.reshape_position, end));
    }
    // Where the new geometry puts each member's data must lie inside the member.
    for (int idx : slot_member) {
      if (idx < 0) continue;
      const MemberInfo& mi = members[idx].info;
      const uint64_t room = mi.data_offset + mi.data_size;
      if (mi.new_data_offset > room || room - mi.new_data_offset < ref.component_sectors) {
        return Result<MemberSet>(
            Err::corrupt, fmt::format("{}: the reshape's new data offset ({} sectors) leaves no room for {} sectors "
                                      "before the end of the data area ({} sectors)",
                                      members[idx].path, int64_t(mi.new_data_offset), ref.component_sectors, room));
      }
    }
    // A reshape that rewrites the data in place is overseen by mdadm with a backup file: cut
    // off (not stopped), the section it was moving may be whole only in that file.
    const bool in_place = ref.new_data_offset == ref.data_offset;
    if (in_place && !ref.clean) {
      warnings.push_back(fmt::format("{}: the reshape rewrites the data in place and the array was not stopped "
                                     "cleanly: the section it was moving at array sector {} may be whole only in "
                                     "mdadm's backup file (mdadm --assemble --backup-file restores it; umd reads "
                                     "the members as they are)",
                                     members[fresh].path, ref.reshape_position));
    }
    reshape = RecordedReshape{std::move(prev), ref.reshape_position, ref.reshape_backwards};
  }
  MemberSet set{ref, std::move(members), std::move(slot_member), std::move(warnings), std::move(geo),
                std::move(reshape), std::move(recovering)};
  return set;
}

}  // namespace umd::engine
