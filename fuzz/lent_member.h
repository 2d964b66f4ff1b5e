// LentMember: a Member that forwards every call to one the harness keeps, so a target can
// hand the code under test a member it will own and destroy, while the bytes behind it
// stay allocated across inputs. A fuzz input then costs what it writes into the member,
// not the allocation and zeroing of a whole member (most of the run time before).
#pragma once

#include <string>

#include "io/member.h"

namespace umd::fuzz {

class LentMember final : public io::Member {
 public:
  explicit LentMember(io::Member& m) : m_(m) {}
  const std::string& name() const override { return m_.name(); }
  uint64_t size() const override { return m_.size(); }
  uint32_t block_size() const override { return m_.block_size(); }
  bool read_only() const override { return m_.read_only(); }
  Status read(uint64_t offset, std::span<uint8_t> buf) override { return m_.read(offset, buf); }
  Status write(uint64_t offset, std::span<const uint8_t> buf, bool fua) override {
    return m_.write(offset, buf, fua);
  }
  Status flush() override { return m_.flush(); }
  Status discard(uint64_t offset, uint64_t length) override { return m_.discard(offset, length); }
  void submit(io::IoRequest& req) override { m_.submit(req); }

 private:
  io::Member& m_;
};

}  // namespace umd::fuzz
