#include "io/file_member.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "io/full_transfer.h"
#include "io/request_check.h"
#include "io/uring_queue.h"
#include "util/aligned_buffer.h"

namespace umd::io {
namespace {

// Owns an fd until released.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

int open_retry(const std::string& path, int flags) {
  int fd;
  do {
    fd = ::open(path.c_str(), flags);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

// Direct-I/O alignment as reported by statx(STATX_DIOALIGN); false when unknown.
bool dio_alignment(int fd, uint32_t* offset_align, uint32_t* mem_align) {
#ifdef STATX_DIOALIGN
  struct statx sx {};
  if (::statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 && (sx.stx_mask & STATX_DIOALIGN)) {
    *offset_align = sx.stx_dio_offset_align;
    *mem_align = sx.stx_dio_mem_align;
    return true;
  }
#else
  (void)fd;
  (void)offset_align;
  (void)mem_align;
#endif
  return false;
}

// One aligned direct read of `bs` bytes at offset 0: 0 when it worked (or failed for a
// reason other than alignment), EINVAL when the file system rejects it.
// An exclusive flock, waiting up to 2 s for a holder that is going away: the files of a
// process that died with io_uring requests in flight are released by the kernel's ring
// teardown, a few milliseconds after the process itself is gone, so a daemon restarted
// at once after a crash would otherwise find its own predecessor's lock.
int lock_exclusive(int fd) {
  for (int attempt = 0;; attempt++) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return 0;
    if (errno != EWOULDBLOCK || attempt == 200) return errno;
    ::usleep(10000);
  }
}

// An OFD lock on bytes [offset, offset+len) (len 0: to the end, whatever the file grows
// to), waiting up to 2 s as lock_exclusive does: a write lock, or a read lock for a
// read-only opener (read-only openers share, writers exclude everyone). OFD locks belong to the
// open file, so two opens in one process conflict too, as flock's do; flock and OFD
// locks never see each other, so a whole-file opener takes both.
int lock_range(int fd, uint64_t offset, uint64_t len, bool read_only) {
  struct flock fl {};
  fl.l_type = read_only ? F_RDLCK : F_WRLCK;  // a read-only fd cannot take a write lock
  fl.l_whence = SEEK_SET;
  fl.l_start = off_t(offset);
  fl.l_len = off_t(len);
  for (int attempt = 0;; attempt++) {
    if (::fcntl(fd, F_OFD_SETLK, &fl) == 0) return 0;
    if ((errno != EAGAIN && errno != EACCES) || attempt == 200) return errno;
    ::usleep(10000);
  }
}

int probe_direct(int fd, uint32_t bs) {
  AlignedBuffer buf(bs < AlignedBuffer::kAlign ? AlignedBuffer::kAlign : bs);
  ssize_t n;
  do {
    n = ::pread(fd, buf.data(), bs, 0);
  } while (n < 0 && errno == EINTR);
  return (n < 0 && errno == EINVAL) ? EINVAL : 0;
}

}  // namespace

Result<std::unique_ptr<FileMember>> FileMember::open(const std::string& path,
                                                     const OpenOptions& opts) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Status::from_errno(errno, path + ": open");
  const bool blk = S_ISBLK(st.st_mode);
  if (!blk && !S_ISREG(st.st_mode)) {
    return Status(Err::invalid, path + ": open: not a regular file or block device");
  }
  int flags = (opts.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
  if (blk && opts.exclusive) flags |= O_EXCL;
  auto open_error = [&](int e) { return Status::from_errno(e, path + ": open"); };

  Fd fd;
  bool direct = false;
  if (opts.direct) {
    fd.reset(open_retry(path, flags | O_DIRECT));
    if (fd.get() >= 0) {
      direct = true;
    } else if (errno != EINVAL) {
      return open_error(errno);
    }
  }
  if (fd.get() < 0) {
    fd.reset(open_retry(path, flags));
    if (fd.get() < 0) return open_error(errno);
  }
  if (::fstat(fd.get(), &st) != 0) return open_error(errno);
  if (S_ISBLK(st.st_mode) != blk) return Status(Err::invalid, path + ": open: file type changed");

  std::unique_ptr<FileMember> m(new FileMember);
  m->name_ = path;
  m->read_only_ = opts.read_only;
  m->block_device_ = blk;

  uint32_t dio_off = 0, dio_mem = 0;
  const bool dio_known = direct && dio_alignment(fd.get(), &dio_off, &dio_mem);
  uint64_t raw_size = 0;
  if (blk) {
    if (::ioctl(fd.get(), BLKGETSIZE64, &raw_size) != 0) {
      return Status::from_errno(errno, path + ": BLKGETSIZE64");
    }
    int ssz = 0;
    if (::ioctl(fd.get(), BLKSSZGET, &ssz) != 0) return Status::from_errno(errno, path + ": BLKSSZGET");
    m->block_size_ = ssz > 0 ? static_cast<uint32_t>(ssz) : 512;
    if (direct) {
      if ((raw_size >= m->block_size_ && probe_direct(fd.get(), m->block_size_) == EINVAL)) {
        direct = false;
      } else {
        m->mem_align_ = dio_known && dio_mem > 0 ? dio_mem : m->block_size_;
      }
    }
  } else {
    raw_size = static_cast<uint64_t>(st.st_size);
    if (direct) {
      uint32_t chosen = 0;
      if (dio_known) {
        // 0: this file system cannot do direct I/O on this file.
        if (dio_off != 0 && dio_off <= 4096 &&
            (raw_size < dio_off || probe_direct(fd.get(), dio_off) != EINVAL)) {
          chosen = dio_off < 512 ? 512 : dio_off;
        }
      } else {
        for (uint32_t bs : {512u, 4096u}) {
          if (raw_size < bs || probe_direct(fd.get(), bs) != EINVAL) {
            chosen = bs;
            break;
          }
        }
      }
      if (chosen == 0) {
        direct = false;
      } else {
        m->block_size_ = chosen;
        // Without statx's answer, 4 KiB is always enough for memory alignment.
        m->mem_align_ = dio_known && dio_mem > 0 ? dio_mem : 4096;
      }
    }
  }
  if (!direct) {
    m->block_size_ = blk ? m->block_size_ : 512;
    m->mem_align_ = 1;
    int fl = ::fcntl(fd.get(), F_GETFL);
    if (fl >= 0 && (fl & O_DIRECT)) {  // the probe failed: reopen buffered
      fd.reset();  // close first: O_EXCL would refuse a second open of the same device
      fd.reset(open_retry(path, flags));
      if (fd.get() < 0) return open_error(errno);
    }
  }
  if (int e = !blk && opts.exclusive ? lock_exclusive(fd.get()) : 0; e != 0) {
    if (e == EWOULDBLOCK) return Status(Err::busy, path + ": open: in use (locked by another opener)");
    return Status::from_errno(e, path + ": flock");
  }
  // The whole file, against openers of one of its partitions (restrict_to).
  if (int e = !blk && opts.exclusive ? lock_range(fd.get(), 0, 0, opts.read_only) : 0; e != 0) {
    if (e == EAGAIN || e == EACCES) return Status(Err::busy, path + ": open: in use (a partition of it is open)");
    return Status::from_errno(e, path + ": fcntl(F_OFD_SETLK)");
  }
  m->direct_ = direct;
  if (struct statfs sfs {}; !blk && ::fstatfs(fd.get(), &sfs) == 0) {
    m->memory_backed_ = sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC;
  }
  m->size_ = raw_size / m->block_size_ * m->block_size_;
  m->fd_ = fd.release();
  m->ring_ = opts.ring;
  return m;
}

FileMember::~FileMember() {
  if (fd_ >= 0) ::close(fd_);
}

Status FileMember::rw(IoOp op, uint64_t offset, uint8_t* buf, uint64_t len, bool fua) {
  UMD_TRY(check_request(name_, size_, block_size_, read_only_, op, offset, len));
  if (len == 0) return Status::ok();
  auto what = [&] { return describe_io(name_, op, offset, len); };
  AlignedBuffer bounce;
  uint8_t* p = buf;
  if (mem_align_ > 1 && reinterpret_cast<uintptr_t>(buf) % mem_align_ != 0) {
    bounce = AlignedBuffer(len);
    if (op == IoOp::write) std::memcpy(bounce.data(), buf, len);
    p = bounce.data();
  }
  const int fd = fd_;
  if (op == IoOp::read) {
    UMD_TRY(transfer_full([fd](uint8_t* b, size_t n, off_t o) { return ::pread(fd, b, n, o); }, p,
                          len, base_ + offset, what));
    if (p != buf) std::memcpy(buf, p, len);
    return Status::ok();
  }
  if (fua && dsync_ok_.load(std::memory_order_relaxed)) {
    Status s = transfer_full(
        [fd](uint8_t* b, size_t n, off_t o) {
          iovec iov{b, n};
          return ::pwritev2(fd, &iov, 1, o, RWF_DSYNC);
        },
        p, len, base_ + offset, what);
    int e = s.sys_errno();
    if (s.is_ok() || (e != EOPNOTSUPP && e != ENOSYS)) return s;
    dsync_ok_.store(false, std::memory_order_relaxed);  // fall through: pwrite + fdatasync
  }
  UMD_TRY(transfer_full([fd](uint8_t* b, size_t n, off_t o) { return ::pwrite(fd, b, n, o); }, p,
                        len, base_ + offset, what));
  if (fua) {
    int r;
    do {
      r = ::fdatasync(fd);
    } while (r != 0 && errno == EINTR);
    if (r != 0) {
      int e = errno;
      return Status::from_errno(e, what() + ": fdatasync");
    }
  }
  return Status::ok();
}

Status FileMember::read(uint64_t offset, std::span<uint8_t> buf) {
  return rw(IoOp::read, offset, buf.data(), buf.size(), false);
}

Status FileMember::write(uint64_t offset, std::span<const uint8_t> buf, bool fua) {
  // rw() never writes through the pointer for a write.
  return rw(IoOp::write, offset, const_cast<uint8_t*>(buf.data()), buf.size(), fua);
}

Status FileMember::flush() {
  int r;
  do {
    r = ::fdatasync(fd_);
  } while (r != 0 && errno == EINTR);
  if (r != 0) {
    int e = errno;
    return Status::from_errno(e, describe_io(name_, IoOp::flush, 0, 0));
  }
  return Status::ok();
}

Status FileMember::discard(uint64_t offset, uint64_t length) {
  UMD_TRY(check_request(name_, size_, block_size_, read_only_, IoOp::discard, offset, length));
  if (length == 0) return Status::ok();
  int r;
  if (block_device_) {
    uint64_t range[2] = {base_ + offset, length};
    r = ::ioctl(fd_, BLKDISCARD, range);
  } else {
    r = ::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(base_ + offset),
                    static_cast<off_t>(length));
  }
  if (r == 0) return Status::ok();
  int e = errno;
  if (e == EOPNOTSUPP || e == ENOSYS || e == ENOTTY) return Status::ok();  // cannot discard: a no-op
  return Status::from_errno(e, describe_io(name_, IoOp::discard, offset, length));
}

void FileMember::submit(IoRequest& req) {
  if (ring_ == nullptr) {
    Member::submit(req);
    return;
  }
  Status s = check_request(name_, size_, block_size_, read_only_, req.op, req.offset, req.length);
  if (!s.is_ok()) {
    ring_->complete(req, std::move(s));
    return;
  }
  if (req.op == IoOp::discard && block_device_) {
    ring_->complete(req, discard(req.offset, req.length));  // no BLKDISCARD in io_uring here
    return;
  }
  if (memory_backed_ && (req.op == IoOp::flush || (req.op != IoOp::discard && req.length <= kInlineBytes))) {
    Member::submit(req);  // a copy in the kernel: no worker thread, no reaper (see the header)
    return;
  }
  if (memory_backed_ && req.op != IoOp::discard && ring_->copies_in_flight() > 0) {
    Member::submit(req);  // a worker is copying already: this copy runs beside it (header)
    return;
  }
  ring_->submit(fd_, name_, mem_align_, req, base_);
}

Status FileMember::restrict_to(uint64_t offset, uint64_t bytes, std::string name, bool exclusive) {
  if (offset % block_size_ != 0 || bytes % block_size_ != 0) {
    return Status(Err::invalid, fmt::format("{}: bytes {}-{} are not aligned to the {}-byte blocks of {}", name, offset,
                                            offset + bytes, block_size_, name_));
  }
  if (offset + bytes < offset || base_ + offset + bytes > base_ + size_) {
    return Status(Err::no_space, fmt::format("{}: bytes {}-{} run past the end of {} ({} bytes)", name, offset,
                                             offset + bytes, name_, size_));
  }
  if (exclusive) {
    if (int e = lock_range(fd_, base_ + offset, bytes, read_only_); e != 0) {
      if (e == EAGAIN || e == EACCES) {
        return Status(Err::busy, fmt::format("{}: open: in use (bytes {}-{} of {} locked by another opener)", name,
                                             offset, offset + bytes, name_));
      }
      return Status::from_errno(e, name + ": fcntl(F_OFD_SETLK)");
    }
  }
  base_ += offset;
  size_ = bytes;
  name_ = std::move(name);
  return Status::ok();
}

Result<std::unique_ptr<Member>> open_file_member(const std::string& path, const OpenOptions& opts) {
  auto r = FileMember::open(path, opts);
  if (!r.is_ok()) return r.status();
  return std::unique_ptr<Member>(std::move(r).value());
}

}  // namespace umd::io
