// Member: the one interface through which every read, write, flush and discard to an
// array member passes. Nothing in the engine opens a member any other way, so tests can
// put a FaultyMember (fault_member.h) in front of any real one.
//
// Contract
// - Offsets and lengths are bytes. Reads and writes must be multiples of block_size()
//   and, for direct members, buffers aligned to 4 KiB (AlignedBuffer).
// - write() returns when the data has reached the member; it is durable only after a
//   later flush() returns ok, or at once when fua is true.
// - flush() makes every write that completed before it was called durable.
// - discard() may be a no-op on members that cannot discard; it never fails for that.
// - submit() is the asynchronous form. Its completion runs exactly once, possibly on
//   another thread (the io_uring reaper), possibly inline. The default implementation
//   runs the synchronous call inline.
// - Thread safety: read/write/flush/discard may be called from several threads at once.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "util/status.h"

namespace umd::io {

enum class IoOp : uint8_t { read, write, flush, discard };

struct IoRequest {
  IoOp op = IoOp::read;
  bool fua = false;
  uint64_t offset = 0;
  uint64_t length = 0;
  uint8_t* buf = nullptr;  // read: filled; write: source (length bytes)
  std::function<void(Status)> done;
};

class Member {
 public:
  virtual ~Member() = default;

  virtual const std::string& name() const = 0;
  virtual uint64_t size() const = 0;        // bytes
  virtual uint32_t block_size() const = 0;  // logical block size in bytes (512 or 4096)
  virtual bool read_only() const = 0;

  virtual Status read(uint64_t offset, std::span<uint8_t> buf) = 0;
  virtual Status write(uint64_t offset, std::span<const uint8_t> buf, bool fua = false) = 0;
  virtual Status flush() = 0;
  virtual Status discard(uint64_t offset, uint64_t length) = 0;

  virtual void submit(IoRequest& req);
};

// Forwards every call to a target; a test double overrides only what it changes.
class MemberWrapper : public Member {
 public:
  explicit MemberWrapper(std::unique_ptr<Member> target) : target_(std::move(target)) {}
  const std::string& name() const override { return target_->name(); }
  uint64_t size() const override { return target_->size(); }
  uint32_t block_size() const override { return target_->block_size(); }
  bool read_only() const override { return target_->read_only(); }
  Status read(uint64_t offset, std::span<uint8_t> buf) override { return target_->read(offset, buf); }
  Status write(uint64_t offset, std::span<const uint8_t> buf, bool fua) override {
    return target_->write(offset, buf, fua);
  }
  Status flush() override { return target_->flush(); }
  Status discard(uint64_t offset, uint64_t length) override { return target_->discard(offset, length); }
  Member& target() { return *target_; }

 private:
  std::unique_ptr<Member> target_;
};

struct OpenOptions {
  bool read_only = false;
  bool direct = true;     // O_DIRECT where the member allows it; falls back to buffered
  bool exclusive = false; // O_EXCL on block devices
};

// Opens a regular file or block device as a member.
Result<std::unique_ptr<Member>> open_file_member(const std::string& path, const OpenOptions& opts);

}  // namespace umd::io
