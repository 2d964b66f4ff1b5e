// The stripe cache of raid4/5/6: which chunk rows are being worked on, and who waits for
// them.
//
// STRIPE LOCKS
//  - The unit is the chunk row (md's "stripe" at chunk granularity; md itself works in
//    4 KiB columns, STRIPE_SIZE, and we keep its rules but not its unit). Every
//    operation that reads parity or writes anything in a row -- writes, degraded reads,
//    read repairs -- owns the row exclusively from before its first member I/O until
//    after its last member I/O has completed. Healthy reads of a single data block
//    bypass the cache, as md's chunk_aligned_read does.
//  - acquire() hands the row to the task at once when nobody owns it, otherwise queues
//    it; release() passes ownership to the oldest waiter (FIFO, so writes to a row are
//    applied in submission order). A task holds at most one row at a time, so there is
//    no lock ordering and no deadlock; requests spanning rows split into one task per row.
//  - Rows are keyed by (geometry generation, row number): during a reshape the array holds
//    two geometries (layout/geometry_view.h) whose row N are different stripes, so a key
//    always says which geometry's row it is.
//  - The table is sharded by row (kShards mutexes, each held only to look up or update
//    one row's queue, never across I/O): requests on different rows proceed in parallel
//    and there is no global lock on the hot path.
//  - Nothing is cached between operations: a row's buffers live as long as the task that
//    owns it, so the members stay the one source of truth (the synchronous read path and
//    recovery tools may read them directly).
//
// RUNNING TASKS
//  Members may complete inline (MemoryMember, FaultyMember) and a released row starts its
//  next waiter, so a chain of tasks could recurse without bound. run_flat() flattens this:
//  a task started while the same thread is already running one is queued on that thread
//  and run by the outermost run_flat() when the current task returns.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <mutex>
#include <unordered_map>

namespace umd::engine {

class StripeTask {
 public:
  virtual ~StripeTask() = default;
  // Runs with the row owned. The task later calls StripeLocks::release(row) exactly once.
  virtual void run() = 0;
};

// Runs t now, or (when this thread is already inside run_flat) as soon as the running
// task returns.
void run_flat(StripeTask* t);

// A chunk row of one geometry (its generation, layout/geometry_view.h).
struct RowKey {
  uint32_t generation = 0;
  uint64_t row = 0;
  bool operator==(const RowKey&) const = default;
};

class StripeLocks {
 public:
  StripeLocks() = default;
  StripeLocks(const StripeLocks&) = delete;
  StripeLocks& operator=(const StripeLocks&) = delete;

  // Gives `row` to t (t->run() through run_flat) now or after the tasks queued before it.
  void acquire(RowKey row, StripeTask* t);
  // The owner is done with `row`: the next waiter, if any, runs (through run_flat).
  void release(RowKey row);
  // Rows owned right now (tests and diagnostics).
  size_t active_rows();

 private:
  static constexpr size_t kShards = 64;
  struct KeyHash {
    size_t operator()(const RowKey& k) const { return size_t(k.row * 0x9e3779b97f4a7c15ull ^ k.generation); }
  };
  struct Shard {
    std::mutex mu;
    // Present: the row is owned; the deque holds the waiters in arrival order.
    std::unordered_map<RowKey, std::deque<StripeTask*>, KeyHash> rows;
  };
  Shard& shard(RowKey k) { return shards_[((k.row + k.generation) * 0x9e3779b97f4a7c15ull) >> 58]; }
  std::array<Shard, kShards> shards_;
};

}  // namespace umd::engine
