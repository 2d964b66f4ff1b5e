// LocklessBitmap: md's lockless bitmap (llbitmap, bitmap version 6, Linux 6.18
// md-llbitmap.c), one state byte per chunk (llbitmap_state.h), kept in a BitmapStore.
//
// THE FAST PATH (seed 001): a write to a chunk that is already dirty takes no lock.
//  - Every 4 KiB page of the region (the kernel's unit of caching) has an atomic count
//    of the writes in flight on it, an atomic expiry time and a "suspended" flag.
//  - start_write() first enters each page the request touches: when the page is not
//    suspended it takes a reference and then looks at the flag again (the daemon sets
//    the flag and then reads the count, both sequentially consistent, so one of the two
//    always sees the other); if the daemon got there first the reference is dropped and
//    the writer sleeps until the page is resumed. Inside, it pushes the page's expiry to
//    now + barrier_idle (5 s).
//  - Then each chunk's byte goes through the startwrite action (next_state_in: dirty,
//    or need-sync on a degraded array and for a raid4/5/6 chunk never written). A byte
//    that changes must reach every copy of the bitmap before the data: the logical block
//    holding it (block_bytes(): 512 B or 4 KiB) has a mutex, held while the byte is
//    changed, the block's image built from the bytes in memory and written (FUA, every
//    copy). Each block counts two generations: `pending`, raised under the mutex before
//    a byte of the block changes, and `durable`, set to the generation an image carried
//    once it is written. A writer that finds its byte already as wanted but
//    pending > durable (another writer's image is still on its way) takes the mutex too,
//    which it gets only after that write. Then `go` runs, inline: all writing happens in
//    the submitter's thread, as the kernel's unplug waits for the bitmap writes.
//  - end_write() drops the page references. That is all.
//
// THE DAEMON (a thread, every daemon_sleep seconds; 30 by default) turns dirty chunks
// clean, never on a degraded array, and never before the data they cover is durable:
//  1. For each page that expired (no write entered it for barrier_idle) and holds a
//     dirty byte: suspend it, wait until its writes drained (at most daemon_sleep, else
//     leave the page for the next pass), note its expiry as "never", resume it.
//  2. If any page was drained: flush the members once (BitmapHost::flush_members), so
//     every write that completed before step 1 is durable.
//  3. For each page drained in step 1 whose expiry is still "never" (a write sets it,
//     so none entered since step 1): suspend and drain it again, and if the expiry still
//     says "never", every write its dirty bytes covered was flushed in step 2: apply the
//     daemon action (dirty -> clean), write the blocks that changed, resume it.
// Writers wait only while their page is suspended. run_daemon_now() runs one pass with
// every page treated as expired; stop() does the same, writes every block (the kernel's
// flush at stop) and joins the thread.
//
// THE SYNC THREAD: sync_skip()/sync_run() say which chunks need a visit (the kernel's
// skip_sync_blocks with start_sync's answer folded in); sync_done() applies startsync
// then endsync to the chunks wholly synced (need-sync -> syncing -> dirty), writes their
// blocks and lets the daemon clean them at its next pass.
//
// WHERE THIS DIFFERS FROM 6.18 (on purpose)
//  - 6.18's start_write changes the bytes before it takes the page references, so the
//    daemon can clean a byte between the two; later kernels take them first, as here.
//  - The kernel leaves bytes the daemon cleaned in memory until their block is written
//    for another reason (its metadata writes carry PREFLUSH, which makes the data
//    durable first); here the daemon flushes the members itself and writes them.
//  - 6.18's discard rounds the start up but takes the chunk holding the last sector;
//    here only chunks the discard covers whole become unwritten (as later kernels).
//  - The kernel marks a whole block dirty when a second chunk of it is dirtied within
//    barrier_idle ("infect", llbitmap_state.h); here each byte is marked alone.
//
// THE SUPERBLOCK: mdadm and `umd --create` write only the header (chunksize 0, the
// first-use state bit, and the clean bit for --assume-clean). On first use the chunk is
// chosen as the kernel does (ll_initial_chunk_sectors) and every byte written unwritten,
// or clean. Otherwise the bytes are loaded and reloaded (dirty and syncing become
// need-sync: a crash may have left those chunks inconsistent), or, when the bitmap's
// events are below the array's, marked stale (every written chunk needs a sync).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <limits>
#include <memory>
#include <mutex>
#include <span>
#include <thread>

#include "bitmap/bitmap_store.h"
#include "bitmap/bitmap_super.h"
#include "bitmap/llbitmap_state.h"
#include "bitmap/write_intent.h"

namespace umd::bitmap {

class LocklessBitmap final : public WriteIntent {
 public:
  struct Options : BitmapOptions {
    bool raid456 = false;        // first writes to never-written chunks need a sync
    int64_t offset_sectors = 0;  // bitmap from the md superblock (llbitmap/metadata)
  };
  // Reads and checks the bitmap; initialises it on first use, else reloads its states
  // (stale: every written chunk needs a sync) and writes what changed.
  static Result<std::unique_ptr<LocklessBitmap>> open(std::unique_ptr<BitmapStore> store, BitmapHost& host,
                                                      const Options& opts);
  ~LocklessBitmap() override;

