#include "format/superblock0.h"

#include <cstring>

#include <fmt/format.h>

#include "format/superblock1.h"
#include "util/endian.h"

namespace umd {

namespace {

uint32_t word(const uint8_t* p, uint32_t w) { return get_le32(p + 4 * size_t(w)); }
void put_word(uint8_t* p, uint32_t w, uint32_t v) { put_le32(p + 4 * size_t(w), v); }

uint32_t sum_words(const uint8_t* p) {
  uint64_t sum = 0;
  for (uint32_t w = 0; w < kSb0Words; w++)
    if (w != sb0word::sb_csum) sum += word(p, w);
  return uint32_t(sum & 0xffffffff) + uint32_t(sum >> 32);
}

uint32_t fold16(uint32_t c) {
  c = (c & 0xffff) + (c >> 16);
  return (c & 0xffff) + (c >> 16);
}

DiskDescriptor0 get_desc(const uint8_t* p, uint32_t base) {
  return {word(p, base + sb0word::d_number), word(p, base + sb0word::d_major),
          word(p, base + sb0word::d_minor), word(p, base + sb0word::d_raid_disk),
          word(p, base + sb0word::d_state)};
}

void put_desc(uint8_t* p, uint32_t base, const DiskDescriptor0& d) {
  put_word(p, base + sb0word::d_number, d.number);
  put_word(p, base + sb0word::d_major, d.major);
  put_word(p, base + sb0word::d_minor, d.minor);
  put_word(p, base + sb0word::d_raid_disk, d.raid_disk);
  put_word(p, base + sb0word::d_state, d.state);
}

}  // namespace

std::array<uint8_t, 16> Superblock0::uuid_bytes() const {
  std::array<uint8_t, 16> u{};
  put_le32(u.data() + 0, set_uuid0);
  put_le32(u.data() + 4, set_uuid1);
  put_le32(u.data() + 8, set_uuid2);
  put_le32(u.data() + 12, set_uuid3);
  return u;
}

void Superblock0::set_uuid_bytes(const std::array<uint8_t, 16>& u) {
  set_uuid0 = get_le32(u.data() + 0);
  set_uuid1 = get_le32(u.data() + 4);
  set_uuid2 = get_le32(u.data() + 8);
  set_uuid3 = get_le32(u.data() + 12);
}

uint32_t superblock0_checksum(std::span<const uint8_t> bytes) {
  if (bytes.size() < kSb0Bytes) return 0;
  return sum_words(bytes.data());
}

Result<Superblock0> decode_superblock0(std::span<const uint8_t> bytes) {
  if (bytes.size() < kSb0Bytes)
    return Result<Superblock0>(
        Err::corrupt, fmt::format("superblock 0.90 truncated: need {} bytes, have {}", kSb0Bytes, bytes.size()));
  const uint8_t* p = bytes.data();
  Superblock0 sb;
  sb.md_magic = word(p, sb0word::md_magic);
  if (sb.md_magic != kMdMagic) {
    if (sb.md_magic == __builtin_bswap32(kMdMagic))
      return Result<Superblock0>(
          Err::unsupported,
          "superblock 0.90 is byte-swapped (written by a big-endian host): magic found 0xfc4e2ba9, "
          "expected 0xa92b4efc; convert it with mdadm --update=byteorder");
    return Result<Superblock0>(
        Err::not_found,
        fmt::format("superblock magic mismatch: expected 0x{:08x}, found 0x{:08x}", kMdMagic, sb.md_magic));
  }
  sb.major_version = word(p, sb0word::major_version);
  sb.minor_version = word(p, sb0word::minor_version);
  if (sb.major_version != 0 || sb.minor_version < 90 || sb.minor_version > 91)
    return Result<Superblock0>(
        Err::unsupported, fmt::format("superblock version: expected 0.90 or 0.91, found {}.{}",
                                      sb.major_version, sb.minor_version));
  sb.sb_csum = word(p, sb0word::sb_csum);
  const uint32_t computed = sum_words(p);
  // The kernel compares 16-bit folds (old kernels stored a folded sum); mdadm writes
  // the full 32 bits.
  if (computed != sb.sb_csum && fold16(computed) != fold16(sb.sb_csum))
    return Result<Superblock0>(
        Err::corrupt, fmt::format("superblock checksum mismatch: stored 0x{:08x}, computed 0x{:08x}",
                                  sb.sb_csum, computed));
  sb.raid_disks = word(p, sb0word::raid_disks);
  if (int32_t(sb.raid_disks) <= 0)
    return Result<Superblock0>(
        Err::corrupt, fmt::format("superblock raid_disks: expected > 0, found {}", int32_t(sb.raid_disks)));

  sb.patch_version = word(p, sb0word::patch_version);
  sb.gvalid_words = word(p, sb0word::gvalid_words);
  sb.set_uuid0 = word(p, sb0word::set_uuid0);
  sb.ctime = word(p, sb0word::ctime);
  sb.level = int32_t(word(p, sb0word::level));
  sb.size = word(p, sb0word::size);
  sb.nr_disks = word(p, sb0word::nr_disks);
  sb.md_minor = word(p, sb0word::md_minor);
  sb.not_persistent = word(p, sb0word::not_persistent);
  sb.set_uuid1 = word(p, sb0word::set_uuid1);
  sb.set_uuid2 = word(p, sb0word::set_uuid2);
  sb.set_uuid3 = word(p, sb0word::set_uuid3);
  sb.utime = word(p, sb0word::utime);
  sb.state = word(p, sb0word::state);
  sb.active_disks = word(p, sb0word::active_disks);
  sb.working_disks = word(p, sb0word::working_disks);
  sb.failed_disks = word(p, sb0word::failed_disks);
  sb.spare_disks = word(p, sb0word::spare_disks);
  sb.events = uint64_t(word(p, sb0word::events_lo)) | (uint64_t(word(p, sb0word::events_hi)) << 32);
  sb.cp_events = uint64_t(word(p, sb0word::cp_events_lo)) | (uint64_t(word(p, sb0word::cp_events_hi)) << 32);
  sb.recovery_cp = word(p, sb0word::recovery_cp);
  sb.reshape_position = get_le64(p + 4 * sb0word::reshape_position);
  sb.new_level = word(p, sb0word::new_level);
  sb.delta_disks = word(p, sb0word::delta_disks);
  sb.new_layout = word(p, sb0word::new_layout);
  sb.new_chunk = word(p, sb0word::new_chunk);
  sb.logical_block_size = word(p, sb0word::logical_block_size);
  sb.layout = word(p, sb0word::layout);
  sb.chunk_size = word(p, sb0word::chunk_size);
  sb.root_pv = word(p, sb0word::root_pv);
  sb.root_block = word(p, sb0word::root_block);
  for (uint32_t i = 0; i < kSb0Disks; i++)
    sb.disks[i] = get_desc(p, sb0word::disks + i * sb0word::descriptor_words);
  sb.this_disk = get_desc(p, sb0word::this_disk);
  return sb;
}

std::vector<uint8_t> encode_superblock0(const Superblock0& sb) {
  std::vector<uint8_t> out(kSb0Bytes, 0);
  uint8_t* p = out.data();
  put_word(p, sb0word::md_magic, sb.md_magic);
  put_word(p, sb0word::major_version, sb.major_version);
  put_word(p, sb0word::minor_version, sb.minor_version);
  put_word(p, sb0word::patch_version, sb.patch_version);
  put_word(p, sb0word::gvalid_words, sb.gvalid_words);
  put_word(p, sb0word::set_uuid0, sb.set_uuid0);
  put_word(p, sb0word::ctime, sb.ctime);
  put_word(p, sb0word::level, uint32_t(sb.level));
  put_word(p, sb0word::size, sb.size);
  put_word(p, sb0word::nr_disks, sb.nr_disks);
  put_word(p, sb0word::raid_disks, sb.raid_disks);
  put_word(p, sb0word::md_minor, sb.md_minor);
  put_word(p, sb0word::not_persistent, sb.not_persistent);
  put_word(p, sb0word::set_uuid1, sb.set_uuid1);
  put_word(p, sb0word::set_uuid2, sb.set_uuid2);
  put_word(p, sb0word::set_uuid3, sb.set_uuid3);
  put_word(p, sb0word::utime, sb.utime);
  put_word(p, sb0word::state, sb.state);
  put_word(p, sb0word::active_disks, sb.active_disks);
  put_word(p, sb0word::working_disks, sb.working_disks);
  put_word(p, sb0word::failed_disks, sb.failed_disks);
  put_word(p, sb0word::spare_disks, sb.spare_disks);
  put_word(p, sb0word::events_lo, uint32_t(sb.events));
  put_word(p, sb0word::events_hi, uint32_t(sb.events >> 32));
  put_word(p, sb0word::cp_events_lo, uint32_t(sb.cp_events));
  put_word(p, sb0word::cp_events_hi, uint32_t(sb.cp_events >> 32));
  put_word(p, sb0word::recovery_cp, sb.recovery_cp);
  put_le64(p + 4 * sb0word::reshape_position, sb.reshape_position);
  put_word(p, sb0word::new_level, sb.new_level);
  put_word(p, sb0word::delta_disks, sb.delta_disks);
  put_word(p, sb0word::new_layout, sb.new_layout);
  put_word(p, sb0word::new_chunk, sb.new_chunk);
  // logical_block_size stays zero, like all reserved words.
  put_word(p, sb0word::layout, sb.layout);
  put_word(p, sb0word::chunk_size, sb.chunk_size);
  put_word(p, sb0word::root_pv, sb.root_pv);
  put_word(p, sb0word::root_block, sb.root_block);
  for (uint32_t i = 0; i < kSb0Disks; i++)
    put_desc(p, sb0word::disks + i * sb0word::descriptor_words, sb.disks[i]);
  put_desc(p, sb0word::this_disk, sb.this_disk);
  put_word(p, sb0word::sb_csum, sum_words(p));
  return out;
}

uint64_t superblock0_offset_sectors(uint64_t dev_sectors) {
  if (dev_sectors < 2 * kSb0ReservedSectors) return kMaxSector;
  return (dev_sectors & ~(kSb0ReservedSectors - 1)) - kSb0ReservedSectors;
}

}  // namespace umd
