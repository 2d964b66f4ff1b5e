#include "assemble/member_set.h"

#include "layout/layout_names.h"

#include "format/superblock1.h"

#include <fmt/format.h>

#include <algorithm>

#include "layout/level_limits.h"

namespace umd::engine {

namespace {
// How far behind the freshest a member may be and still count as current (see the header).
constexpr uint64_t kEventMargin = 1;
}  // namespace

std::vector<uint32_t> MemberSet::missing_slots() const {
  std::vector<uint32_t> out;
  for (size_t s = 0; s < slot_member.size(); s++) {
    if (slot_member[s] < 0) out.push_back(uint32_t(s));
  }
  return out;
}

layout::GeometryParams geometry_params(const MemberInfo& ref, const std::vector<const MemberInfo*>& by_slot) {
  layout::GeometryParams p;
  p.level = ref.level;
  p.layout = ref.layout;
  p.chunk_sectors = ref.chunk_sectors;
  p.raid_disks = ref.raid_disks;
  const bool per_member = ref.level == layout::kLevelLinear || ref.level == layout::kLevelRaid0;
  if (per_member) {
    // linear and raid0 use each member's own data size; a missing member's is unknown
    // (and nothing can be read without it anyway).
    for (const MemberInfo* m : by_slot) p.member_sectors.push_back(m ? m->data_size : ref.data_size);
  } else {
    p.member_sectors.push_back(ref.component_sectors);
  }
  return p;
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
  std::vector<int> slot_member(ref.raid_disks, -1);
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
    if (uint32_t(role) >= ref.raid_disks) {
      return Result<MemberSet>(Err::corrupt, fmt::format("{}: role {} is beyond raid_disks {}", members[i].path,
                                                         role, ref.raid_disks));
    }
    if (slot_member[role] >= 0) {
      return Result<MemberSet>(Err::invalid, fmt::format("{} and {} both claim slot {}",
                                                         members[slot_member[role]].path, members[i].path, role));
    }
    if (mi.recovery_offset_valid && mi.recovery_offset < ref.component_sectors) {
      warnings.push_back(fmt::format("{}: recovery was under way (recovery_offset {}); not read", members[i].path,
                                     mi.recovery_offset));
      recovering.push_back({uint32_t(role), i});
      continue;
    }
    slot_member[role] = int(i);
  }
  // 4. Geometry, and whether the level survives the missing slots.
  std::vector<const MemberInfo*> by_slot(ref.raid_disks, nullptr);
  for (uint32_t s = 0; s < ref.raid_disks; s++) {
    if (slot_member[s] >= 0) by_slot[s] = &members[slot_member[s]].info;
  }
  auto geo = layout::make_geometry(geometry_params(ref, by_slot));
  if (!geo.is_ok()) return geo.status().with_context(fmt::format("array of {}", first.path));
  MemberSet set{ref, std::move(members), std::move(slot_member), std::move(warnings), std::move(geo).value(),
                std::move(recovering)};
  auto missing = set.missing_slots();
  if (opts.require_complete_data && !missing.empty() && !set.geometry.survives(missing)) {
    std::string slots;
    for (uint32_t s : missing) slots += (slots.empty() ? "" : ", ") + std::to_string(s);
    return Result<MemberSet>(Err::invalid,
                             fmt::format("cannot read {} array: {} of {} members missing (slot{} {}); {} survives {}",
                                         layout::level_name(ref.level), missing.size(), ref.raid_disks,
                                         missing.size() > 1 ? "s" : "", slots, layout::level_name(ref.level),
                                         set.geometry.max_missing()));
  }
  return set;
}

}  // namespace umd::engine