  const char* kind() const override { return "llbitmap"; }
  void start_write(uint64_t lo, uint64_t hi, std::function<void()> go) override;
  void end_write(uint64_t lo, uint64_t hi) override;
  void discard(uint64_t lo, uint64_t hi) override;
  uint64_t sync_skip(SyncKind kind, uint64_t pos, uint64_t end) override;
  void sync_done(SyncKind kind, uint64_t lo, uint64_t hi) override;
  uint64_t sync_run(SyncKind kind, uint64_t pos, uint64_t end) override;
  uint64_t dirty_chunks() const override;
  uint64_t chunk_sectors() const override { return chunk_sectors_; }
  void set_degraded(bool degraded) override { degraded_.store(degraded); }
  Status run_daemon_now() override;
  Status write_super(uint64_t events) override;
  uint64_t events_cleared() const override;
  Status stop() override;
  std::vector<std::string> attr_names() const override;
  Result<std::string> attr(const std::string& name) const override;
  Status set_attr(const std::string& name, const std::string& value) override;

  // One daemon pass as if it woke at `now` (tests: expiry without sleeping).
  Status run_daemon_at(std::chrono::steady_clock::time_point now);
  BitmapStore& store() { return *store_; }
  uint64_t chunks() const { return chunks_; }
  LlState state(uint64_t chunk) const { return LlState(bytes_[chunk].load(std::memory_order_acquire)); }

 private:
  using Clock = std::chrono::steady_clock;
  static constexpr int64_t kNever = std::numeric_limits<int64_t>::max();  // a page's expiry after the daemon saw it

  struct alignas(64) Page {
    std::atomic<int64_t> refs{0};         // writes in flight on the page
    std::atomic<int64_t> expire{kNever};  // Clock ticks: when the page may be cleaned
    std::atomic<bool> suspended{false};   // the daemon is working on it
  };

  LocklessBitmap(std::unique_ptr<BitmapStore> store, BitmapHost& host) : store_(std::move(store)), host_(host) {}
  Status init_first_use(const Options& opts);
  Status load(const Options& opts);
  void allocate();

  LlArrayKind array_kind() const { return {degraded_.load(), raid456_}; }
  static uint64_t page_of(uint64_t chunk) { return (kLlDataOffset + chunk) / kLlPageBytes; }
  uint64_t block_of(uint64_t chunk) const { return (kLlDataOffset + chunk) / block_; }
  // The chunks whose state bytes lie in block b: [first, last).
  std::pair<uint64_t, uint64_t> chunks_of_block(uint64_t b) const;

  // The barrier: enter waits while the page is suspended.
  void enter(uint64_t page, int64_t expire);
  void leave(uint64_t page);
  // Suspends the page and waits (at most `limit`) for its writes; false: still busy,
  // and the page is resumed again.
  bool suspend(uint64_t page, Clock::duration limit);
  void resume(uint64_t page);

  // Applies `actions` in turn to the chunks [c0, c1) that lie in block b, under the
  // block's mutex, and writes the block when a byte changed or an earlier change is not
  // yet on disk. Returns whether a byte changed.
  bool apply_in_block(uint64_t b, uint64_t c0, uint64_t c1, std::span<const LlAction> actions);
  // The same over [c0, c1), block by block.
  void apply_range(uint64_t c0, uint64_t c1, std::span<const LlAction> actions);
  // Block b's mutex held: writes its image, then marks the generation it carried durable.
  Status write_block_locked(uint64_t b);
  void record(const Status& s);

  Status pass(Clock::time_point now, bool force);
  void daemon_loop();
  Clock::duration daemon_sleep() const { return std::chrono::seconds(daemon_sleep_s_.load()); }
  bool visit(SyncKind kind, uint8_t raw) const;

  std::unique_ptr<BitmapStore> store_;
  BitmapHost& host_;
  bool raid456_ = false;
  int64_t offset_sectors_ = 0;
  uint64_t chunks_ = 0;
  uint64_t chunk_sectors_ = 0;
  uint64_t sync_sectors_ = 0;
  uint32_t block_ = 512;
  uint64_t blocks_ = 0;  // blocks of the region (superblock to the last state byte)
  uint64_t pages_ = 0;

  std::unique_ptr<std::atomic<uint8_t>[]> bytes_;     // the state of each chunk
  std::unique_ptr<std::mutex[]> block_mu_;             // per block: change + write
  std::unique_ptr<std::atomic<uint64_t>[]> pending_;  // per block: generation in memory
  std::unique_ptr<std::atomic<uint64_t>[]> durable_;  // per block: generation on disk
  std::unique_ptr<Page[]> page_;
  std::vector<uint8_t> as_read_;  // the region as read: bytes that are neither superblock nor state

  std::atomic<bool> degraded_{false};
  std::atomic<uint32_t> daemon_sleep_s_{kLlDefaultDaemonSleep};
  std::atomic<uint32_t> barrier_idle_s_{kLlBarrierIdle};

  // The barrier's sleepers: writers waiting for a resume, the daemon for a drain.
  std::mutex barrier_mu_;
  std::condition_variable barrier_cv_;

  std::mutex pass_mu_;  // one daemon pass at a time (the thread, run_daemon_now, stop)

  mutable std::mutex mu_;  // sb_, last_error_, the daemon thread's state; after a block mutex
  std::condition_variable cv_;
  BitmapSuper sb_;
  Status last_error_;
  bool started_ = false;  // open() succeeded (the thread runs)
  bool stopping_ = false;
  bool rearm_ = false;  // daemon_sleep changed: restart the wait
  std::thread daemon_;
};

}  // namespace umd::bitmap
