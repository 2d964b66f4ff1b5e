// mdadm's reshape backup superblock (struct mdp_backup_super in mdadm's Grow.c): a pure
// codec, bytes in, struct out, plus the checks Grow_restart applies before it restores a
// critical section. It is mdadm's format, not the kernel's: the kernel never reads it.
//
// Layout: one 512-byte block, every field little-endian (mdadm writes __cpu_to_le*),
// starts and lengths in 512-byte sectors:
//     0 magic[16]     "md_backup_data-1" or "md_backup_data-2", no NUL
//    16 set_uuid[16]  the array uuid as mdadm's int uuid[4] holds it
//    32 mtime         u64 seconds, time(0) when mdadm last wrote the block
//    40 devstart      u64 where section 1's data sits in the backup file/device
//    48 arraystart    u64 array address of section 1
//    56 length        u64 sectors in section 1 (0: section empty)
//    64 sb_csum       u32 bsb_csum over bytes [0, 64)
//    68 pad1          u32 zero
//    72 devstart2     u64 section 2's data, relative to devstart
//    80 arraystart2   u64
//    88 length2       u64
//    96 sb_csum2      u32 bsb_csum over bytes [0, 96); written only with the "-2" magic
//   100 pad[412]      zero
//
// Facts from mdadm's Grow.c (md-raid-utilities/mdadm), by function:
// - bsb_csum(buf, len): `int csum = 0; for (i < len) csum = (csum << 3) + buf[0];`. It
//   adds the FIRST byte every time (a bug mdadm keeps for compatibility); buf is char,
//   signed on x86. Since 8^11 = 2^33, only the last 11 additions survive the 32-bit
//   wrap: for len >= 11 the sum is first_byte * 0x49249249 mod 2^32. Every valid block
//   starts with 'm', so sb_csum and sb_csum2 are always 0x24924915: the "checksum"
//   guards the first byte only. It is compared raw against the stored field.
// - child_monitor: zeroes the block, magic "-1", set_uuid from ss->uuid_from_super,
//   mtime = time(0), devstart2 = blocks (the backup unit, sectors; stored without
//   __cpu_to_le64, harmless on little-endian hosts). So a "-1" block already carries
//   devstart2, and its sb_csum2 stays 0.
// - grow_backup(part): part 0 fills arraystart/length, part 1 arraystart2/length2, as
//   array sectors (per-device offset * old data disks; stripes * old chunk * data
//   disks). Part 1 switches magic[15] to '2', never back: "-2" means section 2 has been
//   used at least once. Then mtime = time(0), devstart = destoffset / 512, sb_csum over
//   offsetof(sb_csum) = 64 bytes and, with "-2", sb_csum2 over offsetof(sb_csum2) = 96.
//   The block is written at destoffset - 4096 and, when destoffset > 4096 (a spare),
//   again right after the section's data (destoffset + length * 512).
// - forget_backup(part): zeroes that part's arraystart/length, refreshes mtime, devstart
//   and the checksums, and rewrites only the leading copy (destoffset - 4096).
// - reshape_open_backup_file: a backup FILE is created O_EXCL (O_TRUNC on restart),
//   filled with blocks + 8 zero sectors, destoffset = 8 * 512. So in a file the block
//   sits at byte 0, devstart = 8, section 1 at byte 4096, section 2 at
//   (8 + devstart2) * 512 (past the preallocated size; the file grows).
// - reshape_prepare_fdlist: on a SPARE (no backup file), destoffset =
//   (data_offset + component_size - blocks - 8) * 512.
// - Grow_restart (called from Assemble with --backup-file; --invalid-backup ignores its
//   failure): reads the block at byte 0 of the file, or on a spare at
//   (data_offset + component_size - 8) * 512; skips it unless, in this order: magic is
//   exactly "-1" or "-2"; sb_csum matches; with "-2", sb_csum2 matches; set_uuid equals
//   info->uuid (memcmp of 16 bytes: Superblock1::set_uuid, or Superblock0::uuid_bytes());
//   mtime is close to the array's utime (backup_matches below; the environment variable
//   MDADM_GROW_ALLOW_OLD overrides); a section holds data the reshape still needs. Then
//   it reads the copy at devstart * 512 - 4096 (in a file: byte 0 again) and requires it
//   to equal the first block over offsetof(pad1) = 68 bytes ("-1") or offsetof(pad) =
//   100 bytes ("-2"). It restores section 1 (and, with "-2", section 2) in the NEW
//   geometry and moves reshape_progress (backup_restored_progress below).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "util/status.h"

