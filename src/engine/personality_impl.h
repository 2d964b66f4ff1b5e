// The personality implementations (internal to the engine).
#pragma once

#include <fmt/format.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>

#include "engine/personality.h"
#include "engine/stripe_cache.h"
#include "util/aligned_buffer.h"

namespace umd::engine {

class PersonalityBase;

// One client request made of many parts (member I/Os, stripe operations). Starts with one
// reference held by the submitter, which adds a reference per part before issuing it and
// drops its own with finish(ok) once everything is issued, so completion never runs
// while parts are still being issued. The first error reported wins. The last finish()
// calls req.done(), tells the owner the request has left it, and deletes the state.
class RequestState {
 public:
  RequestState(PersonalityBase& owner, BlockRequest& req) : owner_(owner), req_(req) {}
  void add(uint32_t n = 1) { pending_.fetch_add(n, std::memory_order_relaxed); }
  void finish(const Status& s);
  BlockRequest& req() { return req_; }

 private:
  PersonalityBase& owner_;
  BlockRequest& req_;
  std::atomic<uint32_t> pending_{1};
  std::mutex mu_;
  Status err_;
};

class PersonalityBase : public Personality {
 public:
  PersonalityBase(layout::Geometry geo, std::vector<Slot> slots, PersonalityHost* host);
  ~PersonalityBase() override { quiesce(); }
  const layout::Geometry& geometry() const override { return geo_; }
  uint32_t block_size() const override { return block_size_; }
  void submit(BlockRequest& req) final;
  void quiesce() override;

  // Whether `slot` may be read or written: present, and failed neither here nor in the host.
  bool usable(uint32_t slot) const {
    return slots_[slot].present() && !failed_[slot].load(std::memory_order_acquire) &&
           !(host_ && host_->slot_failed(slot));
  }
  // A member write (or repair write) to `slot` failed with a member-failure error. With a
  // host: the first caller for the slot reports it (member_failed, exactly once per slot),
  // every caller then treats the slot as gone; returns true. Without a host: nothing is
  // marked; returns false (the caller fails its request with `why`).
  bool fail_slot(uint32_t slot, const Status& why);
  // Errors that mean "this member failed" (as opposed to retry later / bad request).
  static bool is_member_failure(const Status& s) {
    const Err c = s.code();
    return c != Err::ok && c != Err::retry && c != Err::invalid && c != Err::no_space && c != Err::unsupported;
  }
  uint64_t member_offset(uint32_t slot, uint64_t sector) const { return (slots_[slot].data_offset + sector) * 512; }
  bool has_host() const { return host_ != nullptr; }
  io::Member& member(uint32_t slot) const { return *slots_[slot].dev; }
  void request_end();

 protected:
  // Starts a validated, non-empty request; rs holds the submitter's reference.
  virtual void start(RequestState* rs) = 0;

  Status check_range(uint64_t sector, uint64_t sectors) const {
    if (sector > array_sectors() || sectors > array_sectors() - sector) {
      return Status(Err::invalid, fmt::format("read of {} sectors at {} is beyond the array's {} sectors", sectors,
                                              sector, array_sectors()));
    }
    return Status::ok();
  }
  static Status missing_error(uint32_t slot) {
    return Status(Err::io, fmt::format("slot {} is missing", slot));
  }
  Status unusable_error(uint32_t slot) const {
    return slots_[slot].present() ? Status(Err::io, fmt::format("slot {} has failed", slot)) : missing_error(slot);
  }

  layout::Geometry geo_;
  std::vector<Slot> slots_;
  PersonalityHost* host_;
  uint32_t block_size_ = 512;
  std::unique_ptr<std::atomic<bool>[]> failed_;

 private:
  std::mutex inflight_mu_;
  std::condition_variable inflight_cv_;
  uint64_t inflight_ = 0;
};

// Issues one member I/O; `then(Status)` runs once it completes (inline or on the member's
// completion thread). The IoRequest is freed before `then` runs, so `then` may issue more.
template <class F>
void issue_io(io::Member& m, io::IoOp op, bool fua, uint64_t offset, uint64_t length, uint8_t* buf, F then) {
  auto* io = new io::IoRequest;
  io->op = op;
  io->fua = fua;
  io->offset = offset;
  io->length = length;
  io->buf = buf;
  io->done = [io, then = std::move(then)](Status s) mutable {
    F f = std::move(then);  // out of the closure before deleting it
    delete io;
    f(std::move(s));
  };
  m.submit(*io);
}

// A read-only, 4 KiB aligned buffer of zeros: the source of write-zeroes member writes.
inline constexpr size_t kZeroBytes = 1 << 20;
const uint8_t* zero_block();

class StripedPersonality final : public PersonalityBase {
 public:
  using PersonalityBase::PersonalityBase;
  ~StripedPersonality() override { quiesce(); }
  Status read(uint64_t sector, uint64_t sectors, uint8_t* out) override;

 private:
  void start(RequestState* rs) override;
};

class MirroredPersonality final : public PersonalityBase {
 public:
  MirroredPersonality(layout::Geometry geo, std::vector<Slot> slots, PersonalityHost* host);
  ~MirroredPersonality() override { quiesce(); }
  Status read(uint64_t sector, uint64_t sectors, uint8_t* out) override;

 private:
  struct ReadPiece;
  struct WritePiece;
  void start(RequestState* rs) override;
  // Every copy of array sector `sector`, in md's order; *len: sectors they run for.
  std::vector<layout::DevAddr> copies_of(uint64_t sector, uint64_t* len) const;
  void read_next_copy(ReadPiece* rp);
  void read_copy_done(ReadPiece* rp, uint32_t copy, Status s);
  void finish_read(ReadPiece* rp, Status s);

  std::unique_ptr<std::atomic<uint32_t>[]> reads_in_flight_;  // by slot
};

class StripeHead;

class ParityPersonality final : public PersonalityBase {
 public:
  ParityPersonality(layout::Geometry geo, std::vector<Slot> slots, PersonalityHost* host);
  ~ParityPersonality() override { quiesce(); }
  Status read(uint64_t sector, uint64_t sectors, uint8_t* out) override;

  const layout::Raid456Geometry& raid() const { return *geo_.as<layout::Raid456Geometry>(); }
  uint32_t tolerated() const { return raid().parity_disks(); }
  StripeLocks& locks() { return locks_; }

 private:
  void start(RequestState* rs) override;
  void start_write(RequestState* rs, const uint8_t* src);  // src nullptr: zeros
  void start_read(RequestState* rs);
  // Reads one chunk piece through the stripe cache, rebuilding it from the row.
  // `bad`: the piece's own member failed to read it (repair it afterwards).
  void degraded_read(RequestState* rs, const layout::ChunkPlace& place, uint64_t n, uint8_t* out, bool bad);
  // `cause`: why the chunk's own member could not be read (missing, or its read error).
  Status reconstruct(const layout::Raid456Geometry& g, const layout::ChunkPlace& place, uint64_t n, uint8_t* out,
                     const Status& cause);

  StripeLocks locks_;
  std::mutex scratch_mu_;  // the synchronous read path's scratch
  AlignedBuffer scratch_;
};

}  // namespace umd::engine
