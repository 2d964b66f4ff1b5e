// BlockTarget: what a frontend (the NBD server, FUSE) serves — a running array, or in
// tests a RAM disk. Frontends speak only this interface, so they never know which
// personality, members or bitmap stand behind it.
//
// Contract
// - Offsets and lengths are bytes, multiples of block_size() (the NBD server rejects
//   others with EINVAL before they get here).
// - submit() may be called from any thread, many requests in flight at once. Each
//   request's `done` runs exactly once, on an engine thread or inline, and nothing
//   touches the request after `done` returns (the caller may free it there).
// - A write is acknowledged when it has reached every member that should hold it;
//   with fua it is also durable on them. A flush is acknowledged only when every
//   write acknowledged before the flush was submitted is durable on every member.
// - Errors: Err::retry asks the client to retry (NBD's EAGAIN), Err::unsupported is
//   "not supported" (EOPNOTSUPP), Err::invalid / Err::no_space a bad request, anything
//   else an I/O error (EIO).
#pragma once

#include <cstdint>
#include <functional>

#include "util/status.h"

namespace umd::engine {

enum class BlockOp : uint8_t { read, write, flush, trim, write_zeroes };

struct BlockRequest {
  BlockOp op = BlockOp::read;
  bool fua = false;
  uint64_t offset = 0;
  uint64_t length = 0;
  uint8_t* buf = nullptr;  // read: filled; write: source; others: unused
  std::function<void(Status)> done;
};

class BlockTarget {
 public:
  virtual ~BlockTarget() = default;
  virtual uint64_t size_bytes() const = 0;
  virtual uint32_t block_size() const = 0;  // smallest I/O unit: 512 or 4096
  virtual uint32_t preferred_block_size() const { return 4096; }
  virtual bool read_only() const = 0;
  virtual bool supports_trim() const { return true; }
  virtual void submit(BlockRequest& req) = 0;
};

}  // namespace umd::engine
