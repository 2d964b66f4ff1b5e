// --zero-superblock: erase every md superblock (any version) found on a member.
#pragma once

#include <string>

#include "util/status.h"

namespace umd::engine {

// Zeroes each candidate superblock location that holds the md magic, valid or not.
// Err::not_found when none does.
Status zero_superblock(const std::string& path, bool force);

}  // namespace umd::engine
