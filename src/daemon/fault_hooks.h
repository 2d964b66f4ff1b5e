// FaultHooks: the members of a UMD_TEST_FAULTS array, each opened behind an
// io::FaultyMember, kept reachable for the control op "fault" (control_protocol.h).
// UMD_TEST_FAULTS=1 opens them with the FaultyMember's write cache off (durability is the
// file's own); UMD_TEST_FAULTS=cache with it on: a write without FUA stays in the
// FaultyMember's memory until the member is flushed, so a "power-cut" loses it.
//
// Ownership: the array owns its members, and a member removed by --remove is destroyed
// by it. So the array gets a SharedMember that forwards to a shared FaultyMember, and the
// hooks hold the other reference; a hook whose FaultyMember no one else holds any more
// (the array let it go) is dropped, which also closes the member's file (and releases
// its exclusive lock, so it can be added again).
//
// POWER CUT (inject(..., "power-cut"), whichever member is named: it applies to all;
// the caller then ends the process at once with std::_Exit, see served_array_engine.cc):
//  1. The power gate shared by every SharedMember of these hooks shuts: from then on no
//     operation starts on any member (it fails with ENXIO, "[power cut]"). One atomic
//     store for all members, so a failure the cut causes on one member can never be
//     followed by a successful write elsewhere (say the superblocks recording that
//     member as faulty).
//  2. Every member vanish()es. This waits for the operation in progress on it (the
//     FaultyMember's mutex) and makes any that got past the gate but not yet into the
//     member fail.
//  3. Only then every member is power_cut(): its unflushed writes are dropped, what was
//     flushed (or written with FUA) stays in its file.
// Why every member vanishes before any is cut: a client FLUSH is acknowledged only after
// every member's flush() succeeded. Were one member cut while a flush was still running
// (or about to run) on another, the array could acknowledge a FLUSH whose data the cut
// had already dropped from the first. After step 2 no flush can succeed any more, and
// every flush that did succeed finished before the cut dropped anything: whatever the
// array acknowledged is in the files. Nothing is fsynced and no superblock is written:
// the machine lost power.
//
// Thread safety: every method may be called from any thread (one mutex).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "io/fault_member.h"
#include "io/member.h"
#include "util/status.h"

namespace umd::daemon {

// Exit status of a daemon that cut its own power (the control op "fault" "power-cut"):
// that of a SIGKILLed process, which it imitates.
inline constexpr int kPowerCutExitStatus = 128 + 9;

// Shut once by a power cut; every SharedMember of the same hooks looks at it first.
using PowerGate = std::atomic<bool>;

// Forwards every call to a member shared with someone else (the fault hooks), unless the
// power gate is shut (then every operation fails with ENXIO without reaching the target).
class SharedMember final : public io::Member {
 public:
  SharedMember(std::shared_ptr<io::Member> target, std::shared_ptr<const PowerGate> gate)
      : target_(std::move(target)), gate_(std::move(gate)) {}
  const std::string& name() const override { return target_->name(); }
  uint64_t size() const override { return target_->size(); }
  uint32_t block_size() const override { return target_->block_size(); }
  bool read_only() const override { return target_->read_only(); }
  Status read(uint64_t offset, std::span<uint8_t> buf) override {
    if (shut()) return cut(io::IoOp::read, offset, buf.size());
    return target_->read(offset, buf);
  }
  Status write(uint64_t offset, std::span<const uint8_t> buf, bool fua) override {
    if (shut()) return cut(io::IoOp::write, offset, buf.size());
    return target_->write(offset, buf, fua);
  }
  Status flush() override {
    if (shut()) return cut(io::IoOp::flush, 0, 0);
    return target_->flush();
  }
  Status discard(uint64_t offset, uint64_t length) override {
    if (shut()) return cut(io::IoOp::discard, offset, length);
    return target_->discard(offset, length);
  }
  void submit(io::IoRequest& req) override {
    if (shut()) return io::Member::submit(req);  // the synchronous call above fails it, inline
    target_->submit(req);
  }

 private:
  bool shut() const { return gate_->load(); }  // sequentially consistent, as the store
  Status cut(io::IoOp op, uint64_t offset, uint64_t length) const;

  std::shared_ptr<io::Member> target_;
  std::shared_ptr<const PowerGate> gate_;
};

// A path made absolute and normal, as the daemon names members.
std::string normal_path(const std::string& p);

class FaultHooks {
 public:
  // write_cache: the FaultyMembers' volatile write cache (UMD_TEST_FAULTS=cache).
  explicit FaultHooks(bool write_cache = false) : write_cache_(write_cache) {}

  // Opens path (read-write unless read_only, O_DIRECT, exclusive) behind a FaultyMember
  // with its write cache on or off as constructed, and returns what the array should
  // own. The hook is registered under path's normal form only by commit() (after the
  // array accepted it).
  Result<std::unique_ptr<io::Member>> open(const std::string& path, bool read_only);
  void commit();    // registers what the last successful open() made
  void abandon();   // forgets it (the array refused the member)

  // The control op "fault": member is the normal path; action as in control_protocol.h.
  // "power-cut" (path must still name a member) cuts every member as described at the
  // top and returns ok; ending the process is the caller's (std::_Exit).
  Status inject(const std::string& path, const std::string& action);

  bool write_cache() const { return write_cache_; }

 private:
  struct Hook {
    std::string path;
    std::shared_ptr<io::FaultyMember> member;
  };
  void prune_locked();
  void power_cut_locked();

  const bool write_cache_;
  const std::shared_ptr<PowerGate> gate_ = std::make_shared<PowerGate>(false);
  std::mutex mu_;
  std::vector<Hook> hooks_;
  std::vector<Hook> pending_;
};

}  // namespace umd::daemon
