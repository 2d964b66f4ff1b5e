#include "frontend/nbd/server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>

#include "frontend/nbd/connection.h"
#include "frontend/nbd/socket_io.h"

namespace umd::nbd {

NbdServer::NbdServer(engine::BlockTarget& target, ServerOptions opts)
    : target_(target), opts_(std::move(opts)) {}

NbdServer::~NbdServer() { stop(); }

ExportInfo NbdServer::export_info() const {
  ExportInfo ex;
  ex.name = opts_.export_name;
  ex.description = opts_.description;
  const uint32_t bs = target_.block_size();
  ex.limits.min_block = bs;
  ex.limits.size = target_.size_bytes() / bs * bs;
  ex.limits.read_only = target_.read_only();
  ex.limits.trim = target_.supports_trim();
  ex.preferred_block = std::max({target_.preferred_block_size(), bs, 512u});
  ex.limits.max_payload = std::max(opts_.max_payload, ex.preferred_block);
  return ex;
}

Status NbdServer::start() {
  std::lock_guard lock(mu_);
  if (started_) return Status(Err::busy, "NBD server already started");
  const uint32_t bs = target_.block_size();
  const uint32_t pref = target_.preferred_block_size();
  if (bs == 0 || !std::has_single_bit(bs) || bs > 65536) {
    return Status(Err::invalid,
                  "block size " + std::to_string(bs) + " is not a power of two up to 64 KiB");
  }
  if (pref == 0 || !std::has_single_bit(pref)) {
    return Status(Err::invalid,
                  "preferred block size " + std::to_string(pref) + " is not a power of two");
  }
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return Status::from_errno(errno, "eventfd");
  if (!opts_.unix_path.empty()) {
    Result<int> fd = listen_unix(opts_.unix_path);
    if (!fd.is_ok()) return fd.status();
    unix_fd_ = *fd;
  }
  if (opts_.tcp) {
    Result<int> fd = listen_tcp(opts_.tcp_host, opts_.tcp_port, &tcp_port_);
    if (!fd.is_ok()) {
      if (unix_fd_ >= 0) {
        ::close(unix_fd_);
        unix_fd_ = -1;
        ::unlink(opts_.unix_path.c_str());
      }
      return fd.status();
    }
    tcp_fd_ = *fd;
  }
  started_ = true;
  acceptor_ = std::thread([this] { run_acceptor(); });
  return Status::ok();
}

Status NbdServer::adopt(int fd) {
  std::lock_guard lock(mu_);
  if (!started_ || stopped_) {
    ::close(fd);
    return Status(Err::invalid, "NBD server is not running");
  }
  return add_connection(fd);
}

// Requires mu_.
Status NbdServer::add_connection(int fd) {
  size_t open = 0;
  for (auto& c : conns_) open += c->finished() ? 0 : 1;
  if (open >= opts_.max_connections) {
    counters_.connection_refused();
    ::close(fd);
    return Status(Err::busy, "too many NBD connections (" + std::to_string(open) + ")");
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));  // fails harmlessly on unix
  counters_.connection_opened();
  auto conn = std::make_shared<Connection>(
      fd, target_, export_info(), opts_.max_inflight_per_connection, counters_, stopping_, [this] {
        counters_.connection_closed();
        uint64_t v = 1;
        (void)!::write(wake_fd_, &v, sizeof(v));  // the acceptor reaps it
      });
  conns_.push_back(conn);
  conn->start();
  return Status::ok();
}

void NbdServer::reap_finished() {
  std::vector<std::shared_ptr<Connection>> done;
  {
    std::lock_guard lock(mu_);
    for (auto it = conns_.begin(); it != conns_.end();) {
      if ((*it)->finished()) {
        done.push_back(std::move(*it));
        it = conns_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& c : done) c->join();
}

void NbdServer::run_acceptor() {
  for (;;) {
    pollfd fds[3];
    nfds_t n = 0;
    fds[n++] = {wake_fd_, POLLIN, 0};
    if (unix_fd_ >= 0) fds[n++] = {unix_fd_, POLLIN, 0};
    if (tcp_fd_ >= 0) fds[n++] = {tcp_fd_, POLLIN, 0};
    if (::poll(fds, n, -1) < 0 && errno != EINTR) return;
    if (fds[0].revents) {
      uint64_t v;
      (void)!::read(wake_fd_, &v, sizeof(v));
      reap_finished();
    }
    if (stopping_.load()) return;
    for (nfds_t i = 1; i < n; i++) {
      if (!(fds[i].revents & POLLIN)) continue;
      int fd = ::accept4(fds[i].fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;  // ECONNABORTED, EMFILE...: keep serving the others
      std::lock_guard lock(mu_);
      (void)add_connection(fd);
    }
  }
}

void NbdServer::stop() {
  {
    std::lock_guard lock(mu_);
    if (!started_ || stopped_) return;
    stopped_ = true;
  }
  stopping_.store(true);
  uint64_t v = 1;
  (void)!::write(wake_fd_, &v, sizeof(v));
  acceptor_.join();
  if (unix_fd_ >= 0) {
    ::close(unix_fd_);
    ::unlink(opts_.unix_path.c_str());
  }
  if (tcp_fd_ >= 0) ::close(tcp_fd_);
  unix_fd_ = tcp_fd_ = -1;
  std::list<std::shared_ptr<Connection>> conns;
  {
    std::lock_guard lock(mu_);
    conns.swap(conns_);
  }
  for (auto& c : conns) c->shutdown_read();
  for (auto& c : conns) c->join();
  conns.clear();
  ::close(wake_fd_);
  wake_fd_ = -1;
}

}  // namespace umd::nbd
