// What `umd --examine` says about one member, as text close to mdadm's and as JSON.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

#include "assemble/superblock_probe.h"

namespace umd::cli {

// The room a 1.x member has around its data, in sectors, as mdadm's --examine prints it
// ("Unused Space"): none for 0.90, for a member whose data offset is moving (a reshape
// with a new offset), and when both are 0.
struct UnusedSpace {
  uint64_t before = 0;
  uint64_t after = 0;  // from 2^63 up: the device ends that many sectors short of the data
  bool truncated() const { return after > uint64_t(INT64_MAX); }
};
std::optional<UnusedSpace> unused_space(const engine::ProbedMember& m);

nlohmann::json examine_json(const engine::ProbedMember& m);
// homehost: the name mdadm would call this host's; a 1.x array named "HOMEHOST:..." is
// shown "(local to host HOMEHOST)" as mdadm shows it. Empty: never.
std::string examine_text(const engine::ProbedMember& m, const std::string& homehost = "");

}  // namespace umd::cli
