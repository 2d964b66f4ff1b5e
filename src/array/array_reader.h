// An array assembled read-only from member paths: probe, gather, personality. What
// --dump (and later recovery tools) read through.
//
// An array whose superblocks record a reshape (stopped, or cut off by a crash: a NAS
// that died while growing) is read through both geometries, as the kernel would route
// it: a personality for each, the previous one over the members at data_offset and the
// new one at new_data_offset, and layout::GeometryView to say which holds a sector.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "assemble/member_set.h"
#include "layout/geometry_view.h"
#include "personality/personality.h"

namespace umd::engine {

struct ArrayReader {
  MemberSet set;
  std::unique_ptr<Personality> personality;  // the (new) geometry
  std::unique_ptr<Personality> previous;     // the geometry a recorded reshape leaves, or null
  std::optional<layout::GeometryView> view;  // which geometry holds a sector

  // What clients of the array see: md's size during a reshape is the smaller of the two
  // geometries' (raid5_size and raid10_size count the fewer data disks).
  uint64_t array_sectors() const { return view->array_sectors(); }
  // Reads array sectors [sector, sector + sectors), each from the geometry holding it.
  Status read(uint64_t sector, uint64_t sectors, uint8_t* out);
};

Result<ArrayReader> open_array_read_only(const std::vector<std::string>& paths, const GatherOptions& opts);
// The same from members already probed (recovery/scan.h found them).
Result<ArrayReader> open_array_read_only(std::vector<ProbedMember> probed, const GatherOptions& opts);

}  // namespace umd::engine
