// The personality interface: what each md level does with array I/O, apart from the
// generic core (member gathering, superblocks, serving). As in the kernel's
// md_personality, raid4, raid5 and raid6 are one implementation; so are linear and
// raid0 (striped), and raid1 and raid10 (mirrored).
//
// Two data paths:
//  - read(): synchronous, used by --dump and recovery tools. It takes no stripe locks, so
//    it must not race with submit() writes on the same rows.
//  - submit(): the asynchronous path of a running array, for reads, writes, trims and
//    write-zeroes. Each level documents its own protocol at the top of its file
//    (personality_striped.cc, personality_mirrored.cc, stripe_head.h for raid4/5/6).
//
// ASYNCHRONOUS CONTRACT (what the array core may rely on)
//  - submit(req): req.op is read, write, trim or write_zeroes (never flush: the array
//    core fans flushes out to the members itself). offset and length are bytes,
//    multiples of 512 and of every present member's block size, else Err::invalid;
//    a range past the end is Err::invalid; length 0 completes ok at once.
//    req.fua: every member write issued for the request carries fua.
//  - req.done(Status) runs exactly once, inline or on a member's completion thread, after
//    every member I/O issued for the request has completed; nothing touches req after.
//  - Member write failure (an Err::io-class error, not retry/invalid/no_space): the
//    personality calls host->member_failed(slot) (perhaps more than once for a slot, from
//    I/Os already in flight; the host records the first) and never reads or writes that
//    slot again; the request still succeeds while redundancy covers it.
//  - Buffers handed to members are 4 KiB aligned AlignedBuffers for raid4/5/6; striped
//    and mirrored levels pass the client's buffer (members bounce a misaligned one).
//  - quiesce() blocks until no request is inside the personality (every done() returned);
//    the destructor quiesces first. Members must outlive the personality.
//  - Callbacks: member_failed() and req.done() may run on a member's completion thread (the
//    io_uring reaper) or inline inside submit(). Neither may wait for another request of
//    this personality, nor call quiesce(), nor do member I/O and wait for it: the I/O
//    waited for may complete only on the caller's own thread. member_failed() records the
//    failure and returns; the host makes it durable (superblocks) before it lets the
//    request's completion reach the client.
//  - submit() never blocks: a request that meets a sync step's window is parked and
//    submitted again when the window lowers (sync_barrier.h).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "block/block_target.h"
#include "io/member.h"
#include "layout/geometry.h"
#include "util/status.h"

namespace umd::engine {

// One slot of the array as the personality sees it: the member holding it (nullptr when
// missing) and where its data starts.
struct Slot {
  io::Member* dev = nullptr;
  uint64_t data_offset = 0;  // sectors

  bool present() const { return dev != nullptr; }
  Status read(uint64_t sector, uint64_t sectors, uint8_t* out) const {
    return dev->read((data_offset + sector) * 512, {out, sectors * 512});
  }
};

// What the running array offers a personality: member failure handling.
class PersonalityHost {
 public:
  virtual ~PersonalityHost() = default;
  // A write (or repair write) to `slot` failed with `why`. May be called from any thread,
  // completion threads included, and more than once for a slot. Never blocks, never does
  // member I/O. When it returns the slot is failed (slot_failed() says so): the
  // personality never reads or writes it again.
  virtual void member_failed(uint32_t slot, const Status& why) = 0;
  // Whether the array considers `slot` failed (cheap: an atomic load).
  virtual bool slot_failed(uint32_t slot) const = 0;
};

// SYNC (driven by sync_engine.h; one sync thread per array)
//  - Each op walks its own space from 0 to sync_sectors(op), as md's max_sectors: member
//    sectors for raid1 and raid4/5/6 (all ops) and for raid10 recovery; array sectors for a
//    raid10 resync/check/repair. Levels without redundancy have nothing to sync (0).
//  - sync(op, pos, n) handles [pos, pos+n) of that space while client I/O to the array
//    sectors it covers waits (sync_barrier.h), so a step never races a client write.
//    pos and n are multiples of sync_granule() (except n at the end of the space).
//  - resync: make the copies / parity agree with the data (raid1/10: the first readable
//    copy is written to the others; raid4/5/6: parity recomputed, and counted and written
//    only where it disagrees, as md). check: count what disagrees, change nothing. repair:
//    check, and rewrite what disagrees (raid6: the one member a P/Q disagreement points
//    at, when one does; md would rewrite P and Q). recover: rebuild every slot attached
//    with attach() whose valid_below() lies inside the step, then move valid_below() past
//    the step.
//  - replace: for every slot whose member is a ReplacingMember (a --replace), copy the
//    step's member sectors from the old member to the new one (sync_sectors(replace) ==
//    sync_sectors(recover): member sectors). md shows it as "recover".
//  - Mismatches are counted in 8-sector (4 KiB) blocks, md's STRIPE_SECTORS.
//  - A member read error inside a step is repaired like a client read error (rebuilt and
//    rewritten); a member write error fails the member (host->member_failed).
//  - reshape: move [pos, pos+n) of a reshape's progress from the geometry it leaves to
//    the one it goes to (personality/reshaping_personality.h; only that personality has
//    sectors for it).
enum class SyncOp : uint8_t { resync, check, repair, recover, replace, reshape };
const char* sync_op_name(SyncOp op);

struct SyncFinding {
  uint32_t slot = 0;         // the member that holds the bad block (raid6 culprit)
  uint64_t dev_sector = 0;   // its member sector (data area)
  uint32_t sectors = 0;
  bool fixed = false;
};

struct SyncReport {
  uint64_t mismatch_sectors = 0;
  std::vector<SyncFinding> findings;  // raid6: the blocks a culprit search named
  bool read_ahead = false;             // the step's reads were done ahead (umd/sync_stats)
};

class Personality {
 public:
  virtual ~Personality() = default;
  virtual const layout::Geometry& geometry() const = 0;
  uint64_t array_sectors() const { return geometry().array_sectors(); }
  // Reads `sectors` array sectors starting at `sector` into out, reconstructing what
  // missing members held from redundancy. Errors: Err::invalid past the end; Err::io
  // when a member fails and redundancy cannot cover it.
  virtual Status read(uint64_t sector, uint64_t sectors, uint8_t* out) = 0;

