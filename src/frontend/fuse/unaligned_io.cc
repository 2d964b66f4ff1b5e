#include "frontend/fuse/unaligned_io.h"

#include <algorithm>
#include <cstring>

#include "util/aligned_buffer.h"

namespace umd::fusefs {

Result<size_t> read_at(engine::BlockTarget& t, uint64_t offset, std::span<uint8_t> buf) {
  const uint64_t size = t.size_bytes();
  if (offset >= size || buf.empty()) return size_t(0);
  const uint64_t len = std::min<uint64_t>(buf.size(), size - offset);
  const uint64_t bs = t.block_size();
  const uint64_t a0 = offset / bs * bs;
  const uint64_t a1 = (offset + len + bs - 1) / bs * bs;
  AlignedBuffer bounce(a1 - a0);
  UMD_TRY(submit_and_wait(t, engine::BlockOp::read, a0, a1 - a0, bounce.data()));
  std::memcpy(buf.data(), bounce.data() + (offset - a0), len);
  return size_t(len);
}

Result<size_t> write_at(engine::BlockTarget& t, uint64_t offset, std::span<const uint8_t> buf) {
  const uint64_t size = t.size_bytes();
  if (buf.empty()) return size_t(0);
  if (offset >= size) return Result<size_t>(Err::no_space, "write past the end of the array");
  const uint64_t len = std::min<uint64_t>(buf.size(), size - offset);
  const uint64_t bs = t.block_size();
  const uint64_t a0 = offset / bs * bs;
  const uint64_t a1 = (offset + len + bs - 1) / bs * bs;
  AlignedBuffer bounce(a1 - a0);
  if (offset != a0) UMD_TRY(submit_and_wait(t, engine::BlockOp::read, a0, bs, bounce.data()));
  const uint64_t end = offset + len;
  if (end != a1 && (a1 - bs != a0 || offset == a0)) {
    UMD_TRY(submit_and_wait(t, engine::BlockOp::read, a1 - bs, bs, bounce.data() + (a1 - bs - a0)));
  }
  std::memcpy(bounce.data() + (offset - a0), buf.data(), len);
  UMD_TRY(submit_and_wait(t, engine::BlockOp::write, a0, a1 - a0, bounce.data()));
  return size_t(len);
}

}  // namespace umd::fusefs
