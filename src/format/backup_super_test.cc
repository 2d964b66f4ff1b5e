#include "format/backup_super.h"

#include <cstring>
#include <string>
#include <utility>
#include <gtest/gtest.h>

#include "util/endian.h"

namespace umd {
namespace {

BackupSuper sample(BackupVersion v) {
  BackupSuper b;
  b.version = v;
  for (uint8_t i = 0; i < 16; i++) b.set_uuid[i] = uint8_t(0xa0 + i);
  b.mtime = 0x0000'0000'6543'2100ull;
  b.devstart = kBackupFileDataSector;
  b.arraystart = 0x1111'2222'3333ull;
  b.length = 0x400;
  b.devstart2 = 0x800;
  b.arraystart2 = v == BackupVersion::v2 ? 0x1111'2222'3733ull : 0;
  b.length2 = v == BackupVersion::v2 ? 0x400 : 0;
  return b;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// bsb_csum written out from its definition with wide signed arithmetic, reduced mod 2^32
// at the end: csum = csum * 8 + (signed char)buf[0], len times.
uint32_t csum_by_hand(int8_t first, size_t len) {
  int64_t csum = 0;
  for (size_t i = 0; i < len; i++) csum = (csum * 8 + first) % (int64_t{1} << 32);
  return uint32_t(uint64_t(csum) & 0xffffffffu);
}

TEST(BackupSuper, RoundTripsBothVersions) {
  for (auto [v, magic] : {std::pair{BackupVersion::v1, "md_backup_data-1"}, std::pair{BackupVersion::v2, "md_backup_data-2"}}) {
    SCOPED_TRACE(magic);
    BackupSuper b = sample(v);
    auto bytes = encode_backup_super(b);
    EXPECT_EQ(std::memcmp(bytes.data(), magic, 16), 0);
    auto back = decode_backup_super(bytes);
    ASSERT_TRUE(back.is_ok()) << back.status().message();
    EXPECT_EQ(*back, b);
    EXPECT_EQ(encode_backup_super(*back), bytes);
  }
}

TEST(BackupSuper, FieldsSitAtMdadmOffsets) {
  // struct mdp_backup_super: char[16], u8[16], then u64 mtime/devstart/arraystart/length,
  // u32 sb_csum, u32 pad1, u64 devstart2/arraystart2/length2, u32 sb_csum2, pad to 512.
  static_assert(bsboff::set_uuid == 16 && bsboff::mtime == 32 && bsboff::devstart == 40);
  static_assert(bsboff::arraystart == 48 && bsboff::length == 56 && bsboff::sb_csum == 64);
  static_assert(bsboff::pad1 == 68 && bsboff::devstart2 == 72 && bsboff::arraystart2 == 80);
  static_assert(bsboff::length2 == 88 && bsboff::sb_csum2 == 96 && bsboff::pad == 100);
  BackupSuper b;
  b.version = BackupVersion::v2;
  for (uint8_t i = 0; i < 16; i++) b.set_uuid[i] = uint8_t(i + 1);
  b.mtime = 0x0102030405060708ull;
  b.devstart = 0x1112131415161718ull;
  b.arraystart = 0x2122232425262728ull;
  b.length = 0x3132333435363738ull;
  b.devstart2 = 0x4142434445464748ull;
  b.arraystart2 = 0x5152535455565758ull;
  b.length2 = 0x6162636465666768ull;
  auto out = encode_backup_super(b);
  ASSERT_EQ(out.size(), 512u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(out.data()), 16), "md_backup_data-2");
  for (size_t i = 0; i < 16; i++) EXPECT_EQ(out[16 + i], i + 1) << i;
  // little-endian: the low byte first
  EXPECT_EQ(out[32], 0x08);
  EXPECT_EQ(out[39], 0x01);
  EXPECT_EQ(get_le64(out.data() + 32), b.mtime);
  EXPECT_EQ(get_le64(out.data() + 40), b.devstart);
  EXPECT_EQ(get_le64(out.data() + 48), b.arraystart);
  EXPECT_EQ(get_le64(out.data() + 56), b.length);
  EXPECT_EQ(get_le32(out.data() + 64), 0x24924915u);  // sb_csum
  EXPECT_EQ(get_le32(out.data() + 68), 0u);           // pad1
  EXPECT_EQ(get_le64(out.data() + 72), b.devstart2);
  EXPECT_EQ(get_le64(out.data() + 80), b.arraystart2);
  EXPECT_EQ(get_le64(out.data() + 88), b.length2);
  EXPECT_EQ(get_le32(out.data() + 96), 0x24924915u);  // sb_csum2
  for (size_t i = 100; i < 512; i++) EXPECT_EQ(out[i], 0) << i;
}

TEST(BackupSuper, Version1LeavesSbCsum2Zero) {
  auto out = encode_backup_super(sample(BackupVersion::v1));
  EXPECT_EQ(get_le32(out.data() + bsboff::sb_csum), backup_super_checksum(out, 64));
  EXPECT_EQ(get_le32(out.data() + bsboff::sb_csum2), 0u);
  // devstart2 is carried even by a "-1" block, as child_monitor sets it up front.
  EXPECT_EQ(get_le64(out.data() + bsboff::devstart2), 0x800u);
}

TEST(BackupSuper, ChecksumMatchesTheDefinition) {
  std::array<uint8_t, 512> buf{};
  std::memcpy(buf.data(), "md_backup_data-1", 16);
  // 'm' = 109: by hand, 109, 109*9 = 981, 109*73 = 7957, ...
  EXPECT_EQ(backup_super_checksum(buf, 0), 0u);
  EXPECT_EQ(backup_super_checksum(buf, 1), 109u);
  EXPECT_EQ(backup_super_checksum(buf, 2), 981u);
  EXPECT_EQ(backup_super_checksum(buf, 3), 7957u);
  for (size_t len : {0, 1, 2, 10, 11, 12, 64, 96, 200, 512})
    EXPECT_EQ(backup_super_checksum(buf, len), csum_by_hand(int8_t('m'), len)) << len;
  // From 11 additions on, 8^11 = 2^33 has shifted the older ones out: 109 * 0x49249249.
  EXPECT_EQ(backup_super_checksum(buf, 64), 0x24924915u);
  EXPECT_EQ(backup_super_checksum(buf, 96), 0x24924915u);
  // A first byte >= 0x80 counts as negative (char is signed on x86): -128 * 73.
  buf[0] = 0x80;
  EXPECT_EQ(backup_super_checksum(buf, 3), uint32_t(-128 * 73));
  EXPECT_EQ(backup_super_checksum(buf, 3), 0xffffdb80u);
  for (size_t len : {1, 5, 11, 64, 96})
    EXPECT_EQ(backup_super_checksum(buf, len), csum_by_hand(int8_t(-128), len)) << len;
  // len beyond the buffer is clipped to it.
  EXPECT_EQ(backup_super_checksum(std::span<const uint8_t>(buf.data(), 4), 100),
            backup_super_checksum(buf, 4));
}

TEST(BackupSuper, ChecksumDependsOnlyOnFirstByteAndLength) {
  std::array<uint8_t, 512> a{}, b{};
  a[0] = b[0] = 'm';
  for (size_t i = 1; i < 512; i++) {
    a[i] = uint8_t(i * 7 + 3);
    b[i] = uint8_t(255 - i);
  }
  for (size_t len : {1, 2, 7, 64, 96, 512}) EXPECT_EQ(backup_super_checksum(a, len), backup_super_checksum(b, len));
  EXPECT_NE(backup_super_checksum(a, 1), backup_super_checksum(a, 2));
  b[0] = 'n';
  EXPECT_NE(backup_super_checksum(a, 64), backup_super_checksum(b, 64));
  // So a changed field keeps a valid block valid: mdadm's checksum guards only byte 0.
  auto bytes = encode_backup_super(sample(BackupVersion::v2));
  bytes[bsboff::length] ^= 0xff;
  EXPECT_TRUE(decode_backup_super(bytes).is_ok());
}

TEST(BackupSuper, RefusesShortBuffer) {
  auto bytes = encode_backup_super(sample(BackupVersion::v1));
  auto r = decode_backup_super(std::span<const uint8_t>(bytes.data(), 511));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Err::corrupt);
  EXPECT_TRUE(contains(r.status().message(), "truncated")) << r.status().message();
  EXPECT_TRUE(contains(r.status().message(), "511")) << r.status().message();
}

TEST(BackupSuper, RefusesWrongMagic) {
  auto bytes = encode_backup_super(sample(BackupVersion::v1));
  bytes[15] = '3';
  auto r = decode_backup_super(bytes);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Err::not_found);
  EXPECT_TRUE(contains(r.status().message(), "magic")) << r.status().message();
  EXPECT_TRUE(contains(r.status().message(), "md_backup_data-3")) << r.status().message();

