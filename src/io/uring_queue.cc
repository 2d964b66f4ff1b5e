#include "io/uring_queue.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/uio.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "io/request_check.h"
#include "util/aligned_buffer.h"
#include "util/completion_batch.h"
#include "util/thread_name.h"

namespace umd::io {
namespace {

constexpr unsigned kMaxRetries = 64;   // -EAGAIN/-EINTR resubmissions before Err::retry
constexpr long kWaitSliceNs = 100'000'000;  // blocking waits wake at least this often

Status punch_hole_sync(int fd, const std::string& name, uint64_t offset, uint64_t length) {
  if (length == 0) return Status::ok();
  if (::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                  static_cast<off_t>(length)) == 0) {
    return Status::ok();
  }
  int e = errno;
  if (e == EOPNOTSUPP || e == ENOSYS) return Status::ok();
  return Status::from_errno(e, describe_io(name, IoOp::discard, offset, length));
}

}  // namespace

// One accepted request, from submit() until its done() runs. Owned by the queue; touched
// by one thread at a time (submitter, then whichever thread reaps its CQE).
namespace {
// Buffered reads and writes from this size on go to io_uring's workers (prep_locked).
constexpr uint64_t kAsyncBytes = 128 * 1024;
}  // namespace

struct UringQueue::Op {
  IoRequest* req = nullptr;
  int fd = -1;
  uint64_t base = 0;            // added to req->offset: a member that is a window of fd
  const std::string* name = nullptr;
  uint8_t* buf = nullptr;       // req->buf or bounce.data()
  AlignedBuffer bounce;
  uint64_t done_bytes = 0;      // read/write progress
  unsigned retries = 0;         // consecutive -EAGAIN/-EINTR
  bool fua_via_fsync = false;   // write+fua: RWF_DSYNC unsupported, fsync after the write
  bool fsync_phase = false;     // that fsync is what is in flight now
  bool deferred = false;        // result already known: a NOP carries `status` to the reaper
  bool buffered = false;        // fd goes through the page cache (mem_align 1)
  bool copy = false;            // counted in copies_in_flight()
  Status status;
  iovec iov{};
};

Result<std::unique_ptr<UringQueue>> UringQueue::create(const Options& opts) {
  if (opts.depth == 0 || opts.depth > 32768) {
    return Status(Err::invalid, "io_uring: queue depth must be in 1..32768, got " +
                                    std::to_string(opts.depth));
  }
  std::unique_ptr<UringQueue> q(new UringQueue(opts));
  int rc = opts.simulate_init_errno != 0 ? -opts.simulate_init_errno
                                         : io_uring_queue_init(opts.depth, &q->ring_, 0);
  if (rc < 0) {
    int e = -rc;
    Err code = (e == ENOMEM || e == EAGAIN) ? Err::retry : Err::unsupported;
    return Status(code, std::string("io_uring unavailable: io_uring_queue_init: ") +
                            std::strerror(e));
  }
  q->ring_ok_ = true;
  q->has_ext_arg_ = (q->ring_.features & IORING_FEAT_EXT_ARG) != 0;
  if (io_uring_probe* probe = io_uring_get_probe_ring(&q->ring_)) {
    bool basic = io_uring_opcode_supported(probe, IORING_OP_READV) &&
                 io_uring_opcode_supported(probe, IORING_OP_WRITEV) &&
                 io_uring_opcode_supported(probe, IORING_OP_FSYNC) &&
                 io_uring_opcode_supported(probe, IORING_OP_NOP);
    q->has_fallocate_ = io_uring_opcode_supported(probe, IORING_OP_FALLOCATE);
    io_uring_free_probe(probe);
    if (!basic) return Status(Err::unsupported, "io_uring unavailable: kernel lacks readv/writev/fsync");
  }
  if (opts.reaper_thread) q->reaper_ = std::thread([p = q.get()] {
      name_this_thread("uring-reaper");
      p->reaper_loop();
    });
  return q;
}

UringQueue::UringQueue(const Options& opts)
    : depth_(opts.depth), max_io_bytes_(opts.max_io_bytes), reaper_mode_(opts.reaper_thread) {}

