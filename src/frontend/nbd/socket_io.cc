#include "frontend/nbd/socket_io.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

namespace umd::nbd {

SocketReader::SocketReader(int fd, size_t buffer_size) : fd_(fd), buf_(buffer_size) {}

Status SocketReader::fill() {
  for (;;) {
    ssize_t n = ::recv(fd_, buf_.data(), buf_.size(), 0);
    if (n > 0) {
      begin_ = 0;
      end_ = size_t(n);
      return Status::ok();
    }
    if (n == 0) return Status(Err::not_found, "peer closed the connection");
    if (errno == EINTR) continue;
    return Status::from_errno(errno, "recv");
  }
}

Status SocketReader::read(std::span<uint8_t> out) {
  size_t done = 0;
  while (done < out.size()) {
    if (begin_ < end_) {
      size_t n = std::min(end_ - begin_, out.size() - done);
      std::memcpy(out.data() + done, buf_.data() + begin_, n);
      begin_ += n;
      done += n;
      continue;
    }
    if (out.size() - done >= buf_.size()) {  // large payload: skip the copy
      ssize_t n = ::recv(fd_, out.data() + done, out.size() - done, 0);
      if (n > 0) {
        done += size_t(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status::from_errno(errno, "recv");
    } else {
      Status s = fill();
      if (s.is_ok()) continue;
      if (s.code() != Err::not_found) return s;
    }
    if (done == 0) return Status(Err::not_found, "peer closed the connection");
    return Status(Err::io, "peer closed the connection in the middle of a message");
  }
  return Status::ok();
}

Status SocketReader::skip(uint64_t n) {
  std::vector<uint8_t> scratch(std::min<uint64_t>(n, 256 * 1024));
  while (n > 0) {
    size_t chunk = size_t(std::min<uint64_t>(n, scratch.size()));
    Status s = read(std::span<uint8_t>(scratch.data(), chunk));
    if (!s.is_ok()) {
      return s.code() == Err::not_found ? Status(Err::io, "peer closed inside a payload") : s;
    }
    n -= chunk;
  }
  return Status::ok();
}

Status send_iov(int fd, std::span<iovec> iov, size_t* first, bool dontwait) {
  size_t& i = *first;
  while (i < iov.size()) {
    msghdr msg{};
    msg.msg_iov = iov.data() + i;
    msg.msg_iovlen = std::min<size_t>(iov.size() - i, IOV_MAX);
    ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL | (dontwait ? MSG_DONTWAIT : 0));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (dontwait && (errno == EAGAIN || errno == EWOULDBLOCK)) return Status(Err::retry, "sendmsg: socket full");
      return Status::from_errno(errno, "sendmsg");
    }
    size_t left = size_t(n);
    while (i < iov.size() && left >= iov[i].iov_len) {
      left -= iov[i].iov_len;
      i++;
    }
    if (left > 0) {
      iov[i].iov_base = static_cast<uint8_t*>(iov[i].iov_base) + left;
      iov[i].iov_len -= left;
    }
  }
  return Status::ok();
}

Status write_all(int fd, std::span<iovec> iov) {
  size_t first = 0;
  return send_iov(fd, iov, &first, /*dontwait=*/false);
}

Status write_all(int fd, std::span<const uint8_t> bytes) {
  iovec v{const_cast<uint8_t*>(bytes.data()), bytes.size()};
  return write_all(fd, std::span<iovec>(&v, 1));
}

namespace {

Result<sockaddr_un> unix_address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return Status(Err::invalid, "unix socket path '" + path + "' is empty or longer than " +
                                    std::to_string(sizeof(addr.sun_path) - 1) + " bytes");
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

Result<addrinfo*> resolve(const std::string& host, uint16_t port, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = passive ? AI_PASSIVE : 0;
  addrinfo* res = nullptr;
  std::string port_str = std::to_string(port);
  int rc = ::getaddrinfo(host.empty() ? "127.0.0.1" : host.c_str(), port_str.c_str(), &hints, &res);
  if (rc != 0) {
    return Status(Err::invalid, "cannot resolve '" + host + "': " + ::gai_strerror(rc));
  }
  return res;
}

}  // namespace

Result<int> listen_unix(const std::string& path) {
  UMD_ASSIGN_OR_RETURN(sockaddr_un addr, unix_address(path));
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return Status(Err::busy, path + " exists and is not a socket");
    }
    Result<int> live = connect_unix(path);
    if (live.is_ok()) {
      ::close(*live);
      return Status(Err::busy, "another server is listening on " + path);
    }
    ::unlink(path.c_str());
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::from_errno(errno, "socket");
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0 || ::listen(fd, 64) < 0) {
    Status s = Status::from_errno(errno, "listening on " + path);
    ::close(fd);
    return s;
  }
  return fd;
}

Result<int> listen_tcp(const std::string& host, uint16_t port, uint16_t* bound_port) {
  UMD_ASSIGN_OR_RETURN(addrinfo * res, resolve(host, port, true));
  Status last(Err::invalid, "no address for '" + host + "'");
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last = Status::from_errno(errno, "socket");
      continue;
    }
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || ::listen(fd, 64) < 0) {
      last = Status::from_errno(errno, "listening on " + host + ":" + std::to_string(port));
      ::close(fd);
      continue;
    }
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    if (bound_port) {
      *bound_port = ss.ss_family == AF_INET6
                        ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                        : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    }
    ::freeaddrinfo(res);
    return fd;
  }
  ::freeaddrinfo(res);
  return last;
}

Result<int> connect_unix(const std::string& path) {
  UMD_ASSIGN_OR_RETURN(sockaddr_un addr, unix_address(path));
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::from_errno(errno, "socket");
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0) {
    Status s = Status::from_errno(errno, "connecting to " + path);
    ::close(fd);
    return s;
  }
  return fd;
}

Result<int> connect_tcp(const std::string& host, uint16_t port) {
  UMD_ASSIGN_OR_RETURN(addrinfo * res, resolve(host, port, false));
  Status last(Err::invalid, "no address for '" + host + "'");
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      ::freeaddrinfo(res);
      return fd;
    }
    last = Status::from_errno(errno, "connecting to " + host + ":" + std::to_string(port));
    ::close(fd);
  }
  ::freeaddrinfo(res);
  return last;
}

}  // namespace umd::nbd
