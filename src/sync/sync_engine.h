// SyncEngine: the one sync thread of an array (md's md_do_sync and its sysfs controls).
//
// ACTIONS (md's sync_action)
//  - What runs by itself: recovery when a slot has a member being rebuilt, else a
//    resync when the array is not in sync (both asked of the host: SyncHost::needed()).
//    "check" and "repair" run only when asked, from sync_min. "idle" interrupts what runs
//    (a needed recovery/resync then starts again, from its checkpoint, as in md);
//    "frozen" interrupts and starts nothing until another action is written. "resync" and
//    "recover" unfreeze. check/repair are refused (busy) while something else runs.
//  - mismatch_cnt is reset when a check, repair or resync starts and counts sectors.
//  - What is asked for shows in sync_action before the thread takes it up, as md's does
//    from MD_RECOVERY_NEEDED: a check or repair from the write that requests it, a reshape
//    the host has recorded from the kick that announces it.
//
// PROGRESS, OVERSIGHT AND CHECKPOINTS (seed 000)
//  - The thread never goes past sync_max (a sector number or "max"): it waits there until
//    sync_max moves or the action changes. sync_min is where check/repair start.
//  - sync_completed ("done / end", or "none" when idle) is published when the position
//    reaches HALF-WAY from the last published value to sync_max, when it reaches sync_max,
//    at the end, and at least every 3 s; the host checkpoints the position in the
//    superblocks first, so what sync_completed says is on disk (md's reshape_request
//    writes them before curr_resync_completed). An overseer that moves sync_max forward
//    when it sees sync_completed change therefore always has the next window open before
//    the thread gets there (double buffering), is never left waiting for a timer, and may
//    forget its backup of what lies below sync_completed.
//  - Units: sync_min, sync_max and sync_completed count Personality::sync_unit() sync
//    sectors each: in a raid4/5/6 reshape, sectors of each member (md's), else sectors of
//    the sync space itself. Inside, every position is in sync-space sectors.
//  - publishes() and wait_ms() count those publications and the time spent waiting at
//    sync_max, for tests and for the attribute umd/sync_stats.
//
// THROTTLE (md's sync_speed_min / sync_speed_max, KiB/s, default 1000 / 200000)
//  - Speed is measured over the last ~3 s. Above sync_speed_max the thread sleeps until it
//    is back under. Above sync_speed_min, while clients have I/O in flight, it yields a
//    little before each step so foreground I/O goes first. Below sync_speed_min it never
//    holds back.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "personality/personality.h"
#include "util/status.h"

namespace umd::engine {

// What the engine drives: implemented by the Array.
class SyncHost {
 public:
  virtual ~SyncHost() = default;
  struct Need {
    SyncOp op;
    uint64_t from;  // checkpoint to resume from
  };
  // The recovery or resync the array needs now, if any.
  virtual std::optional<Need> needed() = 0;
  virtual Personality& sync_personality() = 0;
  // What the attributes need of sync_personality(), read from any thread while the sync
  // thread may be replacing the personality (a reshape starting or ending, a takeover), so
  // under the host's own lock and before the engine's.
  struct Shape {
    uint64_t granule = 1;        // sync_granule()
    uint64_t unit = 1;           // sync_unit()
    uint64_t check_sectors = 0;  // sync_sectors(check): 0 when the level has no redundancy
    // A reshape is recorded that the thread can move: between a kick and the thread taking
    // it up, sync_action already says "reshape", as md's does once MD_RECOVERY_NEEDED is
    // set (action_show).
    bool reshape_pending = false;
  };
  virtual Shape sync_shape() const = 0;
  // Everything below `pos` is done: record it (superblocks). Called from the sync thread.
  // False when it could not be recorded: sync_completed then stays where it was.
  virtual bool sync_checkpoint(SyncOp op, uint64_t pos) = 0;
  // The run ended: complete (reached the end) or interrupted at pos (err: why, if failed).
  virtual void sync_finished(SyncOp op, uint64_t pos, bool complete, const Status& err) = 0;
  virtual bool client_busy() const = 0;
  // A write-intent bitmap's say: sectors from pos (before end) that need no visit.
  virtual uint64_t sync_skip(SyncOp op, uint64_t pos, uint64_t end) {
    (void)op, (void)pos, (void)end;
    return 0;
  }
  // How far from pos a visit is needed (a bitmap's run of marked chunks); ~0: no limit.
  virtual uint64_t sync_run(SyncOp op, uint64_t pos, uint64_t end) {
    (void)op, (void)pos, (void)end;
    return ~0ull;
  }
  // [lo, hi) was synced (the bitmap may clear it).
  virtual void sync_step_done(SyncOp op, uint64_t lo, uint64_t hi) { (void)op, (void)lo, (void)hi; }
};

class SyncEngine {
 public:
  explicit SyncEngine(SyncHost& host);
  ~SyncEngine();
  SyncEngine(const SyncEngine&) = delete;
  SyncEngine& operator=(const SyncEngine&) = delete;

