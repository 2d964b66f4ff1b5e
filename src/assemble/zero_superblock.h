// Erasing md superblocks: --zero-superblock, and create clearing what an old array left.
#pragma once

#include <string>

#include "io/member.h"
#include "util/status.h"

namespace umd::engine {

// Zeroes the 4 KiB at every superblock location (superblock_locations) other than
// sector `keep` that holds the md magic, in either byte order, valid or not, as mdadm
// does. Returns how many it zeroed. Does not flush.
Result<int> erase_superblocks(io::Member& dev, uint64_t keep = ~uint64_t{0});

// --zero-superblock on PATH: erase every md superblock and flush. Err::not_found when
// there is none.
Status zero_superblock(const std::string& path);

}  // namespace umd::engine
