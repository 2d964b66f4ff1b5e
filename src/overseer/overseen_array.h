// OverseenArray: what a userspace overseer sees of a running array, and all it may use:
// md's sysfs attributes by their names and units (array/array_attrs.cc), the array's
// bytes, and md's sysfs_notify. mdadm sees the kernel's md through the same three.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "util/status.h"

namespace umd::overseer {

class OverseenArray {
 public:
  virtual ~OverseenArray() = default;
  virtual Result<std::string> attr(const std::string& name) const = 0;
  virtual Status set_attr(const std::string& name, const std::string& value) = 0;
  // The array's sectors [sector, sector + sectors), as a client reads them (md's suspend
  // holds writes only, so these never wait on it).
  virtual Status read_sectors(uint64_t sector, uint64_t sectors, uint8_t* out) = 0;
  // md's sysfs_notify on sync_completed and sync_action (mdadm select()s on them): waits
  // until the count of such events is no longer `seen`, or the timeout; returns the count.
  virtual uint64_t wait_sync_event(uint64_t seen, std::chrono::milliseconds timeout) = 0;
};

}  // namespace umd::overseer
