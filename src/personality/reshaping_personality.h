// ReshapingPersonality: an array during a reshape, served through both geometries at
// once, as the kernel's raid5 serves one: each request is cut where the geometry changes
// (layout/geometry_view.h) and each piece goes to the personality of its geometry (the
// previous one over the members at data_offset, the new one at new_data_offset). Slots
// are the same in both: a member that fails fails in both.
//
// MOVING THE RESHAPE (SyncOp::reshape; raid4/5/6 whose reshape moves the data offset)
//  - The sync space is the reshape's progress in array sectors: forwards it is the
//    position itself, from 0 to the new geometry's end (past the old end the new rows are
//    written with zeros, so their parity is right, as md's reshape_request does);
//    backwards it counts down from the smaller geometry's end. Steps are whole rows of the
//    new geometry, md's boundary: max(old, new chunk) x the new data disks
//    (raid5_run refuses a reshape_position off it).
//  - A step raises its own window (sync_barrier.h) over its array sectors and the old
//    rows they share, so no client request is inside; it reads the section through the
//    previous geometry, writes it through the new one, and moves the position. Parked
//    requests then go again and are routed by the new position.
//  - THE SAFETY RULE (md's reshape_request): after a crash the reshape resumes from the
//    position the superblocks record (`recorded`), reading everything on the old side of
//    it through the old geometry. So no write of the new geometry may land on a member
//    sector that still holds old data on that side. Forwards, with the new data `room`
//    sectors below the old on every member that holds old data, a section may be written
//    up to new row R only while R * new_chunk <= old_row(recorded) * old_chunk + room;
//    past that the step first records its own position (the host flushes every member,
//    then writes the superblocks), and if even that leaves no room, the reshape cannot go
//    on without a backup (Err::unsupported). Backwards, mirrored. The host also records
//    the position whenever the sync engine publishes it (half-way to sync_max, every 3 s).
//  - WRITES BEHIND THE RECORD (md's make_stripe_request waits for reshape_safe): a client
//    write to the part moved since the last record (forwards [recorded, position),
//    backwards the mirror) goes to the new geometry, but a crash before the next record
//    would resume the reshape below it and copy the old geometry's stale sectors over it.
//    So its completion is held until a record covers it: the write is done on the
//    members, the client is told only once the superblocks say its sectors are in the new
//    geometry (the host is asked to record soon; the hold ends in recorded()). A write
//    held so is not acknowledged, so a crash before that record may drop it: the client
//    was never told otherwise. Reads are not held: the new geometry holds what they ask.
//  - THE BITMAP (raid4/5/6, classic): it counts member sectors from the data offset, the
//    same space in both geometries, and keeps the size it was made for. A write's bits
//    cover its rows in both geometries (sync_span), as the kernel's raid5_bitmap_sector
//    does for a write ahead of the reshape: a step may move the sectors between the bits
//    going on disk and the write being routed. The reshape itself neither asks the bitmap
//    nor clears it; the resync a crash leaves runs after the reshape, over the new rows.
//  - raid10 near layouts move too, the rows a section touches following md's
//    first/last_dev_address (any chunk boundary will do: copies, no parity).
//  - IN PLACE (raid4/5/6 whose data offset stays, room 0: mdadm --grow --backup-file):
//    where THE SAFETY RULE leaves no room even after recording, the step may still
//    rewrite the section over the old data it replaces, as md's reshape_request does, but
//    only the part of it inside the host's suspended window (md's suspend_lo/hi). That
//    window is the overseer's promise (overseer/reshape_overseer.h): it suspended those
//    sectors, copied them to its backup file, then let sync_max past them. The position
//    recorded before the write is the section's start; after a crash the superblocks say
//    the reshape is too early to resume by itself (md's raid5_run), and the backup is
//    restored into the new geometry first (Grow_restart). Without a suspended window the
//    step fails and the reshape stays where it is. Past a grow's critical section (the
//    least common multiple of the two rows) THE SAFETY RULE holds alone, and the reshape
//    goes on without an overseer, as the kernel's does.
//  - What it does not do (yet): raid10 far/offset reshapes: can_move() is false and the
//    reshape stays held.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <span>
#include <utility>

