// umd --examine-bitmap (-X): mdadm -X for members and bitmap files.
#pragma once

#include <string>
#include <vector>

namespace umd::cli {

// Each PATH is an md member (its internal bitmap is found from its md superblock) or a
// bitmap file (a file that starts with a bitmap superblock). Prints mdadm -X's text, or
// with json one array of objects. Returns 0; 1 after one line on stderr naming the
// path and the problem (no bitmap, unreadable, corrupt); 2 without paths.
int cmd_examine_bitmap(const std::vector<std::string>& paths, bool json);

}  // namespace umd::cli
