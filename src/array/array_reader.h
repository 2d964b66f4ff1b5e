// An array assembled read-only from member paths: probe, gather, personality. What
// --dump (and later recovery tools) read through.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "assemble/member_set.h"
#include "personality/personality.h"

namespace umd::engine {

struct ArrayReader {
  MemberSet set;
  std::unique_ptr<Personality> personality;
};

Result<ArrayReader> open_array_read_only(const std::vector<std::string>& paths, const GatherOptions& opts);
// The same from members already probed (recovery/scan.h found them).
Result<ArrayReader> open_array_read_only(std::vector<ProbedMember> probed, const GatherOptions& opts);

}  // namespace umd::engine
