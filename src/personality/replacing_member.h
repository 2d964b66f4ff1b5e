// ReplacingMember: the member in a slot while `umd --manage --replace` copies it onto its
// replacement (md's "want_replacement"). It stands in the slot for both:
//  - reads go to the old member (it still holds every block);
//  - writes, discards and flushes go to both; the request completes when both have, with
//    the old member's result. A failure of the new one is remembered (new_failed()) and
//    ends the replacement, never the client's request;
//  - copy() moves a range from old to new for the sync thread, which holds the array's
//    sync barrier over it, so no client write can slip between its read and its write.
//    Where the old member cannot read, the sync thread rebuilds the range from the other
//    members and puts it on the new one with write_new(), under the same barrier.
// Offsets are the old member's; the new one's data may start elsewhere (`delta` bytes).
#pragma once

#include <atomic>
#include <memory>

#include "io/member.h"

namespace umd::engine {

class ReplacingMember final : public io::Member {
 public:
  ReplacingMember(io::Member* old_dev, io::Member* new_dev, int64_t delta)
      : old_(old_dev), new_(new_dev), delta_(delta) {}

  const std::string& name() const override { return old_->name(); }
  uint64_t size() const override { return old_->size(); }
  uint32_t block_size() const override { return std::max(old_->block_size(), new_->block_size()); }
  bool read_only() const override { return old_->read_only(); }

  Status read(uint64_t offset, std::span<uint8_t> buf) override { return old_->read(offset, buf); }
  Status write(uint64_t offset, std::span<const uint8_t> buf, bool fua) override;
  Status flush() override;
  Status discard(uint64_t offset, uint64_t length) override;
  void submit(io::IoRequest& req) override;

  // Copies [offset, offset + buf.size()) from old to new through buf.
  Status copy(uint64_t offset, std::span<uint8_t> buf);
  // Writes buf to the new member only, at the old member's offset (what copy() could not
  // read, rebuilt from the other members).
  Status write_new(uint64_t offset, std::span<const uint8_t> buf);
  bool new_failed() const { return new_failed_.load(std::memory_order_acquire); }
  // Member sectors (of the data area) already copied; the sync thread moves it.
  uint64_t valid_below() const { return valid_below_.load(std::memory_order_acquire); }
  void set_valid_below(uint64_t s) { valid_below_.store(s, std::memory_order_release); }
  io::Member* old_member() const { return old_; }
  io::Member* new_member() const { return new_; }

 private:
  void note_new(const Status& s) {
    if (!s.is_ok()) new_failed_.store(true, std::memory_order_release);
  }
  io::Member* old_;
  io::Member* new_;
  int64_t delta_;
  std::atomic<bool> new_failed_{false};
  std::atomic<uint64_t> valid_below_{0};
};

}  // namespace umd::engine