#include "layout/geometry_view.h"
#include "personality/personality.h"
#include "personality/sync_barrier.h"
#include "util/aligned_buffer.h"

namespace umd::engine {

// What a moving reshape asks of the array.
class ReshapeHost {
 public:
  virtual ~ReshapeHost() = default;
  // Make every write so far durable, then record `position` as the reshape's in the
  // superblocks. Called from the sync thread inside a step.
  virtual Status record_reshape_position(uint64_t position) = 0;
  // A client write is held until the position is recorded (WRITES BEHIND THE RECORD):
  // record the live position soon, from another thread (called from any thread, often a
  // member completion, so it must not wait). The host then calls recorded(), or
  // record_failed() if the superblocks could not be written.
  virtual void record_reshape_position_soon() = 0;
  // md's suspend_lo/suspend_hi, array sectors: [lo, hi), where client writes wait.
  virtual std::pair<uint64_t, uint64_t> reshape_suspended() const = 0;
};

class ReshapingPersonality final : public Personality {
 public:
  // previous: the geometry the reshape leaves (generation view.generation()); next: the
  // one it goes to. view: with position == safe (nothing in flight). room: how far the new
  // data sits from the old, in member sectors, on every member that holds old data (below
  // it forwards, above it backwards); <= 0 when the reshape rewrites in place.
  ReshapingPersonality(std::unique_ptr<Personality> previous, std::unique_ptr<Personality> next,
                       layout::GeometryView view, int64_t room = 0);

  // The geometry whose size clients see: the smaller (md's raid5_size/raid10_size).
  const layout::Geometry& geometry() const override;
  Status read(uint64_t sector, uint64_t sectors, uint8_t* out) override;
  void submit(BlockRequest& req) override;
  void quiesce() override;
  uint32_t block_size() const override;
  void attach(uint32_t slot, Slot s, uint64_t valid_below) override;
  void detach(uint32_t slot) override;
  uint64_t valid_below(uint32_t slot) const override;
  io::Member* slot_dev(uint32_t slot) const override;
  uint64_t skip_recovery(uint64_t pos, uint64_t to,
                         const std::function<uint64_t(uint64_t, uint64_t)>& recheck) override {
    if (collapsed()) return next_->skip_recovery(pos, to, recheck);
    return pos;
  }
  void sync_arm(bool on) override;
  // Only SyncOp::reshape, and only when can_move() (until collapsed).
  uint64_t sync_sectors(SyncOp op) const override;
  uint64_t sync_granule() const override { return collapsed() ? next_->sync_granule() : granule_; }
  uint64_t sync_unit() const override;
  Status sync(SyncOp op, uint64_t pos, uint64_t n, SyncReport* report) override;
  // A write's bits: its rows in both geometries (THE BITMAP, at the top).
  std::pair<uint64_t, uint64_t> sync_span(uint64_t lo, uint64_t hi) const override;
  // The member sectors the bitmap counts: the resync space of the geometry it was made for.
  uint64_t bitmap_space_sectors() const { return previous_->sync_sectors(SyncOp::resync); }
  bool positions_are_bitmap_space(SyncOp op) const override {
    return collapsed() ? next_->positions_are_bitmap_space(op) : true;
  }
  std::vector<std::pair<uint64_t, uint64_t>> bitmap_ranges(SyncOp op, uint64_t lo, uint64_t hi,
                                                           bool just_done) const override {
    if (collapsed()) return next_->bitmap_ranges(op, lo, hi, just_done);
    return {{lo, hi}};
  }

