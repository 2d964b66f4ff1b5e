#include "overseer/backup_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <utility>

#include "io/full_transfer.h"

namespace umd::overseer {
namespace {

Status pwrite_all(int fd, const uint8_t* p, size_t n, uint64_t off, const std::string& path) {
  return io::transfer_full([fd](uint8_t* b, size_t len, off_t o) { return ::pwrite(fd, b, len, o); },
                           const_cast<uint8_t*>(p), n, off,
                           [&] { return fmt::format("{}: write at byte {} ({} bytes)", path, off, n); });
}

Status pread_all(int fd, uint8_t* p, size_t n, uint64_t off, const std::string& path) {
  return io::transfer_full([fd](uint8_t* b, size_t len, off_t o) { return ::pread(fd, b, len, o); }, p, n, off,
                           [&] { return fmt::format("{}: read at byte {} ({} bytes)", path, off, n); });
}

Status sync_fd(int fd, const std::string& path) {
  if (::fsync(fd) != 0) return Status::from_errno(errno, path + ": fsync");
  return Status::ok();
}

}  // namespace

Result<BackupFile> BackupFile::create(const std::string& path, const std::array<uint8_t, 16>& uuid,
                                      uint64_t part_sectors, bool restart) {
  if (part_sectors == 0) return Result<BackupFile>(Err::invalid, path + ": a backup of no sectors");
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | (restart ? O_TRUNC : O_EXCL), 0600);
  if (fd < 0) {
    const int e = errno;
    return Result<BackupFile>(Status::from_errno(e, fmt::format("cannot create backup file {}", path)));
  }
  BackupSuper bsb;
  bsb.set_uuid = uuid;
  bsb.mtime = uint64_t(::time(nullptr));
  bsb.devstart = kBackupFileDataSector;
  bsb.devstart2 = part_sectors;  // child_monitor's: a "-1" block already carries it
  BackupFile f(path, fd, bsb);
  // blocks + 8 zero sectors, as mdadm preallocates (part 1 grows the file past them).
  std::vector<uint8_t> zero(64 * 1024);
  const uint64_t total = (part_sectors + kBackupFileDataSector) * 512;
  for (uint64_t off = 0; off < total; off += zero.size()) {
    UMD_TRY(pwrite_all(fd, zero.data(), std::min<uint64_t>(zero.size(), total - off), off, path));
  }
  UMD_TRY(f.write_super());
  return f;
}

BackupFile::BackupFile(BackupFile&& o) noexcept
    : path_(std::move(o.path_)), fd_(std::exchange(o.fd_, -1)), bsb_(o.bsb_) {}

BackupFile& BackupFile::operator=(BackupFile&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(o.path_);
    fd_ = std::exchange(o.fd_, -1);
    bsb_ = o.bsb_;
  }
  return *this;
}

BackupFile::~BackupFile() {
  if (fd_ >= 0) ::close(fd_);
}

Status BackupFile::write_super() {
  bsb_.mtime = uint64_t(::time(nullptr));
  const auto block = encode_backup_super(bsb_);
  UMD_TRY(pwrite_all(fd_, block.data(), block.size(), 0, path_));
  return sync_fd(fd_, path_);
}

Status BackupFile::save(int part, uint64_t array_start, std::span<const uint8_t> data) {
  if (fd_ < 0) return Status(Err::invalid, path_ + ": the backup file is closed");
  const uint64_t sectors = data.size() / 512;
  if (part < 0 || part > 1 || data.size() % 512 || sectors == 0 || sectors > bsb_.devstart2) {
    return Status(Err::invalid, fmt::format("{}: cannot save {} bytes as part {} (parts of {} sectors)", path_,
                                            data.size(), part, bsb_.devstart2));
  }
  // The part is empty in the block while its data are written: a crash in between leaves
  // nothing that claims them.
  UMD_TRY(forget(part));
  const uint64_t at = (bsb_.devstart + (part ? bsb_.devstart2 : 0)) * 512;
  UMD_TRY(pwrite_all(fd_, data.data(), data.size(), at, path_));
  UMD_TRY(sync_fd(fd_, path_));
  if (part == 0) {
    bsb_.arraystart = array_start;
    bsb_.length = sectors;
  } else {
    bsb_.version = BackupVersion::v2;  // grow_backup: part 1 makes it "-2", never back
    bsb_.arraystart2 = array_start;
    bsb_.length2 = sectors;
  }
  return write_super();
}

Status BackupFile::forget(int part) {
  if (fd_ < 0) return Status(Err::invalid, path_ + ": the backup file is closed");
  uint64_t& start = part ? bsb_.arraystart2 : bsb_.arraystart;
  uint64_t& len = part ? bsb_.length2 : bsb_.length;
  if (len == 0 && start == 0) return Status::ok();
  start = 0;
  len = 0;
  return write_super();
}

Status BackupFile::remove() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (::unlink(path_.c_str()) != 0 && errno != ENOENT) return Status::from_errno(errno, path_ + ": unlink");
  return Status::ok();
}

Result<BackupSuper> read_backup_super(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    return Result<BackupSuper>(Status::from_errno(e, fmt::format("cannot open backup file {}", path)));
  }
  std::array<uint8_t, kBackupSuperBytes> b{};
  Status s = pread_all(fd, b.data(), b.size(), 0, path);
  ::close(fd);
  if (!s.is_ok()) return Result<BackupSuper>(s);
  auto r = decode_backup_super(b);
  if (!r.is_ok()) return Result<BackupSuper>(r.status().with_context(path + ": not a reshape backup file"));
  return r;
}

Result<std::vector<uint8_t>> read_backup_part(const std::string& path, const BackupSuper& bsb, int part) {
  const uint64_t len = part ? bsb.length2 : bsb.length;
  const uint64_t at = (bsb.devstart + (part ? bsb.devstart2 : 0)) * 512;
  if (len > (uint64_t(1) << 31) / 512) {
    return Result<std::vector<uint8_t>>(Err::corrupt, fmt::format("{}: part {} claims {} sectors", path, part, len));
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    return Result<std::vector<uint8_t>>(Status::from_errno(e, fmt::format("cannot open backup file {}", path)));
  }
  std::vector<uint8_t> out(len * 512);
  Status s = pread_all(fd, out.data(), out.size(), at, path);
  ::close(fd);
  if (!s.is_ok()) return Result<std::vector<uint8_t>>(s.with_context(fmt::format("{}: part {}", path, part)));
  return out;
}

Result<RestorePlan> plan_restore(const std::string& path, const BackupRestartState& st) {
  RestorePlan plan;
  UMD_ASSIGN_OR_RETURN(plan.bsb, read_backup_super(path));
  if (Status m = backup_matches(plan.bsb, st); !m.is_ok()) {
    if (m.code() == Err::not_found) return plan;
    return m;
  }
  plan.needed = true;
  for (int part = 0; part < (plan.bsb.version == BackupVersion::v2 ? 2 : 1); part++) {
    const uint64_t lo = part ? plan.bsb.arraystart2 : plan.bsb.arraystart;
    if ((part ? plan.bsb.length2 : plan.bsb.length) == 0) continue;
    UMD_ASSIGN_OR_RETURN(std::vector<uint8_t> data, read_backup_part(path, plan.bsb, part));
    plan.parts.emplace_back(lo, std::move(data));
  }
  return plan;
}

}  // namespace umd::overseer