  std::array<uint8_t, 512> zeros{};
  auto z = decode_backup_super(zeros);
  ASSERT_FALSE(z.is_ok());
  EXPECT_EQ(z.status().code(), Err::not_found);
  EXPECT_TRUE(contains(z.status().message(), "\\x00")) << z.status().message();
}

TEST(BackupSuper, RefusesBadSbCsum) {
  for (BackupVersion v : {BackupVersion::v1, BackupVersion::v2}) {
    auto bytes = encode_backup_super(sample(v));
    bytes[bsboff::sb_csum] ^= 1;
    auto r = decode_backup_super(bytes);
    ASSERT_FALSE(r.is_ok());
    EXPECT_EQ(r.status().code(), Err::corrupt);
    EXPECT_TRUE(contains(r.status().message(), "sb_csum mismatch")) << r.status().message();
    EXPECT_TRUE(contains(r.status().message(), "0x24924915")) << r.status().message();
  }
}

TEST(BackupSuper, RefusesBadSbCsum2OnlyForVersion2) {
  auto v2 = encode_backup_super(sample(BackupVersion::v2));
  v2[bsboff::sb_csum2] ^= 1;
  auto r = decode_backup_super(v2);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Err::corrupt);
  EXPECT_TRUE(contains(r.status().message(), "sb_csum2 mismatch")) << r.status().message();

  // mdadm never checks sb_csum2 of a "-1" block (it writes 0 there).
  auto v1 = encode_backup_super(sample(BackupVersion::v1));
  put_le32(v1.data() + bsboff::sb_csum2, 0xdeadbeef);
  EXPECT_TRUE(decode_backup_super(v1).is_ok());
}

