#include "cli/examine_report.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cstring>

#include "assemble/engine_test_util.h"
#include "bitmap/bitmap_super.h"
#include "format/testdata_util.h"

namespace umd::cli {
namespace {

// A member whose 32-byte array name holds bytes that are not UTF-8, and a control byte:
// anything can sit there on a disk.
engine::ProbedMember member_named(const std::string& raw_name) {
  Superblock1 sb = engine::testing::make_sb1(2, 4096, 5, 3, 0);
  sb.set_name_str(raw_name);
  engine::ProbedMember pm = engine::testing::probed(engine::testing::member_with_sb1("d0.img", 4096, sb));
  pm.path = "d0.img";
  return pm;
}

TEST(ExamineReportTest, NameThatIsNotUtf8IsEscapedInJson) {
  auto pm = member_named("host:md\xff\xfe\n0");
  nlohmann::json j = examine_json(pm);
  std::string dumped;
  ASSERT_NO_THROW(dumped = j.dump(2));
  EXPECT_EQ(j["name"], "host:md\\xff\\xfe\\x0a0");
  EXPECT_EQ(nlohmann::json::parse(dumped)["name"], "host:md\\xff\\xfe\\x0a0");
}

TEST(ExamineReportTest, NameThatIsNotUtf8IsEscapedInText) {
  const std::string text = examine_text(member_named("host:md\xff\n0"));
  EXPECT_NE(text.find("           Name : host:md\\xff\\x0a0\n"), std::string::npos) << text;
}

TEST(ExamineReportTest, ValidNamePrintsAsItIs) {
  auto pm = member_named("h\xc3\xb4te:md0");
  EXPECT_EQ(examine_json(pm)["name"], "h\xc3\xb4te:md0");
  EXPECT_NE(examine_text(pm).find("Name : h\xc3\xb4te:md0\n"), std::string::npos);
}

TEST(ExamineReportTest, PathThatIsNotUtf8IsEscaped) {
  auto pm = member_named("host:md0");
  pm.path = "/tmp/d\xff.img";
  EXPECT_NO_THROW((void)examine_json(pm).dump());
  EXPECT_EQ(examine_json(pm)["path"], "/tmp/d\\xff.img");
  EXPECT_EQ(examine_text(pm).rfind("/tmp/d\\xff.img:\n", 0), 0u);
}

// Members of reshapes the kernel stopped half-way (src/format/testdata/README.md): umd's
// --examine must print what mdadm 4.2 printed for them, line for line (New Offset, the
// reshape block, sizes in mdadm's rounding, a Reshape pos'n too small for one, the
// Internal Bitmap line).
class KernelReshapeExamineTest : public ::testing::TestWithParam<const char*> {};

TEST_P(KernelReshapeExamineTest, TextIsMdadms) {
  const std::string name = GetParam();
  std::vector<uint8_t> sb = umd::testing::load_fixture(name + ".sb");
  ASSERT_EQ(sb.size(), 4096u) << name;
  std::vector<uint8_t> mdadm_text = umd::testing::load_fixture(name + ".examine.txt");
  // 24 MiB members with the 1.2 superblock 8 sectors in, as in the VM.
  engine::ProbedMember pm = engine::testing::probed(engine::testing::member_with("vda", 49152, sb, 8));
  pm.path = "/dev/vda";
  EXPECT_EQ(examine_text(pm), std::string(mdadm_text.begin(), mdadm_text.end()));
  nlohmann::json j = examine_json(pm);
  ASSERT_TRUE(j.contains("reshape"));
  EXPECT_EQ(j["reshape"]["backwards"], false);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, KernelReshapeExamineTest,
                         ::testing::Values("v12r5chunk_reshape_vda", "v12r10grow_reshape_vda",
                                           "v12r5grow_bitmap_reshape_vda"));


// Members of arrays the kernel made and stopped (src/format/testdata/README.md), 1.0, 1.1
// and 1.2, with and without a bitmap, clean, dirty and rebuilt: umd's --examine prints
// what mdadm 4.2 printed for them, line for line (the Unused Space line included).
class KernelExamineTest : public ::testing::TestWithParam<const char*> {};

TEST_P(KernelExamineTest, TextIsMdadms) {
  const std::string name = GetParam();
  std::vector<uint8_t> sb = umd::testing::load_fixture(name + ".sb");
  auto decoded = decode_superblock1(sb);
  ASSERT_TRUE(decoded.is_ok()) << name;
  std::vector<uint8_t> mdadm_text = umd::testing::load_fixture(name + ".examine.txt");
  engine::ProbedMember pm =
      engine::testing::probed(engine::testing::member_with("vda", 49152, sb, decoded->super_offset));
  pm.path = "/dev/" + name.substr(name.size() - 3);
  // The VM has no host name: mdadm's homehost there is "(none)", as the arrays' names say.
  EXPECT_EQ(examine_text(pm, "(none)"), std::string(mdadm_text.begin(), mdadm_text.end()));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, KernelExamineTest,
                         ::testing::Values("v12r5_vda", "v12r5_vdb", "v12r5_vdc", "v12r1b_vda", "v12r1b_vdb",
                                           "v11r1f_vda", "v11r1f_vdb", "v11r1f_vdc", "v10r1b_vda", "v10r1b_vdb",
                                           "v10r5_vda", "v10r5_vdb", "v10r5_vdc", "v12r6_vda", "v12r6_vdb",
                                           "v12r6_vdc", "v12r6_vdd"));

// Members of 0.90 arrays the kernel made and stopped (src/format/testdata/README.md): raid1,
// raid1 with an internal bitmap, raid5 with a spare that rebuilt a failed member. umd's
// --examine prints what mdadm 4.2 printed for them, line for line: the UUID local to the
// VM's host "(none)" by its SHA-1, and the disk table with the VM's device names.
class KernelExamine090Test : public ::testing::TestWithParam<const char*> {};

TEST_P(KernelExamine090Test, TextIsMdadms) {
  const std::string name = GetParam();
  std::vector<uint8_t> sb = umd::testing::load_fixture(name + ".sb");
  ASSERT_EQ(sb.size(), kSb0Bytes) << name;
  std::vector<uint8_t> mdadm_text = umd::testing::load_fixture(name + ".examine.txt");
  engine::ProbedMember pm =
      engine::testing::probed(engine::testing::member_with("vda", 49152, sb, superblock0_offset_sectors(49152)));
  ASSERT_NE(pm.sb0(), nullptr) << name;
  pm.path = "/dev/" + name.substr(name.size() - 3);
  // The VM's virtio disks: 254:0 /dev/vda, 254:16 /dev/vdb, ...
  auto vm_names = [](uint32_t major, uint32_t minor) {
    return major == 254 && minor % 16 == 0 && minor < 16 * 26 ? fmt::format("/dev/vd{}", char('a' + minor / 16))
                                                              : std::string();
  };
  EXPECT_EQ(examine_text(pm, "(none)", vm_names), std::string(mdadm_text.begin(), mdadm_text.end()));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, KernelExamine090Test,
                         ::testing::Values("v090r1_vda", "v090r1_vdb", "v090r1b_vda", "v090r1b_vdb", "v090r5f_vda",
                                           "v090r5f_vdb", "v090r5f_vdc", "v090r5f_vdd"));

// Another host's name does not claim a 0.90 array; nor does an empty one.
TEST(ExamineReportTest, Uuid090IsLocalOnlyToTheHostWhoseHashItCarries) {
  std::vector<uint8_t> sb = umd::testing::load_fixture("v090r1_vda.sb");
  engine::ProbedMember pm =
      engine::testing::probed(engine::testing::member_with("vda", 49152, sb, superblock0_offset_sectors(49152)));
  auto none = [](uint32_t, uint32_t) { return std::string(); };
  EXPECT_NE(examine_text(pm, "(none)", none).find("53958f34 (local to host (none))\n"), std::string::npos);
  EXPECT_NE(examine_text(pm, "otherhost", none).find("53958f34\n"), std::string::npos);
  EXPECT_NE(examine_text(pm, "", none).find("53958f34\n"), std::string::npos);
}

// A 0.90 raid10 and raid6 member: mdadm's layout wording, the array size from the copies,
// the rows' state words, and a checksum that only its 16-bit fold matches.
TEST(ExamineReportTest, Member090Raid10AndStates) {
  Superblock0 sb = engine::testing::make_sb0(49152, 10, 4, 1);
  sb.layout = 0x102;  // near=2
  sb.chunk_size = 65536;
  sb.size = 24000;
  sb.spare_disks = 1;
  sb.disks[2].state = kDiskFaulty | kDiskRemoved;
  sb.disks[3].state = kDiskActive | kDiskSync | kDiskWriteMostly;
  sb.disks[4] = DiskDescriptor0{4, 8, 64, 4, 0};
  auto none = [](uint32_t, uint32_t) { return std::string(); };
  engine::ProbedMember pm = engine::testing::probed(engine::testing::member_with_sb0("d", 49152, sb));
  pm.path = "d";
  const std::string t = examine_text(pm, "", none);
  EXPECT_NE(t.find("     Array Size : 48000 (46.88 MiB 49.15 MB)\n"), std::string::npos) << t;
  EXPECT_NE(t.find("         Layout : near=2\n     Chunk Size : 64K\n"), std::string::npos) << t;
  EXPECT_NE(t.find("this     1       8       16        1      active sync\n\n"), std::string::npos) << t;
  EXPECT_NE(t.find("   2     2       8       32        2      faulty removed\n"), std::string::npos) << t;
  EXPECT_NE(t.find("   3     3       8       48        3      active sync write-mostly\n"), std::string::npos) << t;
  EXPECT_NE(t.find("   4     4       8       64        4      spare\n"), std::string::npos) << t;
  EXPECT_NE(t.find(" - correct\n"), std::string::npos) << t;
  sb.layout = 0x101;
  pm = engine::testing::probed(engine::testing::member_with_sb0("d", 49152, sb));
  EXPECT_NE(examine_text(pm, "", none).find("         Layout :NO REDUNDANCY\n"), std::string::npos);

  // The folded 16-bit sum old kernels stored: the kernel (and umd) accept it, mdadm's
  // 32-bit sum does not match it.
  auto m = engine::testing::member_with_sb0("d", 49152, sb);
  uint8_t* csum = m->raw().data() + superblock0_offset_sectors(49152) * 512 + 4 * sb0word::sb_csum;
  const uint32_t good = uint32_t(csum[0]) | uint32_t(csum[1]) << 8 | uint32_t(csum[2]) << 16 | uint32_t(csum[3]) << 24;
  uint32_t bad = (good & 0xffff) + (good >> 16);
  bad = (bad & 0xffff) + (bad >> 16);
  ASSERT_NE(bad, good);
  for (int b = 0; b < 4; b++) csum[b] = uint8_t(bad >> (8 * b));
  engine::ProbedMember folded = engine::testing::probed(std::move(m));
  const std::string ft = examine_text(folded, "", none);
  EXPECT_NE(ft.find(fmt::format("       Checksum : {:x} - expected {:x}\n", bad, good)), std::string::npos) << ft;
}

// Used Dev Size is the only size of a raid6 member with too few members for one; a raid6
// prints its layout by mdadm's names, -unknown- where mdadm has none.
TEST(ExamineReportTest, Member090Raid6LayoutNames) {
  Superblock0 sb = engine::testing::make_sb0(49152, 6, 4, 0);
  auto none = [](uint32_t, uint32_t) { return std::string(); };
  for (auto [layout, want] : std::vector<std::pair<uint32_t, std::string>>{
           {2, "left-symmetric"}, {8, "ddf-zero-restart"}, {18, "left-symmetric-6"}, {7, "-unknown-"}}) {
    sb.layout = layout;
    engine::ProbedMember pm = engine::testing::probed(engine::testing::member_with_sb0("d", 49152, sb));
    EXPECT_NE(examine_text(pm, "", none).find("         Layout : " + want + "\n"), std::string::npos) << layout;
  }
}

// The names of the disk table come from /dev as mdadm finds them: a block device's path.
TEST(ExamineReportTest, DeviceNameInDevIsABlockDeviceOfThatNumber) {
  EXPECT_EQ(device_name_in_dev(0, 0), "");
  struct stat st;
  if (::stat("/dev/loop0", &st) != 0 || !S_ISBLK(st.st_mode)) GTEST_SKIP() << "no /dev/loop0";
  const std::string name = device_name_in_dev(major(st.st_rdev), minor(st.st_rdev));
  ASSERT_FALSE(name.empty());
  struct stat got;
  ASSERT_EQ(::stat(name.c_str(), &got), 0) << name;
  EXPECT_TRUE(S_ISBLK(got.st_mode));
  EXPECT_EQ(got.st_rdev, st.st_rdev) << name;
  EXPECT_LE(name.size(), std::string("/dev/loop0").size()) << name;
}

// A 1.2 member whose internal bitmap reaches past the kernel's 72-sector reserve: mdadm
// counts the bitmap's 4 KiB pages (superblock and bits) from the device's start.
TEST(ExamineReportTest, UnusedSpaceBeforeEndsAtALargeInternalBitmap) {
  Superblock1 sb = engine::testing::make_sb1(2, 65536, 5, 3, 0);
  ASSERT_EQ(sb.super_offset, 8u);
  sb.data_offset = 2048;
  sb.data_size = 65536 - 2048;
  sb.size = sb.data_size;
  sb.feature_map |= kFeatureBitmapOffset;
  sb.bitmap_offset = 8;
  auto m = engine::testing::member_with_sb1("d0.img", 65536, sb);
  bitmap::BitmapSuper bsb;
  bsb.chunksize = 512;          // a bit a sector
  bsb.sync_size = 1u << 20;     // 2^20 bits: 128 KiB + the 256-byte superblock = 33 pages
  const auto enc = bitmap::encode_bitmap_super(bsb);
  std::memcpy(m->raw().data() + 16 * 512, enc.data(), enc.size());
  engine::ProbedMember pm = engine::testing::probed(std::move(m));
  auto u = unused_space(pm);
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->before, 2048u - (8 + 33 * 8));
  EXPECT_EQ(u->after, 0u);
  // Without the bitmap the kernel's 72 sectors past the superblock are what is used.
  sb.feature_map &= ~kFeatureBitmapOffset;
  pm = engine::testing::probed(engine::testing::member_with_sb1("d0.img", 65536, sb));
  EXPECT_EQ(unused_space(pm)->before, 2048u - 80);
}

// mdadm's print_r10_layout on a 1.x member: "near=2" after a space, "NO REDUNDANCY" without.
TEST(ExamineReportTest, Raid10LayoutOfA1xMemberIsWordedAsMdadmWordsIt) {
  Superblock1 sb = engine::testing::make_sb1(2, 4096, 10, 4, 0);
  auto text_of = [&] {
    engine::ProbedMember pm = engine::testing::probed(engine::testing::member_with_sb1("d0.img", 4096, sb));
    return examine_text(pm);
  };
  EXPECT_NE(text_of().find("         Layout : near=2\n"), std::string::npos) << text_of();
  sb.layout = 0x10201;  // offset=2
  EXPECT_NE(text_of().find("         Layout : offset=2\n"), std::string::npos) << text_of();
  sb.layout = 0x101;
  EXPECT_NE(text_of().find("         Layout :NO REDUNDANCY\n"), std::string::npos) << text_of();
}

// Found by fuzz_examine: a raid_disks of 2^31 from a corrupt superblock sized a vector of
// 16 GiB (the array size) and a string of 2 GiB (the Array State). Both print what the
// numbers allow, at once (the JSON's array_sectors, the size of an array, is 0).
TEST(ExamineReportTest, AWildRaidDisksSizesNothing) {
  Superblock1 sb = engine::testing::make_sb1(2, 4096, 5, 3, 0);
  sb.raid_disks = 0x80000000u;
  engine::ProbedMember pm = engine::testing::probed(engine::testing::member_with_sb1("d0.img", 4096, sb));
  const std::string text = examine_text(pm);
  EXPECT_LT(text.size(), 8192u);  // the Array Size line is mdadm's arithmetic, whatever it says
  EXPECT_EQ(examine_json(pm)["array_sectors"], 0);

  Superblock0 sb0 = engine::testing::make_sb0(49152, 5, 3, 0);
  sb0.raid_disks = 0x7fffffffu;
  engine::ProbedMember pm0 = engine::testing::probed(engine::testing::member_with_sb0("d", 49152, sb0));
  EXPECT_EQ(examine_json(pm0)["array_sectors"], 0);
  EXPECT_LT(examine_text(pm0, "", [](uint32_t, uint32_t) { return std::string(); }).size(), 8192u);
}

TEST(ExamineReportTest, UnusedSpaceOfADeviceTooSmallSaysSo) {
  Superblock1 sb = engine::testing::make_sb1(2, 4096, 5, 3, 0);
  engine::ProbedMember pm = engine::testing::probed(engine::testing::member_with_sb1("d0.img", 4096, sb));
  pm.path = "d0.img";
  pm.dev_sectors -= 100;  // as a member copied short reads
  const std::string text = examine_text(pm);
  EXPECT_NE(text.find("after=-100 sectors DEVICE TOO SMALL\n"), std::string::npos) << text;
  EXPECT_NE(text.find("State : clean TRUNCATED DEVICE\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace umd::cli
