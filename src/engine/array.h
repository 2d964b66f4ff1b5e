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
//  - stop() refuses new requests, waits for every in-flight request and pending flush,
//    flushes every member, then writes clean superblocks.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/block_target.h"
#include "engine/member_set.h"
#include "engine/personality.h"
#include "io/member.h"

namespace umd::engine {

struct AssembleOptions {
  bool read_only = false;
  bool force = false;  // leave stale members out instead of refusing
  bool run = false;    // start even when degraded
};

struct MemberDetail {
  std::string path;
  int slot = -1;             // -1: spare
  std::string state;         // "active sync", "faulty", "spare", ...
  uint64_t events = 0;
};

struct ArrayDetail {
  std::string name;
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
};

}  // namespace umd::engine
namespace umd::io {
class UringQueue;
}  // namespace umd::io
namespace umd::engine {

class Array final : public BlockTarget, private PersonalityHost {
 public:
  static Result<std::unique_ptr<Array>> assemble(const std::string& name, const std::vector<std::string>& paths,
                                                 const AssembleOptions& opts);
  // The same over members already opened (tests put FaultyMembers here). The members
  // must outlive nothing: the array owns them.
  static Result<std::unique_ptr<Array>> assemble_members(const std::string& name,
                                                         std::vector<std::unique_ptr<io::Member>> devs,
                                                         const AssembleOptions& opts);
  ~Array() override;

  uint64_t size_bytes() const override;
  uint32_t block_size() const override;
  bool read_only() const override { return read_only_; }
  void submit(BlockRequest& req) override;

  // Drains, flushes every member and writes clean superblocks. Later submits fail
  // with Err::busy. Safe to call twice.
  Status stop();
  ArrayDetail detail() const;
  const std::vector<std::string>& warnings() const { return warnings_; }

  // How long the array stays "active" in its superblocks after the last write completed
  // (md's safe_mode_delay, 200 ms by default).
  void set_safe_mode_delay(std::chrono::milliseconds d) { safe_mode_delay_ = d; }

 private:
  struct Tracked;
  Array() = default;

  // PersonalityHost
  void member_failed(uint32_t slot, const Status& why) override;
  bool slot_failed(uint32_t slot) const override;

  void submit_flush(BlockRequest& req);
  Status mark_active();          // before the first write after clean
  Status write_state(bool clean);  // events + 1, superblocks out; caller holds marking_
  static void finish(Tracked* t, Status s);
  void safe_mode_loop();
  bool record_failure_locked(uint32_t slot, const Status& why);  // false if already failed
  std::vector<uint32_t> live_slots() const;
  std::vector<uint32_t> failed_slots() const;

  std::string name_;
  bool read_only_ = false;
  std::vector<std::string> warnings_;
  std::unique_ptr<io::UringQueue> ring_;
  std::unique_ptr<MemberSet> set_;
  std::unique_ptr<Personality> personality_;
  std::unique_ptr<std::atomic<bool>[]> failed_;  // by slot

  mutable std::mutex mu_;                    // guards what follows
  std::condition_variable cv_;
  uint64_t events_ = 0;
  uint64_t resync_offset_ = ~0ull;           // kept as found until the sync engine exists
  bool active_ = false;                      // superblocks say "active" (writes may be in flight)
  bool marking_ = false;                     // one thread is writing superblocks
  bool broken_ = false;                      // a failure beyond what the level survives
  bool stopping_ = false;
  bool stopped_ = false;
  uint64_t inflight_ = 0;
  uint64_t writes_inflight_ = 0;
  std::chrono::steady_clock::time_point last_write_done_{};
  std::vector<uint32_t> faulty_dev_numbers_;
  std::chrono::milliseconds safe_mode_delay_{200};
  std::thread safe_mode_thread_;
};

}  // namespace umd::engine
