// What the classic and lockless bitmap runtime tests share: a thread-safe log of what
// happened, a store whose writes wait at a gate (and say how many wait), a host that logs
// member flushes, and the array's uuid.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "bitmap/bitmap_store.h"
#include "bitmap/write_intent.h"
#include "io/memory_member.h"

namespace umd::bitmap::testing {

// What happened, in order, from every thread.
class Log {
 public:
  void add(std::string s) {
    std::lock_guard l(mu_);
    lines_.push_back(std::move(s));
  }
  std::vector<std::string> lines() {
    std::lock_guard l(mu_);
    return lines_;
  }
  void clear() {
    std::lock_guard l(mu_);
    lines_.clear();
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;
};

// A store of 1 MiB in memory whose writes wait at a gate (open unless set_open(false)),
// and which logs them ("write OFFSET").
class GateStore final : public BitmapStore {
 public:
  explicit GateStore(Log* log, uint32_t block = 512) : mem_("bm", 1 << 20), log_(log), block_(block) {}
  Status read(uint64_t offset, std::span<uint8_t> out) override { return mem_.read(offset, out); }
  Status write(uint64_t offset, std::span<const uint8_t> data) override {
    std::unique_lock l(mu_);
    waiting_++;
    cv_.notify_all();
    cv_.wait(l, [&] { return open_; });
    waiting_--;
    writes_++;
    log_->add("write " + std::to_string(offset));
    return mem_.write(offset, data, true);
  }
  uint32_t block_bytes() const override { return block_; }
  std::string where() const override { return "internal"; }
  void set_open(bool o) {
    std::lock_guard l(mu_);
    open_ = o;
    cv_.notify_all();
  }
  int writes() {
    std::lock_guard l(mu_);
    return writes_;
  }
  // Waits (up to 5 s) until n writes are held at the gate.
  bool wait_for_waiting(int n) {
    std::unique_lock l(mu_);
    return cv_.wait_for(l, std::chrono::seconds(5), [&] { return waiting_ >= n; });
  }
  io::MemoryMember mem_;

 private:
  Log* log_;
  uint32_t block_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;
  int waiting_ = 0;
  int writes_ = 0;
};

// The array as a bitmap sees it: events_ (10), and member flushes logged ("flush").
class Host final : public BitmapHost {
 public:
  explicit Host(Log* log) : log_(log) {}
  uint64_t events() const override { return events_; }
  Status flush_members() override {
    log_->add("flush");
    if (on_flush) on_flush();
    return Status::ok();
  }
  uint64_t events_ = 10;
  std::function<void()> on_flush;  // runs inside the flush (the daemon's thread)

 private:
  Log* log_;
};

inline std::array<uint8_t, 16> uuid() {
  std::array<uint8_t, 16> u{};
  for (size_t i = 0; i < u.size(); i++) u[i] = uint8_t(i + 1);
  return u;
}

}  // namespace umd::bitmap::testing
