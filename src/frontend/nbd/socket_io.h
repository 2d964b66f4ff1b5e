// Small blocking socket helpers for the NBD server: exact reads through a buffer, gathered
// writes that survive partial sends, and listening/connecting on Unix and TCP sockets.
// Nothing here knows the protocol.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "util/status.h"

namespace umd::nbd {

// Reads exact byte counts from a stream socket, buffering small reads (28-byte request
// headers) and reading large payloads straight into the caller's memory.
// Not thread-safe: one reader thread owns it.
class SocketReader {
 public:
  explicit SocketReader(int fd, size_t buffer_size = 64 * 1024);

  // Fills `out` completely. Err::not_found when the peer closed (or the read side was shut
  // down) before the first byte; Err::io on an error or on EOF part-way through.
  Status read(std::span<uint8_t> out);
  // Reads and throws away `n` bytes (a payload the server refuses but must consume).
  Status skip(uint64_t n);
  // Bytes received and not yet read: a read of at most this many does not wait.
  size_t buffered() const { return end_ - begin_; }

 private:
  Status fill();  // one recv() into the buffer
  int fd_;
  std::vector<uint8_t> buf_;
  size_t begin_ = 0, end_ = 0;
};

// Sends iov[*first..] with sendmsg (MSG_NOSIGNAL: a vanished peer is an error, not a
// SIGPIPE), advancing *first past what went and trimming a partly sent iovec, so a later
// call goes on where this one stopped. With `dontwait` it stops when the socket is full:
// Err::retry, with the rest still in `iov` from *first.
Status send_iov(int fd, std::span<iovec> iov, size_t* first, bool dontwait);
// Writes every byte of `iov` (send_iov, waiting). The array is modified to track progress.
Status write_all(int fd, std::span<iovec> iov);
Status write_all(int fd, std::span<const uint8_t> bytes);

// Listening sockets, close-on-exec. listen_unix refuses a path that is not a socket or that
// a live server still accepts on (Err::busy); a stale socket file is replaced.
Result<int> listen_unix(const std::string& path);
// host "" means loopback; port 0 picks a free port, reported in *bound_port.
Result<int> listen_tcp(const std::string& host, uint16_t port, uint16_t* bound_port);
Result<int> connect_unix(const std::string& path);
Result<int> connect_tcp(const std::string& host, uint16_t port);

}  // namespace umd::nbd
