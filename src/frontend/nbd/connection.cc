#include "frontend/nbd/connection.h"
#include "frontend/nbd/socket_io.h"
#include "util/completion_batch.h"
#include "util/thread_name.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

namespace umd::nbd {
namespace {

// The connection whose reader this thread is, while it is in its transmission phase: a
// completion that runs here runs inline in that reader's submit().
thread_local const void* tl_reader = nullptr;

constexpr size_t kMaxReady = 64;  // replies the reader holds before it sends them
constexpr uint32_t kPassOnBytes = 256 * 1024;  // WRITEs this large go to the submitter

}  // namespace

// One request from read to reply. Owned by the reader until submit, by the target while in
// flight (as a raw pointer inside `req.done`), then by the reply queue.
struct Connection::Inflight {
  std::shared_ptr<Connection> conn;  // keeps the connection alive until the reply is handled
  Request hdr;
  uint32_t error = 0;
  engine::BlockRequest req;
  uint8_t* payload = nullptr;  // READ / WRITE data, 4 KiB aligned for O_DIRECT-minded targets
  std::array<uint8_t, kSimpleReplySize> reply{};

  ~Inflight() { std::free(payload); }
};

Connection::Connection(int fd, engine::BlockTarget& target, ExportInfo ex, uint32_t max_inflight,
                       ServerCounters& counters, const std::atomic<bool>& stopping,
                       std::function<void()> on_finished)
    : fd_(fd),
      target_(target),
      ex_(std::move(ex)),
      max_inflight_(max_inflight ? max_inflight : 1),
      counters_(counters),
      stopping_(stopping),
      on_finished_(std::move(on_finished)) {}

Connection::~Connection() {
  if (fd_ >= 0) ::close(fd_);
}

void Connection::start() {
  reader_ = std::thread([this] {
    name_this_thread("nbd-reader");
    run_reader();
  });
}

void Connection::shutdown_read() { ::shutdown(fd_, SHUT_RD); }

void Connection::join() {
  if (reader_.joinable()) reader_.join();
}

void Connection::run_reader() {
  SocketReader in(fd_);
  Result<HandshakeEnd> hs = run_handshake(fd_, in, ex_, stopping_);
  if (hs.is_ok() && *hs == HandshakeEnd::transmission) {
    writer_ = std::thread([this] {
      name_this_thread("nbd-writer");
      run_writer();
    });
    transmission(in);
    flush_ready();
    {
      std::unique_lock lock(mu_);
      reader_cv_.wait(lock, [&] { return inflight_ == 0; });
      writer_stop_ = true;
      submitter_stop_ = true;
    }
    writer_cv_.notify_one();
    submitter_cv_.notify_one();
    writer_.join();
    if (submitter_.joinable()) submitter_.join();
  }
  ::shutdown(fd_, SHUT_RDWR);
  finished_.store(true);
  if (on_finished_) on_finished_();
}

void Connection::transmission(SocketReader& in) {
  const ExportLimits& limits = ex_.limits;
  tl_reader = this;
  struct Unmark {
    ~Unmark() { tl_reader = nullptr; }
  } unmark;
  for (;;) {
    // Send what completed inline before anything can wait: the client's next request, or
    // the back pressure below (the replies held here count as in flight).
    if (!ready_.empty() && (ready_.size() >= kMaxReady || in.buffered() < kRequestSize)) flush_ready();
    {
      std::unique_lock lock(mu_);
      if (inflight_ >= max_inflight_ && !ready_.empty()) {
        lock.unlock();
        flush_ready();
        lock.lock();
      }
      reader_cv_.wait(lock, [&] { return inflight_ < max_inflight_; });
    }
    std::array<uint8_t, kRequestSize> bytes{};
    if (!in.read(bytes).is_ok()) return;  // EOF, shutdown_read, or error
    Result<Request> decoded = decode_request(bytes);
    if (!decoded.is_ok()) return;  // bad magic: hard disconnect
    const Request r = *decoded;
    if (static_cast<Cmd>(r.type) == Cmd::disc) return;  // soft disconnect

    auto inf = std::make_unique<Inflight>();
    inf->hdr = r;
    inf->error = validate_request(r, limits);
    if (static_cast<Cmd>(r.type) == Cmd::write) {
      if (inf->error == 0 && r.length > 0) {
        inf->payload =
            static_cast<uint8_t*>(std::aligned_alloc(4096, (r.length + 4095) / 4096 * 4096));
        if (!inf->payload) {
          inf->error = kEnomem;
        } else if (!in.read(std::span<uint8_t>(inf->payload, r.length)).is_ok()) {
          return;
        }
      }
      if (inf->payload == nullptr && !in.skip(r.length).is_ok()) return;
    }
    if (inf->error == 0 && r.length >= kPassOnBytes && static_cast<Cmd>(r.type) == Cmd::write) {
      pass_on(std::move(inf));
    } else {
      submit(std::move(inf));
    }
  }
}

void Connection::pass_on(std::unique_ptr<Inflight> inf) {
  counters_.write_passed_on();
  {
    std::lock_guard lock(mu_);
    if (!submitter_.joinable()) submitter_ = std::thread([this] {
        name_this_thread("nbd-submitter");
        run_submitter();
      });
    to_submit_.push_back(std::move(inf));
  }
  submitter_cv_.notify_one();
}

void Connection::run_submitter() {
  std::unique_lock lock(mu_);
  for (;;) {
    submitter_cv_.wait(lock, [&] { return !to_submit_.empty() || submitter_stop_; });
    if (to_submit_.empty()) return;
    std::unique_ptr<Inflight> inf = std::move(to_submit_.front());
    to_submit_.pop_front();
    lock.unlock();
    submit(std::move(inf));
    lock.lock();
  }
}

void Connection::submit(std::unique_ptr<Inflight> inf) {
  counters_.request_started();
  {
    std::lock_guard lock(mu_);
    inflight_++;
  }
  const Request& r = inf->hdr;
  const Cmd cmd = static_cast<Cmd>(r.type);
  if (inf->error != 0 || (r.length == 0 && cmd != Cmd::flush)) {
    complete(std::move(inf));  // refused, or a zero-length no-op: never reaches the target
    return;
  }
  engine::BlockRequest& req = inf->req;
  switch (cmd) {
    case Cmd::read:
      req.op = engine::BlockOp::read;
      break;
    case Cmd::write:
      req.op = engine::BlockOp::write;
      break;
    case Cmd::flush:
      req.op = engine::BlockOp::flush;
      break;
    case Cmd::trim:
      req.op = engine::BlockOp::trim;
      break;
    default:
      req.op = engine::BlockOp::write_zeroes;
      break;  // validate_request allows no other
  }
  req.fua = (r.flags & kCmdFlagFua) && cmd != Cmd::read && cmd != Cmd::flush;
  req.offset = r.offset;
  req.length = r.length;
  if (cmd == Cmd::read) {
    inf->payload = static_cast<uint8_t*>(std::aligned_alloc(4096, (r.length + 4095) / 4096 * 4096));
    if (!inf->payload) {
      inf->error = kEnomem;
      complete(std::move(inf));
      return;
    }
  }
  req.buf = inf->payload;
  inf->conn = shared_from_this();
  Inflight* raw = inf.release();
  req.done = [raw](Status s) {
    raw->error = nbd_error_from(s);
    // The writer may free `raw` (and this closure) as soon as it is queued; hold the
    // connection in a local so complete() runs on live memory.
    std::shared_ptr<Connection> conn = raw->conn;
    conn->complete(std::unique_ptr<Inflight>(raw));
  };
  target_.submit(req);
}

void Connection::complete(std::unique_ptr<Inflight> inf) {
  inf->reply = encode_simple_reply(inf->error, inf->hdr.cookie);
  if (tl_reader == this) {  // inline in the reader's submit(): the reader sends it
    ready_.push_back(std::move(inf));
    return;
  }
  CompletionBatch* batch = CompletionBatch::current();
  bool wake;
  {
    std::lock_guard lock(mu_);
    replies_.push_back(std::move(inf));
    wake = !sending_ && batch == nullptr;  // else whoever sends takes it up before letting go
  }
  if (batch) {  // one of a batch of completions: sent at its end (flush_batch)
    batch->defer(this, [this] { return [c = shared_from_this()] { c->flush_batch(); }; });
  } else if (wake) {
    writer_cv_.notify_one();
  }
}

Connection::Sent Connection::send(Batch& b, bool wait) {
  if (b.iov.empty()) {
    for (auto& inf : b.reqs) {
      b.iov.push_back({inf->reply.data(), inf->reply.size()});
      if (static_cast<Cmd>(inf->hdr.type) == Cmd::read && inf->error == 0 && inf->hdr.length) {
        b.iov.push_back({inf->payload, inf->hdr.length});
      }
    }
  }
  if (socket_broken_.load()) return Sent::broken;
  Status s = send_iov(fd_, b.iov, &b.first, /*dontwait=*/!wait);
  if (s.code() == Err::retry) return Sent::would_block;
  if (!s.is_ok()) {
    socket_broken_.store(true);  // replies from now on are dropped
    ::shutdown(fd_, SHUT_RDWR);  // and the reader stops
    return Sent::broken;
  }
  return Sent::all;
}

void Connection::sent(Batch& b) {
  for (auto& inf : b.reqs) counters_.request_done(inf->hdr.type, inf->error, inf->hdr.length);
  // Drop the requests (and their connection references) before the reader is woken, which
  // may then finish and let the owner destroy this object.
  for (auto& inf : b.reqs) inf->conn.reset();
  b.reqs.clear();
  b.iov.clear();
  b.first = 0;
}

void Connection::flush_ready() {
  if (ready_.empty()) return;
  auto b = std::make_unique<Batch>();
  b->reqs.swap(ready_);
  {
    std::lock_guard lock(mu_);
    if (sending_) {  // the writer is sending: it takes these up before letting go
      for (auto& inf : b->reqs) replies_.push_back(std::move(inf));
      return;
    }
    sending_ = true;
  }
  send_now(std::move(b), /*by_reader=*/true);
}

void Connection::flush_batch() {
  auto b = std::make_unique<Batch>();
  {
    std::lock_guard lock(mu_);
    if (sending_ || replies_.empty()) return;  // whoever sends takes them up before letting go
    sending_ = true;
    for (auto& r : replies_) b->reqs.push_back(std::move(r));
    replies_.clear();
  }
  send_now(std::move(b), /*by_reader=*/false);
}

void Connection::send_now(std::unique_ptr<Batch> b, bool by_reader) {
  const Sent how = send(*b, /*wait=*/false);
  if (how == Sent::would_block) {
    if (by_reader) counters_.reader_handoff();
    else counters_.batch_handoff();
    {
      std::lock_guard lock(mu_);
      handoff_ = std::move(b);  // the writer owns the write side from here
    }
    writer_cv_.notify_one();
    return;
  }
  const uint32_t n = uint32_t(b->reqs.size());
  if (how == Sent::all) {  // else dropped: the socket broke
    if (by_reader) counters_.replies_by_reader(n);
    else counters_.replies_in_batches(n);
  }
  sent(*b);
  bool more;
  {
    std::lock_guard lock(mu_);
    inflight_ -= n;
    sending_ = false;
    more = !replies_.empty();
  }
  if (more) writer_cv_.notify_one();
  if (!by_reader) reader_cv_.notify_one();  // it may be held back by the in-flight count
}

void Connection::run_writer() {
  Batch b;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      writer_cv_.wait(lock, [&] {
        return handoff_ || (!sending_ && !replies_.empty()) || (writer_stop_ && replies_.empty());
      });
      if (handoff_) {
        b = std::move(*handoff_);  // sending_ stays set: it is the writer's now
        handoff_.reset();
      } else if (!replies_.empty()) {
        sending_ = true;
      } else {
        return;  // writer_stop_ and nothing left
      }
    }
    for (;;) {
      if (b.reqs.empty()) {
        std::lock_guard lock(mu_);
        for (auto& r : replies_) b.reqs.push_back(std::move(r));
        replies_.clear();
      }
      (void)send(b, /*wait=*/true);  // a broken socket drops the batch
      const uint32_t n = uint32_t(b.reqs.size());
      sent(b);
      bool more;
      {
        std::lock_guard lock(mu_);
        inflight_ -= n;
        more = !replies_.empty();
        if (!more) sending_ = false;
      }
      reader_cv_.notify_one();
      if (!more) break;
    }
  }
}

}  // namespace umd::nbd
