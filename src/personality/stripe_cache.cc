#include "personality/stripe_cache.h"

namespace umd::engine {
namespace {

thread_local bool t_running = false;
thread_local std::deque<StripeTask*>* t_deferred = nullptr;

}  // namespace

void run_flat(StripeTask* t) {
  if (t_running) {
    t_deferred->push_back(t);
    return;
  }
  std::deque<StripeTask*> deferred;
  t_deferred = &deferred;
  t_running = true;
  t->run();
  while (!deferred.empty()) {
    StripeTask* next = deferred.front();
    deferred.pop_front();
    next->run();
  }
  t_running = false;
  t_deferred = nullptr;
}

void StripeLocks::acquire(RowKey row, StripeTask* t) {
  Shard& s = shard(row);
  {
    std::lock_guard lk(s.mu);
    auto [it, inserted] = s.rows.try_emplace(row);
    if (!inserted) {
      it->second.push_back(t);
      return;
    }
  }
  run_flat(t);
}

void StripeLocks::release(RowKey row) {
  Shard& s = shard(row);
  StripeTask* next = nullptr;
  {
    std::lock_guard lk(s.mu);
    auto it = s.rows.find(row);
    if (it == s.rows.end()) return;  // not owned: a programming error, ignored
    if (it->second.empty()) {
      s.rows.erase(it);
    } else {
      next = it->second.front();
      it->second.pop_front();
    }
  }
  if (next) run_flat(next);
}

size_t StripeLocks::active_rows() {
  size_t n = 0;
  for (Shard& s : shards_) {
    std::lock_guard lk(s.mu);
    n += s.rows.size();
  }
  return n;
}

}  // namespace umd::engine
