// FanIn: the completions of parts issued together, gathered into one.
//
// Contract
// - FanIn::start(n, done) makes a fan-in of n parts. Each part calls arrive(i, status)
//   exactly once (any thread, any order, inline or on a completion thread). The last
//   arrival calls done(statuses) exactly once, on its own thread, with every part's status
//   by index, and the fan-in frees itself after done returns: nothing may touch it then.
// - n == 0: done runs at once, inside start().
// - The issuer that must keep the fan-in alive while it is still issuing parts takes one
//   part for itself (`n + 1`) and arrives last with Status::ok() (ignored by done, by
//   convention at the last index).
// - wait_all(n, issue) is the synchronous form: issue(fan_in) starts every part, and the
//   calling thread blocks until all have arrived, then gets the statuses.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <vector>

#include "util/status.h"

namespace umd {

class FanIn {
 public:
  using Done = std::function<void(std::vector<Status>&)>;

  static FanIn* start(size_t parts, Done done) {
    auto* f = new FanIn(parts, std::move(done));
    if (parts == 0) f->finish();
    return f;
  }

  void arrive(size_t part, Status s) {
    statuses_[part] = std::move(s);  // each part writes only its own slot
    if (left_.fetch_sub(1, std::memory_order_acq_rel) == 1) finish();
  }

  // Blocks until the parts that issue(f) started have all arrived; returns their statuses.
  static std::vector<Status> wait_all(size_t parts, const std::function<void(FanIn&)>& issue) {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    std::vector<Status> out;
    FanIn* f = start(parts, [&](std::vector<Status>& st) {
      std::lock_guard l(mu);
      out = std::move(st);
      done = true;
      cv.notify_all();
    });
    if (parts > 0) issue(*f);
    std::unique_lock l(mu);
    cv.wait(l, [&] { return done; });
    return out;
  }

 private:
  FanIn(size_t parts, Done done) : left_(parts), statuses_(parts), done_(std::move(done)) {}
  void finish() {
    Done d = std::move(done_);
    std::vector<Status> st = std::move(statuses_);
    delete this;
    d(st);
  }

  std::atomic<size_t> left_;
  std::vector<Status> statuses_;
  Done done_;
};

}  // namespace umd
