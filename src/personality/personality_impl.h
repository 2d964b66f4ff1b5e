// The personality implementations (internal to the engine).
#pragma once

#include <fmt/format.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

#include "personality/personality.h"
#include "personality/stripe_cache.h"
#include "personality/sync_barrier.h"
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
  RequestState(PersonalityBase& owner, BlockRequest& req, SyncBarrier::Ticket t)
      : owner_(owner), req_(req), ticket_(t) {}
  void add(uint32_t n = 1) { pending_.fetch_add(n, std::memory_order_relaxed); }
  void finish(const Status& s);
  BlockRequest& req() { return req_; }

 private:
  PersonalityBase& owner_;
  BlockRequest& req_;
  SyncBarrier::Ticket ticket_;
  std::atomic<uint32_t> pending_{1};
  std::mutex mu_;
  Status err_;
};

// One member I/O of a sync step. run_ios() issues them all at once and returns when
// every one completed, each with its Status (the sync thread's way to keep every member
// busy at the same time).
struct MemberIo {
  uint32_t slot = 0;
  io::IoOp op = io::IoOp::read;
  uint64_t offset = 0;  // bytes on the member
  uint64_t length = 0;
  uint8_t* buf = nullptr;
  Status st;
};
void run_ios(PersonalityBase& p, std::vector<MemberIo>& ios);

// Member I/Os issued together now and waited for later (a sync step's read-ahead). The
// destructor waits for whatever is still in flight.
class IoBatch {
 public:
  IoBatch(PersonalityBase& p, std::vector<MemberIo> ios);
  ~IoBatch() { wait(); }
  IoBatch(const IoBatch&) = delete;
  IoBatch& operator=(const IoBatch&) = delete;
  std::vector<MemberIo>& wait();  // every one completed, each with its Status

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  size_t pending_ = 0;
  std::vector<MemberIo> ios_;
};

class PersonalityBase : public Personality {
 public:
  PersonalityBase(layout::Geometry geo, std::vector<Slot> slots, PersonalityHost* host);
  ~PersonalityBase() override { quiesce(); }
  const layout::Geometry& geometry() const override { return geo_; }
  uint32_t block_size() const override { return block_size_; }
  void submit(BlockRequest& req) final;
  void quiesce() override;

