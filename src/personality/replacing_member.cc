#include "personality/replacing_member.h"

#include <mutex>

namespace umd::engine {

Status ReplacingMember::write(uint64_t offset, std::span<const uint8_t> buf, bool fua) {
  if (!new_failed()) note_new(new_->write(uint64_t(int64_t(offset) + delta_), buf, fua));
  return old_->write(offset, buf, fua);
}

Status ReplacingMember::flush() {
  if (!new_failed()) note_new(new_->flush());
  return old_->flush();
}

Status ReplacingMember::discard(uint64_t offset, uint64_t length) {
  if (!new_failed()) (void)new_->discard(uint64_t(int64_t(offset) + delta_), length);  // advisory
  return old_->discard(offset, length);
}

Status ReplacingMember::copy(uint64_t offset, std::span<uint8_t> buf) {
  UMD_TRY(old_->read(offset, buf));
  Status s = new_->write(uint64_t(int64_t(offset) + delta_), buf, false);
  note_new(s);
  return s;
}

Status ReplacingMember::write_new(uint64_t offset, std::span<const uint8_t> buf) {
  Status s = new_->write(uint64_t(int64_t(offset) + delta_), buf, false);
  note_new(s);
  return s;
}

namespace {

// Both halves of a write/flush/discard: the outer request completes after both, with the
// old member's status.
struct Pair {
  io::IoRequest* outer = nullptr;
  io::IoRequest a, b;
  std::mutex mu;
  int pending = 2;
  Status old_status;
};

}  // namespace

void ReplacingMember::submit(io::IoRequest& req) {
  if (req.op == io::IoOp::read || new_failed()) {
    old_->submit(req);
    return;
  }
  auto* p = new Pair;
  p->outer = &req;
  p->a = io::IoRequest{req.op, req.fua, req.offset, req.length, req.buf, {}};
  p->b = io::IoRequest{req.op, req.fua, uint64_t(int64_t(req.offset) + delta_), req.length, req.buf, {}};
  auto finish = [p]() {
    io::IoRequest* outer = p->outer;
    Status s = p->old_status;
    delete p;
    outer->done(std::move(s));
  };
  p->a.done = [p, finish](Status s) {
    bool last;
    {
      std::lock_guard l(p->mu);
      p->old_status = std::move(s);
      last = --p->pending == 0;
    }
    if (last) {
      auto f = finish;  // the closure lives in p, which f deletes
      f();
    }
  };
  p->b.done = [this, p, finish](Status s) {
    if (p->b.op != io::IoOp::discard) note_new(s);
    bool last;
    {
      std::lock_guard l(p->mu);
      last = --p->pending == 0;
    }
    if (last) {
      auto f = finish;
      f();
    }
  };
  new_->submit(p->b);
  old_->submit(p->a);
}

}  // namespace umd::engine
