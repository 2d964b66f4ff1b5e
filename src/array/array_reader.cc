#include "array/array_reader.h"

namespace umd::engine {

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
  std::vector<Slot> slots(set.ref.raid_disks);
  for (size_t s = 0; s < slots.size(); s++) {
    if (set.slot_member[s] < 0) continue;
    ProbedMember& m = set.members[set.slot_member[s]];
    slots[s] = Slot{m.dev.get(), m.info.data_offset};
  }
  UMD_ASSIGN_OR_RETURN(auto personality, make_personality(set.geometry, std::move(slots)));
  return ArrayReader{std::move(set), std::move(personality)};
}

}  // namespace umd::engine