  void start();
  void stop();  // interrupts (checkpointing) and joins
  // Something changed (a member added, a failure): look at needed() again.
  void kick();
  // Interrupts a running recovery (its target failed or left); it starts again when needed.
  void interrupt();

  // md attribute semantics: sync_action, sync_min, sync_max, sync_completed, sync_speed,
  // sync_speed_min, sync_speed_max, mismatch_cnt, last_sync_action, umd/sync_stats.
  // Errors: Err::invalid (bad value), Err::busy (not now), Err::not_found (not ours).
  Result<std::string> attr(const std::string& name) const;
  Status set_attr(const std::string& name, const std::string& value);

  struct Progress {
    std::string action = "idle";  // sync_action's value
    bool running = false;
    uint64_t pos = 0, end = 0;    // published position and the end
    uint64_t done = 0;            // where the run is now (md's curr_resync: what mdstat shows)
    uint64_t speed_kibs = 0;
    uint64_t mismatch_sectors = 0;
  };
  Progress progress() const;
  std::vector<SyncFinding> findings() const;
  uint64_t publishes() const;
  uint64_t done_sectors() const;  // sectors synced by every run so far
  uint64_t skipped_sectors() const;  // sectors a bitmap let the runs pass over
  uint64_t wait_ms() const;
  // Held by the sync thread around each step; whoever changes the personality's slots
  // (Array::pause_io) takes it too, so no step runs meanwhile.
  std::mutex& step_mutex() { return step_mu_; }
  bool is_sync_thread() const { return std::this_thread::get_id() == thread_id_.load(); }
  // Blocks until nothing runs and nothing is needed (or frozen), or the timeout passes.
  bool wait_idle(std::chrono::milliseconds timeout);
  // Blocks until a run has published a position >= pos (true: it is there, or held at a
  // sync_max there), or until nothing runs or is about to run, or the timeout (false).
  bool wait_published(uint64_t pos, std::chrono::milliseconds timeout);
  // md's sysfs_notify on sync_completed and sync_action, which mdadm select()s on: blocks
  // until the count of events (a publication, a run starting or ending) is no longer
  // `seen`, or the timeout; returns the count.
  uint64_t wait_event(uint64_t seen, std::chrono::milliseconds timeout);

 private:
  void loop();
  // One run; returns false when it failed (nothing is retried until kicked).
  bool run(SyncOp op, uint64_t from, uint64_t end, std::unique_lock<std::mutex>& l);
  bool frozen_now() const;
  bool should_stop_locked() const { return stopping_ || interrupt_; }
  void throttle(std::unique_lock<std::mutex>& l);
  uint64_t speed_locked() const;
  void publish_locked(SyncOp op, uint64_t pos, std::unique_lock<std::mutex>& l);
  uint64_t events_ = 0;  // guarded by mu_: wait_event's count

  SyncHost& host_;
  mutable std::mutex mu_;
  std::mutex step_mu_;
  std::condition_variable cv_;
  std::thread thread_;
  std::atomic<std::thread::id> thread_id_{};
  bool started_ = false;
  bool stopping_ = false;
  bool interrupt_ = false;
  bool kicked_ = false;
  bool frozen_ = false;
  std::optional<SyncOp> requested_;  // check/repair asked for
  bool running_ = false;
  SyncOp op_ = SyncOp::resync;
  uint64_t pos_ = 0, end_ = 0, published_ = 0;
  bool deciding_ = false;  // the thread took a kick and is choosing what to run (guarded by mu_)
  uint64_t sync_min_ = 0;
  uint64_t sync_max_ = ~0ull;  // "max"
  uint32_t speed_min_ = 0, speed_max_ = 0;  // 0: the system value
  uint64_t mismatches_ = 0;
  std::string last_action_ = "none";
  std::vector<SyncFinding> findings_;
  std::optional<SyncOp> starting_;  // a requested check/repair the thread took, not yet running
  uint64_t read_aheads_ = 0;  // steps whose reads were done ahead (SyncReport::read_ahead)
  std::deque<std::pair<std::chrono::steady_clock::time_point, uint64_t>> marks_;  // (time, sectors done)
  uint64_t done_sectors_ = 0;
  uint64_t skipped_sectors_ = 0;
  uint64_t publishes_ = 0;
  std::chrono::steady_clock::duration waited_{};
  std::chrono::steady_clock::duration last_run_{};  // the last run, start to its superblocks
  std::chrono::steady_clock::time_point last_publish_{};
};

inline constexpr uint32_t kSystemSpeedMin = 1000;    // KiB/s, md's speed_limit_min
inline constexpr uint32_t kSystemSpeedMax = 200000;  // KiB/s, md's speed_limit_max

// The "system" values of sync_speed_min/max (md: /proc/sys/dev/raid/speed_limit_min/max):
// $UMD_SPEED_LIMIT_MIN / $UMD_SPEED_LIMIT_MAX (KiB/s, a positive integer) when the
// process started with them, else the kernel's defaults above. Read once.
uint64_t system_speed_min();
uint64_t system_speed_max();

}  // namespace umd::engine