UringQueue::~UringQueue() {
  if (!ring_ok_) return;
  drain();
  if (reaper_.joinable()) {
    stop_.store(true, std::memory_order_release);
    {
      // Wake the reaper out of its blocking wait with a NOP whose user_data is null.
      std::lock_guard lk(sq_mu_);
      if (io_uring_sqe* sqe = io_uring_get_sqe(&ring_)) {
        io_uring_prep_nop(sqe);
        io_uring_sqe_set_data(sqe, nullptr);
        ++outstanding_;
        submit_locked();
      }
    }
    reaper_.join();
  }
  io_uring_queue_exit(&ring_);
}

void UringQueue::submit(int fd, const std::string& name, uint32_t mem_align, IoRequest& req, uint64_t base) {
  pending_.fetch_add(1, std::memory_order_acq_rel);
  st_submitted_.fetch_add(1, std::memory_order_relaxed);
  auto* op = new Op;
  op->req = &req;
  op->fd = fd;
  op->base = base;
  op->name = &name;
  op->buf = req.buf;
  op->buffered = mem_align <= 1;
  const bool rw = req.op == IoOp::read || req.op == IoOp::write;
  if (rw && req.length > kCopyBytes) {
    op->copy = true;
    copies_.fetch_add(1, std::memory_order_acq_rel);
  }
  if (rw && req.length == 0) {
    op->deferred = true;
  } else if (rw && mem_align > 1 && reinterpret_cast<uintptr_t>(req.buf) % mem_align != 0) {
    op->bounce = AlignedBuffer(req.length);
    if (req.op == IoOp::write) std::memcpy(op->bounce.data(), req.buf, req.length);
    op->buf = op->bounce.data();
  }
  if (req.op == IoOp::write && req.fua && dsync_unsupported_.load(std::memory_order_relaxed)) {
    op->fua_via_fsync = true;
  }
  if (req.op == IoOp::discard && (req.length == 0 || !has_fallocate_)) {
    op->status = punch_hole_sync(fd, name, base + req.offset, req.length);
    op->deferred = true;
  }
  std::lock_guard lk(sq_mu_);
  enqueue_locked(op);
  submit_locked();
}

void UringQueue::complete(IoRequest& req, Status s) {
  pending_.fetch_add(1, std::memory_order_acq_rel);
  st_submitted_.fetch_add(1, std::memory_order_relaxed);
  auto* op = new Op;
  op->req = &req;
  op->deferred = true;
  op->status = std::move(s);
  std::lock_guard lk(sq_mu_);
  enqueue_locked(op);
  submit_locked();
}

void UringQueue::enqueue_locked(Op* op) {
  io_uring_sqe* sqe = nullptr;
  if (backlog_.empty() && outstanding_ < depth_) {
    sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) {
      submit_locked();
      sqe = io_uring_get_sqe(&ring_);
    }
  }
  if (sqe == nullptr) {
    backlog_.push_back(op);
    st_backlogged_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  prep_locked(op, sqe);
  ++outstanding_;
}

void UringQueue::prep_locked(Op* op, io_uring_sqe* sqe) {
  st_sqes_.fetch_add(1, std::memory_order_relaxed);
  io_uring_sqe_set_data(sqe, op);  // re-set below after prep (prep helpers clear user_data)
  const IoRequest& r = *op->req;
  if (op->deferred) {
    io_uring_prep_nop(sqe);
  } else {
    switch (r.op) {
      case IoOp::read:
      case IoOp::write: {
        if (op->fsync_phase) {
          io_uring_prep_fsync(sqe, op->fd, IORING_FSYNC_DATASYNC);
          break;
        }
        uint64_t chunk = r.length - op->done_bytes;
        if (max_io_bytes_ != 0 && chunk > max_io_bytes_) chunk = max_io_bytes_;
        op->iov.iov_base = op->buf + op->done_bytes;
        op->iov.iov_len = chunk;
        if (r.op == IoOp::read) {
          io_uring_prep_readv(sqe, op->fd, &op->iov, 1, op->base + r.offset + op->done_bytes);
        } else {
          io_uring_prep_writev(sqe, op->fd, &op->iov, 1, op->base + r.offset + op->done_bytes);
          if (r.fua && !op->fua_via_fsync) sqe->rw_flags = RWF_DSYNC;
        }
        // A large buffered transfer the page cache already holds would run inline, inside
        // io_uring_submit: its copy on the submitting thread, one member after another.
        // Handed to io_uring's workers, the members' copies run on every core at once.
        if (op->buffered && chunk >= kAsyncBytes && (async_turn_++ & 1) == 0) io_uring_sqe_set_flags(sqe, IOSQE_ASYNC);
        break;
      }
      case IoOp::flush: io_uring_prep_fsync(sqe, op->fd, IORING_FSYNC_DATASYNC); break;
      case IoOp::discard:
        io_uring_prep_fallocate(sqe, op->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                                static_cast<off_t>(op->base + r.offset), static_cast<off_t>(r.length));
        break;
    }
  }
  io_uring_sqe_set_data(sqe, op);
}

