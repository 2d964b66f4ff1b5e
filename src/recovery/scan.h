// Finding arrays among many PATHs, as mdadm's scan family does: every PATH and every
// partition in it (PATH:pN) is probed read-only; what holds an md superblock is grouped
// by array UUID; one array's members can be picked by --uuid, --name or super-minor.
//
// Rules
// - A PATH given as PATH:pN is probed alone; a whole PATH is probed itself and then its
//   partitions (io/member_spec.h). Places with no superblock are skipped silently.
// - A partition table that does not decode is an error naming it, unless the whole PATH
//   holds a superblock: then the table-looking sector 0 belongs to the array's data (a
//   0.90/1.0 raid1 of whole boot disks) and its partitions are not searched.
// - A whole disk whose end-of-device superblock (0.90, 1.0) is its last partition's is
//   that partition's member only (the same device number, device UUID and events).
// - A superblock that does not decode is a warning naming it (mdadm skips them too); the
//   scan goes on.
// - Arrays come out in the order their first member was found; members in scan order.
//   (mdadm --examine --scan prints them the other way round: the last array found
//   first. The command line reverses; group_arrays keeps the natural order.)
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "assemble/superblock_probe.h"
#include "format/member_info.h"
#include "util/status.h"

namespace umd::recovery {

struct ScanOptions {
  bool search_partitions = true;  // false: probe each PATH exactly as given
  // Every PATH must hold a superblock (--dump MEMBER...): a PATH without one, or with one
  // that does not decode, is an error instead of being skipped.
  bool require_superblock = false;
  std::string overlay_dir;        // read through the overlays in DIR (overlay_member.h)
  bool writable = false;
};

struct ScanResult {
  std::vector<engine::ProbedMember> members;  // every superblock found, each member open
  std::vector<std::string> warnings;
};

// Errors name the PATH: it cannot be opened, or its partition table does not decode.
Result<ScanResult> scan(const std::vector<std::string>& paths, const ScanOptions& opts);

struct FoundArray {
  MemberInfo ref;               // the freshest member's view of the array
  std::vector<size_t> members;  // indices into ScanResult::members
};
std::vector<FoundArray> group_arrays(const ScanResult& s);

// What picks one array: --uuid (any punctuation), --name (the whole stored name, or the
// part after "host:"), a 0.90 super-minor. Empty fields match everything.
struct Selector {
  std::optional<std::string> uuid;  // 32 lowercase hex digits (format/mdadm_conf.h normalize_uuid)
  std::optional<std::string> name;
  std::optional<int> super_minor;
  bool empty() const { return !uuid && !name && !super_minor; }
  std::string text() const;  // "--uuid=..." / "--name=..." for messages
};
bool matches(const MemberInfo& m, const Selector& sel);

// The members of the one array `sel` picks, moved out of `s`. Err::not_found when none
// matches, Err::invalid when members of more than one array match (their UUIDs named).
Result<std::vector<engine::ProbedMember>> take_array(ScanResult&& s, const Selector& sel);

// The array's UUID as 32 lowercase hex digits, as a config's uuid= normalizes.
std::string uuid_hex(const MemberInfo& m);

}  // namespace umd::recovery
