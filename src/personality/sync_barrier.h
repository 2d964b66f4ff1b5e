// SyncBarrier: keeps client requests and the sync thread (resync, check, repair,
// recovery) off the same array sectors at the same time. md's raid1 has its barrier
// buckets and raid5 its stripe states for this; umd has one rule for every level.
//
// PROTOCOL
//  - Client side: every request enters with its array range [lo, hi) before it touches
//    a member and leaves after its last member I/O completed (PersonalityBase does both).
//  - Sync side: the sync thread arms the barrier for the whole run, then for each step
//    raises a window [lo, hi): raise() returns once no client request overlapping the
//    window is inside, and until lower() every client request overlapping it waits at
//    enter(). Requests outside the window run on.
//  - A request that meets the window is parked, never waited for: enter() returns false
//    and keeps its `retry`, and lower() (or disarm()) runs every parked retry on the sync
//    thread once the window is down, outside the lock. The submitting thread (an NBD
//    connection's reader) goes on at once with its next request.
//  - Fast path: while disarmed (no sync running, nearly always), enter() and leave() touch
//    one atomic counter, no lock. arm() flips the flag and waits for the fast-path
//    requests already inside to leave; from then on enter() registers each request under
//    the mutex, so the sync side can see the ranges in flight.
//    (Dekker's pattern: enter increments then re-reads `armed_`; arm sets `armed_` then
//    reads the counter; both seq_cst, so one of them sees the other.)
//  - No client request waits while holding a member I/O, so the sync side cannot
//    deadlock with it.
//
// READ-AHEAD WATCH (the sync side reading the next step's rows while it computes the
// current one, before that step's window is raised)
//  - watch(lo, hi) opens the watch over [lo, hi) only while armed and only when no request
//    that modifies the array (a write, trim, write-zeroes) is inside it; from then on a
//    modifying request that enters [lo, hi) spoils it. Reads never do.
//  - watch_end() closes it and says whether it stayed unspoiled. Called after raise() over
//    [lo, hi) (which waited for whatever had entered to leave), true means what was read
//    ahead is still what the members hold there: nothing changed it in between.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <vector>

namespace umd::engine {

class SyncBarrier {
 public:
  // What enter() returns and leave() takes back.
  struct Ticket {
    bool registered = false;
    uint64_t id = 0;
  };

  // True: the request is inside (*t says how to leave). False: it met the raised window
  // and was parked; `retry` runs once the window is lowered (the request then enters
  // again from the start).
  // `modifies`: a write, trim or write-zeroes (what spoils a read-ahead watch).
  bool enter(uint64_t lo, uint64_t hi, Ticket* t, std::function<void()> retry, bool modifies = true);
  void leave(const Ticket& t);

  void arm();     // before a sync run; waits for fast-path requests to drain
  void disarm();  // after it
  void raise(uint64_t lo, uint64_t hi);
  void lower();
  bool watch(uint64_t lo, uint64_t hi);  // false: not armed, or a modifying request is inside
  bool watch_end();                      // true: no modifying request entered since watch()

 private:
  bool overlaps_window(uint64_t lo, uint64_t hi) const { return raised_ && lo < win_hi_ && win_lo_ < hi; }
  bool window_busy() const;

  std::atomic<bool> armed_{false};
  std::atomic<uint64_t> fast_inside_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool raised_ = false;
  uint64_t win_lo_ = 0, win_hi_ = 0;
  uint64_t next_id_ = 1;
  struct Inside {
    uint64_t lo, hi;
    bool modifies;
  };
  std::map<uint64_t, Inside> inside_;  // id -> what it covers
  bool watching_ = false, watch_spoiled_ = false;
  uint64_t watch_lo_ = 0, watch_hi_ = 0;
  std::vector<std::function<void()>> parked_;                  // met the window
  void run_parked(std::unique_lock<std::mutex>& l);
};

}  // namespace umd::engine
