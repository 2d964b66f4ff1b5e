// What `umd --examine` says about one member, as text close to mdadm's and as JSON.
#pragma once

#include <cstdint>
#include <functional>
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

// The name of the block device MAJOR:MINOR, as a 0.90 member's disk table prints it after
// each row ("" prints none).
using DeviceNamer = std::function<std::string(uint32_t major, uint32_t minor)>;

// As mdadm finds it: the shortest path under /dev of a block device with that number (one
// under /dev/md/ first); "" for 0:0 or none. /dev is read once per process.
std::string device_name_in_dev(uint32_t major, uint32_t minor);

nlohmann::json examine_json(const engine::ProbedMember& m);
// homehost: the name mdadm would call this host's; a 1.x array named "HOMEHOST:..." is
// shown "(local to host HOMEHOST)" as mdadm shows it, and so is a 0.90 array whose UUID
// ends in the first 8 bytes of the SHA-1 of HOMEHOST. Empty: never.
// A 0.90 member prints mdadm's examine_super0 text, its disk table naming the devices with
// dev_name (none given: device_name_in_dev).
std::string examine_text(const engine::ProbedMember& m, const std::string& homehost = "",
                         const DeviceNamer& dev_name = {});

}  // namespace umd::cli
