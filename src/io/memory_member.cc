#include "io/memory_member.h"

#include <cstring>
#include <mutex>

#include "io/request_check.h"

namespace umd::io {

MemoryMember::MemoryMember(std::string name, uint64_t size, uint32_t block_size, bool read_only)
    : name_(std::move(name)),
      block_size_(block_size == 0 ? 512 : block_size),
      read_only_(read_only),
      data_(size / block_size_ * block_size_, 0) {}

Status MemoryMember::read(uint64_t offset, std::span<uint8_t> buf) {
  UMD_TRY(check_request(*this, IoOp::read, offset, buf.size()));
  if (buf.empty()) return Status::ok();
  std::shared_lock lk(mu_);
  std::memcpy(buf.data(), data_.data() + offset, buf.size());
  return Status::ok();
}

Status MemoryMember::write(uint64_t offset, std::span<const uint8_t> buf, bool /*fua*/) {
  UMD_TRY(check_request(*this, IoOp::write, offset, buf.size()));
  if (buf.empty()) return Status::ok();
  std::unique_lock lk(mu_);
  std::memcpy(data_.data() + offset, buf.data(), buf.size());
  return Status::ok();
}

Status MemoryMember::flush() { return Status::ok(); }

Status MemoryMember::discard(uint64_t offset, uint64_t length) {
  UMD_TRY(check_request(*this, IoOp::discard, offset, length));
  if (length == 0) return Status::ok();
  std::unique_lock lk(mu_);
  std::memset(data_.data() + offset, 0, length);
  return Status::ok();
}

std::unique_ptr<MemoryMember> make_memory_member(std::string name, uint64_t size,
                                                 uint32_t block_size) {
  return std::make_unique<MemoryMember>(std::move(name), size, block_size);
}

}  // namespace umd::io
