// MEMBER specs: what a command line names as a member, opened through one function.
//
//   PATH        a regular file or block device, whole
//   PATH:pN     partition N of PATH, as Linux numbers partitions (MBR 1-4 primary, 5+
//               logical; GPT 1-128), found from PATH's partition table
//               (format/partition_table.h) without root or loop devices
//
// A PATH that itself ends in ":pN" and exists as a file is that file (a literal name
// wins when the shorter PATH does not exist). A partition opens as the file restricted
// to the partition's bytes (FileMember::restrict_to), named "PATH:pN" in every message;
// `exclusive` locks just those bytes. An extended (container) partition is refused.
// With OpenOptions::overlay_dir the member (whole or partition) is opened read-only and
// wrapped in an OverlayMember (overlay_member.h): writes go to DIR, never to PATH.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "format/partition_table.h"
#include "io/member.h"
#include "util/status.h"

namespace umd::io {

struct MemberSpec {
  std::string path;        // the file or device
  uint32_t partition = 0;  // 0: the whole of path
  std::string text() const;  // "d0.img" or "d0.img:p5"
};

// Parses a spec (never touches the file system but to prefer a literal name, above).
// Err::invalid for "PATH:p0" or a partition number beyond kMaxPartitions.
Result<MemberSpec> parse_member_spec(const std::string& spec);

// Opens a member by spec. Errors name the spec: "d0.img:p9: no partition 9 (the MBR
// holds 1, 2, 5)", "d0.img:p5: partition table: the EBR chain loops back to sector 2048".
Result<std::unique_ptr<Member>> open_member(const std::string& spec, const OpenOptions& opts);

// The partition table of an open (whole) member; errors prefixed with its name.
Result<PartitionTable> read_partition_table(Member& whole);

// The specs of PATH's data partitions (containers left out), "PATH:pN" in number order;
// empty when PATH has no partition table. Errors as read_partition_table's.
Result<std::vector<std::string>> partition_specs(const std::string& path);

}  // namespace umd::io
