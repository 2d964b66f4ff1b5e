// submit_and_wait: one block request, waited for on the calling thread, for callers that
// have nothing else to do meanwhile (FUSE's request threads, tests). Target: anything with
// submit(BlockRequest&) under BlockTarget's contract (a BlockTarget, a Personality).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "block/block_target.h"
#include "util/status.h"

namespace umd::engine {

// buf: length bytes (read: filled; write: source; flush/trim: unused).
template <class Target>
Status submit_and_wait(Target& t, BlockOp op, uint64_t offset, uint64_t length, uint8_t* buf, bool fua = false) {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  Status result;
  BlockRequest req;
  req.op = op;
  req.fua = fua;
  req.offset = offset;
  req.length = length;
  req.buf = buf;
  req.done = [&](Status s) {
    std::lock_guard lk(mu);
    result = std::move(s);
    done = true;
    cv.notify_all();
  };
  t.submit(req);
  std::unique_lock lk(mu);
  cv.wait(lk, [&] { return done; });
  return result;
}

}  // namespace umd::engine
