// ClassicBitmap: md's write-intent bitmap (version 4), one bit per chunk, kept in a
// BitmapStore (on every member, or in a file), with the kernel's in-memory counters.
//
// BITMAP UNPLUGGING (seed 004: how a write waits for its bit, in batches)
//  - Bit updates are grouped into numbered batches. seq_write_ is the last batch whose
//    blocks are on disk; seq_flush_ the last batch closed to new additions.
//  - start_write() counts the write in every chunk it touches. A chunk whose bit is not
//    yet set gets it set in memory, its block marked for writing, and the number of the
//    batch that will carry it: seq_flush_ + 1. The write needs the highest batch among
//    its chunks (a bit set by an earlier request but not yet written counts too). When
//    that batch is already written (<= seq_write_), the write goes at once; otherwise it
//    is queued with its batch number.
//  - The writer thread "unplugs": whenever writes wait, it closes the current batch
//    (seq_flush_ + 1, so bits set from now on join the next one), writes every marked
//    block together (each on every copy, with FUA), then sets seq_write_ to the closed
//    batch and lets every queued write with a batch <= seq_write_ go.
//  - A block may be written twice (a bit set for the next batch is already in the image
//    of this one), but no bit is ever missed: a write goes only after a batch that was
//    closed after its bit was set has been written.
//
// CLEARING (the daemon, every daemon_sleep seconds; md's bitmap daemon)
//  - A chunk is cleared when no write is in flight on it, none ended within
//    daemon_sleep, it needs no sync, and the array is not degraded. Before any bit is
//    cleared in memory the members are flushed (BitmapHost::flush_members), so every
//    write the bit covered is durable first; then events_cleared is set and the blocks
//    are written like any others.
//  - At stop() every quiet chunk is cleared the same way (md_bitmap_flush).
//
// THE SUPERBLOCK: events follow the array's (write_super(), called by the array before
// it writes its own superblocks, as md_update_sb does); a bitmap whose events are below
// the array's is stale at load: every chunk is marked, so everything is resynced.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "bitmap/bitmap_store.h"
#include "bitmap/bitmap_super.h"
#include "bitmap/write_intent.h"

namespace umd::bitmap {

class ClassicBitmap final : public WriteIntent {
 public:
  using Options = BitmapOptions;
  // Reads and checks the bitmap, marks what it says is dirty (everything when stale).
  static Result<std::unique_ptr<ClassicBitmap>> open(std::unique_ptr<BitmapStore> store, BitmapHost& host,
                                                     const Options& opts);
  ~ClassicBitmap() override;

  const char* kind() const override { return "bitmap"; }
  void start_write(uint64_t lo, uint64_t hi, std::function<void()> go) override;
  void end_write(uint64_t lo, uint64_t hi) override;
  void discard(uint64_t, uint64_t) override {}
  uint64_t sync_skip(SyncKind kind, uint64_t pos, uint64_t end) override;
  void sync_done(SyncKind kind, uint64_t lo, uint64_t hi) override;
  uint64_t sync_run(SyncKind kind, uint64_t pos, uint64_t end) override;
  uint64_t dirty_chunks() const override;
  uint64_t chunk_sectors() const override { return chunk_sectors_; }
  void set_degraded(bool degraded) override;
  Status run_daemon_now() override;
  Status write_super(uint64_t events) override;
  uint64_t events_cleared() const override {
    std::lock_guard l(mu_);
    return sb_.events_cleared;
  }
  Status stop() override;
  std::vector<std::string> attr_names() const override;
  Result<std::string> attr(const std::string& name) const override;
  Status set_attr(const std::string& name, const std::string& value) override;

  BitmapStore& store() { return *store_; }
  uint64_t batches_written() const;  // seq_write_ (tests: batching happened)

 private:
  using Clock = std::chrono::steady_clock;
  struct Chunk {
    uint32_t writing = 0;   // writes in flight
    uint64_t batch = 0;     // the batch that carries its bit (<= seq_write_: on disk)
    bool needed = false;    // must be synced before it may be cleared
    Clock::time_point quiet{};
  };
  ClassicBitmap(std::unique_ptr<BitmapStore> store, BitmapHost& host) : store_(std::move(store)), host_(host) {}
  bool bit(uint64_t c) const { return (bits_[c / 8] >> (c % 8)) & 1; }
  void set_bit(uint64_t c, bool on);
  void writer_loop();
  void daemon_loop();
  // Clears every eligible chunk (quiet for `quiet_for`); returns whether any was.
  Status clear_pass(Clock::duration quiet_for);
  // Writes the marked blocks (with seq `closing`), under write_mu_.
  Status write_blocks(const std::set<uint64_t>& blocks);
  std::vector<uint8_t> block_image(uint64_t block) const;  // mu_ held

  std::unique_ptr<BitmapStore> store_;
  BitmapHost& host_;
  BitmapSuper sb_;
  uint64_t chunks_ = 0;
  uint64_t chunk_sectors_ = 0;
  uint32_t block_ = 512;
  std::vector<uint8_t> bits_;  // the bit area, padded to whole blocks of the region

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable written_cv_;  // seq_write_ moved (run_daemon_now waits on it)
  std::mutex write_mu_;  // one writer of blocks at a time
  std::vector<Chunk> chunk_;
  std::set<uint64_t> dirty_blocks_;
  uint64_t seq_flush_ = 0, seq_write_ = 0;
  std::multimap<uint64_t, std::function<void()>> waiting_;
  bool degraded_ = false;
  bool stopping_ = false;
  std::chrono::milliseconds daemon_sleep_{5000};
  Status last_error_;
  std::thread writer_, daemon_;
};

}  // namespace umd::bitmap
