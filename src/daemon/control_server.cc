#include "daemon/control_server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace umd::daemon {
namespace {

constexpr size_t kMaxConnections = 32;
constexpr auto kIdleTimeout = std::chrono::seconds(60);
constexpr auto kWriteTimeout = std::chrono::seconds(10);

}  // namespace

ControlServer::ControlServer(std::string socket_path, Handler handler)
    : path_(std::move(socket_path)), handler_(std::move(handler)) {}

ControlServer::~ControlServer() { stop(); }

Status ControlServer::start() {
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path_.size() >= sizeof addr.sun_path) return Status(Err::invalid, "control socket path too long: " + path_);
  std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return Status::from_errno(errno, "eventfd");
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listen_fd_ < 0) return Status::from_errno(errno, "creating the control socket");
  ::unlink(path_.c_str());
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return Status::from_errno(errno, "binding the control socket " + path_);
  }
  if (::chmod(path_.c_str(), 0600) != 0 || ::listen(listen_fd_, 16) != 0) {
    return Status::from_errno(errno, "listening on " + path_);
  }
  started_ = true;
  acceptor_ = std::thread([this] { run_acceptor(); });
  return Status::ok();
}

void ControlServer::stop() {
  if (stopping_.exchange(true)) return;
  if (wake_fd_ >= 0) {
    uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
  }
  if (acceptor_.joinable()) acceptor_.join();
  reap(true);
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
  listen_fd_ = wake_fd_ = -1;
  if (started_) ::unlink(path_.c_str());
}

void ControlServer::run_acceptor() {
  while (!stopping_.load()) {
    struct pollfd p[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    int r = ::poll(p, 2, 1000);
    if (r < 0 && errno != EINTR) break;
    reap(false);
    if (stopping_.load() || (p[1].revents & POLLIN)) break;
    if (!(p[0].revents & POLLIN)) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) continue;
    std::lock_guard lk(mu_);
    if (conns_.size() >= kMaxConnections) {
      (void)write_all(fd, encode_message(error_response("too many control connections")),
                      std::chrono::steady_clock::now() + std::chrono::milliseconds(100));
      ::close(fd);
      continue;
    }
    Conn& c = conns_.emplace_back();
    c.fd = fd;
    c.thread = std::thread([this, &c] { serve(&c); });
  }
}

void ControlServer::serve(Conn* c) {
  std::string pending, line;
  for (;;) {
    // Wait for a request or for stop(); a request already being answered is finished.
    struct pollfd p[2] = {{c->fd, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (pending.find('\n') == std::string::npos) {
      int r = ::poll(p, 2, int(std::chrono::milliseconds(kIdleTimeout).count()));
      if (r <= 0 || (p[1].revents & POLLIN)) break;
    }
    Status s = read_line(c->fd, &pending, &line, std::chrono::steady_clock::now() + kWriteTimeout);
    if (!s.is_ok()) {
      if (s.code() == Err::invalid) {
        (void)write_all(c->fd, encode_message(error_response(s.message())),
                        std::chrono::steady_clock::now() + kWriteTimeout);
      }
      break;
    }
    json response;
    auto req = decode_message(line);
    if (!req.is_ok()) {
      response = error_response(req.status().message());
    } else {
      try {
        response = handler_(*req);
      } catch (const std::exception& e) {
        response = error_response(std::string("bad request: ") + e.what());
      }
    }
    if (!write_all(c->fd, encode_message(response), std::chrono::steady_clock::now() + kWriteTimeout).is_ok()) break;
  }
  ::close(c->fd);
  c->done.store(true);
}

void ControlServer::reap(bool all) {
  std::list<Conn> finished;
  {
    std::lock_guard lk(mu_);
    for (auto it = conns_.begin(); it != conns_.end();) {
      auto next = std::next(it);
      if (all || it->done.load()) finished.splice(finished.end(), conns_, it);
      it = next;
    }
  }
  for (Conn& c : finished) c.thread.join();
}

}  // namespace umd::daemon
