#include "format/superblock1.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "util/endian.h"

namespace umd {

std::string Superblock1::name() const {
  size_t n = 0;
  while (n < set_name.size() && set_name[n] != '\0') n++;
  return std::string(set_name.data(), n);
}

void Superblock1::set_name_str(const std::string& s) {
  set_name.fill('\0');
  std::memcpy(set_name.data(), s.data(), std::min(s.size(), set_name.size()));
}

uint16_t Superblock1::role() const {
  return dev_number < dev_roles.size() ? dev_roles[dev_number] : kRoleSpare;
}

namespace {

// Sum over n bytes with the sb_csum word counted as zero. n may end on a half-word
// (odd max_dev), which the kernel adds as a 16-bit value.
uint32_t checksum_over(const uint8_t* p, size_t n) {
  uint64_t sum = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    if (i != sb1off::sb_csum) sum += get_le32(p + i);
  }
  if (n - i == 2) sum += get_le16(p + i);
  return uint32_t(sum & 0xffffffff) + uint32_t(sum >> 32);
}

}  // namespace

uint32_t superblock1_checksum(std::span<const uint8_t> bytes) {
  if (bytes.size() < kSb1FixedBytes) return 0;
  size_t n = superblock1_bytes(get_le32(bytes.data() + sb1off::max_dev));
  return checksum_over(bytes.data(), std::min(n, bytes.size()));
}

Result<Superblock1> decode_superblock1(std::span<const uint8_t> bytes) {
  if (bytes.size() < kSb1FixedBytes)
    return Result<Superblock1>(Err::corrupt,
                               fmt::format("superblock 1.x truncated: need at least {} bytes, have {}",
                                           kSb1FixedBytes, bytes.size()));
  const uint8_t* p = bytes.data();
  Superblock1 sb;
  sb.magic = get_le32(p + sb1off::magic);
  if (sb.magic != kMdMagic)
    return Result<Superblock1>(
        Err::not_found,
        fmt::format("superblock magic mismatch: expected 0x{:08x}, found 0x{:08x}", kMdMagic, sb.magic));
  sb.major_version = get_le32(p + sb1off::major_version);
  if (sb.major_version != 1)
    return Result<Superblock1>(
        Err::unsupported,
        fmt::format("superblock major_version: expected 1, found {}", sb.major_version));
  sb.max_dev = get_le32(p + sb1off::max_dev);
  if (sb.max_dev > kSb1MaxDevs)
    return Result<Superblock1>(
        Err::corrupt, fmt::format("superblock max_dev too large: limit {}, found {}", kSb1MaxDevs, sb.max_dev));
  const size_t need = superblock1_bytes(sb.max_dev);
  if (bytes.size() < need)
    return Result<Superblock1>(
        Err::corrupt,
        fmt::format("superblock 1.x truncated: max_dev {} needs {} bytes, have {}", sb.max_dev, need, bytes.size()));
  sb.sb_csum = get_le32(p + sb1off::sb_csum);
  const uint32_t computed = checksum_over(p, need);
  if (computed != sb.sb_csum)
    return Result<Superblock1>(
        Err::corrupt, fmt::format("superblock checksum mismatch: stored 0x{:08x}, computed 0x{:08x}",
                                  sb.sb_csum, computed));
  sb.feature_map = get_le32(p + sb1off::feature_map);
  if (sb.feature_map & ~kFeatureAll)
    return Result<Superblock1>(
        Err::unsupported,
        fmt::format("superblock feature_map has unknown bits: known mask 0x{:x}, found 0x{:x} (unknown 0x{:x})",
                    kFeatureAll, sb.feature_map, sb.feature_map & ~kFeatureAll));
  sb.pad0 = get_le32(p + sb1off::pad0);
  if (sb.pad0 != 0)
    return Result<Superblock1>(
        Err::unsupported, fmt::format("superblock pad0: expected 0, found 0x{:08x} (a newer feature?)", sb.pad0));
  for (size_t i = sb1off::pad3; i < sb1off::pad3_end; i++) {
    if (p[i] != 0)
      return Result<Superblock1>(
          Err::unsupported,
          fmt::format("superblock padding byte {}: expected 0, found 0x{:02x} (a newer feature?)", i, p[i]));
  }

  std::memcpy(sb.set_uuid.data(), p + sb1off::set_uuid, 16);
  std::memcpy(sb.set_name.data(), p + sb1off::set_name, 32);
  sb.ctime = get_le64(p + sb1off::ctime);
  sb.level = int32_t(get_le32(p + sb1off::level));
  sb.layout = get_le32(p + sb1off::layout);
  sb.size = get_le64(p + sb1off::size);
  sb.chunksize = get_le32(p + sb1off::chunksize);
  sb.raid_disks = get_le32(p + sb1off::raid_disks);
  sb.bitmap_offset = int32_t(get_le32(p + sb1off::bitmap_offset));
  sb.new_level = get_le32(p + sb1off::new_level);
  sb.reshape_position = get_le64(p + sb1off::reshape_position);
  sb.delta_disks = get_le32(p + sb1off::delta_disks);
  sb.new_layout = get_le32(p + sb1off::new_layout);
  sb.new_chunk = get_le32(p + sb1off::new_chunk);
  sb.new_offset = get_le32(p + sb1off::new_offset);
  sb.data_offset = get_le64(p + sb1off::data_offset);
  sb.data_size = get_le64(p + sb1off::data_size);
  sb.super_offset = get_le64(p + sb1off::super_offset);
  sb.recovery_offset = get_le64(p + sb1off::recovery_offset);
  sb.dev_number = get_le32(p + sb1off::dev_number);
  sb.cnt_corrected_read = get_le32(p + sb1off::cnt_corrected_read);
  std::memcpy(sb.device_uuid.data(), p + sb1off::device_uuid, 16);
  sb.devflags = p[sb1off::devflags];
  sb.bblog_shift = p[sb1off::bblog_shift];
  sb.bblog_size = get_le16(p + sb1off::bblog_size);
  sb.bblog_offset = int32_t(get_le32(p + sb1off::bblog_offset));
  sb.utime = get_le64(p + sb1off::utime);
  sb.events = get_le64(p + sb1off::events);
  sb.resync_offset = get_le64(p + sb1off::resync_offset);
  sb.logical_block_size = get_le32(p + sb1off::logical_block_size);
  sb.dev_roles.resize(sb.max_dev);
  for (uint32_t i = 0; i < sb.max_dev; i++) sb.dev_roles[i] = get_le16(p + sb1off::dev_roles + 2 * i);
  return sb;
}

