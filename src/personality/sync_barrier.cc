#include "personality/sync_barrier.h"

namespace umd::engine {

SyncBarrier::Ticket SyncBarrier::enter(uint64_t lo, uint64_t hi) {
  if (!armed_.load(std::memory_order_seq_cst)) {
    fast_inside_.fetch_add(1, std::memory_order_seq_cst);
    if (!armed_.load(std::memory_order_seq_cst)) return Ticket{};
    leave(Ticket{});  // armed meanwhile: go the registered way
  }
  std::unique_lock l(mu_);
  cv_.wait(l, [&] { return !overlaps_window(lo, hi); });
  const uint64_t id = next_id_++;
  inside_.emplace(id, std::make_pair(lo, hi));
  return Ticket{true, id};
}

void SyncBarrier::leave(const Ticket& t) {
  if (!t.registered) {
    if (fast_inside_.fetch_sub(1, std::memory_order_seq_cst) == 1 && armed_.load(std::memory_order_seq_cst)) {
      std::lock_guard l(mu_);
      cv_.notify_all();
    }
    return;
  }
  std::lock_guard l(mu_);
  inside_.erase(t.id);
  cv_.notify_all();
}

void SyncBarrier::arm() {
  armed_.store(true, std::memory_order_seq_cst);
  std::unique_lock l(mu_);
  cv_.wait(l, [&] { return fast_inside_.load(std::memory_order_seq_cst) == 0; });
}

void SyncBarrier::disarm() {
  std::lock_guard l(mu_);
  raised_ = false;
  armed_.store(false, std::memory_order_seq_cst);
  cv_.notify_all();
}

bool SyncBarrier::window_busy() const {
  for (const auto& [id, r] : inside_) {
    if (r.first < win_hi_ && win_lo_ < r.second) return true;
  }
  return false;
}

void SyncBarrier::raise(uint64_t lo, uint64_t hi) {
  std::unique_lock l(mu_);
  raised_ = true;
  win_lo_ = lo;
  win_hi_ = hi;
  cv_.wait(l, [&] { return !window_busy(); });
}

void SyncBarrier::lower() {
  std::lock_guard l(mu_);
  raised_ = false;
  cv_.notify_all();
}

}  // namespace umd::engine
