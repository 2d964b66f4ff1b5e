// FaultyMember: a test double in front of any Member that injects failures, models a
// volatile write cache (so a "power cut" loses exactly the unflushed writes), corrupts data
// at rest, slows operations down, and counts what passes through.
//
// Write cache (on by default; set_write_cache(false) turns it off):
// - write(fua=false) lands in an in-memory overlay of whole blocks, not on the target.
// - read() returns the target's data patched with the overlay (so it sees its own writes).
// - flush() writes the overlay through to the target (ascending offset, contiguous blocks
//   coalesced), empties it, then flushes the target. If a write-through fails, the blocks
//   not yet written stay in the overlay and flush() returns the error.
// - write(fua=true) goes straight to the target (write with fua) and supersedes any cached
//   copy of those blocks. discard() drops cached copies and goes straight to the target.
// - power_cut() drops the overlay: every write not covered by a successful flush() or fua
//   is lost, everything flushed is kept. power_cut_partial() keeps a random subset of the
//   cached blocks instead (a disk cache written back in arbitrary order).
//
// Faults: each Fault matches ops by kind and byte range and fails them with an errno,
// persistently or the next N times; vanish() makes every op fail (a member that
// disappeared) until reappear(). Injected errors read like real ones, with " [injected]":
// "d0.img: read at offset 4096 (4096 bytes) [injected]: Input/output error".
// Requests are validated (check_request) before faults or the cache see them.
//
// Thread safety: every method may be called from any thread; one mutex serialises the
// synchronous operations (the optional per-op delay is slept outside it, so delayed ops
// overlap).
//
// submit(): by default Member's, the synchronous call inline. With set_async(true) and the
// write cache off, it forwards to the target's submit() (an io_uring member stays
// asynchronous) and an injected fault is delivered on the target's completion thread:
// the target does the I/O, and its completion reports the injected error instead (what a
// failing disk looks like from above; a failed write's data may or may not have landed).
#pragma once

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "io/member.h"

namespace umd::io {

class FaultyMember : public MemberWrapper {
 public:
  enum Ops : uint32_t { kRead = 1, kWrite = 2, kFlush = 4, kDiscard = 8, kAllOps = 15 };

  struct Fault {
    uint32_t ops = kRead | kWrite;  // Ops bits
    uint64_t offset = 0;            // byte range; a read/write/discard matches when it overlaps
    uint64_t length = std::numeric_limits<uint64_t>::max();  // flush matches regardless of range
    int err = EIO;
    int64_t times = -1;             // -1: persistent; N > 0: fail the next N matches, then expire
  };

  struct Counters {
    uint64_t reads = 0, writes = 0, flushes = 0, discards = 0;  // calls, failed ones included
    uint64_t bytes_read = 0, bytes_written = 0;  // by successful reads/writes
    uint64_t failed = 0;                         // calls that returned an error
    uint64_t injected = 0;                       // ... of which injected by a fault/vanish
    uint64_t power_cuts = 0;
  };

  explicit FaultyMember(std::unique_ptr<Member> target);

  Status read(uint64_t offset, std::span<uint8_t> buf) override;
  Status write(uint64_t offset, std::span<const uint8_t> buf, bool fua = false) override;
  Status flush() override;
  Status discard(uint64_t offset, uint64_t length) override;
  void submit(IoRequest& req) override;
  // Asynchronous pass-through (see above); needs the write cache off.
  Status set_async(bool on);

  // Faults. add_fault returns an id for remove_fault.
  int add_fault(const Fault& f);
  int fail_reads(uint64_t offset, uint64_t length, int err = EIO, int64_t times = -1);
  int fail_writes(uint64_t offset, uint64_t length, int err = EIO, int64_t times = -1);
  int fail_flushes(int err = EIO, int64_t times = -1);
  void remove_fault(int id);
  void clear_faults();
  void vanish(int err = ENXIO);  // every op fails with err
  void reappear();
  bool vanished() const;

  // Volatile write cache and power cuts.
  Status set_write_cache(bool on);  // turning it off writes the overlay through first
  uint64_t dirty_bytes() const;     // bytes held in the overlay
  void power_cut();                 // drop every unflushed write
  // Each cached block independently survives (is written to the target) with probability
  // keep_probability, deterministically for a given seed; the rest are lost.
  Status power_cut_partial(uint64_t seed, double keep_probability = 0.5);

  // Flips bit `bit` (0..7) of the byte at `offset` on the target (data at rest; the overlay
  // is not touched, so a cached copy still shadows it until flushed or power_cut()).
  Status flip_bit(uint64_t offset, unsigned bit);

  void set_delay(std::chrono::microseconds d) { delay_us_.store(d.count()); }

  Counters counters() const;
  void reset_counters();

 private:
  Status injected_locked(IoOp op, uint64_t offset, uint64_t length);  // a fault for this op, if any
  Status write_back_locked();  // overlay -> target, in order
  void delay() const;

  mutable std::mutex mu_;
  std::map<int, Fault> faults_;
  int next_fault_id_ = 1;
  int vanish_err_ = 0;
  bool cache_ = true;
  std::atomic<bool> async_{false};
  std::map<uint64_t, std::vector<uint8_t>> dirty_;  // block index -> block contents
  Counters counters_;
  std::atomic<int64_t> delay_us_{0};
};

}  // namespace umd::io
