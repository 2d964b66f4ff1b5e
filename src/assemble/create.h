// Creating an array: superblocks on every member, placed where mdadm 4.2 would place
// them, so that the kernel assembles the result as its own. Nothing is written until
// every member has been checked, so a refused create leaves every member as it was.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "util/status.h"

namespace umd::engine {

struct CreateSpec {
  std::string array_name;              // stored as "<host>:<name>" like mdadm
  std::string level;                   // "5", "raid5", "linear", "mirror", ...
  unsigned raid_devices = 0;
  unsigned spare_devices = 0;
  std::optional<uint64_t> chunk_bytes;
  std::optional<std::string> layout;
  std::string metadata = "1.2";
  std::optional<uint64_t> size_bytes;  // --size: space used on each member
  // none | internal | lockless | a file path (absolute, or containing '/')
  std::string bitmap = "none";
  std::optional<uint64_t> bitmap_chunk_bytes;  // --bitmap-chunk (classic bitmaps)
  bool assume_clean = false;
  bool force = false;                  // overwrite members that carry a superblock
  std::vector<std::string> members;    // "missing" stands for an absent member
};

struct CreateReport {
  std::string array_uuid;
  uint64_t array_sectors = 0;
  uint64_t component_sectors = 0;
  bool resync_pending = false;
  std::vector<std::string> notes;
};

// Err::invalid for a request that makes no sense (naming the option or member),
// Err::no_space for a member too small, Err::busy for a member of another array
// without force, Err::unsupported for what umd cannot create yet.
Result<CreateReport> create_array(const CreateSpec& spec);

// This host's name, as mdadm takes its homehost when mdadm.conf names none: the prefix
// of the array names it creates ("HOST:NAME"). "(none)" when the host has no name.
std::string local_host_name();


}  // namespace umd::engine
