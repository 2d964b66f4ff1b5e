// Member: the one interface through which every read, write, flush and discard to an
// array member passes. Nothing in the engine opens a member any other way, so tests can
// put a FaultyMember (fault_member.h) in front of any real one.
//
// Implementations: FileMember (file_member.h: regular files and block devices, optionally
// asynchronous through a UringQueue, uring_queue.h), MemoryMember (memory_member.h: RAM,
// for tests and fuzzers), FaultyMember (fault_member.h: fault injection and power cuts).
// request_check.h holds the shared argument checks and error wording.
//
// Contract
// - Offsets and lengths are bytes. Offsets and lengths of reads, writes and discards must be
//   multiples of block_size(), else Err::invalid; ranges outside [0, size()) fail with
//   Err::no_space and are never performed; writes/discards to a read-only member fail with
//   Err::invalid. Buffers should be aligned to 4 KiB (AlignedBuffer): a direct member
//   bounces a misaligned buffer through a temporary aligned copy (correct, but slower).
// - Errors name the member and the operation: "d0.img: read at offset 4096 (4096 bytes):
//   Input/output error". Err::retry (EAGAIN, ENOMEM, ECANCELED) means "try again later" and
//   is never a member failure; Err::invalid/no_space mean the request was wrong and was not
//   performed; other errors from an I/O (Err::io above all) mean the member failed.
// - write() returns when the data has reached the member; it is durable only after a
//   later flush() returns ok, or at once when fua is true.
// - flush() makes every write that completed before it was called durable.
// - discard() may be a no-op on members that cannot discard; it never fails for that.
// - submit() is the asynchronous form. Its completion runs exactly once, possibly on
//   another thread (the io_uring reaper), possibly inline. The default implementation
//   runs the synchronous call inline. `req` (and its buffer) must stay valid until done
//   returns; nothing touches `req` after done returns, so done may resubmit or free it.
//   The member must outlive its in-flight requests.
// - Thread safety: read/write/flush/discard may be called from several threads at once.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "util/status.h"

namespace umd::io {

class UringQueue;  // uring_queue.h

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
  // Forwarded too: a wrapped member stays asynchronous.
  void submit(IoRequest& req) override { target_->submit(req); }
  Member& target() { return *target_; }

 private:
  std::unique_ptr<Member> target_;
};

struct OpenOptions {
  bool read_only = false;
  bool direct = true;     // O_DIRECT where the member allows it; falls back to buffered
  bool exclusive = false; // O_EXCL on block devices; flock(LOCK_EX) on regular files
  // When set, submit() goes through this io_uring queue instead of running inline. Not
  // owned; must outlive the member. (Added to the original interface; see uring_queue.h.)
  UringQueue* ring = nullptr;
  // open_member (member_spec.h) only: the member is opened read-only and every write goes
  // to a copy-on-write overlay in this directory (overlay_member.h). Empty: none.
  std::string overlay_dir = {};
};

// Opens a regular file or block device as a member.
Result<std::unique_ptr<Member>> open_file_member(const std::string& path, const OpenOptions& opts);

}  // namespace umd::io
