// Per-server counters for `--detail` style reporting. Updated with relaxed atomics from the
// connection threads; a snapshot is not a consistent cut, just current totals.
#pragma once

#include <atomic>
#include <cstdint>

namespace umd::nbd {

struct ServerStats {
  uint64_t connections_total = 0;  // accepted or adopted
  uint64_t connections_open = 0;
  uint64_t connections_refused = 0;  // over max_connections
  uint64_t reads = 0, writes = 0, flushes = 0, trims = 0, write_zeroes = 0;
  uint64_t other_requests = 0;  // unknown/unsupported commands
  uint64_t errors = 0;          // replies with a nonzero error
  uint64_t bytes_read = 0;      // payload bytes sent to clients by successful READs
  uint64_t bytes_written = 0;   // payload bytes taken by successful WRITEs
  uint64_t inflight = 0;        // requests read but not yet answered, all connections
  // Replies sent by the connection's reader itself (completed inline, connection.h), and
  // the reader's sends the socket could not take at once, finished by the writer.
  uint64_t replies_by_reader = 0;
  uint64_t reader_handoffs = 0;
  // The same for replies sent at the end of a batch of completions by the thread that ran
  // it (the io_uring reaper, connection.h), and its sends finished by the writer.
  uint64_t replies_in_batches = 0;
  uint64_t batch_handoffs = 0;
  uint64_t writes_passed_on = 0;  // large WRITEs submitted by the connection's submitter thread
};

class ServerCounters {
 public:
  void connection_opened() {
    add(connections_total_);
    add(connections_open_);
  }
  void connection_closed() { connections_open_.fetch_sub(1, std::memory_order_relaxed); }
  void connection_refused() { add(connections_refused_); }
  void request_started() { add(inflight_); }
  // One answered request: its command type, the NBD error sent, its length.
  void request_done(uint16_t type, uint32_t error, uint64_t length);
  void replies_by_reader(uint64_t n) { add(replies_by_reader_, n); }
  void reader_handoff() { add(reader_handoffs_); }
  void replies_in_batches(uint64_t n) { add(replies_in_batches_, n); }
  void batch_handoff() { add(batch_handoffs_); }
  void write_passed_on() { add(writes_passed_on_); }
  ServerStats snapshot() const;

 private:
  static void add(std::atomic<uint64_t>& c, uint64_t n = 1) {
    c.fetch_add(n, std::memory_order_relaxed);
  }
  std::atomic<uint64_t> connections_total_{0}, connections_open_{0}, connections_refused_{0};
  std::atomic<uint64_t> reads_{0}, writes_{0}, flushes_{0}, trims_{0}, write_zeroes_{0}, other_{0};
  std::atomic<uint64_t> errors_{0}, bytes_read_{0}, bytes_written_{0}, inflight_{0};
  std::atomic<uint64_t> replies_by_reader_{0}, reader_handoffs_{0}, writes_passed_on_{0};
  std::atomic<uint64_t> replies_in_batches_{0}, batch_handoffs_{0};
};

}  // namespace umd::nbd
