// md metadata version 1.x (struct mdp_superblock_1): a pure codec, bytes in, struct out.
// Every field is little-endian on disk whatever the host. The same layout serves 1.0, 1.1
// and 1.2; only where it sits on the member differs (superblock1_offset_sectors).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "util/status.h"

namespace umd {

inline constexpr uint32_t kMdMagic = 0xa92b4efc;

// The fixed part, before dev_roles[].
inline constexpr size_t kSb1FixedBytes = 256;
// The kernel reads 4 KiB and refuses max_dev beyond what fits in it.
inline constexpr uint32_t kSb1MaxDevs = (4096 - kSb1FixedBytes) / 2;  // 1920
// Unknown/never-valid md sector position (MaxSector in md.c): "resync complete".
inline constexpr uint64_t kMaxSector = ~uint64_t{0};

// feature_map bits.
inline constexpr uint32_t kFeatureBitmapOffset = 1u << 0;     // bitmap_offset is valid
inline constexpr uint32_t kFeatureRecoveryOffset = 1u << 1;   // recovery_offset is valid
inline constexpr uint32_t kFeatureReshapeActive = 1u << 2;
inline constexpr uint32_t kFeatureBadBlocks = 1u << 3;        // bad block log is not empty
inline constexpr uint32_t kFeatureReplacement = 1u << 4;
inline constexpr uint32_t kFeatureReshapeBackwards = 1u << 5;
inline constexpr uint32_t kFeatureNewOffset = 1u << 6;        // new_offset is valid
inline constexpr uint32_t kFeatureRecoveryBitmap = 1u << 7;
inline constexpr uint32_t kFeatureClustered = 1u << 8;
inline constexpr uint32_t kFeatureJournal = 1u << 9;
inline constexpr uint32_t kFeaturePpl = 1u << 10;
inline constexpr uint32_t kFeatureMultiplePpls = 1u << 11;
inline constexpr uint32_t kFeatureRaid0Layout = 1u << 12;
inline constexpr uint32_t kFeatureAll = (1u << 13) - 1;  // every bit a 6.x kernel knows

// dev_roles[] values >= kRoleMax are not slots.
inline constexpr uint16_t kRoleSpare = 0xffff;
inline constexpr uint16_t kRoleFaulty = 0xfffe;
inline constexpr uint16_t kRoleJournal = 0xfffd;
inline constexpr uint16_t kRoleMax = 0xff00;

// devflags bits.
inline constexpr uint8_t kDevflagWriteMostly = 1;
inline constexpr uint8_t kDevflagFailFast = 2;

// ctime/utime: low 40 bits seconds, high 24 bits microseconds (or 0).
inline constexpr uint64_t kSb1TimeSecMask = (uint64_t{1} << 40) - 1;

// Byte offsets of the fields inside the superblock (as in md_p.h).
namespace sb1off {
inline constexpr size_t magic = 0, major_version = 4, feature_map = 8, pad0 = 12;
inline constexpr size_t set_uuid = 16, set_name = 32;
inline constexpr size_t ctime = 64, level = 72, layout = 76, size = 80;
inline constexpr size_t chunksize = 88, raid_disks = 92, bitmap_offset = 96;
inline constexpr size_t ppl_offset = 96, ppl_size = 98;  // same 4 bytes as bitmap_offset
inline constexpr size_t new_level = 100, reshape_position = 104, delta_disks = 112;
inline constexpr size_t new_layout = 116, new_chunk = 120, new_offset = 124;
inline constexpr size_t data_offset = 128, data_size = 136, super_offset = 144;
inline constexpr size_t recovery_offset = 152, dev_number = 160, cnt_corrected_read = 164;
inline constexpr size_t device_uuid = 168, devflags = 184, bblog_shift = 185;
inline constexpr size_t bblog_size = 186, bblog_offset = 188;
inline constexpr size_t utime = 192, events = 200, resync_offset = 208;
inline constexpr size_t sb_csum = 216, max_dev = 220;
// Linux 6.19 took the first 4 bytes of pad3; older kernels refuse any non-zero pad3.
inline constexpr size_t logical_block_size = 224, pad3 = 228, pad3_end = 256;
inline constexpr size_t dev_roles = 256;
}  // namespace sb1off
static_assert(sb1off::data_offset == 128 && sb1off::utime == 192 && sb1off::dev_roles == 256,
              "the three 64/128-byte sections of mdp_superblock_1");

struct Superblock1 {
  // constant array information
  uint32_t magic = kMdMagic;            // 0
  uint32_t major_version = 1;           // 4
  uint32_t feature_map = 0;             // 8
  uint32_t pad0 = 0;                    // 12: decoded for inspection, always encoded as 0
  std::array<uint8_t, 16> set_uuid{};   // 16
  std::array<char, 32> set_name{};      // 32: not necessarily NUL-terminated
  uint64_t ctime = 0;                   // 64
  int32_t level = 0;                    // 72: -4 multipath, -1 linear, 0,1,4,5,6,10
  uint32_t layout = 0;                  // 76
  uint64_t size = 0;                    // 80: sectors of each member used by the array
  uint32_t chunksize = 0;               // 88: sectors
  uint32_t raid_disks = 0;              // 92
  int32_t bitmap_offset = 0;            // 96: sectors from the superblock; or the ppl view
  uint32_t new_level = 0;               // 100: valid with kFeatureReshapeActive
  uint64_t reshape_position = 0;        // 104
  uint32_t delta_disks = 0;             // 112: signed on the kernel side
  uint32_t new_layout = 0;              // 116
  uint32_t new_chunk = 0;               // 120: sectors
  uint32_t new_offset = 0;              // 124: signed delta to data_offset
  // constant this-device information
  uint64_t data_offset = 0;             // 128: sectors
  uint64_t data_size = 0;               // 136: sectors
  uint64_t super_offset = 0;            // 144: sectors
  uint64_t recovery_offset = 0;         // 152: also journal_tail on a journal device
  uint32_t dev_number = 0;              // 160: index into dev_roles, not the slot
  uint32_t cnt_corrected_read = 0;      // 164
  std::array<uint8_t, 16> device_uuid{};  // 168
  uint8_t devflags = 0;                 // 184
  uint8_t bblog_shift = 0;              // 185
  uint16_t bblog_size = 0;              // 186: sectors
  int32_t bblog_offset = 0;             // 188: sectors from the superblock, signed
  // array state information
  uint64_t utime = 0;                   // 192
  uint64_t events = 0;                  // 200
  uint64_t resync_offset = 0;           // 208: kMaxSector when in sync
  uint32_t sb_csum = 0;                 // 216: as stored (decode) / ignored (encode)
  uint32_t max_dev = 0;                 // 220: entries of dev_roles[] on disk
  uint32_t logical_block_size = 0;      // 224: Linux >= 6.19 only; decoded, never encoded
  std::vector<uint16_t> dev_roles;      // 256: indexed by dev_number