  // Whether `slot` may be read or written: present, and not failed. The host owns each
  // slot's failed state (one owner); the personality asks it.
  bool usable(uint32_t slot) const { return slots_[slot].present() && !(host_ && host_->slot_failed(slot)); }
  // usable(), and member sectors [lo, hi) already rebuilt when the slot is recovering.
  bool usable_at(uint32_t slot, uint64_t lo, uint64_t hi) const {
    (void)lo;
    return usable(slot) && hi <= valid_below_[slot].load(std::memory_order_acquire);
  }
  void attach(uint32_t slot, Slot s, uint64_t valid_below) override;
  void detach(uint32_t slot) override;
  uint64_t valid_below(uint32_t slot) const override { return valid_below_[slot].load(std::memory_order_acquire); }
  SyncBarrier& barrier() { return barrier_; }
  // SyncOp::replace for every level with redundancy: copies member sectors [pos, pos+n)
  // of each slot held by a ReplacingMember, with the barrier over array_span() of them.
  Status sync_replace(uint64_t pos, uint64_t n);
  // What `slot` holds at member sectors [pos, end), rebuilt from the other members into
  // out (for a replacement whose old member cannot be read there). Caller holds the
  // barrier over array_span(slot, pos, end).
  virtual Status rebuild_slot_range(uint32_t slot, uint64_t pos, uint64_t end, uint8_t* out) {
    (void)slot, (void)pos, (void)end, (void)out;
    return Status(Err::unsupported, "this level has no redundancy to rebuild from");
  }
  uint64_t skip_recovery(uint64_t pos, uint64_t to,
                         const std::function<uint64_t(uint64_t, uint64_t)>& recheck) override;
  // The slots op (recover or replace) still has to rebuild or copy somewhere below member
  // sector hi; and those the last step did (set by the sync thread, read by it).
  std::vector<uint32_t> rebuilding_below(SyncOp op, uint64_t hi) const;
  const std::vector<uint32_t>& last_step_targets() const { return last_step_targets_; }
  // The array sectors that member sectors [lo, hi) of `slot` hold (a bounding range).
  virtual std::pair<uint64_t, uint64_t> array_span(uint32_t slot, uint64_t lo, uint64_t hi) const {
    (void)slot, (void)lo, (void)hi;
    return {0, array_sectors()};
  }
  void sync_arm(bool on) override {
    if (on) {
      barrier_.arm();
    } else {
      drop_read_ahead();  // before the barrier stops watching for it
      barrier_.disarm();
    }
  }
  // READ-AHEAD (the sync thread's): while a step computes and writes, the next step's reads
  // go into the other of two buffers, under the barrier's watch. The next step takes them
  // only if it is that step (same op, range and member reads) and no client write reached
  // that range meanwhile (SyncBarrier::watch_end); otherwise it reads again. raid4/5/6
  // (sync_rows: r0, r1 are rows) and raid1 resync/recovery (sync_array_range: array sectors).
  struct ReadAhead {
    SyncOp op;
    uint64_t r0, r1;
    int buf;                         // which of sync_bufs_
    std::unique_ptr<IoBatch> batch;  // its reads, as the level planned them
  };
  // Waited for and forgotten (its watch ended).
  void drop_read_ahead() {
    if (!ahead_) return;
    ahead_->batch.reset();  // waits for its reads
    (void)barrier_.watch_end();
    ahead_.reset();
  }
  uint8_t* sync_buf(int which, size_t bytes) {
    if (sync_bufs_[which].size() < bytes) sync_bufs_[which] = AlignedBuffer(bytes);
    return sync_bufs_[which].data();
  }
  std::optional<ReadAhead> ahead_;  // the sync thread's
  AlignedBuffer sync_bufs_[2];
  int sync_cur_ = 0;
  // A member write (or repair write) to `slot` failed with a member-failure error. With a
  // host: reported (member_failed; the host records the first report of a slot and
  // ignores the rest), and the caller treats the slot as gone; returns true. Without a
  // host: nothing is marked; returns false (the caller fails its request with `why`).
  bool fail_slot(uint32_t slot, const Status& why);
  // Errors that mean "this member failed" (as opposed to retry later / bad request).
  static bool is_member_failure(const Status& s) {
    const Err c = s.code();
    return c != Err::ok && c != Err::retry && c != Err::invalid && c != Err::no_space && c != Err::unsupported;
  }
  uint64_t member_offset(uint32_t slot, uint64_t sector) const { return (slots_[slot].data_offset + sector) * 512; }
  bool has_host() const { return host_ != nullptr; }
  io::Member& member(uint32_t slot) const { return *slots_[slot].dev; }
  io::Member* slot_dev(uint32_t slot) const override { return slots_[slot].dev; }
  void request_end(const SyncBarrier::Ticket& t);

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
  std::unique_ptr<std::atomic<uint64_t>[]> valid_below_;  // by slot; ~0: in sync
  SyncBarrier barrier_;
  AlignedBuffer sync_buf_;  // the sync thread's (one per array, so unshared)
  std::vector<uint32_t> last_step_targets_;  // the sync thread's: see last_step_targets()
  uint8_t* sync_buffer(size_t bytes) {
    if (sync_buf_.size() < bytes) sync_buf_ = AlignedBuffer(bytes);
    return sync_buf_.data();
  }
  // Slots being rebuilt by recovery at member sectors [lo, hi): present, not failed,
  // and not yet valid there.
  std::vector<uint32_t> recovering_at(uint64_t lo, uint64_t hi) const {
    std::vector<uint32_t> out;
    for (uint32_t s = 0; s < slots_.size(); s++) {
      if (usable(s) && valid_below_[s].load(std::memory_order_acquire) < hi) out.push_back(s);
    }
    (void)lo;
    return out;
  }

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
  uint64_t sync_sectors(SyncOp op) const override;
  uint64_t sync_granule() const override;
  Status sync(SyncOp op, uint64_t pos, uint64_t n, SyncReport* report) override;
  std::pair<uint64_t, uint64_t> array_span(uint32_t slot, uint64_t lo, uint64_t hi) const override;
  bool positions_are_bitmap_space(SyncOp op) const override;
  std::vector<std::pair<uint64_t, uint64_t>> bitmap_ranges(SyncOp op, uint64_t lo, uint64_t hi,
                                                           bool just_done) const override;

