#include "frontend/nbd/stats.h"

#include "frontend/nbd/protocol.h"

namespace umd::nbd {

void ServerCounters::request_done(uint16_t type, uint32_t error, uint64_t length) {
  inflight_.fetch_sub(1, std::memory_order_relaxed);
  switch (static_cast<Cmd>(type)) {
    case Cmd::read:
      add(reads_);
      if (!error) add(bytes_read_, length);
      break;
    case Cmd::write:
      add(writes_);
      if (!error) add(bytes_written_, length);
      break;
    case Cmd::flush:
      add(flushes_);
      break;
    case Cmd::trim:
      add(trims_);
      break;
    case Cmd::write_zeroes:
      add(write_zeroes_);
      break;
    default:
      add(other_);
      break;
  }
  if (error) add(errors_);
}

ServerStats ServerCounters::snapshot() const {
  auto get = [](const std::atomic<uint64_t>& c) { return c.load(std::memory_order_relaxed); };
  ServerStats s;
  s.connections_total = get(connections_total_);
  s.connections_open = get(connections_open_);
  s.connections_refused = get(connections_refused_);
  s.reads = get(reads_);
  s.writes = get(writes_);
  s.flushes = get(flushes_);
  s.trims = get(trims_);
  s.write_zeroes = get(write_zeroes_);
  s.other_requests = get(other_);
  s.errors = get(errors_);
  s.bytes_read = get(bytes_read_);
  s.bytes_written = get(bytes_written_);
  s.inflight = get(inflight_);
  s.replies_by_reader = get(replies_by_reader_);
  s.reader_handoffs = get(reader_handoffs_);
  s.replies_in_batches = get(replies_in_batches_);
  s.batch_handoffs = get(batch_handoffs_);
  s.writes_passed_on = get(writes_passed_on_);
  return s;
}

}  // namespace umd::nbd
