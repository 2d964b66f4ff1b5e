// An array assembled read-only from member paths: probe, gather, personality. What
// --dump (and later recovery tools) read through.
//
// An array whose superblocks record a reshape (stopped, or cut off by a crash: a NAS
// that died while growing) is read through both geometries, as the kernel would route
// it: personality_for() gives a ReshapingPersonality (personality/reshaping_personality.h)
// over a personality for each, the previous one over the members at data_offset and the
// new one at new_data_offset. The running Array builds its personality the same way.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "assemble/member_set.h"
#include "personality/personality.h"

namespace umd::engine {

// The personality of a gathered set: its geometry's, or both geometries' of a recorded
// reshape (held where it stopped). host: as make_personality's (nullptr: read-only tools).
Result<std::unique_ptr<Personality>> personality_for(MemberSet& set, PersonalityHost* host);

struct ArrayReader {
  MemberSet set;
  std::unique_ptr<Personality> personality;

  // What clients of the array see: md's size during a reshape is the smaller of the two
  // geometries' (raid5_size and raid10_size count the fewer data disks).
  uint64_t array_sectors() const { return personality->array_sectors(); }
  Status read(uint64_t sector, uint64_t sectors, uint8_t* out) { return personality->read(sector, sectors, out); }
};

Result<ArrayReader> open_array_read_only(const std::vector<std::string>& paths, const GatherOptions& opts);
// The same from members already probed (recovery/scan.h found them).
Result<ArrayReader> open_array_read_only(std::vector<ProbedMember> probed, const GatherOptions& opts);

}  // namespace umd::engine
