// --build: an array without superblocks (wiped, or never had any), put together from what
// the user says it was: level, member count, chunk, layout and where the data starts on
// each member. mdadm's --build does linear/raid0/1/10; umd reads every level and layout
// it knows (layout/), read-only.
//
// Members are given in slot order; `missing` leaves a slot empty (the level must survive
// it). linear and raid0 use each member's own size (minus the data offset), the other
// levels the smallest member's, as md does. Nothing is ever written to the members.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/member.h"
#include "layout/geometry.h"
#include "personality/personality.h"
#include "util/status.h"

namespace umd::recovery {

struct BuildSpec {
  std::string level;                  // as --level: linear, 0, 1, 4, 5, 6, 10, raidN
  uint32_t raid_devices = 0;
  std::optional<uint64_t> chunk_bytes;  // default 512 KiB (mdadm 4.2's), none for linear/raid1
  std::optional<std::string> layout;  // default: mdadm's default for the level
  uint64_t data_offset_bytes = 0;
  std::optional<uint64_t> size_bytes;  // --size: space used on each member (default: all of it)
  std::vector<std::string> members;   // MEMBER specs or "missing", in slot order
  std::string overlay_dir;            // read through overlays (io/overlay_member.h)
};

struct BuiltArray {
  std::vector<std::unique_ptr<io::Member>> devs;  // by slot; null for missing
  std::unique_ptr<engine::Personality> personality;
};

// Errors: usage-like problems as Err::invalid naming the option ("--raid-devices 4, but 3
// members given"); a member too small for the data offset names the member.
Result<BuiltArray> build_array(const BuildSpec& spec);

}  // namespace umd::recovery
