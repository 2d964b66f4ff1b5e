#include "format/backup_super.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "util/endian.h"

namespace umd {

namespace {

constexpr char kMagicV1[16] = {'m', 'd', '_', 'b', 'a', 'c', 'k', 'u',
                               'p', '_', 'd', 'a', 't', 'a', '-', '1'};
constexpr char kMagicV2[16] = {'m', 'd', '_', 'b', 'a', 'c', 'k', 'u',
                               'p', '_', 'd', 'a', 't', 'a', '-', '2'};

std::string uuid_hex(const std::array<uint8_t, 16>& u) {
  std::string s;
  for (uint8_t b : u) s += fmt::format("{:02x}", b);
  return s;
}

// mdadm's time_after(a, b) on unsigned int: a is later than b, modulo 2^32.
bool time_after32(uint32_t a, uint32_t b) { return int32_t(b - a) < 0; }

}  // namespace

uint32_t backup_super_checksum(std::span<const uint8_t> bytes, size_t len) {
  len = std::min(len, bytes.size());
  if (len == 0) return 0;
  // mdadm's buf is char, signed on x86; unsigned arithmetic gives its 32-bit wrap
  // without the undefined behaviour of shifting a negative int.
  const uint32_t first = uint32_t(int32_t(int8_t(bytes[0])));
  uint32_t csum = 0;
  for (size_t i = 0; i < len; i++) csum = (csum << 3) + first;
  return csum;
}

Result<BackupSuper> decode_backup_super(std::span<const uint8_t> bytes) {
  if (bytes.size() < kBackupSuperBytes)
    return Result<BackupSuper>(Err::corrupt,
                               fmt::format("backup superblock truncated: need {} bytes, have {}",
                                           kBackupSuperBytes, bytes.size()));
  const uint8_t* p = bytes.data();
  BackupSuper bsb;
  if (std::memcmp(p + bsboff::magic, kMagicV1, 16) == 0) {
    bsb.version = BackupVersion::v1;
  } else if (std::memcmp(p + bsboff::magic, kMagicV2, 16) == 0) {
    bsb.version = BackupVersion::v2;
  } else {
    std::string found;
    for (size_t i = 0; i < 16; i++) {
      const char c = char(p[bsboff::magic + i]);
      found += (c >= 0x20 && c < 0x7f) ? std::string(1, c) : fmt::format("\\x{:02x}", p[bsboff::magic + i]);
    }
    return Result<BackupSuper>(
        Err::not_found,
        fmt::format("backup superblock magic mismatch: expected \"md_backup_data-1\" or \"-2\", found \"{}\"",
                    found));
  }
  // sb_csum covers the bytes before it; a "-2" block's sb_csum2 likewise.
  auto checksum_mismatch = [&](size_t at, const char* field) -> std::optional<Status> {
    const uint32_t stored = get_le32(p + at);
    const uint32_t want = backup_super_checksum(bytes, at);
    if (stored == want) return std::nullopt;
    return Status(Err::corrupt, fmt::format("backup superblock {} mismatch: stored 0x{:08x}, computed 0x{:08x}",
                                            field, stored, want));
  };
  if (auto bad = checksum_mismatch(bsboff::sb_csum, "sb_csum")) return Result<BackupSuper>(*bad);
  if (bsb.version == BackupVersion::v2) {
    if (auto bad = checksum_mismatch(bsboff::sb_csum2, "sb_csum2")) return Result<BackupSuper>(*bad);
  }
  std::memcpy(bsb.set_uuid.data(), p + bsboff::set_uuid, 16);
  bsb.mtime = get_le64(p + bsboff::mtime);
  bsb.devstart = get_le64(p + bsboff::devstart);
  bsb.arraystart = get_le64(p + bsboff::arraystart);
  bsb.length = get_le64(p + bsboff::length);
  bsb.devstart2 = get_le64(p + bsboff::devstart2);
  bsb.arraystart2 = get_le64(p + bsboff::arraystart2);
  bsb.length2 = get_le64(p + bsboff::length2);
  return bsb;
}

std::array<uint8_t, kBackupSuperBytes> encode_backup_super(const BackupSuper& bsb) {
  std::array<uint8_t, kBackupSuperBytes> out{};
  uint8_t* p = out.data();
  const bool v2 = bsb.version == BackupVersion::v2;
  std::memcpy(p + bsboff::magic, v2 ? kMagicV2 : kMagicV1, 16);
  std::memcpy(p + bsboff::set_uuid, bsb.set_uuid.data(), 16);
  put_le64(p + bsboff::mtime, bsb.mtime);
  put_le64(p + bsboff::devstart, bsb.devstart);
  put_le64(p + bsboff::arraystart, bsb.arraystart);
  put_le64(p + bsboff::length, bsb.length);
  put_le64(p + bsboff::devstart2, bsb.devstart2);
  put_le64(p + bsboff::arraystart2, bsb.arraystart2);
  put_le64(p + bsboff::length2, bsb.length2);
  put_le32(p + bsboff::sb_csum, backup_super_checksum(out, bsboff::sb_csum));
  if (v2) put_le32(p + bsboff::sb_csum2, backup_super_checksum(out, bsboff::sb_csum2));
  return out;
}

Status backup_matches(const BackupSuper& bsb, const BackupRestartState& st) {
  if (bsb.set_uuid != st.array_uuid)
    return Status(Err::invalid, fmt::format("backup superblock belongs to array {}, not {}",
                                            uuid_hex(bsb.set_uuid), uuid_hex(st.array_uuid)));
  const uint32_t utime = uint32_t(st.array_utime);
  const uint32_t mtime = uint32_t(bsb.mtime);
  if (!st.allow_old && (time_after32(utime, mtime + 2 * 60 * 60) || time_after32(mtime - 10 * 60, utime)))
    return Status(Err::invalid,
                  fmt::format("backup superblock mtime {} is not within 2 h before to 10 min after the "
                              "array's utime {}",
                              bsb.mtime, st.array_utime));

  const uint64_t p = st.reshape_progress;
  const bool v2 = bsb.version == BackupVersion::v2;
  if (bsb.length == 0 && (!v2 || bsb.length2 == 0))
    return Status(Err::not_found, "backup superblock holds no section (length 0)");
  bool needed;
  if (st.increasing) {
    needed = !(bsb.arraystart + bsb.length < p);
    if (v2) needed = needed || !(bsb.arraystart2 + bsb.length2 < p);
  } else {
    needed = !(bsb.arraystart >= p);
    if (v2) needed = needed || !(bsb.arraystart2 >= p);
  }
  if (!needed) {
    std::string sections = fmt::format("[{}, +{})", bsb.arraystart, bsb.length);
    if (v2) sections += fmt::format(" and [{}, +{})", bsb.arraystart2, bsb.length2);
    return Status(Err::not_found, fmt::format("backup section {} {} reshape position {}: not needed", sections,
                                              st.increasing ? "ends before" : "starts at or after", p));
  }
  return Status::ok();
}

uint64_t backup_restored_progress(const BackupSuper& bsb, uint64_t reshape_progress, bool increasing) {
  const bool v2 = bsb.version == BackupVersion::v2;
  uint64_t lo = 0, hi = 0;
  if (bsb.length) {
    lo = bsb.arraystart;
    hi = lo + bsb.length;
  }
  if (v2 && bsb.length2) {
    const uint64_t lo2 = bsb.arraystart2, hi2 = lo2 + bsb.length2;
    if (lo == hi) {
      lo = lo2;
      hi = hi2;
    } else if (lo < lo2) {
      hi = hi2;
    } else {
      lo = lo2;
    }
  }
  if (lo < hi && (reshape_progress < lo || reshape_progress > hi)) return reshape_progress;
  if (increasing) {
    uint64_t p = bsb.arraystart + bsb.length;
    if (v2) p = std::max(p, bsb.arraystart2 + bsb.length2);
    return p;
  }
  uint64_t p = bsb.arraystart;
  if (v2) p = std::min(p, bsb.arraystart2);
  return p;
}

}  // namespace umd