namespace umd {

inline constexpr size_t kBackupSuperBytes = 512;
// In a backup file the block sits at byte 0 and section 1 at this sector (devstart).
inline constexpr uint64_t kBackupFileDataSector = 8;
// Grow_restart looks for the leading copy this many bytes before devstart * 512.
inline constexpr uint64_t kBackupSuperLeadBytes = 4096;

// Byte offsets of the fields (as in struct mdp_backup_super).
namespace bsboff {
inline constexpr size_t magic = 0, set_uuid = 16, mtime = 32, devstart = 40;
inline constexpr size_t arraystart = 48, length = 56, sb_csum = 64, pad1 = 68;
inline constexpr size_t devstart2 = 72, arraystart2 = 80, length2 = 88, sb_csum2 = 96;
inline constexpr size_t pad = 100;
}  // namespace bsboff
static_assert(bsboff::pad + (512 - 68 - 32) == kBackupSuperBytes, "pad[512-68-32] ends the block");

// Leading bytes the two copies must share for Grow_restart to trust them.
inline constexpr size_t kBackupSuperCompareBytesV1 = bsboff::pad1;
inline constexpr size_t kBackupSuperCompareBytesV2 = bsboff::pad;

enum class BackupVersion : uint8_t { v1 = 1, v2 = 2 };  // magic "md_backup_data-1" / "-2"

struct BackupSuper {
  BackupVersion version = BackupVersion::v1;
  std::array<uint8_t, 16> set_uuid{};  // 16
  uint64_t mtime = 0;                  // 32: seconds
  uint64_t devstart = 0;               // 40: sectors in the backup file/device
  uint64_t arraystart = 0;             // 48: array sectors
  uint64_t length = 0;                 // 56: sectors, 0 when section 1 is empty
  uint64_t devstart2 = 0;              // 72: sectors after devstart
  uint64_t arraystart2 = 0;            // 80
  uint64_t length2 = 0;                // 88
  bool operator==(const BackupSuper&) const = default;
};

// mdadm's bsb_csum over the first len bytes: len times (csum << 3) + (signed) bytes[0],
// wrapping at 32 bits; the value to store little-endian in sb_csum/sb_csum2. Only
// bytes[0] and len matter. len is clipped to bytes.size().
[[nodiscard]] uint32_t backup_super_checksum(std::span<const uint8_t> bytes, size_t len);

// Validates, in this order: at least kBackupSuperBytes bytes, the magic, sb_csum and
// (v2 only) sb_csum2. Padding is not checked (mdadm does not).
[[nodiscard]] Result<BackupSuper> decode_backup_super(std::span<const uint8_t> bytes);

// The 512-byte block: padding zero, sb_csum computed, and for v2 sb_csum2 (v1 leaves it
// 0, as mdadm does). Bytes [0, 100) are what mdadm would write for the same fields.
[[nodiscard]] std::array<uint8_t, kBackupSuperBytes> encode_backup_super(const BackupSuper& bsb);

// What Grow_restart knows about the array when it weighs a backup.
struct BackupRestartState {
  std::array<uint8_t, 16> array_uuid{};  // mdadm's info->uuid bytes
  uint64_t array_utime = 0;              // superblock utime, seconds
  uint64_t reshape_progress = 0;         // array sectors
  bool increasing = true;                // delta_disks >= 0
  bool allow_old = false;                // MDADM_GROW_ALLOW_OLD
};

// Grow_restart's checks after the checksums, in its order: Err::invalid for a wrong uuid,
// or for an mtime outside [utime - 2 h, utime + 10 min] (inclusive; both truncated to 32
// bits and compared with wraparound, as mdadm's time_after on unsigned int; skipped with
// allow_old). Err::not_found when no section is filled ("-1": length == 0; "-2": both
// lengths 0), or when no section holds data the reshape still needs: increasing, every
// section ends (arraystart + length) before reshape_progress; decreasing, every section
// starts at or after it. For "-2" both sections count even if one is empty, as in mdadm.
[[nodiscard]] Status backup_matches(const BackupSuper& bsb, const BackupRestartState& st);

// reshape_progress after Grow_restart has restored the sections, reproducing mdadm:
// unchanged when the filled sections span lo < hi and progress lies outside [lo, hi];
// otherwise the furthest section end (increasing) or the lowest section start
// (decreasing). As in mdadm, v2 considers arraystart2 / arraystart2 + length2 there even
// when length2 is 0.
[[nodiscard]] uint64_t backup_restored_progress(const BackupSuper& bsb, uint64_t reshape_progress,
                                                bool increasing);

}  // namespace umd
