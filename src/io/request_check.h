// Shared argument checks and error text for Member implementations, so every member
// rejects the same requests with the same words. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "io/member.h"
#include "util/status.h"

namespace umd::io {

const char* op_name(IoOp op);  // "read", "write", "flush", "discard"

// "d0.img: read at offset 4096 (4096 bytes)"; for flush just "d0.img: flush".
std::string describe_io(const std::string& name, IoOp op, uint64_t offset, uint64_t length);

// Validates a request against a member's geometry without performing it:
// - write/discard on a read-only member: Err::invalid
// - offset or length not a multiple of block_size: Err::invalid
// - [offset, offset+length) not inside [0, size) (overflow-safe): Err::no_space
// Zero-length requests inside the member are ok. Flush always passes.
Status check_request(const std::string& name, uint64_t size, uint32_t block_size, bool read_only,
                     IoOp op, uint64_t offset, uint64_t length);
inline Status check_request(const Member& m, IoOp op, uint64_t offset, uint64_t length) {
  return check_request(m.name(), m.size(), m.block_size(), m.read_only(), op, offset, length);
}

}  // namespace umd::io