TEST(BackupSuper, IgnoresPaddingAsMdadmDoes) {
  auto bytes = encode_backup_super(sample(BackupVersion::v2));
  bytes[bsboff::pad1] = 1;
  bytes[511] = 0xff;
  EXPECT_TRUE(decode_backup_super(bytes).is_ok());
}

BackupRestartState state_for(const BackupSuper& b) {
  BackupRestartState st;
  st.array_uuid = b.set_uuid;
  st.array_utime = b.mtime;
  st.reshape_progress = b.arraystart;
  st.increasing = true;
  return st;
}

TEST(BackupMatches, AcceptsTheArraysOwnBackup) {
  BackupSuper b = sample(BackupVersion::v1);
  EXPECT_TRUE(backup_matches(b, state_for(b)).is_ok());
}

TEST(BackupMatches, RefusesAnotherArraysUuid) {
  BackupSuper b = sample(BackupVersion::v1);
  BackupRestartState st = state_for(b);
  st.array_uuid[15] ^= 1;
  Status s = backup_matches(b, st);
  EXPECT_EQ(s.code(), Err::invalid);
  EXPECT_TRUE(contains(s.message(), "belongs to array a0a1")) << s.message();
}

TEST(BackupMatches, MtimeWindowIsTwoHoursBackTenMinutesAhead) {
  BackupSuper b = sample(BackupVersion::v1);
  BackupRestartState st = state_for(b);
  st.array_utime = b.mtime + 2 * 3600;  // backup 2 h older than the array's utime
  EXPECT_TRUE(backup_matches(b, st).is_ok());
  st.array_utime = b.mtime + 2 * 3600 + 1;
  Status s = backup_matches(b, st);
  EXPECT_EQ(s.code(), Err::invalid);
  EXPECT_TRUE(contains(s.message(), "mtime")) << s.message();
  st.array_utime = b.mtime - 600;  // backup 10 min newer
  EXPECT_TRUE(backup_matches(b, st).is_ok());
  st.array_utime = b.mtime - 601;
  EXPECT_EQ(backup_matches(b, st).code(), Err::invalid);
  st.allow_old = true;  // MDADM_GROW_ALLOW_OLD
  EXPECT_TRUE(backup_matches(b, st).is_ok());
}

