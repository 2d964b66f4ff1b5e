// StripeHead: one operation on one chunk row of raid4/5/6, run while the row is owned
// through the stripe cache (stripe_cache.h). Named after md's stripe_head.
//
// WHAT A STRIPE HEAD DOES
//  A head carries one or more SEGMENTS: a column range [lo, hi) of chunk-relative
//  sectors, the same on every member of the row, and what happens to it:
//   - write: new data (or zeros) for some data members ("touched", T), covering the whole
//     column on each of them. A request is cut into segments at every boundary of its
//     per-member pieces, so within a segment a member is either fully written or
//     untouched (U). Parity members are P (and Q for raid6).
//   - read: the block of one data member, to be rebuilt from the rest of the row (the
//     member is missing or failed, or its own read just failed: "bad").
//
//  Every member of the row is, for a segment, either usable, LOST (missing, failed, or a
//  write to it failed during this head) or BAD (present but a read of it failed; it is
//  rebuilt and rewritten: md's read-error repair). lost + bad beyond what the level
//  tolerates (1 for raid4/5, 2 for raid6) fails the segment with Err::io before anything
//  is written.
//
// CHOOSING HOW TO WRITE (per segment, as md's handle_stripe_dirtying, per column range)
//   full:  U is empty: nothing is read; P/Q are computed from the new data.
//   rmw:   read old T and the usable parity; P ^= old ^ new, Q ^= g^slot * (old ^ new)
//          (xor_into, q_delta). Possible only when no member of T is lost/bad. Reads
//          |T| + |usable parity| blocks (none when no parity is usable: data is just
//          written).
//   rcw:   read U, compute P/Q from scratch. Possible only when no member of U is lost/bad.
//          Reads |U| blocks.
//   Between rmw and rcw the one reading fewer blocks wins; a tie goes to rcw (md does the
//   same). When neither is possible (degraded: a lost member in T and one in U) or a read
//   fails mid-way, the segment falls back to
//   reconstruct: read every usable member, rebuild the lost/bad blocks (parity::recover),
//          then overlay the new data and compute P/Q from scratch.
//  Reads that fail add their member to BAD and re-plan (a second round reads only what is
//  still missing), so a head does at most a few read rounds, then one write round.
//
// WHAT IS WRITTEN
//  The new contents of every touched data member, every usable parity member and every
//  bad member (its rebuilt block: the repair). Each member written thus holds the row's
//  new, consistent state; a member NOT written (lost) is implied by parity: a data member
//  lost before the write reconstructs to its new data (so writing to a missing member
//  updates parity only), a lost parity member simply does not count. Hence a member write
//  failure needs no redo: the member is failed (host->member_failed, once per slot) and
//  added to LOST, and the segment fails only if LOST then exceeds what the level tolerates
//  ("the row can no longer hold the data"). Errors that are not member failures (retry,
//  invalid) fail the segment as they are; the row may then hold mixed old/new data with
//  stale parity until rewritten (as after a crash: resync fixes it).
//  Read segments write only their bad members, and only with a host (read-only tools
//  never write); a failed repair fails the member, not the read.
//
// BUFFERS AND THREADS
//  Every member I/O uses the head's own 4 KiB aligned buffer (stride rounded up to 4 KiB
//  per member), never the client's. I/Os of a round are issued together with a guard
//  count; whichever completion is last (any thread, or inline) runs the next step, so the
//  head's state is only ever touched by one thread at a time.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <vector>

#include "personality/personality_impl.h"
#include "layout/raid456.h"

namespace umd::engine {

class StripeHead final : public StripeTask {
 public:
  enum class Strategy : uint8_t { none, full, rmw, rcw, reconstruct };

  struct Segment {
    uint32_t lo = 0, hi = 0;  // chunk-relative sectors
    bool write = false;
    uint64_t touched = 0;     // members (bits) with new data (write) or wanted (read)
    std::array<const uint8_t*, layout::kMaxStripeDisks> src{};  // write: new data; nullptr = zeros
    std::array<uint8_t*, layout::kMaxStripeDisks> dst{};        // read: where the block goes
    uint64_t bad = 0;                                           // members whose read failed

    // Working state.
    Strategy strategy = Strategy::none;
    uint64_t lost = 0;
    uint64_t have = 0;  // buffers holding the member's old block
    uint64_t need = 0;  // blocks the strategy reads
    Status err;
    size_t stride = 0;
    AlignedBuffer mem;
  };

  StripeHead(ParityPersonality& p, RequestState* rs, uint64_t row, bool fua)
      : p_(p), rs_(rs), row_(row), fua_(fua) {}
  uint64_t row() const { return row_; }
  std::vector<Segment> segs;

  void run() override;

  // Strategy chosen for the first segment (tests).
  static Strategy choose(uint64_t data, uint64_t parity, uint64_t touched, uint64_t gone, uint64_t* need);

 private:
  struct IoResult {
    uint32_t seg = 0;
    uint32_t disk = 0;
    Status st;
  };

  uint8_t* buf(Segment& s, uint32_t d) { return s.mem.data() + s.stride * d; }
  size_t len(const Segment& s) const { return size_t(s.hi - s.lo) * 512; }
  void plan(Segment& s);
  void read_round();
  void reads_done();
  void compute(Segment& s);
  void write_round();
  void writes_done();
  void finish();
  // Issues the I/Os in ios_ (already filled); `then` runs when all completed.
  void issue(io::IoOp op, void (StripeHead::*then)());
  int slot_of(uint32_t d) const;  // syndrome slot (raid6) or data index (raid4/5)

  ParityPersonality& p_;
  RequestState* rs_;
  uint64_t row_;
  bool fua_;
  layout::StripeMap map_;
  uint64_t all_ = 0, data_ = 0, parity_ = 0;
  std::vector<IoResult> ios_;
  std::atomic<uint32_t> pending_{0};
};

}  // namespace umd::engine