std::vector<uint8_t> encode_superblock1(const Superblock1& sb) {
  const uint32_t max_dev = std::min(sb.max_dev, kSb1MaxDevs);
  std::vector<uint8_t> out(superblock1_write_bytes(max_dev), 0);
  uint8_t* p = out.data();
  put_le32(p + sb1off::magic, sb.magic);
  put_le32(p + sb1off::major_version, sb.major_version);
  put_le32(p + sb1off::feature_map, sb.feature_map);
  // pad0, logical_block_size and pad3 stay zero: kernels up to 6.18 reject anything else.
  std::memcpy(p + sb1off::set_uuid, sb.set_uuid.data(), 16);
  std::memcpy(p + sb1off::set_name, sb.set_name.data(), 32);
  put_le64(p + sb1off::ctime, sb.ctime);
  put_le32(p + sb1off::level, uint32_t(sb.level));
  put_le32(p + sb1off::layout, sb.layout);
  put_le64(p + sb1off::size, sb.size);
  put_le32(p + sb1off::chunksize, sb.chunksize);
  put_le32(p + sb1off::raid_disks, sb.raid_disks);
  put_le32(p + sb1off::bitmap_offset, uint32_t(sb.bitmap_offset));
  put_le32(p + sb1off::new_level, sb.new_level);
  put_le64(p + sb1off::reshape_position, sb.reshape_position);
  put_le32(p + sb1off::delta_disks, sb.delta_disks);
  put_le32(p + sb1off::new_layout, sb.new_layout);
  put_le32(p + sb1off::new_chunk, sb.new_chunk);
  put_le32(p + sb1off::new_offset, sb.new_offset);
  put_le64(p + sb1off::data_offset, sb.data_offset);
  put_le64(p + sb1off::data_size, sb.data_size);
  put_le64(p + sb1off::super_offset, sb.super_offset);
  put_le64(p + sb1off::recovery_offset, sb.recovery_offset);
  put_le32(p + sb1off::dev_number, sb.dev_number);
  put_le32(p + sb1off::cnt_corrected_read, sb.cnt_corrected_read);
  std::memcpy(p + sb1off::device_uuid, sb.device_uuid.data(), 16);
  p[sb1off::devflags] = sb.devflags;
  p[sb1off::bblog_shift] = sb.bblog_shift;
  put_le16(p + sb1off::bblog_size, sb.bblog_size);
  put_le32(p + sb1off::bblog_offset, uint32_t(sb.bblog_offset));
  put_le64(p + sb1off::utime, sb.utime);
  put_le64(p + sb1off::events, sb.events);
  put_le64(p + sb1off::resync_offset, sb.resync_offset);
  put_le32(p + sb1off::max_dev, max_dev);
  for (uint32_t i = 0; i < max_dev; i++)
    put_le16(p + sb1off::dev_roles + 2 * i, i < sb.dev_roles.size() ? sb.dev_roles[i] : kRoleSpare);
  // mdadm fills the unused tail of the roles area with 0xff (spare).
  std::fill(out.begin() + ptrdiff_t(superblock1_bytes(max_dev)), out.end(), uint8_t{0xff});
  put_le32(p + sb1off::sb_csum, checksum_over(p, superblock1_bytes(max_dev)));
  return out;
}

uint64_t superblock1_offset_sectors(int minor, uint64_t dev_sectors) {
  switch (minor) {
    case 0:
      if (dev_sectors < 24) return kMaxSector;
      return (dev_sectors - 16) & ~uint64_t{7};
    case 1:
      return 0;
    case 2:
      return 8;
    default:
      return kMaxSector;
  }
}

int superblock1_minor_from_offset(uint64_t super_offset) {
  if (super_offset == 0) return 1;
  if (super_offset == 8) return 2;
  return 0;
}

}  // namespace umd
