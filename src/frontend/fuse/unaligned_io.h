// Byte-granular, synchronous I/O on a BlockTarget, whose requests must be multiples of
// its block_size(): partial blocks at either end are read, patched and written back
// (read-modify-write), through a 4 KiB-aligned bounce buffer. Not atomic against other
// writers of the same blocks: the caller serialises its own (fuse_server.h).
#pragma once

#include <cstdint>
#include <span>

#include "block/block_target.h"
#include "block/block_wait.h"
#include "util/status.h"

namespace umd::fusefs {

using engine::submit_and_wait;  // one request, waited for

// Reads up to buf.size() bytes at offset; fewer at the end of the target (0 past it).
Result<size_t> read_at(engine::BlockTarget& t, uint64_t offset, std::span<uint8_t> buf);
// Writes buf at offset, cut short at the end of the target; Err::no_space when nothing
// fits.
Result<size_t> write_at(engine::BlockTarget& t, uint64_t offset, std::span<const uint8_t> buf);

}  // namespace umd::fusefs
