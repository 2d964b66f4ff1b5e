#include "cli/examine_report.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "assemble/engine_test_util.h"
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

}  // namespace
}  // namespace umd::cli
