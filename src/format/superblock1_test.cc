#include "format/superblock1.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "format/member_info.h"
#include "format/testdata_util.h"
#include "util/endian.h"

namespace umd {
namespace {

Superblock1 sample() {
  Superblock1 sb;
  sb.feature_map = kFeatureBitmapOffset | kFeatureRecoveryOffset | kFeatureRaid0Layout;
  for (int i = 0; i < 16; i++) sb.set_uuid[size_t(i)] = uint8_t(0x10 + i);
  sb.set_name_str("host:array-name");
  sb.ctime = 0x0001'0203'0405'0607ull;
  sb.level = -1;
  sb.layout = 0x0102;
  sb.size = 0x1122334455ull;
  sb.chunksize = 1024;
  sb.raid_disks = 5;
  sb.bitmap_offset = -16;
  sb.new_level = 6;
  sb.reshape_position = 0x123456789aull;
  sb.delta_disks = uint32_t(-1);
  sb.new_layout = 2;
  sb.new_chunk = 256;
  sb.new_offset = uint32_t(-2048);
  sb.data_offset = 264192;
  sb.data_size = 0x2233445566ull;
  sb.super_offset = 8;
  sb.recovery_offset = 4242;
  sb.dev_number = 3;
  sb.cnt_corrected_read = 7;
  for (int i = 0; i < 16; i++) sb.device_uuid[size_t(i)] = uint8_t(0xa0 + i);
  sb.devflags = kDevflagWriteMostly | kDevflagFailFast;
  sb.bblog_shift = 1;
  sb.bblog_size = 8;
  sb.bblog_offset = -8;
  sb.utime = 0x0a0b0c0d0e0full;
  sb.events = 0x1'0000'0001ull;
  sb.resync_offset = kMaxSector;
  sb.max_dev = 7;  // odd: the checksum ends on a half-word
  sb.dev_roles = {0, 1, kRoleFaulty, 2, kRoleSpare, kRoleJournal, 3};
  return sb;
}

TEST(Superblock1, RoundTripsEveryField) {
  Superblock1 sb = sample();
  auto bytes = encode_superblock1(sb);
  ASSERT_EQ(bytes.size(), 512u);
  auto back = decode_superblock1(bytes);
  ASSERT_TRUE(back.is_ok()) << back.status().message();
  sb.sb_csum = back->sb_csum;
  EXPECT_EQ(*back, sb);
  EXPECT_EQ(back->name(), "host:array-name");
  EXPECT_EQ(back->role(), 2);
  EXPECT_EQ(get_le32(bytes.data() + sb1off::sb_csum), superblock1_checksum(bytes));
}

TEST(Superblock1, FieldOffsets) {
  auto b = encode_superblock1(sample());
  EXPECT_EQ(get_le32(b.data() + 0), kMdMagic);
  EXPECT_EQ(get_le32(b.data() + 72), uint32_t(-1));
  EXPECT_EQ(get_le64(b.data() + 128), 264192u);
  EXPECT_EQ(b[184], 3);
  EXPECT_EQ(get_le32(b.data() + 188), uint32_t(-8));
  EXPECT_EQ(get_le32(b.data() + 220), 7u);
  EXPECT_EQ(get_le16(b.data() + 256 + 2 * 2), kRoleFaulty);
  // tail of the roles area is 0xff, as mdadm leaves it
  EXPECT_EQ(b[256 + 14], 0xff);
  EXPECT_EQ(b[511], 0xff);
}

TEST(Superblock1, PplViewSharesBitmapOffset) {
  Superblock1 sb;
  sb.set_ppl(-2056, 2048);
  EXPECT_EQ(sb.ppl_offset(), -2056);
  EXPECT_EQ(sb.ppl_size(), 2048);
  auto b = encode_superblock1(sb);
  EXPECT_EQ(int16_t(get_le16(b.data() + 96)), -2056);
  EXPECT_EQ(get_le16(b.data() + 98), 2048);
}

TEST(Superblock1, EncodedLengthIsSectorRounded) {
  Superblock1 sb;
  for (auto [max_dev, len] : {std::pair{0u, 512u}, {128u, 512u}, {129u, 1024u}, {384u, 1024u}, {1920u, 4096u}}) {
    sb.max_dev = max_dev;
    EXPECT_EQ(encode_superblock1(sb).size(), len) << max_dev;
  }
  sb.max_dev = 5000;  // clamped to what the kernel accepts
  EXPECT_EQ(encode_superblock1(sb).size(), 4096u);
}

TEST(Superblock1, ChecksumAsTheKernel) {
  // hand computed: magic + major + max_dev(1) + one role 0x0005
  std::vector<uint8_t> b(512, 0);
  put_le32(b.data(), kMdMagic);
  put_le32(b.data() + 4, 1);
  put_le32(b.data() + sb1off::max_dev, 1);
  put_le16(b.data() + 256, 5);
  put_le32(b.data() + sb1off::sb_csum, 0xdeadbeef);  // not counted
  EXPECT_EQ(superblock1_checksum(b), kMdMagic + 1 + 1 + 5);
  // the carry out of 32 bits is folded back in
  put_le32(b.data() + 8, 0xffffffff);
  EXPECT_EQ(superblock1_checksum(b), uint32_t(uint64_t(kMdMagic) + 0xffffffffull + 7 - 0x100000000ull + 1));
}

std::vector<uint8_t> valid_bytes() { return encode_superblock1(sample()); }
void reseal(std::vector<uint8_t>& b) { put_le32(b.data() + sb1off::sb_csum, superblock1_checksum(b)); }

TEST(Superblock1, Truncated) {
  auto b = valid_bytes();
  auto r = decode_superblock1(std::span(b).first(200));
  EXPECT_EQ(r.status().code(), Err::corrupt);
  EXPECT_NE(r.status().message().find("truncated"), std::string::npos);
  r = decode_superblock1(std::span(b).first(256 + 2 * 7 - 1));
  EXPECT_EQ(r.status().code(), Err::corrupt);
  EXPECT_NE(r.status().message().find("max_dev 7 needs 270 bytes"), std::string::npos) << r.status().message();
}

TEST(Superblock1, BadMagic) {
  auto b = valid_bytes();
  b[0] ^= 1;
  auto r = decode_superblock1(b);
  EXPECT_EQ(r.status().code(), Err::not_found);
  EXPECT_NE(r.status().message().find("expected 0xa92b4efc, found 0xa92b4efd"), std::string::npos)
      << r.status().message();
}

TEST(Superblock1, BadMajorVersion) {
  auto b = valid_bytes();
  put_le32(b.data() + 4, 2);
  reseal(b);
  auto r = decode_superblock1(b);
  EXPECT_EQ(r.status().code(), Err::unsupported);
  EXPECT_NE(r.status().message().find("major_version"), std::string::npos);
}

TEST(Superblock1, BadChecksum) {
  auto b = valid_bytes();
  const uint32_t good = get_le32(b.data() + sb1off::sb_csum);
  b[sb1off::events] ^= 0x10;
  auto r = decode_superblock1(b);
  EXPECT_EQ(r.status().code(), Err::corrupt);
  EXPECT_NE(r.status().message().find(fmt::format("stored 0x{:08x}, computed 0x{:08x}", good, good + 0x10)),
            std::string::npos)
      << r.status().message();
}

TEST(Superblock1, MaxDevTooLarge) {
  std::vector<uint8_t> b(8192, 0);
  auto enc = valid_bytes();
  std::copy(enc.begin(), enc.end(), b.begin());
  put_le32(b.data() + sb1off::max_dev, 1921);
  reseal(b);
  auto r = decode_superblock1(b);
  EXPECT_EQ(r.status().code(), Err::corrupt);
  EXPECT_NE(r.status().message().find("max_dev too large: limit 1920, found 1921"), std::string::npos);
}

TEST(Superblock1, UnknownFeatureBit) {
  auto b = valid_bytes();
  put_le32(b.data() + sb1off::feature_map, kFeatureAll + 1);
  reseal(b);
  auto r = decode_superblock1(b);
  EXPECT_EQ(r.status().code(), Err::unsupported);
  EXPECT_NE(r.status().message().find("unknown 0x2000"), std::string::npos) << r.status().message();
}

TEST(Superblock1, NonZeroPaddingIsRefused) {
  auto b = valid_bytes();
  b[240] = 1;
  reseal(b);
  EXPECT_EQ(decode_superblock1(b).status().code(), Err::unsupported);
  b = valid_bytes();
  put_le32(b.data() + sb1off::pad0, 1);
  reseal(b);
  EXPECT_EQ(decode_superblock1(b).status().code(), Err::unsupported);
}

TEST(Superblock1, LogicalBlockSizeDecodedButNeverEncoded) {
  auto b = valid_bytes();
  put_le32(b.data() + sb1off::logical_block_size, 4096);
  reseal(b);
  auto r = decode_superblock1(b);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->logical_block_size, 4096u);
  auto again = encode_superblock1(*r);
  EXPECT_EQ(get_le32(again.data() + sb1off::logical_block_size), 0u);
  EXPECT_TRUE(decode_superblock1(again).is_ok());
}

TEST(Superblock1, Offsets) {
  EXPECT_EQ(superblock1_offset_sectors(1, 1 << 20), 0u);
  EXPECT_EQ(superblock1_offset_sectors(2, 1 << 20), 8u);
  EXPECT_EQ(superblock1_offset_sectors(0, 16384), 16368u);
  EXPECT_EQ(superblock1_offset_sectors(0, 49152), 49136u);  // 24 MiB member, see fixtures
  EXPECT_EQ(superblock1_offset_sectors(0, 16389), 16368u);  // rounded down to 4 KiB
  EXPECT_EQ(superblock1_offset_sectors(0, 20), kMaxSector);
  EXPECT_EQ(superblock1_offset_sectors(3, 1 << 20), kMaxSector);
  EXPECT_EQ(superblock1_minor_from_offset(0), 1);
  EXPECT_EQ(superblock1_minor_from_offset(8), 2);
  EXPECT_EQ(superblock1_minor_from_offset(49136), 0);
}

// Superblocks the Linux 6.1 kernel wrote (arrays made by mdadm 4.2, resynced, stopped),
// checked against mdadm --examine of the same member. 24 MiB members (49152 sectors).
struct Fixture1 {
  const char* file;
  int minor;
  const char* uuid;
  const char* device_uuid;
  const char* name;
  int level;
  uint32_t layout, chunk, raid_disks;
  uint64_t events, data_offset, super_offset, avail, used;
  uint32_t feature_map;
  int32_t bitmap_offset;
  int role;
  bool clean;
};

const Fixture1 kFixtures1[] = {
    {"v12r5_vda.sb", 2, "75a76e5d:e2852745:815cb846:ddfb0a48", "fdc5b32d:f68fe679:e19cacab:b4de483d", "(none):fx1",
     5, 2, 128, 3, 18, 2048, 8, 47104, 47104, 0, 0, 0, true},
    {"v12r5_vdb.sb", 2, "75a76e5d:e2852745:815cb846:ddfb0a48", "e28065a1:4b208453:1ccba527:724fb1b5", "(none):fx1",
     5, 2, 128, 3, 18, 2048, 8, 47104, 47104, 0, 0, 1, true},
    {"v12r5_vdc.sb", 2, "75a76e5d:e2852745:815cb846:ddfb0a48", "e9b052e0:3fa37585:c3ad23e8:c5bc6983", "(none):fx1",
     5, 2, 128, 3, 18, 2048, 8, 47104, 47104, 0, 0, 2, true},
    {"v12r1b_vda.sb", 2, "d107700a:843ea20b:e281fd81:166de656", "7c244cd0:4fdab41b:23a42c92:9c8fafd6", "(none):fx2",
     1, 0, 0, 2, 17, 2048, 8, 47104, 47104, 1, 8, 0, true},
    {"v12r1b_vdb.sb", 2, "d107700a:843ea20b:e281fd81:166de656", "7683a7bb:e3b37e0c:c88aa801:5d3f07a4", "(none):fx2",
     1, 0, 0, 2, 17, 2048, 8, 47104, 47104, 1, 8, 1, true},
    {"v11r1f_vda.sb", 1, "c98dc97d:c7c9781a:b2b64640:1ac09caf", "b4855303:9b2a4ac5:8697b453:56df837c", "(none):fx3",
     1, 0, 0, 2, 36, 2048, 0, 47104, 47104, 0, 0, 0, true},
    // failed out of the array: its superblock stopped at the events of the failure
    {"v11r1f_vdb.sb", 1, "c98dc97d:c7c9781a:b2b64640:1ac09caf", "3f27dba4:1d4a43d2:f049e70c:ca55a536", "(none):fx3",
     1, 0, 0, 2, 17, 2048, 0, 47104, 47104, 0, 0, 1, true},
    {"v11r1f_vdc.sb", 1, "c98dc97d:c7c9781a:b2b64640:1ac09caf", "c8c7bf66:62805bfc:c3868b16:c84e598f", "(none):fx3",
     1, 0, 0, 2, 36, 2048, 0, 47104, 47104, 0, 0, 1, true},
    {"v10r1b_vda.sb", 0, "2bfb8c8c:5c9e6fd6:5b537b61:b1e9b6ba", "bded7bd6:9b4c8562:4f7df9ce:3a36e152", "(none):fx4",
     1, 0, 0, 2, 17, 0, 49136, 49120, 49024, 1, -16, 0, true},
    {"v10r1b_vdb.sb", 0, "2bfb8c8c:5c9e6fd6:5b537b61:b1e9b6ba", "420251a1:d813c518:640e4b60:a2751490", "(none):fx4",
     1, 0, 0, 2, 17, 0, 49136, 49120, 49024, 1, -16, 1, true},
    {"v10r5_vda.sb", 0, "0556c1fc:a7037dfb:4b3ea8ff:fab48f91", "c4317d4b:2a793328:3cfda316:84ffc116", "(none):fx5",
     5, 2, 256, 3, 18, 0, 49136, 49120, 48896, 0, 0, 0, true},
    {"v10r5_vdb.sb", 0, "0556c1fc:a7037dfb:4b3ea8ff:fab48f91", "ce0995c1:61b57647:c32176a6:9f49dee5", "(none):fx5",
     5, 2, 256, 3, 18, 0, 49136, 49120, 48896, 0, 0, 1, true},
    {"v10r5_vdc.sb", 0, "0556c1fc:a7037dfb:4b3ea8ff:fab48f91", "14dbbe28:3c18191a:54352e2f:4f115cca", "(none):fx5",
     5, 2, 256, 3, 18, 0, 49136, 49120, 48896, 0, 0, 2, true},
    // stopped while the initial resync was running: not clean
    {"v12r6_vda.sb", 2, "c10245ad:c0ef4320:65cb1074:ca6224ec", "e3896065:beca009d:a4770b8d:0f646949", "(none):fx8",
     6, 2, 64, 4, 13, 2048, 8, 47104, 47104, 0, 0, 0, false},
    {"v12r6_vdd.sb", 2, "c10245ad:c0ef4320:65cb1074:ca6224ec", "58c60aa2:e24fe666:c6be1281:c038ad20", "(none):fx8",
     6, 2, 64, 4, 13, 2048, 8, 47104, 47104, 0, 0, 3, false},
};

TEST(Superblock1, KernelWrittenFixtures) {
  for (const Fixture1& f : kFixtures1) {
    SCOPED_TRACE(f.file);
    auto bytes = testing::load_fixture(f.file);
    ASSERT_EQ(bytes.size(), 4096u);
    auto sb = decode_superblock1(bytes);
    ASSERT_TRUE(sb.is_ok()) << sb.status().message();
    MemberInfo m = from_superblock1(*sb);
    EXPECT_EQ(m.metadata_minor, f.minor);
    EXPECT_EQ(format_uuid_mdadm(sb->set_uuid), f.uuid);
    EXPECT_EQ(format_uuid_mdadm(sb->device_uuid), f.device_uuid);
    EXPECT_EQ(sb->name(), f.name);
    EXPECT_EQ(sb->level, f.level);
    EXPECT_EQ(sb->layout, f.layout);
    EXPECT_EQ(sb->chunksize, f.chunk);
    EXPECT_EQ(sb->raid_disks, f.raid_disks);
    EXPECT_EQ(sb->events, f.events);
    EXPECT_EQ(sb->data_offset, f.data_offset);
    EXPECT_EQ(sb->super_offset, f.super_offset);
    EXPECT_EQ(sb->super_offset, superblock1_offset_sectors(f.minor, 49152));
    EXPECT_EQ(sb->data_size, f.avail);
    EXPECT_EQ(sb->size, f.used);
    EXPECT_EQ(sb->feature_map, f.feature_map);
    EXPECT_EQ(sb->feature_map & kFeatureBitmapOffset ? sb->bitmap_offset : 0, f.bitmap_offset);
    EXPECT_EQ(m.role, f.role);
    EXPECT_EQ(m.clean, f.clean);
    EXPECT_EQ(sb->logical_block_size, 0u);  // 6.1 does not write it
    // Re-encoding gives back exactly what the kernel wrote.
    auto again = encode_superblock1(*sb);
    ASSERT_LE(again.size(), bytes.size());
    EXPECT_TRUE(std::equal(again.begin(), again.end(), bytes.begin())) << "re-encode differs";
  }
}

}  // namespace
}  // namespace umd
