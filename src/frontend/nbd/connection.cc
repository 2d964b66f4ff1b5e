#include "frontend/nbd/connection.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

namespace umd::nbd {

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
  reader_ = std::thread([this] { run_reader(); });
}

void Connection::shutdown_read() { ::shutdown(fd_, SHUT_RD); }

void Connection::join() {
  if (reader_.joinable()) reader_.join();
}

void Connection::run_reader() {
  SocketReader in(fd_);
  Result<HandshakeEnd> hs = run_handshake(fd_, in, ex_, stopping_);
  if (hs.is_ok() && *hs == HandshakeEnd::transmission) {
    writer_ = std::thread([this] { run_writer(); });
    transmission(in);
    {
      std::unique_lock lock(mu_);
      reader_cv_.wait(lock, [&] { return inflight_ == 0; });
      writer_stop_ = true;
    }
    writer_cv_.notify_one();
    writer_.join();
  }
  ::shutdown(fd_, SHUT_RDWR);
  finished_.store(true);
  if (on_finished_) on_finished_();
}

void Connection::transmission(SocketReader& in) {
  const ExportLimits& limits = ex_.limits;
  for (;;) {
    {
      std::unique_lock lock(mu_);
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
    submit(std::move(inf));
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
  {
    std::lock_guard lock(mu_);
    replies_.push_back(std::move(inf));
  }
  writer_cv_.notify_one();
}

void Connection::run_writer() {
  std::vector<std::unique_ptr<Inflight>> batch;
  std::vector<iovec> iov;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      writer_cv_.wait(lock, [&] { return !replies_.empty() || writer_stop_; });
      if (replies_.empty()) return;  // writer_stop_ and nothing left
      for (auto& r : replies_) batch.push_back(std::move(r));
      replies_.clear();
    }
    if (!socket_broken_) {
      iov.clear();
      for (auto& inf : batch) {
        iov.push_back({inf->reply.data(), inf->reply.size()});
        if (static_cast<Cmd>(inf->hdr.type) == Cmd::read && inf->error == 0 && inf->hdr.length) {
          iov.push_back({inf->payload, inf->hdr.length});
        }
      }
      if (!write_all(fd_, iov).is_ok()) {
        socket_broken_ = true;       // replies from now on are dropped
        ::shutdown(fd_, SHUT_RDWR);  // and the reader stops
      }
    }
    for (auto& inf : batch) counters_.request_done(inf->hdr.type, inf->error, inf->hdr.length);
    const uint32_t n = uint32_t(batch.size());
    // Drop the requests (and their connection references) before waking the reader, which
    // may then finish and let the owner destroy this object.
    for (auto& inf : batch) inf->conn.reset();
    batch.clear();
    {
      std::lock_guard lock(mu_);
      inflight_ -= n;
    }
    reader_cv_.notify_one();
  }
}

}  // namespace umd::nbd
