#include "io/request_check.h"

namespace umd::io {

const char* op_name(IoOp op) {
  switch (op) {
    case IoOp::read: return "read";
    case IoOp::write: return "write";
    case IoOp::flush: return "flush";
    case IoOp::discard: return "discard";
  }
  return "?";
}

std::string describe_io(const std::string& name, IoOp op, uint64_t offset, uint64_t length) {
  if (op == IoOp::flush) return name + ": flush";
  return name + ": " + op_name(op) + " at offset " + std::to_string(offset) + " (" +
         std::to_string(length) + " bytes)";
}

Status check_request(const std::string& name, uint64_t size, uint32_t block_size, bool read_only,
                     IoOp op, uint64_t offset, uint64_t length) {
  if (op == IoOp::flush) return Status::ok();
  if (read_only && op != IoOp::read) {
    return Status(Err::invalid, describe_io(name, op, offset, length) + ": member is read-only");
  }
  if (block_size != 0 && (offset % block_size != 0 || length % block_size != 0)) {
    return Status(Err::invalid, describe_io(name, op, offset, length) +
                                    ": not a multiple of the block size " +
                                    std::to_string(block_size));
  }
  if (offset > size || length > size - offset) {
    return Status(Err::no_space, describe_io(name, op, offset, length) +
                                     ": beyond the end of the member (" + std::to_string(size) +
                                     " bytes)");
  }
  return Status::ok();
}

}  // namespace umd::io
