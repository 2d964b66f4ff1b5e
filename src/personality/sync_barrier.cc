#include "personality/sync_barrier.h"

namespace umd::engine {

bool SyncBarrier::enter(uint64_t lo, uint64_t hi, Ticket* t, std::function<void()> retry, bool modifies) {
  if (!armed_.load(std::memory_order_seq_cst)) {
    fast_inside_.fetch_add(1, std::memory_order_seq_cst);
    if (!armed_.load(std::memory_order_seq_cst)) {
      *t = Ticket{};
      return true;
    }
    leave(Ticket{});  // armed meanwhile: go the registered way
  }
  std::lock_guard l(mu_);
  if (overlaps_window(lo, hi)) {
    parked_.push_back(std::move(retry));
    return false;
  }
  const uint64_t id = next_id_++;
  inside_.emplace(id, Inside{lo, hi, modifies});
  if (modifies && watching_ && lo < watch_hi_ && watch_lo_ < hi) watch_spoiled_ = true;
  *t = Ticket{true, id};
  return true;
}

void SyncBarrier::run_parked(std::unique_lock<std::mutex>& l) {
  std::vector<std::function<void()>> go;
  go.swap(parked_);
  l.unlock();
  for (auto& f : go) f();
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
  std::unique_lock l(mu_);
  raised_ = false;
  armed_.store(false, std::memory_order_seq_cst);
  cv_.notify_all();
  run_parked(l);
}

bool SyncBarrier::window_busy() const {
  for (const auto& [id, r] : inside_) {
    if (r.lo < win_hi_ && win_lo_ < r.hi) return true;
  }
  return false;
}

bool SyncBarrier::watch(uint64_t lo, uint64_t hi) {
  std::lock_guard l(mu_);
  if (!armed_.load(std::memory_order_seq_cst)) return false;
  for (const auto& [id, r] : inside_) {
    if (r.modifies && r.lo < hi && lo < r.hi) return false;
  }
  watching_ = true;
  watch_spoiled_ = false;
  watch_lo_ = lo;
  watch_hi_ = hi;
  return true;
}

bool SyncBarrier::watch_end() {
  std::lock_guard l(mu_);
  const bool clean = watching_ && !watch_spoiled_ && armed_.load(std::memory_order_seq_cst);
  watching_ = false;
  return clean;
}

void SyncBarrier::raise(uint64_t lo, uint64_t hi) {
  std::unique_lock l(mu_);
  raised_ = true;
  win_lo_ = lo;
  win_hi_ = hi;
  cv_.wait(l, [&] { return !window_busy(); });
}

void SyncBarrier::lower() {
  std::unique_lock l(mu_);
  raised_ = false;
  cv_.notify_all();
  run_parked(l);
}

}  // namespace umd::engine
