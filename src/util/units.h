// Sizes as people write them (mdadm's conventions): "64K", "1M", "512", "2G".
#pragma once

#include <cstdint>
#include <string>

#include "util/status.h"

namespace umd {

// Parse a size in bytes; a bare number means KiB, as in mdadm's --chunk and --size.
Result<uint64_t> parse_size_kib_default(const std::string& text);
// Parse a size in bytes; a bare number means bytes.
Result<uint64_t> parse_size_bytes(const std::string& text);
// "64.00 MiB 67.11 MB": a size in 512-byte sectors for umd's own messages.
std::string human_size_sectors(uint64_t sectors);
// mdadm's human_size() for its reports (--examine, --detail): " (64.00 MiB 67.11 MB)",
// with the leading space and parentheses; MiB/MB below 2 GiB, GiB/GB below 2 TiB, then
// TiB/TB, each rounded to the nearest hundredth; "" below 5000 KiB.
std::string mdadm_human_size(uint64_t sectors);

}  // namespace umd