  // Whether this reshape can be moved here (see the top of the file).
  bool can_move() const;
  // raid4/5/6 whose data stays where it is (IN PLACE, at the top).
  bool in_place() const { return room_ == 0 && !raid10_ && old_row_ && new_row_; }
  // Whether the next step from the recorded position keeps THE SAFETY RULE without a
  // suspended window: false for an in-place reshape inside its critical section, which
  // the kernel calls "too early for auto-recovery" (raid5_run), and always for one that
  // keeps its data disks.
  bool resumes_alone() const;
  // Grow_restart, before anything runs: writes a backup's `data` (array sectors from lo)
  // through the new geometry, then (restored_to) moves the position to `position`.
  Status restore(uint64_t lo, std::span<const uint8_t> data);
  void restored_to(uint64_t position);
  void set_host(ReshapeHost* host) { host_ = host; }
  // Where the reshape is now, and the sync-space progress that stands for it.
  uint64_t position() const;
  uint64_t progress_of(uint64_t position) const;
  // What the superblocks say (the host tells after each record): the writes it covers
  // complete.
  void recorded(uint64_t position);
  // The host could not record: the held writes complete with `why` (their sectors may hold
  // the write or not; a crash now would resume below them).
  void record_failed(const Status& why);
  bool done() const;  // the whole array is in the new geometry
  // Once done(), with nothing inside (the array pauses I/O): from now on every call goes
  // straight to the new geometry's personality, as if it were the array's own. (The array
  // keeps this object rather than swapping pointers other threads read.)
  void collapse();
  bool collapsed() const { return collapsed_.load(std::memory_order_acquire); }

 private:
  Personality& of(uint32_t generation) { return generation == generation_ ? *previous_ : *next_; }
  bool has_slot(const Personality& p, uint32_t slot) const { return slot < p.geometry().raid_disks(); }
  void route(BlockRequest& req, const SyncBarrier::Ticket& t);
  // Whether a write whose new-geometry pieces reach `need` (forwards: their end;
  // backwards: their start) is covered by the recorded position.
  bool covered(uint64_t need) const { return backwards_ ? recorded_ <= need : recorded_ >= need; }
  // Completes what is covered now (all, with `failed`), outside view_mu_.
  void release_held(const Status* failed);
  // Moves array sectors [lo, hi) (whole rows of the new geometry) from the old to the new.
  Status move(uint64_t lo, uint64_t hi);
  // Forwards: the end of the furthest section the new geometry may write with `recorded`
  // on disk; backwards: the start of the lowest. In granules.
  uint64_t safe_limit(uint64_t recorded) const;
  uint64_t backwards_top() const;  // the backwards sync space's size: the smaller end, rounded up

  std::unique_ptr<Personality> previous_, next_;
  mutable std::mutex view_mu_;  // guards view_, recorded_ and held_ (the sync thread changes them)
  layout::GeometryView view_;
  const uint32_t generation_;  // of the previous geometry (view_'s, which never changes it)
  const bool backwards_;
  uint64_t recorded_ = 0;
  struct HeldWrite {
    BlockRequest* req;
    uint64_t need;  // as covered() takes it
    Status status;
  };
  std::vector<HeldWrite> held_;  // guarded by view_mu_: writes behind the record
  int64_t room_ = 0;
  uint64_t granule_ = 8;
  uint64_t old_row_ = 0, new_row_ = 0;     // array sectors per row (0: not raid4/5/6)
  uint64_t old_chunk_ = 0, new_chunk_ = 0;  // member sectors per row
  bool raid10_ = false;                      // both geometries raid10 near
  uint64_t old_near_ = 0, new_near_ = 0, old_disks_ = 0, new_disks_ = 0;
  ReshapeHost* host_ = nullptr;
  SyncBarrier barrier_;
  AlignedBuffer move_buf_;  // the sync thread's (move() is called from it alone), kept across steps
  std::atomic<bool> collapsed_{false};
};

}  // namespace umd::engine
