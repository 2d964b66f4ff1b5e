// MemoryMember: a RAM-backed member for unit tests of higher layers and for fuzzers. Same
// contract as every Member (block multiples, range checks, read-only, error text); flush is
// a no-op that always succeeds (RAM is "durable" -- put a FaultyMember in front to model
// volatile caches and power cuts); discard zero-fills; submit() completes inline.
//
// Thread safety: read/write/flush/discard/submit may be called from any number of threads
// at once (a shared_mutex: reads run in parallel, each write is atomic with respect to
// other operations). raw() and set_read_only() are unsynchronised test hooks.
#pragma once

#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <span>
#include <string>
#include <vector>

#include "io/member.h"

namespace umd::io {

class MemoryMember final : public Member {
 public:
  // `size` is rounded down to a multiple of `block_size` (which must be a power of two >= 1).
  MemoryMember(std::string name, uint64_t size, uint32_t block_size = 512, bool read_only = false);

  const std::string& name() const override { return name_; }
  uint64_t size() const override { return data_.size(); }
  uint32_t block_size() const override { return block_size_; }
  bool read_only() const override { return read_only_; }

  Status read(uint64_t offset, std::span<uint8_t> buf) override;
  Status write(uint64_t offset, std::span<const uint8_t> buf, bool fua = false) override;
  Status flush() override;
  Status discard(uint64_t offset, uint64_t length) override;

  // The backing bytes, for tests to seed or inspect. Not synchronised with I/O.
  std::span<uint8_t> raw() { return data_; }
  void set_read_only(bool ro) { read_only_ = ro; }

 private:
  std::string name_;
  uint32_t block_size_;
  bool read_only_;
  mutable std::shared_mutex mu_;
  std::vector<uint8_t> data_;
};

std::unique_ptr<MemoryMember> make_memory_member(std::string name, uint64_t size,
                                                 uint32_t block_size = 512);

}  // namespace umd::io
