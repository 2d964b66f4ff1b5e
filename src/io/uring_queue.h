// UringQueue: one io_uring ring that carries asynchronous member I/O (IoRequest) for any
// number of file members (one fd each).
//
// Two ways to drive it:
// - Reactor (Options::reaper_thread = false): an engine thread calls submit() (directly or
//   through FileMember::submit) and reaps with poll() (never blocks) or wait(n) (blocks).
//   Every done() runs inside poll()/wait()/drain() on the thread that called it -- never
//   inside submit().
// - Ready-made (Options::reaper_thread = true): a background thread reaps and runs every
//   done() on that thread. poll() then returns 0; wait()/drain() just block until the
//   reaper has completed enough requests.
//
// Semantics per op (offset/length/buf as in IoRequest):
// - read/write: IORING_OP_READV/WRITEV. Short transfers are resubmitted for the remainder;
//   a transfer that makes no progress is "unexpected end of file" (Err::io).
//   write with fua: RWF_DSYNC on the write; if the kernel rejects that (EOPNOTSUPP) the
//   write is followed by an fdatasync-equivalent IORING_OP_FSYNC(DATASYNC).
// - flush: IORING_OP_FSYNC with IORING_FSYNC_DATASYNC.
// - discard: IORING_OP_FALLOCATE(PUNCH_HOLE|KEEP_SIZE) -- regular files only (FileMember
//   handles block-device discards itself); EOPNOTSUPP/ENOSYS complete ok. When the kernel
//   lacks IORING_OP_FALLOCATE the fallocate runs synchronously inside submit() and its
//   result is delivered through the ring like any other completion.
// - -EAGAIN / -EINTR completions are resubmitted (bounded; then Err::retry), never reported
//   as member failure. -ECANCELED (e.g. the submitting thread exited) maps to Err::retry.
// - The done()s of one batch of CQEs run inside one CompletionBatch (util/
//   completion_batch.h): what they put off to its end runs after the last of them.
// - Each request's done(Status) runs exactly once. Requests beyond the ring depth wait in
//   an in-process backlog; submit() never fails and never blocks on the kernel.
// - A buffer not aligned to `mem_align` is bounced through an aligned copy.
//
// Thread safety: submit(), complete(), in_flight(), stats() may be called from any number
// of threads concurrently, including from inside done(). poll()/wait()/drain() may also be
// called from several threads (reaping is serialised internally; poll() returns 0 when
// another thread is reaping). done() must not call wait()/drain() (it may call poll(),
// which then returns 0). The destructor drains all requests first and must not race with
// any other call.
//
// Kernel note: io_uring requests belong to the submitting thread; a thread that exits with
// requests in flight may see them fail with ECANCELED (Err::retry). The reactor pattern --
// one engine thread submits and reaps -- avoids that.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <liburing.h>

#include "io/member.h"
#include "util/status.h"

namespace umd::io {

class UringQueue {
 public:
  struct Options {
    unsigned depth = 256;        // submission-queue entries; max requests in the kernel at once
    bool reaper_thread = false;  // ready-made mode: a background thread reaps and runs done()
    // Split every read/write into pieces of at most this many bytes (0 = no limit); the
    // pieces go through the same remainder path as short transfers. Must be a multiple of
    // the members' block size. Mostly a test seam.
    uint32_t max_io_bytes = 0;
    // Tests only: behave as if io_uring_queue_init failed with this errno (e.g. EPERM).
    int simulate_init_errno = 0;
  };

  struct Stats {
    uint64_t submitted = 0;        // requests accepted by submit()/complete()
    uint64_t completed = 0;        // done() calls made
    uint64_t sqes = 0;             // SQEs prepared (including resubmissions)
    uint64_t remainder_resubmits = 0;  // short transfers / split pieces resubmitted
    uint64_t eagain_resubmits = 0;     // -EAGAIN/-EINTR completions resubmitted
    uint64_t backlogged = 0;       // requests that waited for ring space
  };

  // Creates the ring. Fails with Err::unsupported when io_uring is unavailable here
  // (EPERM, ENOSYS, EACCES: disabled by sysctl/seccomp/old kernel) and Err::retry on
  // ENOMEM/EAGAIN; callers then leave OpenOptions::ring null and members run synchronously.
  static Result<std::unique_ptr<UringQueue>> create(const Options& opts);
  static Result<std::unique_ptr<UringQueue>> create() { return create(Options{}); }
  ~UringQueue();