TEST(BackupMatches, MtimeComparesLow32BitsWithWraparound) {
  BackupSuper b = sample(BackupVersion::v1);
  BackupRestartState st = state_for(b);
  b.mtime = 0x1'0000'0005ull;  // mdadm casts to unsigned int
  st.array_utime = 5;
  EXPECT_TRUE(backup_matches(b, st).is_ok());
  b.mtime = 0xffff'fff0ull;  // utime has wrapped past 2^32 30 seconds later
  st.array_utime = 0x1'0000'000eull;
  EXPECT_TRUE(backup_matches(b, st).is_ok());
}

TEST(BackupMatches, RefusesEmptyBackup) {
  BackupSuper b = sample(BackupVersion::v1);
  b.length = 0;
  b.length2 = 0x400;  // ignored by a "-1" block
  Status s = backup_matches(b, state_for(b));
  EXPECT_EQ(s.code(), Err::not_found);
  EXPECT_TRUE(contains(s.message(), "no section")) << s.message();
  b.version = BackupVersion::v2;
  EXPECT_TRUE(backup_matches(b, state_for(b)).is_ok());
  b.length2 = 0;
  EXPECT_EQ(backup_matches(b, state_for(b)).code(), Err::not_found);
}

TEST(BackupMatches, IncreasingNeedsASectionEndingAtOrAfterProgress) {
  BackupSuper b = sample(BackupVersion::v1);
  BackupRestartState st = state_for(b);
  st.reshape_progress = b.arraystart + b.length;  // end == progress: still needed
  EXPECT_TRUE(backup_matches(b, st).is_ok());
  st.reshape_progress++;
  Status s = backup_matches(b, st);
  EXPECT_EQ(s.code(), Err::not_found);
  EXPECT_TRUE(contains(s.message(), "not needed")) << s.message();
  // "-2": the second section keeps it needed.
  b.version = BackupVersion::v2;
  b.arraystart2 = b.arraystart + b.length;
  b.length2 = 0x400;
  EXPECT_TRUE(backup_matches(b, st).is_ok());
}

TEST(BackupMatches, DecreasingNeedsASectionStartingBeforeProgress) {
  BackupSuper b = sample(BackupVersion::v1);
  BackupRestartState st = state_for(b);
  st.increasing = false;
  st.reshape_progress = b.arraystart + 1;
  EXPECT_TRUE(backup_matches(b, st).is_ok());
  st.reshape_progress = b.arraystart;
  EXPECT_EQ(backup_matches(b, st).code(), Err::not_found);
  // A forgotten "-2" section (arraystart2 = 0, length2 = 0) counts as starting at 0,
  // before any progress: mdadm then finds the backup needed.
  b.version = BackupVersion::v2;
  b.arraystart2 = 0;
  b.length2 = 0;
  EXPECT_TRUE(backup_matches(b, st).is_ok());
}

TEST(BackupRestoredProgress, IncreasingMovesToTheFurthestEnd) {
  BackupSuper b = sample(BackupVersion::v2);
  b.arraystart = 1000;
  b.length = 100;
  b.arraystart2 = 1100;
  b.length2 = 100;
  EXPECT_EQ(backup_restored_progress(b, 1000, true), 1200u);
  EXPECT_EQ(backup_restored_progress(b, 1200, true), 1200u);
  // Outside the span [1000, 1200]: unchanged.
  EXPECT_EQ(backup_restored_progress(b, 999, true), 999u);
  EXPECT_EQ(backup_restored_progress(b, 1201, true), 1201u);
  b.version = BackupVersion::v1;
  EXPECT_EQ(backup_restored_progress(b, 1050, true), 1100u);
}

TEST(BackupRestoredProgress, DecreasingMovesToTheLowestStart) {
  BackupSuper b = sample(BackupVersion::v2);
  b.arraystart = 1100;
  b.length = 100;
  b.arraystart2 = 1000;
  b.length2 = 100;
  EXPECT_EQ(backup_restored_progress(b, 1200, false), 1000u);
  EXPECT_EQ(backup_restored_progress(b, 900, false), 900u);
  b.version = BackupVersion::v1;
  EXPECT_EQ(backup_restored_progress(b, 1150, false), 1100u);
  // mdadm's quirk: an empty "-2" section 2 (arraystart2 0) still takes part in the minimum.
  b.version = BackupVersion::v2;
  b.arraystart2 = 0;
  b.length2 = 0;
  EXPECT_EQ(backup_restored_progress(b, 1150, false), 0u);
}

}  // namespace
}  // namespace umd
