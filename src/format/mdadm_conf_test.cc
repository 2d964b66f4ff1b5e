#include "format/mdadm_conf.h"

#include <gtest/gtest.h>

#include "format/testdata_util.h"

namespace umd {
namespace {

MemberInfo nas_data() {
  MemberInfo m;
  m.metadata_major = 1;
  m.metadata_minor = 2;
  m.name = "vm:nas:data";
  m.level = 5;
  m.raid_disks = 3;
  const uint8_t u[16] = {0x09, 0x98, 0xc0, 0xa7, 0x36, 0xd3, 0xb6, 0xaa, 0x0a, 0xc5, 0xc8, 0x3c, 0xc6, 0x0d, 0x91, 0x56};
  std::copy(u, u + 16, m.array_uuid.begin());
  return m;
}

// The expected lines are what mdadm 4.2 (Debian 4.2-5) printed for a member with this
// superblock: `mdadm -Eb w2.img`, `mdadm -Ebvv w2.img w3.img w4.img`.
TEST(MdadmConf, ExamineLineOf1xAsMdadm) {
  EXPECT_EQ(examine_array_line(nas_data(), false),
            "ARRAY /dev/md/nas:data  metadata=1.2 UUID=0998c0a7:36d3b6aa:0ac5c83c:c60d9156 name=vm:nas:data\n");
  EXPECT_EQ(examine_array_line(nas_data(), true, {"w2.img", "w3.img", "w4.img"}),
            "ARRAY /dev/md/nas:data  level=raid5 metadata=1.2 num-devices=3 UUID=0998c0a7:36d3b6aa:0ac5c83c:c60d9156 "
            "name=vm:nas:data\n   devices=w2.img,w3.img,w4.img\n");
  MemberInfo noname = nas_data();
  noname.name.clear();
  EXPECT_EQ(examine_array_line(noname, false), "ARRAY  metadata=1.2 UUID=0998c0a7:36d3b6aa:0ac5c83c:c60d9156\n");
  MemberInfo spaced = nas_data();
  spaced.name = "nas:my data/x";
  EXPECT_EQ(examine_array_line(spaced, false),
            "ARRAY /dev/md/my_data-x  metadata=1.2 UUID=0998c0a7:36d3b6aa:0ac5c83c:c60d9156 name=\"nas:my data/x\"\n");
}

TEST(MdadmConf, ExamineLineOf090AsMdadm) {
  auto sb = decode_superblock0(testing::load_fixture("v090r1_vda.sb"));
  ASSERT_TRUE(sb.is_ok()) << sb.status().message();
  const MemberInfo m = from_superblock0(*sb);
  // v090r1_vda.examine.txt: UUID d8e59d8b:811223c2:3d186b3c:53958f34, Preferred Minor 0, raid1, 2 devices
  EXPECT_EQ(examine_array_line(m, false), "ARRAY /dev/md0 UUID=d8e59d8b:811223c2:3d186b3c:53958f34\n");
  EXPECT_EQ(examine_array_line(m, true, {"/dev/vda"}),
            "ARRAY /dev/md0 level=raid1 num-devices=2 UUID=d8e59d8b:811223c2:3d186b3c:53958f34\n   devices=/dev/vda\n");
  EXPECT_EQ(mdadm_array_name(m, "x"), "md0");
  EXPECT_EQ(detail_array_line(m, "md0"), "ARRAY /dev/md0 metadata=0.90 UUID=d8e59d8b:811223c2:3d186b3c:53958f34\n");
}

TEST(MdadmConf, DetailLineAndNames) {
  EXPECT_EQ(detail_array_line(nas_data(), "nas:data"),
            "ARRAY /dev/md/nas:data metadata=1.2 name=vm:nas:data UUID=0998c0a7:36d3b6aa:0ac5c83c:c60d9156\n");
  EXPECT_EQ(mdadm_array_name(nas_data(), "md127"), "nas:data");
  MemberInfo noname = nas_data();
  noname.name.clear();
  EXPECT_EQ(mdadm_array_name(noname, "md127"), "md127");
  EXPECT_EQ(array_name_of_devname("/dev/md/data"), "data");
  EXPECT_EQ(array_name_of_devname("/dev/md3"), "md3");
  EXPECT_EQ(array_name_of_devname("/dev/sda"), "");
  EXPECT_EQ(devname_of_array_name("md3"), "/dev/md3");
  EXPECT_EQ(devname_of_array_name("data"), "/dev/md/data");
}

TEST(MdadmConf, Quote) {
  EXPECT_EQ(conf_quote("plain"), "plain");
  EXPECT_EQ(conf_quote("a b"), "\"a b\"");
  EXPECT_EQ(conf_quote("say \"hi\""), "'say \"hi\"'");
  EXPECT_EQ(conf_quote("it's"), "\"it's\"");
}

TEST(MdadmConf, ParsesDeviceAndArrayLines) {
  const char* text =
      "# umd.conf\n"
      "DEVICE /images/*.img partitions\n"
      "dev /more/disk0.img   # abbreviated keyword\n"
      "MAILADDR root\n"
      "ARRAY /dev/md/data metadata=1.2 UUID=0998c0a7:36d3b6aa:0ac5c83c:c60d9156\n"
      "   name=vm:nas:data devices=/a.img:p5,/b.img:p5\n"
      "\n"
      "ARRAY /dev/md0 super-minor=0 num-devices=2 level=raid1\n"
      "array <ignore> uuid=D8E59D8B-811223C2-3D186B3C-53958F34 name='my name'\n";
  auto c = parse_mdadm_conf(text, "umd.conf");
  ASSERT_TRUE(c.is_ok()) << c.status().message();
  EXPECT_EQ(c->devices, (std::vector<std::string>{"/images/*.img", "partitions", "/more/disk0.img"}));
  ASSERT_EQ(c->arrays.size(), 3u);
  EXPECT_EQ(c->arrays[0].line, 5);
  EXPECT_EQ(c->arrays[0].devname, "/dev/md/data");
  EXPECT_EQ(*c->arrays[0].uuid, "0998c0a736d3b6aa0ac5c83cc60d9156");
  EXPECT_EQ(*c->arrays[0].name, "vm:nas:data");
  EXPECT_EQ(*c->arrays[0].metadata, "1.2");
  EXPECT_EQ(c->arrays[0].devices, (std::vector<std::string>{"/a.img:p5", "/b.img:p5"}));
  EXPECT_EQ(*c->arrays[1].super_minor, 0);
  EXPECT_EQ(*c->arrays[1].num_devices, 2);
  EXPECT_EQ(*c->arrays[2].uuid, "d8e59d8b811223c23d186b3c53958f34");
  EXPECT_EQ(*c->arrays[2].name, "my name");
}

TEST(MdadmConf, ReadsWhatItWrites) {
  const std::string line = examine_array_line(nas_data(), true, {"/x/w2.img", "/x/w3.img:p1"});
  auto c = parse_mdadm_conf(line, "scan");
  ASSERT_TRUE(c.is_ok()) << c.status().message();
  ASSERT_EQ(c->arrays.size(), 1u);
  EXPECT_EQ(c->arrays[0].devname, "/dev/md/nas:data");
  EXPECT_EQ(*c->arrays[0].uuid, "0998c0a736d3b6aa0ac5c83cc60d9156");
  EXPECT_EQ(*c->arrays[0].level, "raid5");
  EXPECT_EQ(c->arrays[0].devices, (std::vector<std::string>{"/x/w2.img", "/x/w3.img:p1"}));
}

void expect_refused(const std::string& text, const std::string& want) {
  auto c = parse_mdadm_conf(text, "umd.conf");
  ASSERT_FALSE(c.is_ok()) << text;
  EXPECT_EQ(c.status().code(), Err::invalid);
  EXPECT_NE(c.status().message().find(want), std::string::npos) << c.status().message();
  EXPECT_EQ(c.status().message().find('\n'), std::string::npos);
}

TEST(MdadmConf, RefusesWhatMdadmWouldNotFollow) {
  expect_refused("DEVICE /a\nFROBNICATE yes\n", "umd.conf:2: unknown keyword \"FROBNICATE\"");
  expect_refused("ARRAY /dev/md0 uuid=1234\n", "umd.conf:1: uuid=: \"1234\" is not a uuid (4 hex digits, want 32)");
  expect_refused("ARRAY /dev/md0 uuid=0998c0a7:36d3b6aa:0ac5c83c:c60d915g\n", "bad character 'g'");
  expect_refused("ARRAY /dev/md0 super-minor=x\n", "super-minor=: \"x\" is not a number");
  expect_refused("ARRAY /dev/md0 level=raid1\n", "umd.conf:1: ARRAY line /dev/md0 has no identity");
  expect_refused("ARRAY /dev/md0 name=a colour=blue\n", "unrecognised word \"colour=blue\"");
  expect_refused("ARRAY /dev/md0 name=a name=b\n", "name= given twice");
  expect_refused("ARRAY md0 name=a\n", "ARRAY device \"md0\" must be /dev/mdN");
  expect_refused("  name=a\n", "umd.conf:1: a continuation line");
  expect_refused("ARRAY /dev/md0 name=\"a\n", "unterminated \" quote");
}

}  // namespace
}  // namespace umd
