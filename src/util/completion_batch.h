// CompletionBatch: work put off to the end of a run of completions on one thread.
//
// A thread that runs many completions in a row (io::UringQueue's reaper: the done()s of one
// batch of CQEs) opens a CompletionBatch around them. Code those completions run may ask,
// through CompletionBatch::current(), for something to run once at the end of the batch:
// the NBD connection sends there, in one sendmsg, the replies the batch completed, instead
// of waking its writer thread for each (frontend/nbd/connection.h). With no batch open,
// current() is nullptr and the caller does what it would have done anyway.
//
// - Once per key: defer(key, fn) while `key` has work waiting does nothing and says so.
// - The end runs the work in the order it was deferred, on the thread that opened the
//   batch, with the batch still current: work that completes more (and defers more) is
//   run too, before the batch closes. An entry's key is released just before its work
//   runs, so what arrives for that key meanwhile gets a new entry.
// - Batches do not nest: one opened inside another is a no-op, its work joins the outer.
#pragma once

#include <functional>
#include <utility>
#include <vector>

namespace umd {

class CompletionBatch {
 public:
  CompletionBatch() : outer_(tl_current()) {
    if (!outer_) tl_current() = this;
  }
  ~CompletionBatch() {
    if (outer_) return;
    for (size_t i = 0; i < at_end_.size(); i++) {  // grows while it runs
      at_end_[i].first = nullptr;
      std::function<void()> fn = std::move(at_end_[i].second);
      fn();
    }
    tl_current() = nullptr;
  }
  CompletionBatch(const CompletionBatch&) = delete;
  CompletionBatch& operator=(const CompletionBatch&) = delete;

  static CompletionBatch* current() { return tl_current(); }

  // Runs make()'s result at the end of the batch, unless `key` already has work waiting
  // (then make is not called). True when this call deferred something.
  template <class Make>
  bool defer(const void* key, Make&& make) {
    for (const auto& e : at_end_) {
      if (e.first == key) return false;
    }
    at_end_.emplace_back(key, std::function<void()>(make()));
    return true;
  }

 private:
  static CompletionBatch*& tl_current() {
    thread_local CompletionBatch* current = nullptr;
    return current;
  }
  CompletionBatch* outer_;
  std::vector<std::pair<const void*, std::function<void()>>> at_end_;
};

}  // namespace umd
