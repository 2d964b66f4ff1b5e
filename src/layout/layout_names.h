// mdadm's level and layout names, so umd's CLI and superblock dumps speak the same words
// as mdadm. The one place where level names and numbers meet.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/status.h"

namespace umd::layout {

// mdadm's level names: "linear", "raid0", ..., "raid10" (md's other personalities:
// "multipath", "faulty"; anything else "raid<n>").
[[nodiscard]] std::string level_name(int level);

// --level as mdadm reads it: a number, "raidN", "linear", "stripe", "mirror".
[[nodiscard]] Result<int> parse_level(std::string_view text);

// mdadm's spelling of a layout word: "left-symmetric", "ddf-N-restart", "parity-first-6",
// "original", "n2", "f3", "o2". raid10 words mdadm's --layout cannot express come out as
// "near=2,far=2" (plus ",offset" and ",far-sets=N"), which parse_layout also reads.
// Unknown words read "unknown-<n>"; linear and raid1 have no layout and give "".
[[nodiscard]] std::string layout_name(int level, uint32_t layout);

// Accepts every name mdadm 4.2 accepts for the level (including "default", "la"/"ra"/
// "ls"/"rs", raid0 "1"/"2"/"dangerous"), plus decimal numbers for raid4/5/6.
[[nodiscard]] Result<uint32_t> parse_layout(int level, std::string_view name);

// What mdadm 4.2 writes when --layout is not given.
[[nodiscard]] uint32_t default_layout(int level);

}  // namespace umd::layout
