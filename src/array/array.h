// A running array: members gathered and opened for writing, the personality that maps
// I/O onto them, the superblock bookkeeping of md (events, active/clean, faulty
// members), and the flush protocol. It is the BlockTarget that frontends serve.
//
// FLUSH AND FUA (seed 002: the barrier design of request-based dm, applied to umd)
//
//  - A write is acknowledged once every member that holds a copy or parity of it has
//    completed its part. From then on it is "completed" for the flush rule below.
//  - A FLUSH is acknowledged only when every write completed before the flush was
//    submitted is durable on every member. The array therefore fans out one flush per
//    live member, waits for all of them, and completes the client's flush with the
//    result. Writes still in flight when the flush arrives are not covered (the block
//    layer's rule too): the client orders them by waiting for their replies first.
//  - Error precedence across the member flushes: "not supported" wins over every other
//    error (Err::unsupported); then "retry" (Err::retry), which asks the client to send
//    the flush again; otherwise the first error reported. A member whose flush fails
//    with an I/O error is failed like a member whose write failed; the flush succeeds if
//    the array still holds every write durably through its other members.
//  - A FUA write is written with FUA to each member it touches (and so is durable on
//    each before it is acknowledged).
//  - "Every member" is every member that takes the slot's data: the flush goes through the
//    personality's slot members (slot_dev), so a member being rebuilt and, during
//    --replace, the replacement as well as the old member are flushed (ReplacingMember
//    flushes both). The client flush, stop() and the bitmap's flush_members() are one
//    function (flush_live_members).
//  - stop() refuses new requests, waits for every in-flight request and pending flush,
//    flushes every member, then writes clean superblocks.
//
// THE DOOR: submit() never blocks (block_target.h)
//  - A request that must wait is parked, and submit() returns at once, so the frontend's
//    thread goes on with the next request: writes into md's suspend_lo/hi window, every
//    request while I/O is paused (a member change), writes while the superblocks do not
//    say "active" (the state thread marks the array active, then submits them again),
//    and a request that meets a sync step's window (the personality parks it, see
//    sync_barrier.h). A classic bitmap's batch parks the write inside the bitmap.
//  - Parked requests are submitted again, from the door, when what held them changes
//    (suspend_lo/hi written, resume_io(), the array marked active).
//  - A member failure is recorded in memory at once (member_failed never blocks nor does
//    I/O, so it may run on a completion thread); the state thread writes the superblocks
//    that record it. Until they are written, every client completion is held back, so no
//    write that met the failure is acknowledged before the failure is on disk (md's rule).
//
// THE STATE THREAD (state_loop): one thread per array writes the superblocks for what
// clients cannot wait on: marking active before parked writes go, recording member
// failures before held completions go, and marking clean after safe_mode_delay of quiet.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "block/block_target.h"
#include "assemble/member_set.h"
#include "personality/personality.h"
#include "personality/reshaping_personality.h"
#include "sync/sync_engine.h"
#include "bitmap/write_intent.h"
#include "io/member.h"
#include "overseer/overseen_array.h"
#include "overseer/reshape_overseer.h"
#include "util/mutex.h"

namespace umd {
struct BackupRestartState;  // format/backup_super.h
}  // namespace umd