void UringQueue::submit_locked() {
  unsigned n = io_uring_sq_ready(&ring_);
  if (n == 0) return;
  kick_.fetch_add(1, std::memory_order_release);
  in_kernel_.fetch_add(n, std::memory_order_acq_rel);
  int r = io_uring_submit(&ring_);
  // On -EAGAIN/-EBUSY/-EINTR (or a partial submit) the rest stay in the SQ and go with the
  // next submit_locked(); waiters use bounded waits, so a transient overcount is harmless.
  unsigned taken = r < 0 ? 0u : static_cast<unsigned>(r);
  if (taken < n) in_kernel_.fetch_sub(n - taken, std::memory_order_acq_rel);
}

void UringQueue::flush_submissions() {
  std::lock_guard lk(sq_mu_);
  while (!backlog_.empty() && outstanding_ < depth_) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) {
      submit_locked();
      sqe = io_uring_get_sqe(&ring_);
      if (sqe == nullptr) break;
    }
    prep_locked(backlog_.front(), sqe);
    backlog_.pop_front();
    ++outstanding_;
  }
  submit_locked();
}

bool UringQueue::handle_cqe(Op* op, int res, Status* out) {
  if (op->deferred) {
    *out = std::move(op->status);
    return true;
  }
  const IoRequest& r = *op->req;
  auto what = [&] { return describe_io(*op->name, r.op, r.offset, r.length); };
  if (res == -EAGAIN || res == -EINTR) {
    if (++op->retries <= kMaxRetries) {
      st_eagain_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    *out = Status::from_errno(EAGAIN, what());
    return true;
  }
  if (res == -ECANCELED) {
    *out = Status(Err::retry, what() + ": canceled by the kernel (submitting thread exited?)");
    return true;
  }
  switch (r.op) {
    case IoOp::flush:
      *out = res < 0 ? Status::from_errno(-res, what()) : Status::ok();
      return true;
    case IoOp::discard:
      *out = (res < 0 && res != -EOPNOTSUPP && res != -ENOSYS) ? Status::from_errno(-res, what())
                                                              : Status::ok();
      return true;
    case IoOp::read:
    case IoOp::write:
      break;
  }
  if (op->fsync_phase) {
    *out = res < 0 ? Status::from_errno(-res, what()) : Status::ok();
    return true;
  }
  if (res < 0) {
    if (res == -EOPNOTSUPP && r.op == IoOp::write && r.fua && !op->fua_via_fsync) {
      op->fua_via_fsync = true;  // retry as plain write + fdatasync
      dsync_unsupported_.store(true, std::memory_order_relaxed);
      return false;
    }
    *out = Status::from_errno(-res, what());
    return true;
  }
  if (res == 0) {
    *out = Status(Err::io, what() + ": unexpected end of file after " +
                               std::to_string(op->done_bytes) + " bytes");
    return true;
  }
  op->retries = 0;
  op->done_bytes += static_cast<uint64_t>(res);
  if (op->done_bytes < r.length) {
    st_remainder_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  if (r.op == IoOp::write && r.fua && op->fua_via_fsync) {
    op->fsync_phase = true;
    return false;
  }
  *out = Status::ok();
  return true;
}

int UringQueue::reap_locked(bool block, std::vector<std::pair<Op*, Status>>& done) {
  io_uring_cqe* cqe = nullptr;
  if (block) {
    int r;
    if (has_ext_arg_) {
      __kernel_timespec ts{};
      ts.tv_nsec = kWaitSliceNs;
      r = io_uring_wait_cqe_timeout(&ring_, &cqe, &ts);
    } else {
      r = io_uring_wait_cqe(&ring_, &cqe);
    }
    if (r < 0) return 0;  // -ETIME / -EINTR: callers loop
  }
  std::vector<Op*> again;
  int n = 0;
  while (io_uring_peek_cqe(&ring_, &cqe) == 0) {
    auto* op = static_cast<Op*>(io_uring_cqe_get_data(cqe));
    int res = cqe->res;
    io_uring_cqe_seen(&ring_, cqe);
    (void)kick_.load(std::memory_order_acquire);
    in_kernel_.fetch_sub(1, std::memory_order_acq_rel);
    ++n;
    if (op == nullptr) continue;  // shutdown wake-up NOP
    Status s;
    if (handle_cqe(op, res, &s)) {
      done.emplace_back(op, std::move(s));
    } else {
      again.push_back(op);
    }
  }
  if (n > 0) {
    std::lock_guard lk(sq_mu_);
    outstanding_ -= static_cast<unsigned>(n);
    for (Op* op : again) enqueue_locked(op);
    submit_locked();
  }
  return n;
}

int UringQueue::finish(std::vector<std::pair<Op*, Status>>& done) {
  {
    CompletionBatch batch;  // util/completion_batch.h
    for (auto& [op, s] : done) {
      IoRequest* req = op->req;
      if (s.is_ok() && req->op == IoOp::read && op->buf != req->buf) {
        std::memcpy(req->buf, op->buf, req->length);
      }
      const bool copy = op->copy;
      delete op;
      req->done(std::move(s));  // req is not touched after this
      if (copy) copies_.fetch_sub(1, std::memory_order_acq_rel);
      completed_total_.fetch_add(1, std::memory_order_acq_rel);
      pending_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }  // what the done()s put off to the end of their batch runs here
  if (!done.empty()) {
    { std::lock_guard lk(done_mu_); }  // pairs with the predicate check in wait()/drain()
    done_cv_.notify_all();
  }
  return static_cast<int>(done.size());
}

int UringQueue::reap_once(bool block) {
  std::vector<std::pair<Op*, Status>> done;
  {
    std::unique_lock lk(cq_mu_, std::defer_lock);
    if (block) {
      lk.lock();
    } else if (!lk.try_lock()) {
      return 0;
    }
    reap_locked(block, done);
  }
  flush_submissions();
  return finish(done);
}

int UringQueue::poll() {
  if (reaper_mode()) return 0;
  flush_submissions();
  return reap_once(false);
}

int UringQueue::wait(unsigned min_complete) {
  if (reaper_mode()) {
    uint64_t start = completed_total_.load(std::memory_order_acquire);
    std::unique_lock lk(done_mu_);
    done_cv_.wait(lk, [&] {
      return completed_total_.load(std::memory_order_acquire) - start >= min_complete ||
             pending_.load(std::memory_order_acquire) == 0;
    });
    return static_cast<int>(completed_total_.load(std::memory_order_acquire) - start);
  }
  int got = 0;
  while (static_cast<unsigned>(got) < min_complete && pending_.load(std::memory_order_acquire) > 0) {
    flush_submissions();
    bool block = in_kernel_.load(std::memory_order_acquire) > 0;
    int n = reap_once(block);
    got += n;
    // Nothing in the kernel but requests pending: another thread is running their done()s
    // (or the kernel refused submission for now). Let it progress.
    if (n == 0 && !block) std::this_thread::yield();
  }
  return got;
}

void UringQueue::drain() {
  if (reaper_mode()) {
    std::unique_lock lk(done_mu_);
    done_cv_.wait(lk, [&] { return pending_.load(std::memory_order_acquire) == 0; });
    return;
  }
  while (pending_.load(std::memory_order_acquire) > 0) wait(1);
}

void UringQueue::reaper_loop() {
  for (;;) {
    flush_submissions();
    reap_once(/*block=*/true);
    if (stop_.load(std::memory_order_acquire) && pending_.load(std::memory_order_acquire) == 0) break;
  }
}

UringQueue::Stats UringQueue::stats() const {
  Stats s;
  s.submitted = st_submitted_.load(std::memory_order_relaxed);
  s.completed = completed_total_.load(std::memory_order_relaxed);
  s.sqes = st_sqes_.load(std::memory_order_relaxed);
  s.remainder_resubmits = st_remainder_.load(std::memory_order_relaxed);
  s.eagain_resubmits = st_eagain_.load(std::memory_order_relaxed);
  s.backlogged = st_backlogged_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace umd::io
