#include "recovery/build.h"

#include <fmt/format.h>

#include <algorithm>

#include "assemble/member_set.h"
#include "io/member_spec.h"
#include "layout/layout_names.h"

namespace umd::recovery {

Result<BuiltArray> build_array(const BuildSpec& spec) {
  UMD_ASSIGN_OR_RETURN(const int level, layout::parse_level(spec.level));
  if (spec.raid_devices == 0) return Result<BuiltArray>(Err::invalid, "--build needs --raid-devices");
  if (spec.members.size() != spec.raid_devices) {
    return Result<BuiltArray>(Err::invalid, fmt::format("--raid-devices={}, but {} member{} given (use 'missing' for an absent one)",
                                                        spec.raid_devices, spec.members.size(),
                                                        spec.members.size() == 1 ? "" : "s"));
  }
  if (spec.data_offset_bytes % 512 != 0) {
    return Result<BuiltArray>(Err::invalid, fmt::format("--data-offset {} is not a whole number of sectors", spec.data_offset_bytes));
  }
  layout::GeometryParams p;
  p.level = level;
  p.raid_disks = spec.raid_devices;
  if (spec.layout) {
    auto l = layout::parse_layout(level, *spec.layout);
    if (!l.is_ok()) return l.status().with_context("--layout");
    p.layout = *l;
  } else {
    p.layout = layout::default_layout(level);
  }
  const bool striped = level != layout::kLevelLinear && level != layout::kLevelRaid1;
  const uint64_t chunk = spec.chunk_bytes.value_or(striped ? 512 * 1024 : 0);
  if (striped && (chunk < 4096 || (chunk & (chunk - 1)) != 0)) {
    return Result<BuiltArray>(Err::invalid, fmt::format("--chunk {} must be a power of two of at least 4 KiB", chunk));
  }
  p.chunk_sectors = uint32_t(chunk / 512);
  const uint64_t off_sectors = spec.data_offset_bytes / 512;
  BuiltArray out;
  std::vector<uint64_t> sizes;
  for (const std::string& m : spec.members) {
    if (m == "missing") {
      out.devs.push_back(nullptr);
      continue;
    }
    io::OpenOptions oo;
    oo.read_only = true;
    oo.direct = false;
    oo.overlay_dir = spec.overlay_dir;
    UMD_ASSIGN_OR_RETURN(auto dev, io::open_member(m, oo));
    const uint64_t sectors = dev->size() / 512;
    if (sectors <= off_sectors) {
      return Result<BuiltArray>(Err::no_space, fmt::format("{}: {} sectors, not more than --data-offset ({} sectors)", m,
                                                           sectors, off_sectors));
    }
    sizes.push_back(sectors - off_sectors);
    out.devs.push_back(std::move(dev));
  }
  if (sizes.empty()) return Result<BuiltArray>(Err::invalid, "--build: every member is 'missing'");
  const uint64_t smallest = *std::min_element(sizes.begin(), sizes.end());
  const bool per_member = level == layout::kLevelLinear || level == layout::kLevelRaid0;
  std::vector<uint32_t> missing;
  size_t k = 0;
  for (uint32_t s = 0; s < spec.raid_devices; s++) {
    if (!out.devs[s]) {
      missing.push_back(s);
      if (per_member) p.member_sectors.push_back(smallest);
      continue;
    }
    if (per_member) p.member_sectors.push_back(sizes[k]);
    k++;
  }
  if (!per_member) p.member_sectors.push_back(smallest);
  if (spec.size_bytes) {
    const uint64_t want = *spec.size_bytes / 512;
    for (uint64_t& s : p.member_sectors) {
      if (want > s) {
        return Result<BuiltArray>(Err::no_space, fmt::format("--size {} sectors: a member holds only {} after --data-offset",
                                                             want, s));
      }
      s = want;
    }
  }
  // md rounds the per-member size down to whole chunks for striped levels.
  if (p.chunk_sectors) {
    for (uint64_t& s : p.member_sectors) s = s / p.chunk_sectors * p.chunk_sectors;
  }
  UMD_ASSIGN_OR_RETURN(auto geo, layout::make_geometry(p));
  if (!missing.empty() && !geo.survives(missing)) {
    return Result<BuiltArray>(Err::invalid, fmt::format("cannot read {} array: {} of {} members missing; {} survives {}",
                                                        layout::level_name(level), missing.size(), spec.raid_devices,
                                                        layout::level_name(level), geo.max_missing()));
  }
  std::vector<engine::Slot> slots(spec.raid_devices);
  for (uint32_t s = 0; s < spec.raid_devices; s++) {
    if (out.devs[s]) slots[s] = engine::Slot{out.devs[s].get(), off_sectors};
  }
  UMD_ASSIGN_OR_RETURN(out.personality, engine::make_personality(geo, std::move(slots)));
  return out;
}

}  // namespace umd::recovery
