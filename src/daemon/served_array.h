// ServedArray: what the daemon holds — a running array behind the BlockTarget that the
// NBD servers serve. The daemon speaks only this interface, so its tests can hold a RAM
// disk and the daemon does not care how the array engine is built.
//
// The detail is the JSON the control protocol's "detail" op returns under "array" and
// `umd --detail/--status` print:
//   {"name","uuid","version","level":5,"raid_level":"raid5","layout":"left-symmetric",
//    "layout_number":2,"chunk_kib":64,"raid_disks":3,"array_sectors","component_sectors",
//    "state":"clean","degraded":false,"failed":0,"events":17,"read_only":false,
//    "sync_action":"recover","sync_pos":14592,"sync_end":65024,"sync_speed_kibs":40960,
//    "mismatch_cnt":0,"resync_offset":null,
//    "members":[{"path","name","slot","state","events","major","minor","recovery_offset"}]}
// major/minor are the member's device numbers when it is a block device, else 0.
// The sync fields are engine::ArrayDetail's (array/array.h): sync_pos/sync_end in the
// action's sectors, 0/0 when idle. resync_offset and recovery_offset are sectors, null for
// md's "none" (in sync). A member's state is mdadm's word: "active sync", "spare
// rebuilding", "faulty", "spare", "replacement", "removed" (left out at assembly).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "block/block_target.h"
#include "util/status.h"

namespace umd::daemon {

struct ServeArrayOptions {
  std::string bitmap_file;  // --bitmap=FILE: the write-intent bitmap kept in a file
  bool read_only = false;
  bool freeze_reshape = false;  // --freeze-reshape: a recorded reshape stays where it stopped
  bool force = false;  // leave stale members out instead of refusing
  bool run = false;    // start even when degraded
  std::string overlay_dir;  // --overlay DIR: member writes go to copy-on-write files there
  // --backup-file: an in-place reshape is restored from it, then overseen with it
  std::string backup_file;
};

class ServedArray {
 public:
  virtual ~ServedArray() = default;
  virtual engine::BlockTarget& target() = 0;
  // Drains in-flight requests, flushes members, writes clean superblocks. Idempotent.
  virtual Status stop() = 0;
  // Thread-safe; may run while I/O is in flight.
  virtual nlohmann::json detail() const = 0;
  // Said at assembly: stale members left out, ... One line each.
  virtual std::vector<std::string> warnings() const = 0;
  // Control plane (control ops "attr", "manage", "action"): md's attributes and mdadm
  // --manage, as engine::Array offers them (array/array.h). Arrays without them refuse.
  virtual std::vector<std::string> attr_names() const { return {}; }
  virtual Result<std::string> attr(const std::string& name) const {
    return Result<std::string>(Err::unsupported, "no attribute " + name);
  }
  virtual Status set_attr(const std::string& name, const std::string& value) {
    (void)value;
    return Status(Err::unsupported, "no attribute " + name);
  }
  // op: "fail", "remove", "add", "re-add", "replace" (with: the new member, may be empty).
  virtual Status manage(const std::string& op, const std::string& member, const std::string& with) {
    (void)member;
    (void)with;
    return Status(Err::unsupported, "--" + op + " is not supported by this array");
  }
  // mdadm --grow --bitmap=none|internal|FILE on the running array (control op "grow").
  virtual Status set_bitmap(const std::string& kind) {
    return Status(Err::unsupported, "--grow --bitmap=" + kind + " is not supported by this array");
  }
  // mdadm --grow --raid-devices/--chunk/--layout/--level (control op "grow" with
  // "raid_devices", "chunk_kib", "layout", "level" and "force", each optional): starts a
  // reshape, or changes the level in place.
  struct Shape {
    std::optional<unsigned> raid_devices;
    std::optional<uint64_t> chunk_kib;
    std::optional<std::string> layout;  // a name as mdadm takes it, for the (new) level; or "preserve"
    std::optional<std::string> level;   // as mdadm takes it: "5", "raid5", ...
    bool force = false;
    // --backup-file: reshape in place, overseen with this file (overseer/reshape_overseer.h)
    std::string backup_file;
  };
  virtual Status reshape(const Shape& shape) {
    (void)shape;
    return Status(Err::unsupported, "--grow: this array cannot be reshaped");
  }
  // mdadm --grow --size (component: true) or --array-size, in KiB; nullopt: max (control
  // op "grow" with "size_kib" / "array_size_kib").
  virtual Status resize(bool component, std::optional<uint64_t> kib) {
    (void)kib;
    return Status(Err::unsupported, component ? "--grow --size: this array cannot change size"
                                              : "--grow --array-size: this array cannot change size");
  }
  // TEST ONLY: the control op "fault" (control_protocol.h). member: a member's path or
  // slot number; action: "vanish", "reappear", "fail-writes", "fail-reads", "clear" or
  // "power-cut" (ends the process). Arrays not assembled with UMD_TEST_FAULTS=1 or =cache
  // refuse: "fault injection is off".
  virtual Status inject_fault(const nlohmann::json& member, const std::string& action) {
    (void)member;
    (void)action;
    return Status(Err::unsupported, "fault injection is off");
  }
};

// Assembles NAME from member paths with the array engine. With UMD_TEST_FAULTS=1 in the
// environment each member is opened behind an io::FaultyMember (write cache off, so
// durability is unchanged) and inject_fault() works; with =cache the write cache is on
// (fault_hooks.h), for power cuts.
Result<std::unique_ptr<ServedArray>> assemble_served_array(const std::string& name,
                                                           const std::vector<std::string>& paths,
                                                           const ServeArrayOptions& opts);

// Major and minor of a block device at path; {0, 0} for anything else.
std::pair<unsigned, unsigned> device_numbers(const std::string& path);

}  // namespace umd::daemon
