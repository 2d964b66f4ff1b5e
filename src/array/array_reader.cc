#include "array/array_reader.h"

#include <fmt/format.h>

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
  // The slots of one geometry, each member read from where that geometry puts its data.
  auto slots_of = [&set](uint32_t disks, bool previous) {
    std::vector<Slot> slots(disks);
    for (size_t s = 0; s < slots.size(); s++) {
      if (set.slot_member[s] < 0) continue;
      ProbedMember& m = set.members[set.slot_member[s]];
      slots[s] = Slot{m.dev.get(), previous ? m.info.data_offset : m.info.new_data_offset};
    }
    return slots;
  };
  UMD_ASSIGN_OR_RETURN(auto personality, make_personality(set.geometry, slots_of(set.ref.raid_disks, false)));
  if (!set.reshape) {
    layout::GeometryView view(set.geometry);
    return ArrayReader{std::move(set), std::move(personality), nullptr, std::move(view)};
  }
  const RecordedReshape& rs = *set.reshape;
  UMD_ASSIGN_OR_RETURN(auto previous, make_personality(rs.previous, slots_of(previous_raid_disks(set.ref), true)));
  layout::GeometryView view(rs.previous, set.geometry, rs.position, rs.position, rs.backwards);
  return ArrayReader{std::move(set), std::move(personality), std::move(previous), std::move(view)};
}

Status ArrayReader::read(uint64_t sector, uint64_t sectors, uint8_t* out) {
  if (!previous) return personality->read(sector, sectors, out);
  if (sector > array_sectors() || sectors > array_sectors() - sector) {
    return Status(Err::invalid, fmt::format("read of sectors {}+{} is past the end ({})", sector, sectors,
                                            array_sectors()));
  }
  for (const layout::GeometryPiece& p : view->pieces(sector, sector + sectors)) {
    // A stopped reshape has no section in flight (position == safe): no piece waits.
    Personality& by = p.generation == view->generation() ? *previous : *personality;
    UMD_TRY(by.read(p.lo, p.hi - p.lo, out + (p.lo - sector) * 512));
  }
  return Status::ok();
}

}  // namespace umd::engine