namespace umd::engine {

// mdadm --grow's shape options (unset: as now).
struct ReshapeRequest {
  std::optional<uint32_t> raid_disks;
  std::optional<uint32_t> chunk_sectors;
  std::optional<uint32_t> layout;  // md's layout number for the (new) level
  // --level: another level is a takeover (array_takeover.cc); the same one is no change.
  std::optional<int> level;
  bool preserve_layout = false;  // --layout=preserve: the level change that needs no restripe
  bool force = false;            // --force: convert even when too few spares leave it degraded
  // --backup-file (mdadm's in-place reshape of raid4/5/6): the data offset stays, and the
  // reshape starts held at sync_max 0 for its overseer (overseer/reshape_overseer.h), which
  // backs each section up before it lets sync_max past it.
  bool in_place = false;
};

struct AssembleOptions {
  std::string bitmap_file;  // --bitmap=FILE: the array's bitmap lives in this file
  bool read_only = false;
  bool force = false;  // leave stale members out instead of refusing
  bool run = false;    // start even when degraded
  std::string overlay_dir;  // --overlay DIR: members are overlaid (io/overlay_member.h)
  // mdadm --freeze-reshape: a reshape the superblocks record stays where it is (sync_action
  // "frozen") until sync_action is written; without it the reshape resumes.
  bool freeze_reshape = false;
  // mdadm --backup-file: an in-place reshape's sections are restored from it first
  // (array_backup_restore.cc); the reshape then waits at sync_max for an overseer.
  std::string backup_file;
};

struct MemberDetail {
  std::string path;
  std::string name;          // md's rdev name: the file's base name ("d1.img"); attributes are dev-NAME/...
  int slot = -1;             // -1: spare (or removed)
  // mdadm --detail's words: "active sync", "spare rebuilding", "faulty", "spare",
  // "replacement" (the new member of a --replace, being copied), "removed".
  std::string state;
  uint64_t events = 0;
  uint64_t recovery_offset = ~0ull;  // sectors of this member already rebuilt; ~0: in sync
};

// md's sync_action values.
inline constexpr const char* kSyncActions[] = {"idle", "frozen", "resync", "recover", "check", "repair", "reshape"};

struct ArrayDetail {
  std::string name;
  std::string set_name;      // the name in the superblock ("host:data"); empty for 0.90
  std::string uuid;
  std::string version;       // "1.2"
  int level = 0;
  std::string layout;
  uint32_t chunk_kib = 0;
  uint32_t raid_disks = 0;
  uint64_t array_sectors = 0;
  uint64_t component_sectors = 0;
  std::string state;         // md's array_state: clean, active, readonly, ...
  bool degraded = false;     // a slot without a working member: failed, or missing at assembly
  uint32_t failed = 0;       // such slots
  uint64_t events = 0;
  std::vector<MemberDetail> members;

  // The sync thread (sync_engine.h). action: md's sync_action ("idle", "frozen",
  // "resync", "recover", "check", "repair"). pos/end: sync_completed's two numbers, in
  // the action's sectors (member sectors for raid1/4/5/6 and recovery; array sectors
  // for a raid10 resync/check), 0/0 when idle. speed_kibs: md's sync_speed (KiB/s over
  // the last few seconds). mismatch_cnt: sectors found inconsistent by the last
  // check/repair/resync.
  std::string sync_action = "idle";
  uint64_t sync_pos = 0;
  uint64_t sync_done = 0;  // where the run is now, ahead of sync_pos (mdstat's and mdadm's percent)
  uint64_t sync_end = 0;
  uint64_t sync_speed_kibs = 0;
  uint64_t mismatch_cnt = 0;
  uint64_t resync_offset = ~0ull;  // where a pending resync resumes; ~0: in sync

