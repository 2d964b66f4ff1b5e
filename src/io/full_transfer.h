// transfer_full: the pread/pwrite loop every synchronous member path uses. Kept apart
// (and templated on the syscall) so the short-transfer and EINTR handling can be tested
// with a fake that returns short counts.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <string>
#include <sys/types.h>

#include "util/status.h"

namespace umd::io {

// Calls op(buf + done, len - done, offset + done) -- a pread/pwrite-like callable that
// returns bytes moved or -1 with errno set -- until len bytes have moved.
// - EINTR is retried; a short count continues with the remainder.
// - A return of 0 before len bytes moved is "unexpected end of file" (Err::io).
// - Any other error becomes Status::from_errno(errno, context) (EAGAIN/ENOMEM: Err::retry).
// `context()` returns the error prefix ("d0.img: read at offset 0 (4096 bytes)"); it is
// only called on failure. Thread-safe if op is.
template <class Op, class Context>
Status transfer_full(Op&& op, uint8_t* buf, size_t len, uint64_t offset, Context&& context) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = op(buf + done, len - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      return Status::from_errno(e, context());
    }
    if (n == 0) {
      return Status(Err::io, context() + ": unexpected end of file after " + std::to_string(done) +
                                 " bytes");
    }
    done += static_cast<size_t>(n);
  }
  return Status::ok();
}

}  // namespace umd::io
