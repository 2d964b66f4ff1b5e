#include "cli/examine_report.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

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
