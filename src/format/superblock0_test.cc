#include "format/superblock0.h"

#include <fmt/format.h>
#include <algorithm>
#include <gtest/gtest.h>

#include "format/member_info.h"
#include "format/superblock1.h"
#include "format/testdata_util.h"
#include "util/endian.h"

namespace umd {
namespace {

Superblock0 sample() {
  Superblock0 sb;
  sb.minor_version = 91;
  sb.patch_version = 3;
  sb.gvalid_words = 4;
  sb.set_uuid0 = 0x11223344;
  sb.set_uuid1 = 0x55667788;
  sb.set_uuid2 = 0x99aabbcc;
  sb.set_uuid3 = 0xddeeff00;
  sb.ctime = 1700000000;
  sb.level = 5;
  sb.size = 24512;
  sb.nr_disks = 4;
  sb.raid_disks = 3;
  sb.md_minor = 7;
  sb.not_persistent = 0;
  sb.utime = 1700000100;
  sb.state = kSb0StateClean | kSb0StateBitmapPresent;
  sb.active_disks = 3;
  sb.working_disks = 4;
  sb.failed_disks = 0;
  sb.spare_disks = 1;
  sb.events = 0x0000'0002'0000'0005ull;
  sb.cp_events = 0x0000'0001'0000'0004ull;
  sb.recovery_cp = 0xffffffff;
  sb.reshape_position = 0x1'2345'6789ull;
  sb.new_level = 6;
  sb.delta_disks = 1;
  sb.new_layout = 2;
  sb.new_chunk = 131072;
  sb.layout = 2;
  sb.chunk_size = 65536;
  sb.root_pv = 1;
  sb.root_block = 2;
  for (uint32_t i = 0; i < 4; i++)
    sb.disks[i] = {i, 8, 16 * i, i < 3 ? i : 3, i < 3 ? kDiskActive | kDiskSync : 0u};
  sb.disks[26] = {26, 1, 2, 3, kDiskFaulty | kDiskRemoved};
  sb.this_disk = sb.disks[1];
  return sb;
}

TEST(Superblock0, RoundTripsEveryField) {
  Superblock0 sb = sample();
  auto bytes = encode_superblock0(sb);
  ASSERT_EQ(bytes.size(), kSb0Bytes);
  auto back = decode_superblock0(bytes);
  ASSERT_TRUE(back.is_ok()) << back.status().message();
  sb.sb_csum = back->sb_csum;
  EXPECT_EQ(*back, sb);
  EXPECT_EQ(sb.sb_csum, superblock0_checksum(bytes));
  // events: low word first on a little-endian host
  EXPECT_EQ(get_le32(bytes.data() + 4 * 39), 5u);
  EXPECT_EQ(get_le32(bytes.data() + 4 * 40), 2u);
  EXPECT_EQ(get_le32(bytes.data() + 4 * (128 + 32 * 26 + 4)), kDiskFaulty | kDiskRemoved);
  EXPECT_EQ(get_le32(bytes.data() + 4 * 992), 1u);
}

TEST(Superblock0, ChecksumAsTheKernel) {
  std::vector<uint8_t> b(kSb0Bytes, 0);
  put_le32(b.data(), 0xffffffff);
  put_le32(b.data() + 4, 0x00000003);
  put_le32(b.data() + 4 * 38, 0x12345678);  // sb_csum: not counted
  EXPECT_EQ(superblock0_checksum(b), 0x00000002u + 1u);  // 0x1'00000002 folded
}

TEST(Superblock0, Offset) {
  EXPECT_EQ(superblock0_offset_sectors(49152), 49024u);
  EXPECT_EQ(superblock0_offset_sectors(49152 + 127), 49024u);
  EXPECT_EQ(superblock0_offset_sectors(49152 + 128), 49152u);
  EXPECT_EQ(superblock0_offset_sectors(200), kMaxSector);
}

TEST(Superblock0, Truncated) {
  auto b = encode_superblock0(sample());
  auto r = decode_superblock0(std::span(b).first(4000));
  EXPECT_EQ(r.status().code(), Err::corrupt);
  EXPECT_NE(r.status().message().find("need 4096 bytes, have 4000"), std::string::npos);
}

TEST(Superblock0, BadMagic) {
  auto b = encode_superblock0(sample());
  b[3] = 0;
  auto r = decode_superblock0(b);
  EXPECT_EQ(r.status().code(), Err::not_found);
  EXPECT_NE(r.status().message().find("magic"), std::string::npos);
}

TEST(Superblock0, ByteSwappedIsUnsupported) {
  auto b = encode_superblock0(sample());
  for (size_t i = 0; i < b.size(); i += 4) std::reverse(b.begin() + ptrdiff_t(i), b.begin() + ptrdiff_t(i + 4));
  auto r = decode_superblock0(b);
  EXPECT_EQ(r.status().code(), Err::unsupported);
  EXPECT_NE(r.status().message().find("byte-swapped"), std::string::npos) << r.status().message();
}

TEST(Superblock0, BadVersion) {
  auto b = encode_superblock0(sample());
  put_le32(b.data() + 8, 92);
  put_le32(b.data() + 4 * 38, superblock0_checksum(b));
  auto r = decode_superblock0(b);
  EXPECT_EQ(r.status().code(), Err::unsupported);
  EXPECT_NE(r.status().message().find("found 0.92"), std::string::npos);
}

TEST(Superblock0, BadChecksum) {
  auto b = encode_superblock0(sample());
  const uint32_t good = get_le32(b.data() + 4 * 38);
  b[4 * 39] ^= 0x01;  // events_lo 5 -> 4
  auto r = decode_superblock0(b);
  EXPECT_EQ(r.status().code(), Err::corrupt);
  EXPECT_NE(r.status().message().find(fmt::format("stored 0x{:08x}, computed 0x{:08x}", good, good - 1)),
            std::string::npos)
      << r.status().message();
}

TEST(Superblock0, FoldedChecksumAccepted) {
  // Old kernels stored a 16-bit folded sum; the kernel compares folds.
  auto b = encode_superblock0(sample());
  uint32_t c = get_le32(b.data() + 4 * 38);
  c = (c & 0xffff) + (c >> 16);
  c = (c & 0xffff) + (c >> 16);
  put_le32(b.data() + 4 * 38, c);
  EXPECT_TRUE(decode_superblock0(b).is_ok());
}

TEST(Superblock0, ZeroRaidDisks) {
  Superblock0 sb = sample();
  sb.raid_disks = 0;
  auto r = decode_superblock0(encode_superblock0(sb));
  EXPECT_EQ(r.status().code(), Err::corrupt);
  EXPECT_NE(r.status().message().find("raid_disks"), std::string::npos);
}

// Written by Linux 6.1 (mdadm 4.2 --create --metadata=0.90), 24 MiB members; expected
// values from mdadm --examine.
struct Fixture0 {
  const char* file;
  const char* uuid;
  int level;
  uint32_t chunk_bytes, size_k, events, this_number;
  int role;
  bool bitmap;
};

const Fixture0 kFixtures0[] = {
    {"v090r1_vda.sb", "d8e59d8b:811223c2:3d186b3c:53958f34", 1, 0, 24512, 18, 0, 0, false},
    {"v090r1_vdb.sb", "d8e59d8b:811223c2:3d186b3c:53958f34", 1, 0, 24512, 18, 1, 1, false},
    {"v090r1b_vda.sb", "4ea96caf:ddc27ef8:3d186b3c:53958f34", 1, 0, 24512, 18, 0, 0, true},
    {"v090r1b_vdb.sb", "4ea96caf:ddc27ef8:3d186b3c:53958f34", 1, 0, 24512, 18, 1, 1, true},
    {"v090r5f_vda.sb", "e0956485:14c2237f:3d186b3c:53958f34", 5, 65536, 24512, 38, 0, 0, false},
    // failed out, its superblock frozen at the failure
    {"v090r5f_vdb.sb", "e0956485:14c2237f:3d186b3c:53958f34", 5, 65536, 24512, 19, 1, 1, false},
    {"v090r5f_vdc.sb", "e0956485:14c2237f:3d186b3c:53958f34", 5, 65536, 24512, 38, 2, 2, false},
    // the spare that rebuilt slot 1
    {"v090r5f_vdd.sb", "e0956485:14c2237f:3d186b3c:53958f34", 5, 65536, 24512, 38, 1, 1, false},
};

TEST(Superblock0, KernelWrittenFixtures) {
  for (const Fixture0& f : kFixtures0) {
    SCOPED_TRACE(f.file);
    auto bytes = testing::load_fixture(f.file);
    ASSERT_EQ(bytes.size(), kSb0Bytes);
    auto sb = decode_superblock0(bytes);
    ASSERT_TRUE(sb.is_ok()) << sb.status().message();
    EXPECT_EQ(sb->minor_version, 90u);
    EXPECT_EQ(format_uuid_mdadm(sb->uuid_bytes(), 0), f.uuid);
    EXPECT_EQ(sb->level, f.level);
    EXPECT_EQ(sb->chunk_size, f.chunk_bytes);
    EXPECT_EQ(sb->size, f.size_k);
    EXPECT_EQ(sb->events, f.events);
    EXPECT_EQ(sb->this_disk.number, f.this_number);
    EXPECT_EQ(sb->state & kSb0StateClean, kSb0StateClean);
    EXPECT_EQ((sb->state & kSb0StateBitmapPresent) != 0, f.bitmap);
    EXPECT_EQ(sb->sb_csum, superblock0_checksum(bytes));
    MemberInfo m = from_superblock0(*sb, 49152);
    EXPECT_EQ(m.role, f.role);
    EXPECT_EQ(m.super_offset, 49024u);
    EXPECT_EQ(m.component_sectors, 2u * f.size_k);
    EXPECT_EQ(m.array_uuid_text(), f.uuid);
    EXPECT_TRUE(m.clean);
    // Re-encoding gives back exactly what the kernel wrote.
    EXPECT_EQ(encode_superblock0(*sb), bytes);
  }
}

}  // namespace
}  // namespace umd
