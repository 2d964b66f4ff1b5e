#include "array/array_reader.h"

#include <algorithm>
#include <climits>

#include "layout/geometry_view.h"
#include "personality/reshaping_personality.h"

namespace umd::engine {

Result<std::unique_ptr<Personality>> personality_for(MemberSet& set, PersonalityHost* host) {
  // The slots of one geometry, each member read from where that geometry puts its data.
  auto slots_of = [&set](uint32_t disks, bool next) {
    std::vector<Slot> slots(disks);
    for (uint32_t s = 0; s < disks; s++) {
      if (set.slot_member[s] < 0) continue;
      ProbedMember& m = set.members[set.slot_member[s]];
      slots[s] = Slot{m.dev.get(), next ? m.info.new_data_offset : m.info.data_offset};
    }
    return slots;
  };
  if (!set.reshape) return make_personality(set.geometry, slots_of(set.ref.raid_disks, false), host);
  const RecordedReshape& rs = *set.reshape;
  UMD_ASSIGN_OR_RETURN(auto next, make_personality(set.geometry, slots_of(set.ref.raid_disks, true), host));
  UMD_ASSIGN_OR_RETURN(auto prev, make_personality(rs.previous, slots_of(previous_raid_disks(set.ref), false), host));
  // How far the new data sits from the old (below it forwards, above it backwards) on every
  // member that holds old data: the room a moving reshape has (reshaping_personality.h).
  int64_t room = INT64_MAX;
  for (uint32_t s = 0; s < previous_raid_disks(set.ref) && s < set.slot_member.size(); s++) {
    if (set.slot_member[s] < 0) continue;
    const MemberInfo& mi = set.members[set.slot_member[s]].info;
    const int64_t moved = int64_t(mi.new_data_offset) - int64_t(mi.data_offset);
    room = std::min(room, rs.backwards ? moved : -moved);
  }
  if (room == INT64_MAX) room = 0;
  // A stopped reshape has no section in flight: position == safe.
  return std::unique_ptr<Personality>(std::make_unique<ReshapingPersonality>(
      std::move(prev), std::move(next),
      layout::GeometryView(rs.previous, set.geometry, rs.position, rs.position, rs.backwards), room));
}

Result<ArrayReader> open_array_read_only(const std::vector<std::string>& paths, const GatherOptions& opts) {
  std::vector<ProbedMember> probed;
  for (const std::string& p : paths) {
    UMD_ASSIGN_OR_RETURN(ProbedMember pm, open_and_probe(p, false));
    probed.push_back(std::move(pm));
  }
  return open_array_read_only(std::move(probed), opts);
}

Result<ArrayReader> open_array_read_only(std::vector<ProbedMember> probed, const GatherOptions& opts) {
  UMD_ASSIGN_OR_RETURN(MemberSet set, gather_members(std::move(probed), opts));
  UMD_ASSIGN_OR_RETURN(auto personality, personality_for(set, nullptr));
  return ArrayReader{std::move(set), std::move(personality)};
}

}  // namespace umd::engine