  uint64_t& journal_tail() { return recovery_offset; }
  uint64_t journal_tail() const { return recovery_offset; }
  // With kFeaturePpl/kFeatureMultiplePpls the bitmap_offset bytes hold a signed 16-bit
  // offset (sectors from the superblock) and a 16-bit size (sectors).
  int16_t ppl_offset() const { return int16_t(uint32_t(bitmap_offset) & 0xffff); }
  uint16_t ppl_size() const { return uint16_t(uint32_t(bitmap_offset) >> 16); }
  void set_ppl(int16_t offset, uint16_t size_sectors) {
    bitmap_offset = int32_t(uint32_t(uint16_t(offset)) | (uint32_t(size_sectors) << 16));
  }
  // set_name up to the first NUL (at most 32 bytes).
  std::string name() const;
  void set_name_str(const std::string& s);  // truncates to 32 bytes, NUL-pads
  // The role of this member: dev_roles[dev_number], or kRoleSpare when out of range.
  uint16_t role() const;

  bool operator==(const Superblock1&) const = default;
};

// Bytes the checksum covers and the kernel must be able to read: 256 + 2*max_dev.
[[nodiscard]] constexpr size_t superblock1_bytes(uint32_t max_dev) {
  return kSb1FixedBytes + 2 * size_t(max_dev);
}
// What the kernel writes for this max_dev on a 512-byte-logical-block device:
// superblock1_bytes rounded up to a multiple of 512. (On a 4Kn device it rounds to 4096.)
[[nodiscard]] constexpr size_t superblock1_write_bytes(uint32_t max_dev) {
  return (superblock1_bytes(max_dev) + 511) / 512 * 512;
}

// The kernel's checksum: sum of little-endian 32-bit words over 256 + 2*max_dev bytes
// (max_dev read from the buffer, a trailing 16-bit half-word added as such), with the
// sb_csum field counted as zero; the 64-bit sum folded as low + high 32 bits.
// The buffer must hold superblock1_bytes(max_dev) bytes (and at least 256).
[[nodiscard]] uint32_t superblock1_checksum(std::span<const uint8_t> bytes);

// Validates magic, major_version, max_dev (<= kSb1MaxDevs, and the buffer holds
// 256 + 2*max_dev bytes), the checksum, unknown feature bits and non-zero padding,
// as the kernel's super_1_load does. Layout checks that need the device (super_offset
// against where it was read, data_offset vs size) are left to the caller.
[[nodiscard]] Result<Superblock1> decode_superblock1(std::span<const uint8_t> bytes);

// Writes every field (pad0 and padding as zero, logical_block_size as zero so kernels
// before 6.19 accept it), dev_roles[0..max_dev) from sb.dev_roles (missing entries as
// kRoleSpare), and a fresh sb_csum. Output: superblock1_write_bytes(max_dev) bytes; the
// bytes after the roles are 0xff, as mdadm leaves them. max_dev is clamped to kSb1MaxDevs.
[[nodiscard]] std::vector<uint8_t> encode_superblock1(const Superblock1& sb);

// Where the superblock sits, in sectors from the start of the member: 1.0 at the end
// (dev_sectors - 16 rounded down to 4 KiB), 1.1 at 0, 1.2 at 4 KiB. Returns kMaxSector
// for another minor or a device too small to hold it.
[[nodiscard]] uint64_t superblock1_offset_sectors(int minor, uint64_t dev_sectors);

// The minor version implied by where the superblock says it sits (0, 1 or 2), as mdadm
// --examine infers it.
[[nodiscard]] int superblock1_minor_from_offset(uint64_t super_offset);

}  // namespace umd