  // The asynchronous data path (contract at the top of this file).
  virtual void submit(BlockRequest& req) = 0;
  // Blocks until nothing submitted is in flight inside the personality.
  virtual void quiesce() = 0;
  // Smallest I/O unit the personality accepts, in bytes: the largest present member's
  // block size (512 or 4096).
  virtual uint32_t block_size() const = 0;

  // Sync (see above). The defaults are those of levels without redundancy.
  virtual uint64_t sync_sectors(SyncOp op) const {
    (void)op;
    return 0;
  }
  virtual uint64_t sync_granule() const { return 8; }
  // Sync-space sectors per sector of md's sync_min/sync_max/sync_completed: 1, except in a
  // reshape of raid4/5/6, whose sysfs counts sectors of each member (the reshape's array
  // sectors over the new data disks), as md_do_sync hands them to raid5's reshape_request.
  virtual uint64_t sync_unit() const { return 1; }
  virtual Status sync(SyncOp op, uint64_t pos, uint64_t n, SyncReport* report) {
    (void)op, (void)pos, (void)n, (void)report;
    return Status(Err::unsupported, "this level has no redundancy to sync");
  }
  // Puts a member into `slot` whose first `valid_below` member sectors (of the data area)
  // already hold the array's data: the rest counts as missing (not read, not written)
  // until recovery passes over it; ~0: fully in sync. Only while no request is inside
  // (the array pauses I/O around it).
  virtual void attach(uint32_t slot, Slot s, uint64_t valid_below) = 0;
  // Takes the member out of `slot` (missing from now on). Same rule.
  virtual void detach(uint32_t slot) = 0;
  virtual uint64_t valid_below(uint32_t slot) const = 0;
  // The member that takes `slot`'s I/O (a ReplacingMember during --replace), nullptr when
  // missing. Stable while the caller keeps I/O from pausing (attach/detach need a pause).
  virtual io::Member* slot_dev(uint32_t slot) const = 0;
  // The sync-space range that array sectors [lo, hi) fall in (what a write-intent bitmap
  // marks for a write there): itself for raid1/10, whole chunk rows for raid4/5/6.
  virtual std::pair<uint64_t, uint64_t> sync_span(uint64_t lo, uint64_t hi) const { return {lo, hi}; }
  // Recovery passing over [pos, to) without rebuilding it (a bitmap says the recovering
  // members hold it already): with client I/O there held off, asks recheck(pos, to) how
  // far that is still true, moves valid_below() of the slots being recovered at pos
  // there, and returns it.
  virtual uint64_t skip_recovery(uint64_t pos, uint64_t to,
                                 const std::function<uint64_t(uint64_t, uint64_t)>& recheck) = 0;
  // A write-intent bitmap counts the resync space (sync_sectors(resync)). Recovery and
  // --replace on raid10 walk member sectors instead, while its bitmap counts array
  // sectors: there positions [lo, hi) are the slots' own, and bitmap_ranges() gives the
  // array sectors they hold on the slots still to be rebuilt or copied there (just_done:
  // on the slots the step that just ended did), one range per chunk. Elsewhere: [lo, hi).
  virtual bool positions_are_bitmap_space(SyncOp op) const { return (void)op, true; }
  virtual std::vector<std::pair<uint64_t, uint64_t>> bitmap_ranges(SyncOp op, uint64_t lo, uint64_t hi,
                                                                   bool just_done) const {
    (void)op, (void)just_done;
    return {{lo, hi}};
  }
  // Around a sync run: from on to off, client requests register their ranges so that
  // sync() can keep out of their way (sync_barrier.h).
  virtual void sync_arm(bool on) = 0;
};

// host == nullptr (read-only tools): a member error just fails the request; no slot is
// ever marked failed and no repair write is attempted.
Result<std::unique_ptr<Personality>> make_personality(const layout::Geometry& geo, std::vector<Slot> slots,
                                                      PersonalityHost* host = nullptr);

}  // namespace umd::engine
