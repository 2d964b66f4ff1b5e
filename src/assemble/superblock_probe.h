// Finding and decoding the md superblock on a member, wherever its version puts it:
// 1.2 at 4 KiB, 1.1 at 0, 1.0 at the end, 0.90 in the last 64 KiB-aligned 64 KiB.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <variant>

#include "format/member_info.h"
#include "format/superblock0.h"
#include "format/superblock1.h"
#include "io/member.h"
#include "util/status.h"

namespace umd::engine {

struct ProbedMember {
  std::string path;
  std::unique_ptr<io::Member> dev;
  uint64_t dev_sectors = 0;
  MemberInfo info;
  std::variant<Superblock1, Superblock0> sb;

  const Superblock1* sb1() const { return std::get_if<Superblock1>(&sb); }
  const Superblock0* sb0() const { return std::get_if<Superblock0>(&sb); }
  // "1.2", "1.0", "0.90" as mdadm prints the version.
  std::string version() const;
};

// Where md keeps a superblock on a member, in the order probing tries them.
struct SuperblockLocation {
  const char* version;  // "1.2", "1.1", "1.0", "0.90"
  int minor;            // 0, 1, 2 for 1.x; 90 for 0.90
  uint64_t sector;      // kMaxSector where the device is too small for this version
};
std::array<SuperblockLocation, 4> superblock_locations(uint64_t dev_sectors);

// Reads the candidate locations and decodes the superblock found there. Errors:
// Err::not_found when no location holds the md magic; Err::corrupt when one does but
// does not decode (the message says which check failed); Err::unsupported for a format
// umd does not read (a byte-swapped 0.90, unknown feature bits).
Result<ProbedMember> probe_member(std::unique_ptr<io::Member> dev);
// The same, but `dev` moves into the result only on success (else the caller keeps it).
Result<ProbedMember> probe_member_in_place(std::unique_ptr<io::Member>& dev);

// Opens PATH (read-only unless writable) and probes it. Errors name the path.
Result<ProbedMember> open_and_probe(const std::string& path, bool writable);

}  // namespace umd::engine
