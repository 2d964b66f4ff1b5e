// MemoryTarget: a RAM-backed BlockTarget for tests and for running the NBD server without an
// array. Same contract as block_target.h: block-multiple requests, writes visible after
// `done`, flush a no-op that succeeds (RAM is "durable").
//
// Test hooks:
//   - max_delay_us > 0: each request completes after a random delay on a completion thread,
//     so completions arrive out of order; the data operation happens at completion time.
//     0: requests complete inline in submit().
//   - inject_error(): requests of one op overlapping a range fail with a chosen Err, for a
//     number of hits or forever. Failed writes leave the data untouched.
//   - hold(true): completions are parked until hold(false), so tests can keep requests in
//     flight deterministically (disconnect mid-request, stop() draining).
//   - counters of submitted requests per op and of FUA requests.
//
// Thread safety: everything may be called from any thread. raw() is an unsynchronised view.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <queue>
#include <random>
#include <shared_mutex>
#include <span>
#include <thread>
#include <vector>

#include "block/block_target.h"

namespace umd::nbd {

struct MemoryTargetOptions {
  uint32_t block_size = 512;
  uint32_t preferred_block_size = 4096;
  bool read_only = false;
  bool trim = true;
  uint32_t max_delay_us = 0;
};

class MemoryTarget final : public engine::BlockTarget {
 public:
  // `size` is rounded down to a multiple of the block size.
  explicit MemoryTarget(uint64_t size, MemoryTargetOptions opts = {});
  ~MemoryTarget() override;  // completes everything still pending, then stops its thread

  uint64_t size_bytes() const override { return data_.size(); }
  uint32_t block_size() const override { return opts_.block_size; }
  uint32_t preferred_block_size() const override { return opts_.preferred_block_size; }
  bool read_only() const override { return read_only_.load(); }
  bool supports_trim() const override { return opts_.trim; }
  void submit(engine::BlockRequest& req) override;

  // `count` = 0 fails forever; `length` = 0 matches any offset.
  void inject_error(engine::BlockOp op, Err code, uint64_t offset = 0, uint64_t length = 0,
                    uint32_t count = 0);
  void clear_errors();
  void hold(bool on);
  size_t held() const;
  void set_read_only(bool ro) { read_only_.store(ro); }

  uint64_t submitted(engine::BlockOp op) const { return counts_[size_t(op)].load(); }
  uint64_t fua_requests() const { return fua_.load(); }
  std::span<uint8_t> raw() { return data_; }

 private:
  struct Rule {
    engine::BlockOp op;
    Err code;
    uint64_t offset, length;
    uint32_t remaining;  // 0 = forever
  };
  struct Pending {
    std::chrono::steady_clock::time_point due;
    uint64_t seq;
    engine::BlockRequest* req;
    bool operator>(const Pending& o) const { return due != o.due ? due > o.due : seq > o.seq; }
  };
  Status check(const engine::BlockRequest& req);  // validation + injected errors
  Status execute(engine::BlockRequest& req);      // the data operation
  void finish(engine::BlockRequest& req);         // execute + done
  void run_completer();

  MemoryTargetOptions opts_;
  std::atomic<bool> read_only_;
  std::vector<uint8_t> data_;
  mutable std::shared_mutex data_mu_;
  std::array<std::atomic<uint64_t>, 5> counts_{};
  std::atomic<uint64_t> fua_{0};

  mutable std::mutex mu_;  // guards everything below
  std::condition_variable cv_;
  std::vector<Rule> rules_;
  bool holding_ = false;
  std::deque<engine::BlockRequest*> held_;
  std::priority_queue<Pending, std::vector<Pending>, std::greater<>> pending_;
  uint64_t seq_ = 0;
  std::mt19937_64 rng_{12345};
  bool stop_ = false;
  std::thread completer_;
};

}  // namespace umd::nbd
