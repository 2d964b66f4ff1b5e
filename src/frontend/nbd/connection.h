// One client connection: handshake, then the transmission phase.
//
// Threading: two threads per connection, and a third once a large WRITE comes.
//   reader     handshake; then reads requests in order, validates them, and submits each to
//              the target at once (a FLUSH is submitted the moment it is read -- see
//              protocol.h for why that covers multi-conn). It stops reading when more than
//              max_inflight requests are unanswered (back pressure), and on DISC / EOF / bad
//              magic / shutdown_read().
//   writer     sends the replies of requests that complete on other threads (engine
//              threads), batching whatever has queued up into one sendmsg. Those completions
//              only queue the reply under `mu_`; no engine thread ever blocks on (or writes
//              to) the socket.
//   submitter  submits the WRITEs of 256 KiB or more that the reader passes on, so the
//              reader receives the next payload while the target copies (and computes the
//              parity of) this one: with members that complete inline (file_member.h) the
//              reader would otherwise do both, one after the other, on one core. Nothing
//              orders in-flight requests in NBD (a FLUSH covers the writes already answered),
//              so a small request may pass a large one.
//
// REPLIES THAT COMPLETE ON THE READER (no thread hop)
//   A request whose target completes it inside submit() (a refused request, a member I/O
//   done inline: file_member.h) has its reply kept by the reader, which sends what it holds
//   in one sendmsg when the next read would wait for the client (or it holds 64 replies,
//   or back pressure stops it). That send does not wait (MSG_DONTWAIT): if the socket
//   cannot take it all, the reader hands what is left to the writer and reads on.
//   One thread at a time owns the socket's write side (`sending_`): the reader for its
//   non-blocking send, else the writer. A batch the reader began is finished by the writer
//   before anything else is written, so no two replies' bytes ever interleave.
//
// REPLIES THAT COMPLETE IN A BATCH (no thread hop either)
//   A request completed on a thread that runs a batch of completions (the io_uring reaper:
//   util/completion_batch.h) has its reply queued without waking the writer; at the end of
//   the batch that thread sends every reply queued by then, the same way and under the same
//   ownership rule as the reader's send above (not waiting; what the socket cannot take is
//   handed to the writer). Members that complete asynchronously (block devices, O_DIRECT)
//   so cost one thread switch per batch, not two per request.
//
// When reading ends, the reader waits for every in-flight request to be answered (or, if the
// socket broke, dropped), stops the writer and the submitter, shuts the socket down and
// calls on_finished. The
// owner must join() before dropping its reference. Each in-flight request holds a shared_ptr
// to its connection and a completion copies it before queueing the reply, so a `done` that is
// still returning on an engine thread never touches freed memory; the last such reference
// frees the connection (and closes the fd) wherever it drops.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "block/block_target.h"
#include "frontend/nbd/handshake.h"
#include "frontend/nbd/stats.h"

namespace umd::nbd {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // Takes ownership of `fd`. `stopping` and `counters` must outlive the connection's threads
  // (the owner joins them); `on_finished` runs on the reader thread as its last action.
  Connection(int fd, engine::BlockTarget& target, ExportInfo ex, uint32_t max_inflight,
             ServerCounters& counters, const std::atomic<bool>& stopping,
             std::function<void()> on_finished);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void start();          // spawns the reader thread
  void shutdown_read();  // the reader sees EOF: in-flight requests drain, then it closes
  void join();           // waits for both threads
  bool finished() const { return finished_.load(); }

 private:
  struct Inflight;
  // Replies on their way out, and how far the socket has taken them.
  struct Batch {
    std::vector<std::unique_ptr<Inflight>> reqs;
    std::vector<iovec> iov;
    size_t first = 0;  // iov[first] is the next to send (trimmed by what went of it)
  };
  enum class Sent { all, would_block, broken };

  void run_reader();
  void transmission(SocketReader& in);
  void run_writer();
  void submit(std::unique_ptr<Inflight> inf);
  void pass_on(std::unique_ptr<Inflight> inf);  // reader: submit it on the submitter thread
  void run_submitter();
  void complete(std::unique_ptr<Inflight> inf);  // queue the reply; any thread
  void flush_ready();                            // reader: send the replies it holds
  void flush_batch();                            // end of a completion batch: send replies_
  void send_now(std::unique_ptr<Batch> b, bool by_reader);  // sending_ taken: send, or hand off
  Sent send(Batch& b, bool wait);
  void sent(Batch& b);  // counts and frees a sent (or dropped) batch; inflight_ is the caller's

  int fd_;
  engine::BlockTarget& target_;
  ExportInfo ex_;
  uint32_t max_inflight_;
  ServerCounters& counters_;
  const std::atomic<bool>& stopping_;
  std::function<void()> on_finished_;
  std::thread reader_, writer_, submitter_;
  std::atomic<bool> finished_{false};

  std::mutex mu_;
  std::condition_variable reader_cv_;              // in-flight count dropped
  std::condition_variable writer_cv_;              // reply queued, batch handed over, or stop
  std::deque<std::unique_ptr<Inflight>> replies_;  // guarded by mu_: for the writer
  std::unique_ptr<Batch> handoff_;                 // guarded by mu_: the reader's unfinished send
  bool sending_ = false;                           // guarded by mu_: the write side is owned
  uint32_t inflight_ = 0;                          // guarded by mu_
  bool writer_stop_ = false;                       // guarded by mu_
  std::condition_variable submitter_cv_;           // request passed on, or stop
  std::deque<std::unique_ptr<Inflight>> to_submit_;  // guarded by mu_
  bool submitter_stop_ = false;                    // guarded by mu_
  std::atomic<bool> socket_broken_{false};         // set by whoever sends
  std::vector<std::unique_ptr<Inflight>> ready_;   // reader thread only: replies completed inline
};

}  // namespace umd::nbd