  // A reshape the superblocks record, moving (sync_action "reshape") or held where it
  // stopped (frozen, read-only, or one umd cannot move: see reshaping_personality.h).
  // level/layout/chunk_kib above are the geometry it leaves, raid_disks the new count.
  struct Reshape {
    bool moving = false;     // the sync thread is moving it now
    uint64_t position = 0;   // array sectors (md's reshape_position)
    uint64_t end = 0;        // array sectors the reshape walks
    bool backwards = false;  // walking down from the end
    int32_t delta_disks = 0;
    int new_level = 0;
    std::string new_layout;
    uint32_t new_chunk_kib = 0;
    int percent() const {
      if (end == 0) return 0;
      return int((backwards ? end - std::min(position, end) : std::min(position, end)) * 100 / end);
    }
  };
  std::optional<Reshape> reshape;
};

}  // namespace umd::engine
namespace umd::io {
class UringQueue;
}  // namespace umd::io
namespace umd::bitmap {
class BitmapStore;
class MemberBitmapStore;
}  // namespace umd::bitmap
namespace umd::engine {

class ReshapingPersonality;

class Array final : public BlockTarget,
                    public overseer::OverseenArray,
                    private PersonalityHost,
                    private SyncHost,
                    private bitmap::BitmapHost,
                    private ReshapeHost {
 public:
  // assemble, assemble_members and open_bitmap set up the array's state before any other
  // thread exists (the state and sync threads start at the end of assemble_members), so they
  // touch fields guarded by mu_ without it; the analysis cannot know that.
  static Result<std::unique_ptr<Array>> assemble(const std::string& name, const std::vector<std::string>& paths,
                                                 const AssembleOptions& opts) NO_THREAD_SAFETY_ANALYSIS;
  // The same over members already opened (tests put FaultyMembers here). The members
  // must outlive nothing: the array owns them.
  static Result<std::unique_ptr<Array>> assemble_members(const std::string& name,
                                                         std::vector<std::unique_ptr<io::Member>> devs,
                                                         const AssembleOptions& opts)
      NO_THREAD_SAFETY_ANALYSIS;
  ~Array() override;

  uint64_t size_bytes() const override;
  uint32_t block_size() const override;
  bool read_only() const override { return read_only_; }
  void submit(BlockRequest& req) override;

  // Drains, flushes every member and writes clean superblocks. Later submits fail
  // with Err::busy. Safe to call twice.
  Status stop();
  ArrayDetail detail() const;
  // Requests the door holds now (parked, see the top of the file); for tests.
  size_t parked_requests() const {
    umd::MutexLock l(mu_);
    return parked_.size();
  }
  std::vector<std::string> warnings() const {
    umd::MutexLock l(mu_);
    return warnings_;
  }

  // ---- control plane ----
  // md's sysfs attributes, by the names and value syntax of /sys/block/mdX/md/ (the list
  // and the rules are at the top of array_attrs.cc): "array_state", "sync_action",
  // "sync_max", "dev-d1.img/state", ... attr_names() lists every readable name now.
  std::vector<std::string> attr_names() const;
  Result<std::string> attr(const std::string& name) const override;  // the value, no trailing newline
  Status set_attr(const std::string& name, const std::string& value) override;
  // OverseenArray's rest (overseer/overseen_array.h): the array's bytes, and md's
  // sysfs_notify on sync_completed and sync_action (the sync thread's events).
  Status read_sectors(uint64_t sector, uint64_t sectors, uint8_t* out) override;
  // What an overseer of this array's reshape needs, when one moves in place and cannot go
  // on without it (reshaping_personality.h: IN PLACE); nullopt otherwise.
  std::optional<overseer::ReshapePlan> overseer_plan() const;
  uint64_t wait_sync_event(uint64_t seen, std::chrono::milliseconds timeout) override;

  // mdadm --manage. `member` names a member by its path (as given at assembly or add),
  // its base name ("d1.img") or "dev-d1.img". Errors name the member and the reason,
  // and change nothing.
  Status fail_member(const std::string& member);    // --fail: marked faulty; a spare takes over
  Status remove_member(const std::string& member);  // --remove: a faulty member or a spare leaves
  // --add / --re-add: a new member becomes a spare (and recovery starts onto it when a
  // slot is missing); --re-add takes a member that left back into its old slot.
  Status add_member(const std::string& path, bool re_add);
  Status add_member(std::unique_ptr<io::Member> dev, const std::string& path, bool re_add);
  // --replace M [--with M2]: M2 (a spare already added when empty) is rebuilt from M
  // while M keeps serving; then M is marked faulty and M2 takes its slot.
  Status replace_member(const std::string& member, const std::string& with);
  // mdadm --grow --bitmap: "internal" (or "lockless") adds a bitmap in the room the
  // superblocks reserve, an absolute path adds one in that file, "none" removes it. The
  // array keeps serving; I/O pauses while the bitmap changes.
  Status set_bitmap(const std::string& kind);
  // mdadm --grow --raid-devices/--chunk/--layout: starts a reshape that moves the data
  // offset (array_reshape.cc says what is taken and how); with --level, changes the level
  // in place (array_takeover.cc). Errors change nothing.
  Status start_reshape(const ReshapeRequest& rq);
  // mdadm --grow --size / --array-size (array_size.cc): each member's space (nullopt: all
  // they hold), and the size clients see (nullopt: all the geometry holds; not persistent).
  Status set_component_size(std::optional<uint64_t> sectors);
  Status set_array_size(std::optional<uint64_t> sectors);

  // How long the array stays "active" in its superblocks after the last write completed
  // (md's safe_mode_delay, 200 ms by default).
  void set_safe_mode_delay(std::chrono::milliseconds d) { safe_mode_delay_ms_.store(d.count()); }
  // The sync thread (tests wait on it and read its counters).
  SyncEngine& sync_engine() { return *sync_; }
  bitmap::WriteIntent* bitmap_for_tests() { return bitmap_.get(); }

 private:
  struct Tracked;
  Array() = default;

  // What the array knows of each member, by index into set_->members (guarded by mu_).
  struct Held {
    enum class State : uint8_t { active, spare, faulty, removed, replacement };
    State state = State::spare;
    // active: its slot (maybe still recovering); faulty: the slot it held; replacement:
    // the slot it is being copied into (--replace)
    int slot = -1;
  };
  // A --replace under way: the slot's member is wrapped (replacing_member.h).
  struct Replacing {
    uint32_t slot = 0;
    size_t old_member = 0, new_member = 0;
    std::unique_ptr<class ReplacingMember> dev;
  };
  void end_replace(bool complete);
  // Whether the data survives these slots missing: in the geometry, and in the previous one
  // while a reshape is recorded.
  bool survives(const std::vector<uint32_t>& missing) const;
  // Err::busy naming `what` while a reshape is recorded (moving or held); ok otherwise.
  Status refuse_while_reshaping(const std::string& what) const;
  // Whether the superblocks record a reshape not yet finished, and where it is now.
  bool reshape_recorded() const { return set_->reshape && !(reshaping_ && reshaping_->collapsed()); }
  uint64_t reshape_position_now() const { return reshaping_ ? reshaping_->position() : set_->reshape->position; }
  int find_member_locked(const std::string& name) const REQUIRES(mu_);  // index, or -1
  std::string member_name(size_t i) const;
  // Puts spares into missing slots (recovery then rebuilds them). Caller holds nothing.
  void activate_spares();
  // Client I/O stops at the door and drains; the personality may then change slots.
  void pause_io();
  void resume_io();
  bool on_sync_thread() const;
  Status write_state_locked_marking(bool clean);  // takes marking_ itself

  // md's level_store: another level over the same blocks (array_takeover.cc), and the
  // restripes mdadm chains to it, run on the sync thread when what they wait for ends.
  Status change_level(const ReshapeRequest& rq);
  void run_chained_level_change();  // after a reshape
  void run_chained_restripe();      // after a recovery

  // ReshapeHost, and the end of a reshape (array_sync.cc)
  Status record_reshape_position(uint64_t position) override;
  void record_reshape_position_soon() override;  // the state thread records
  std::pair<uint64_t, uint64_t> reshape_suspended() const override;
  void finish_reshape();
  // Grow_restart at assembly (array_backup_restore.cc).
  Status restore_reshape_backup(const std::string& path) NO_THREAD_SAFETY_ANALYSIS;
  // A backup file given for a reshape that goes on by itself (past its critical section):
  // read and checked as for a restore, but nothing is written; what it found is a warning.
  void vet_reshape_backup(const std::string& path) NO_THREAD_SAFETY_ANALYSIS;
  BackupRestartState backup_restart_state() const NO_THREAD_SAFETY_ANALYSIS;
  // The personality while a reshape is recorded (and after it, collapsed), else nullptr.
  ReshapingPersonality* reshaping() const { return reshaping_; }

  // SyncHost
  std::optional<Need> needed() override;
  Personality& sync_personality() override { return *personality_; }
  Shape sync_shape() const override;
  bool sync_checkpoint(SyncOp op, uint64_t pos) override;
  void sync_finished(SyncOp op, uint64_t pos, bool complete, const Status& err) override;
  bool client_busy() const override;
  uint64_t sync_skip(SyncOp op, uint64_t pos, uint64_t end) override;
  uint64_t sync_run(SyncOp op, uint64_t pos, uint64_t end) override;
  bitmap::SyncKind bitmap_kind_of(SyncOp op);  // which chunks the op visits
  void sync_step_done(SyncOp op, uint64_t lo, uint64_t hi) override;
  uint64_t member_run(SyncOp op, uint64_t pos, uint64_t end, bool need);  // raid10 recovery's bitmap questions

  // bitmap::BitmapHost
  uint64_t events() const override;
  Status flush_members() override;
  void sync_needed() override;  // sets bitmap_resync_wanted_ and kicks the sync thread
  Status open_bitmap(const AssembleOptions& opts) NO_THREAD_SAFETY_ANALYSIS;  // during assemble_members
  Result<std::unique_ptr<bitmap::WriteIntent>> open_bitmap_kind(std::unique_ptr<bitmap::BitmapStore> store,
                                                                uint64_t events);
  bool degraded_locked() const REQUIRES(mu_);
  std::vector<std::pair<io::Member*, uint64_t>> bitmap_copies_locked() const REQUIRES(mu_);
  void refresh_bitmap_copies_locked() REQUIRES(mu_);  // internal bitmaps: write to the members holding data now
  void bitmap_copy_failed_locked(io::Member* dev, const Status& why) REQUIRES(mu_);
  std::unique_ptr<bitmap::MemberBitmapStore> make_member_bitmap_store_locked() REQUIRES(mu_);

  // PersonalityHost
  void member_failed(uint32_t slot, const Status& why) override;
  bool slot_failed(uint32_t slot) const override;

  void admit(BlockRequest& req, bool fresh);  // submit(); fresh: not a parked one again
  void submit_flush(BlockRequest& req, bool fresh);
  // Why `req` cannot go now (the door above), or nullptr. Caller holds mu_.
  const char* must_wait_locked(const BlockRequest& req) const REQUIRES(mu_);
  // Submits again every parked request (each goes through the door once more).
  void release_parked();
  // Flushes every member that takes a slot's data (slot_dev) at once; done gets the
  // result with the protocol's precedence. Counted in inflight_, so no slot changes under
  // it. Any thread; done may run inline.
  void flush_live_members(std::function<void(Status)> done);
  // A client request's completion, held back while a member failure is not yet on disk.
  void complete_client(BlockRequest& req, Status s);
  Status write_state(bool clean);  // events + 1, superblocks out; caller holds marking_
  bool members_behind() const;     // an active member assembled one event behind
  static void finish(Tracked* t, Status s);
  void state_loop();
  bool record_failure_locked(uint32_t slot, const Status& why) REQUIRES(mu_);  // false if already failed
  std::vector<uint32_t> live_slots() const;
  std::vector<uint32_t> failed_slots() const;

  std::string name_;
  bool read_only_ = false;
  std::string overlay_dir_;  // AssembleOptions::overlay_dir: --add/--re-add open through it too
  std::vector<std::string> warnings_ GUARDED_BY(mu_);  // guarded by mu_ once the array runs
  std::unique_ptr<io::UringQueue> ring_;
  std::unique_ptr<MemberSet> set_;
  std::unique_ptr<Personality> personality_;
  ReshapingPersonality* reshaping_ = nullptr;  // personality_ as such, when it is one
  // Personalities replaced while the array ran (a reshape started): kept until the end, as
  // a thread may still hold a reference it took before the swap.
  std::vector<std::unique_ptr<Personality>> retired_;
  std::unique_ptr<std::atomic<bool>[]> failed_;  // by slot

  mutable umd::Mutex mu_;                    // guards what follows
  std::condition_variable_any cv_;
  uint64_t events_ GUARDED_BY(mu_) = 0;
  uint64_t resync_offset_ GUARDED_BY(mu_) = ~0ull;           // kept as found until the sync engine exists
  bool active_ GUARDED_BY(mu_) = false;                      // superblocks say "active" (writes may be in flight)
  bool marking_ GUARDED_BY(mu_) = false;                     // one thread is writing superblocks
  bool broken_ GUARDED_BY(mu_) = false;                      // a failure beyond what the level survives
  bool want_active_ GUARDED_BY(mu_) = false;                 // parked writes wait for "active" superblocks
  bool reshape_record_wanted_ GUARDED_BY(mu_) = false;       // a client write waits for the reshape's record
  bool cleaning_ GUARDED_BY(mu_) = false;                    // the clean superblocks are on their way: writes park
  std::atomic<bool> failures_pending_{false};  // failures_on_disk_ < failures_, read without mu_
  uint64_t failures_ GUARDED_BY(mu_) = 0;                    // member failures recorded in memory ...
  uint64_t failures_on_disk_ GUARDED_BY(mu_) = 0;            // ... and of those, how many the superblocks hold
  std::vector<BlockRequest*> parked_ GUARDED_BY(mu_);        // requests the door holds
  struct HeldCompletion {
    BlockRequest* req;
    Status status;
    uint64_t failures;  // released once failures_on_disk_ reaches it
  };
  std::vector<HeldCompletion> held_completions_ GUARDED_BY(mu_);
  bool closing_ GUARDED_BY(mu_) = false;   // stop() began: new requests are refused
  bool stopping_ GUARDED_BY(mu_) = false;
  bool stopped_ GUARDED_BY(mu_) = false;
  uint64_t inflight_ GUARDED_BY(mu_) = 0;
  uint64_t writes_inflight_ GUARDED_BY(mu_) = 0;
  uint32_t drain_waiters_ GUARDED_BY(mu_) = 0;  // threads waiting for inflight_ == 0 (finish wakes them)
  bool quiet_waiter_ GUARDED_BY(mu_) = false;   // the state thread waits for writes_inflight_ == 0
  std::chrono::steady_clock::time_point last_write_done_ GUARDED_BY(mu_) {};
  std::vector<Held> held_ GUARDED_BY(mu_);
  std::unique_ptr<bitmap::WriteIntent> bitmap_;
  bitmap::MemberBitmapStore* bitmap_store_ = nullptr;  // internal bitmaps: the copies (owned by bitmap_)
  std::vector<bool> bitmap_recovery_;  // by slot: a --re-add that recovers only marked chunks
  std::unique_ptr<Replacing> replacing_;
  std::unique_ptr<SyncEngine> sync_;
  // The bitmap asked for a resync (sync_needed); needed() turns it into one from 0 (the
  // bitmap then limits it to the chunks that need it).
  std::atomic<bool> bitmap_resync_wanted_{false};
  bool paused_ GUARDED_BY(mu_) = false;
  bool reshape_finishing_ GUARDED_BY(mu_) = false;  // the next superblocks take the new geometry
  std::optional<ReshapeRequest> level_after_reshape_ GUARDED_BY(mu_);  // a takeover waiting for its restripe
  std::optional<uint32_t> restripe_after_recovery_ GUARDED_BY(mu_);    // a layout waiting for the recovery
  uint64_t suspend_lo_ GUARDED_BY(mu_) = 0;  // md's suspend_lo/hi: array sectors where writes wait
  uint64_t suspend_hi_ GUARDED_BY(mu_) = 0;
  std::atomic<int64_t> safe_mode_delay_ms_{200};
  std::atomic<uint64_t> array_size_limit_{~0ull};  // --array-size, sectors; ~0: none
  std::thread state_thread_;
};

}  // namespace umd::engine
