#include "io/overlay_member.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "io/full_transfer.h"
#include "io/request_check.h"
#include "util/aligned_buffer.h"
#include "util/endian.h"

namespace umd::io {
namespace {

constexpr char kMagic[8] = {'U', 'M', 'D', 'C', 'O', 'W', '1', '\0'};

Status pread_all(int fd, uint8_t* p, size_t n, uint64_t off, const std::string& what) {
  return transfer_full([fd](uint8_t* b, size_t len, off_t o) { return ::pread(fd, b, len, o); }, p, n, off,
                       [&] { return what; });
}

Status pwrite_all(int fd, const uint8_t* p, size_t n, uint64_t off, const std::string& what) {
  return transfer_full([fd](uint8_t* b, size_t len, off_t o) { return ::pwrite(fd, b, len, o); },
                       const_cast<uint8_t*>(p), n, off, [&] { return what; });
}

Status sync_fd(int fd, const std::string& what) {
  int r;
  do {
    r = ::fdatasync(fd);
  } while (r != 0 && errno == EINTR);
  return r == 0 ? Status::ok() : Status::from_errno(errno, what + ": fdatasync");
}

// Reads [off, off+n) of `base`, bouncing through an aligned buffer when the range is not
// aligned to the base's blocks.
Status read_base(Member& base, uint64_t off, size_t n, uint8_t* out) {
  const uint32_t bs = base.block_size();
  if (off % bs == 0 && n % bs == 0) return base.read(off, {out, n});
  const uint64_t first = off / bs * bs;
  const uint64_t end = std::min<uint64_t>((off + n + bs - 1) / bs * bs, base.size());
  AlignedBuffer tmp(end - first);
  UMD_TRY(base.read(first, tmp.span()));
  std::memcpy(out, tmp.data() + (off - first), n);
  return Status::ok();
}

}  // namespace

std::string overlay_file_name(const std::string& spec) {
  const size_t slash = spec.rfind('/');
  return slash == std::string::npos ? spec : spec.substr(slash + 1);
}

Result<std::unique_ptr<OverlayMember>> OverlayMember::open(std::unique_ptr<Member> base, const std::string& dir,
                                                           const std::string& origin, bool read_only) {
  std::unique_ptr<OverlayMember> m(new OverlayMember);
  const std::string stem = dir + "/" + overlay_file_name(base->name());
  m->cow_path_ = stem + ".cow";
  m->map_path_ = stem + ".map";
  m->read_only_ = read_only;
  m->blocks_ = (base->size() + kBlock - 1) / kBlock;
  const std::string& name = base->name();
  struct stat st {};
  const bool no_dir = ::stat(dir.c_str(), &st) != 0 && errno == ENOENT;
  if (!read_only && no_dir) (void)::mkdir(dir.c_str(), 0755);
  if (!(read_only && no_dir) && (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))) {
    return Status(Err::not_found, fmt::format("{}: --overlay {}: not a directory", name, dir));
  }
  const int flags = (read_only ? O_RDONLY : O_RDWR | O_CREAT) | O_CLOEXEC;
  m->map_fd_ = read_only && no_dir ? -1 : ::open(m->map_path_.c_str(), flags, 0644);
  if (m->map_fd_ < 0 && (no_dir || errno == ENOENT) && read_only) {
    // Nothing was ever written through this overlay: reads see the member.
    m->bits_.assign((m->blocks_ + 7) / 8, 0);
    m->durable_bits_ = m->bits_;
    m->base_ = std::move(base);
    return m;
  }
  if (m->map_fd_ < 0) return Status::from_errno(errno, fmt::format("{}: opening overlay map {}", name, m->map_path_));
  if (::flock(m->map_fd_, (read_only ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0) {
    return Status(Err::busy, fmt::format("{}: overlay {} is in use by another opener", name, m->map_path_));
  }
  m->cow_fd_ = ::open(m->cow_path_.c_str(), flags, 0644);
  if (m->cow_fd_ < 0) return Status::from_errno(errno, fmt::format("{}: opening overlay data {}", name, m->cow_path_));
  m->bits_.assign((m->blocks_ + 7) / 8, 0);
  if (::fstat(m->map_fd_, &st) != 0) return Status::from_errno(errno, m->map_path_);
  uint8_t hdr[kBitsOffset] = {};
  if (st.st_size == 0) {  // a new overlay: write the header, make the files' size right
    if (read_only) return Status(Err::corrupt, fmt::format("{}: overlay map {} is empty", name, m->map_path_));
    std::memcpy(hdr, kMagic, 8);
    put_le32(hdr + 8, kBlock);
    put_le64(hdr + 16, base->size());
    if (origin.size() > kBitsOffset - 28) return Status(Err::invalid, fmt::format("{}: path too long for an overlay", name));
    put_le32(hdr + 24, uint32_t(origin.size()));
    std::memcpy(hdr + 28, origin.data(), origin.size());
    UMD_TRY(pwrite_all(m->map_fd_, hdr, sizeof hdr, 0, m->map_path_ + ": writing the header"));
    UMD_TRY(pwrite_all(m->map_fd_, m->bits_.data(), m->bits_.size(), kBitsOffset, m->map_path_ + ": writing the map"));
    if (::ftruncate(m->cow_fd_, off_t(base->size())) != 0) return Status::from_errno(errno, m->cow_path_ + ": ftruncate");
    UMD_TRY(sync_fd(m->cow_fd_, m->cow_path_));
    UMD_TRY(sync_fd(m->map_fd_, m->map_path_));
  } else {
    UMD_TRY(pread_all(m->map_fd_, hdr, sizeof hdr, 0, m->map_path_ + ": reading the header"));
    if (std::memcmp(hdr, kMagic, 8) != 0) {
      return Status(Err::corrupt, fmt::format("{}: {} is not an overlay map (bad magic)", name, m->map_path_));
    }
    const uint32_t olen = get_le32(hdr + 24);
    const std::string was(reinterpret_cast<const char*>(hdr + 28), std::min<size_t>(olen, kBitsOffset - 28));
    if (get_le32(hdr + 8) != kBlock || get_le64(hdr + 16) != base->size()) {
      return Status(Err::corrupt, fmt::format("{}: overlay {} was made for a member of {} bytes, this one has {}", name,
                                              m->map_path_, get_le64(hdr + 16), base->size()));
    }
    if (was != origin) {
      return Status(Err::invalid, fmt::format("{}: overlay {} belongs to {}, not {}", name, m->map_path_, was, origin));
    }
    if (uint64_t(st.st_size) < kBitsOffset + m->bits_.size()) {
      return Status(Err::corrupt, fmt::format("{}: overlay map {} is truncated", name, m->map_path_));
    }
    UMD_TRY(pread_all(m->map_fd_, m->bits_.data(), m->bits_.size(), kBitsOffset, m->map_path_ + ": reading the map"));
  }
  m->durable_bits_ = m->bits_;
  m->base_ = std::move(base);
  return m;
}

OverlayMember::~OverlayMember() {
  if (base_ && !read_only_ && cow_fd_ >= 0) {  // base_ is set once the open succeeded
    std::lock_guard lk(mu_);
    (void)flush_locked();
  }
  if (cow_fd_ >= 0) ::close(cow_fd_);
  if (map_fd_ >= 0) ::close(map_fd_);
}

uint64_t OverlayMember::blocks_written() const {
  std::lock_guard lk(mu_);
  uint64_t n = 0;
  for (uint8_t b : bits_) n += uint64_t(__builtin_popcount(b));
  return n;
}

// Whole blocks [first, first+n), merged, clipped to the member's end (out has n*kBlock bytes).
Status OverlayMember::read_block_range(uint64_t first, uint64_t n, uint8_t* out) {
  const uint64_t size = base_->size();
  uint64_t b = first;
  while (b < first + n) {
    const bool in_cow = bit(b);
    uint64_t e = b + 1;
    while (e < first + n && bit(e) == in_cow) e++;
    const uint64_t off = b * kBlock;
    const uint64_t len = std::min(e * kBlock, size) - off;
    uint8_t* dst = out + (b - first) * kBlock;
    if (in_cow) {
      UMD_TRY(pread_all(cow_fd_, dst, len, off, describe_io(name(), IoOp::read, off, len) + " (overlay)"));
    } else {
      UMD_TRY(read_base(*base_, off, len, dst));
    }
    b = e;
  }
  return Status::ok();
}

Status OverlayMember::read(uint64_t offset, std::span<uint8_t> buf) {
  UMD_TRY(check_request(name(), size(), block_size(), false, IoOp::read, offset, buf.size()));
  if (buf.empty()) return Status::ok();
  const uint64_t first = offset / kBlock, last = (offset + buf.size() + kBlock - 1) / kBlock;
  std::lock_guard lk(mu_);
  if (offset % kBlock == 0 && buf.size() % kBlock == 0) return read_block_range(first, last - first, buf.data());
  std::vector<uint8_t> tmp((last - first) * kBlock);
  UMD_TRY(read_block_range(first, last - first, tmp.data()));
  std::memcpy(buf.data(), tmp.data() + (offset - first * kBlock), buf.size());
  return Status::ok();
}

Status OverlayMember::write(uint64_t offset, std::span<const uint8_t> buf, bool fua) {
  UMD_TRY(check_request(name(), size(), block_size(), read_only_, IoOp::write, offset, buf.size()));
  if (buf.empty()) return Status::ok();
  const uint64_t first = offset / kBlock, last = (offset + buf.size() + kBlock - 1) / kBlock;
  const uint64_t span_off = first * kBlock;
  const uint64_t span_len = std::min(last * kBlock, size()) - span_off;
  std::lock_guard lk(mu_);
  const uint8_t* src = buf.data();
  std::vector<uint8_t> tmp;
  if (offset != span_off || buf.size() != span_len) {
    // Partial blocks at either end: their current content first (copy-on-write).
    tmp.assign((last - first) * kBlock, 0);
    UMD_TRY(read_block_range(first, 1, tmp.data()));
    if (last - first > 1) UMD_TRY(read_block_range(last - 1, 1, tmp.data() + (last - 1 - first) * kBlock));
    std::memcpy(tmp.data() + (offset - span_off), buf.data(), buf.size());
    src = tmp.data();
  }
  UMD_TRY(pwrite_all(cow_fd_, src, span_len, span_off, describe_io(name(), IoOp::write, offset, buf.size()) + " (overlay)"));
  for (uint64_t b = first; b < last; b++) bits_[b / 8] |= uint8_t(1u << (b % 8));
  if (fua) return flush_locked();
  return Status::ok();
}

Status OverlayMember::flush_locked() {
  if (read_only_ || cow_fd_ < 0) return Status::ok();
  size_t lo = bits_.size(), hi = 0;
  for (size_t i = 0; i < bits_.size(); i++) {
    if (bits_[i] != durable_bits_[i]) {
      lo = std::min(lo, i);
      hi = i + 1;
    }
  }
  // Data before the bits that point at it.
  UMD_TRY(sync_fd(cow_fd_, cow_path_));
  if (lo >= hi) return Status::ok();
  UMD_TRY(pwrite_all(map_fd_, bits_.data() + lo, hi - lo, kBitsOffset + lo, map_path_ + ": writing the map"));
  UMD_TRY(sync_fd(map_fd_, map_path_));
  std::copy(bits_.begin() + long(lo), bits_.begin() + long(hi), durable_bits_.begin() + long(lo));
  return Status::ok();
}

Status OverlayMember::flush() {
  std::lock_guard lk(mu_);
  return flush_locked();
}

Status OverlayMember::discard(uint64_t offset, uint64_t length) {
  return check_request(name(), size(), block_size(), read_only_, IoOp::discard, offset, length);
}

}  // namespace umd::io
