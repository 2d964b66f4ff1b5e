// FaultHooks: the members of a UMD_TEST_FAULTS=1 array, each opened behind an
// io::FaultyMember, kept reachable for the control op "fault" (control_protocol.h).
//
// Ownership: the array owns its members, and a member removed by --remove is destroyed
// by it. So the array gets a SharedMember that forwards to a shared FaultyMember, and the
// hooks hold the other reference; a hook whose FaultyMember no one else holds any more
// (the array let it go) is dropped, which also closes the member's file (and releases
// its exclusive lock, so it can be added again).
//
// Thread safety: every method may be called from any thread (one mutex).
#pragma once

#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "io/fault_member.h"
#include "io/member.h"
#include "util/status.h"

namespace umd::daemon {

// Forwards every call to a member shared with someone else (the fault hooks).
class SharedMember final : public io::Member {
 public:
  explicit SharedMember(std::shared_ptr<io::Member> target) : target_(std::move(target)) {}
  const std::string& name() const override { return target_->name(); }
  uint64_t size() const override { return target_->size(); }
  uint32_t block_size() const override { return target_->block_size(); }
  bool read_only() const override { return target_->read_only(); }
  Status read(uint64_t offset, std::span<uint8_t> buf) override { return target_->read(offset, buf); }
  Status write(uint64_t offset, std::span<const uint8_t> buf, bool fua) override {
    return target_->write(offset, buf, fua);
  }
  Status flush() override { return target_->flush(); }
  Status discard(uint64_t offset, uint64_t length) override { return target_->discard(offset, length); }
  void submit(io::IoRequest& req) override { target_->submit(req); }

 private:
  std::shared_ptr<io::Member> target_;
};

// A path made absolute and normal, as the daemon names members.
std::string normal_path(const std::string& p);

class FaultHooks {
 public:
  // Opens path (read-write unless read_only, O_DIRECT, exclusive) behind a FaultyMember
  // with its write cache off, and returns what the array should own. The hook is
  // registered under path's normal form only by commit() (after the array accepted it).
  Result<std::unique_ptr<io::Member>> open(const std::string& path, bool read_only);
  void commit();    // registers what the last successful open() made
  void abandon();   // forgets it (the array refused the member)

  // The control op "fault": member is the normal path; action as in control_protocol.h.
  Status inject(const std::string& path, const std::string& action);

 private:
  struct Hook {
    std::string path;
    std::shared_ptr<io::FaultyMember> member;
  };
  void prune_locked();

  std::mutex mu_;
  std::vector<Hook> hooks_;
  std::vector<Hook> pending_;
};

}  // namespace umd::daemon
