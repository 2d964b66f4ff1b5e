// ReshapeOverseer: mdadm's reshape monitor (Grow.c child_monitor and progress_reshape) for
// an in-place reshape of raid4/5/6, the data offset staying where it is, with a backup
// file in mdadm's own format (backup_file.h). It owns the backup file and speaks to the
// array only through OverseenArray: md's attributes, the array's bytes, sysfs_notify.
//
// THE PROTOCOL (seed 000; the array's side: sync/sync_engine.h, personality/
// reshaping_personality.h IN PLACE)
//  Units: array sectors, except sync_max and sync_completed, which count sectors of each
//  member (the reshape's array sectors over the new data disks), as the kernel's do.
//  - Sections are mdadm's backup_blocks: the least common multiple of the old and the new
//    data rows (compute_backup_blocks), rounded to whole reshape steps; with as many data
//    disks before as after, doubled while 32 of them fit in a member and they stay below
//    16 MiB, as reshape_array doubles them. The file has two parts of one section each.
//  - What needs a backup: more data disks, [0, backup_blocks), the critical section, where
//    the new rows land on old rows still unread; past it the new rows stay below the old
//    ones still needed, and the reshape goes on by itself (the overseer leaves, as
//    mdadm's child does once need_backup <= reshape_progress). The same data disks: every
//    section, to the end.
//  - The array starts the reshape held at sync_max 0 (array_reshape.cc). Then, in a loop:
//    1. `done` = what sync_completed says, times the data disks: recorded in the
//       superblocks (the sync thread writes them before it publishes). While the sync
//       thread is not running, the last value seen stands (reshape_position may be ahead
//       of the record: a step that moved, then failed at a power cut), except at the very
//       start, where reshape_position is what the superblocks said. A part wholly
//       below `done` is forgotten; suspend_lo moves up to `done`, but never above the
//       start of a part still saved: a restore puts a whole part back, so a client write
//       inside it, even below `done`, would be undone by it. (mdadm's progress_reshape
//       lets suspend_lo follow the progress alone.)
//    2. While a part is free and a section remains: suspend_hi moves to the section's end
//       (the array drains writes into the widened window before the store returns), the
//       section is read through the array, and saved in the free part (data synced, then
//       the block synced).
//    3. sync_max moves to the end of what is saved; then the overseer waits for the next
//       sync_completed. The sync thread publishes it half-way from the last one to
//       sync_max, so with two parts one is refilled while the reshape moves the other:
//       double buffering, neither side waiting on the other.
//    The array moves a section over itself only inside the suspended window (so only
//    what is saved here); a write there waits until the reshape has recorded past it.
//  - After a crash the superblocks hold a position inside a saved section (the step
//    records its start before it writes), which the kernel calls too early to resume by
//    itself; `--assemble --backup-file` restores the saved sections into the new geometry
//    and records their end (Grow_restart; array_backup_restore.cc), then a new overseer
//    goes on from there.
//  - The end: the suspension is lifted (suspend_lo 2^63-1, suspend_hi 0, suspend_lo 0, as
//    mdadm writes them, so the window is never wider on the way), sync_max "max", and the
//    file is removed.
//  - stop() (the array is stopping, or the daemon) leaves the file and the attributes as
//    they are: the backup is what a restart needs.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "overseer/backup_file.h"
#include "overseer/overseen_array.h"
#include "util/status.h"

namespace umd::overseer {

// What mdadm reads from the superblocks before it oversees.
struct ReshapePlan {
  std::array<uint8_t, 16> uuid{};  // md's set uuid bytes (the backup block's set_uuid)
  uint32_t old_data_disks = 0, new_data_disks = 0;
  uint64_t old_chunk = 0, new_chunk = 0;  // sectors
  uint64_t component_sectors = 0;         // of each member
  uint64_t end = 0;                       // array sectors the reshape moves (the new geometry's)
};

// The section size (mdadm's backup_blocks, see the top) and where backups end.
uint64_t backup_blocks(const ReshapePlan& p);
uint64_t backup_end(const ReshapePlan& p);

class ReshapeOverseer {
 public:
  // Creates the backup file (`restart`: over an old one, after its sections were restored)
  // and starts overseeing on a thread of its own.
  static Result<std::unique_ptr<ReshapeOverseer>> start(OverseenArray& array, const ReshapePlan& plan,
                                                        const std::string& backup_path, bool restart);
  ~ReshapeOverseer();
  ReshapeOverseer(const ReshapeOverseer&) = delete;
  // Stops overseeing, leaving the backup file and the array's attributes as they are.
  void stop();
  // Blocks until the overseer has ended or the timeout passes; true when it has ended.
  bool wait_ended(std::chrono::milliseconds timeout);
  bool ended() const;
  // ok while it runs and when it ended its work; otherwise what stopped it.
  Status status() const;
  // Sections saved so far (tests and --detail).
  uint64_t sections_saved() const { return saved_.load(); }

 private:
  ReshapeOverseer(OverseenArray& array, const ReshapePlan& plan, BackupFile file);
  void run();
  Status loop();
  // The recorded progress in array sectors; nullopt once the reshape is over.
  Result<std::optional<uint64_t>> done_sectors();
  Status finish();

  OverseenArray& array_;
  const ReshapePlan plan_;
  BackupFile file_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> saved_{0};
  std::optional<uint64_t> last_done_;  // the overseer thread's: the last sync_completed seen
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool ended_ = false;  // guarded by mu_
  Status status_;       // guarded by mu_
  std::thread thread_;
};

}  // namespace umd::overseer