  UringQueue(const UringQueue&) = delete;
  UringQueue& operator=(const UringQueue&) = delete;

  // Queues `req` on `fd`. `name` is used in error messages and must outlive the request
  // (a member's name() does). The request must already be validated (see
  // check_request); submit() does not check ranges. `base` is added to req.offset on fd
  // (a member that is a window of the file, such as a partition); messages keep req.offset.
  void submit(int fd, const std::string& name, uint32_t mem_align, IoRequest& req, uint64_t base = 0);
  // Completes `req` with `s` through the ring: done(s) runs where other completions run
  // (poll/wait/reaper), never inline. Used for requests rejected before reaching the kernel.
  void complete(IoRequest& req, Status s);

  // Reaps whatever has completed without blocking; runs those done()s. Returns how many.
  int poll();
  // Blocks until at least min_complete done()s have run in this call, or nothing is left in
  // flight. Returns how many ran (in reaper mode: how many the reaper ran meanwhile).
  int wait(unsigned min_complete);
  // Blocks until in_flight() == 0.
  void drain();

  // Requests accepted whose done() has not yet returned.
  uint64_t in_flight() const { return pending_.load(std::memory_order_acquire); }
  // Of those, reads and writes longer than kCopyBytes (until their done() has returned): on
  // a memory-backed file each is one long copy by io_uring's worker (FileMember,
  // "Memory-backed files").
  static constexpr uint64_t kCopyBytes = 64 * 1024;
  uint32_t copies_in_flight() const { return copies_.load(std::memory_order_acquire); }
  unsigned depth() const { return depth_; }
  bool reaper_mode() const { return reaper_mode_; }
  bool supports_fallocate() const { return has_fallocate_; }
  Stats stats() const;

 private:
  struct Op;
  explicit UringQueue(const Options& opts);

  void enqueue_locked(Op* op);        // sq_mu_ held: prepare an SQE or put op on the backlog
  void prep_locked(Op* op, io_uring_sqe* sqe);
  void flush_submissions();           // takes sq_mu_: backlog -> SQ, io_uring_submit
  void submit_locked();               // sq_mu_ held
  // cq_mu_ held: consume available CQEs (blocking for one first if `block`); finished ops
  // are appended to `done`. Returns number of CQEs consumed.
  int reap_locked(bool block, std::vector<std::pair<Op*, Status>>& done);
  bool handle_cqe(Op* op, int res, Status* out);  // true: finished with *out; false: resubmitted
  int finish(std::vector<std::pair<Op*, Status>>& done);  // runs done()s (no locks held)
  int reap_once(bool block);          // takes cq_mu_ (try_lock when !block); reaps; finishes
  void reaper_loop();

  io_uring ring_{};
  unsigned depth_;
  uint32_t max_io_bytes_;
  bool reaper_mode_;
  bool has_ext_arg_ = false;
  bool has_fallocate_ = false;
  bool ring_ok_ = false;
  std::atomic<bool> dsync_unsupported_{false};  // RWF_DSYNC was rejected once: use fsync

  std::mutex sq_mu_;           // guards the SQ side of ring_, backlog_
  std::deque<Op*> backlog_;
  uint64_t async_turn_ = 0;    // sq_mu_: every other large buffered transfer goes to the workers
  unsigned outstanding_ = 0;   // SQEs prepared and not yet reaped (sq_mu_)
  std::atomic<uint64_t> in_kernel_{0};  // SQEs handed to io_uring_submit, not yet reaped
  // Incremented (release) before each io_uring_submit and loaded (acquire) after reaping:
  // the kernel orders SQE->CQE, this makes that order visible to TSan as well.
  std::atomic<uint64_t> kick_{0};

  std::mutex cq_mu_;           // guards the CQ side of ring_

  std::atomic<uint64_t> pending_{0};
  std::atomic<uint32_t> copies_{0};  // copies_in_flight()
  std::mutex done_mu_;
  std::condition_variable done_cv_;  // notified after each batch of done()s
  std::atomic<uint64_t> completed_total_{0};

  std::atomic<uint64_t> st_submitted_{0}, st_sqes_{0}, st_remainder_{0}, st_eagain_{0},
      st_backlogged_{0};

  std::atomic<bool> stop_{false};
  std::thread reaper_;
};

}  // namespace umd::io