 private:
  struct ReadPiece;
  struct WritePiece;
  void start(RequestState* rs) override;
  // Every copy of array sector `sector`, in md's order; *len: sectors they run for.
  std::vector<layout::DevAddr> copies_of(uint64_t sector, uint64_t* len) const;
  void read_next_copy(ReadPiece* rp);
  void read_copy_done(ReadPiece* rp, uint32_t copy, Status s);
  void finish_read(ReadPiece* rp, Status s);
  // Sync of array sectors [lo, hi) (all copies), and recovery of one member range.
  Status sync_array_range(SyncOp op, uint64_t lo, uint64_t hi, SyncReport* report);
  Status recover_dev_range(uint32_t slot, uint64_t lo, uint64_t hi);
  void read_ahead_mirrored(SyncOp op, uint64_t lo, uint64_t step);
  Status rebuild_slot_range(uint32_t slot, uint64_t pos, uint64_t end, uint8_t* out) override;

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
  // The generation of the geometry this personality's rows belong to (stripe lock keys).
  uint32_t generation() const { return generation_; }
  // usable_at() over the whole chunk row (recovery moves valid_below a row at a time).
  bool usable_row(uint32_t d, uint64_t row) const {
    const uint64_t c = geo_.chunk_sectors();
    return usable_at(d, row * c, (row + 1) * c);
  }
  uint64_t sync_sectors(SyncOp op) const override;
  uint64_t sync_granule() const override { return geo_.chunk_sectors(); }
  Status sync(SyncOp op, uint64_t pos, uint64_t n, SyncReport* report) override;
  std::pair<uint64_t, uint64_t> array_span(uint32_t slot, uint64_t lo, uint64_t hi) const override;
  std::pair<uint64_t, uint64_t> sync_span(uint64_t lo, uint64_t hi) const override;

 private:
  Status sync_rows(SyncOp op, uint64_t r0, uint64_t r1, const std::vector<uint32_t>& targets, SyncReport* report);
  Status rebuild_slot_range(uint32_t slot, uint64_t pos, uint64_t end, uint8_t* out) override;
  // One row, its members' buffers read (buf(d)); `scratch`: two chunks. Sets the members
  // whose buffer is to be written back in *write.
  Status sync_row(SyncOp op, uint64_t row, const std::function<uint8_t*(uint32_t)>& buf, uint8_t* scratch,
                  uint64_t lost, uint64_t bad, const std::vector<uint32_t>& targets, SyncReport* report,
                  uint64_t* write);
  void start(RequestState* rs) override;
  void start_write(RequestState* rs, const uint8_t* src);  // src nullptr: zeros
  void start_read(RequestState* rs);
  // Reads one chunk piece through the stripe cache, rebuilding it from the row.
  // `bad`: the piece's own member failed to read it (repair it afterwards).
  void degraded_read(RequestState* rs, const layout::ChunkPlace& place, uint64_t n, uint8_t* out, bool bad);
  // `cause`: why the chunk's own member could not be read (missing, or its read error).
  Status reconstruct(const layout::Raid456Geometry& g, const layout::ChunkPlace& place, uint64_t n, uint8_t* out,
                     const Status& cause);

  std::vector<MemberIo> sync_reads(SyncOp op, uint64_t r0, uint64_t r1, uint8_t* mem, std::vector<uint64_t>* lost) const;

  StripeLocks locks_;
  uint32_t generation_ = 0;  // one geometry today; a reshape's second one is generation + 1
  std::mutex scratch_mu_;  // the synchronous read path's scratch
  AlignedBuffer scratch_;
};

}  // namespace umd::engine
