#include <fmt/format.h>
#include <gtest/gtest.h>

#include "assemble/engine_test_util.h"
#include "assemble/superblock_probe.h"
#include "util/endian.h"

namespace umd::engine {
namespace {

using testing::make_sb0;
using testing::make_sb1;
using testing::member_with;
using testing::member_with_sb0;
using testing::member_with_sb1;

constexpr uint64_t kDev = 2048;  // 1 MiB members

bool contains(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }

class Probe1xTest : public ::testing::TestWithParam<int> {};

TEST_P(Probe1xTest, FindsSuperblockWhereTheVersionPutsIt) {
  const int minor = GetParam();
  Superblock1 sb = make_sb1(minor, kDev, 5, 4, 2, 77);
  const uint64_t expect_at = minor == 0 ? (kDev - 16) / 8 * 8 : (minor == 1 ? 0 : 8);
  ASSERT_EQ(sb.super_offset, expect_at);
  auto r = probe_member(member_with_sb1("d2.img", kDev, sb));
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->version(), fmt::format("1.{}", minor));
  ASSERT_NE(r->sb1(), nullptr);
  EXPECT_EQ(r->sb0(), nullptr);
  EXPECT_EQ(*r->sb1(), [&] {
    Superblock1 want = sb;
    want.sb_csum = r->sb1()->sb_csum;
    return want;
  }());
  EXPECT_EQ(r->path, "d2.img");
  EXPECT_EQ(r->dev_sectors, kDev);
  ASSERT_NE(r->dev, nullptr);
  EXPECT_EQ(r->dev->name(), "d2.img");
  EXPECT_EQ(r->info.role, 2);
  EXPECT_EQ(r->info.events, 77u);
  EXPECT_EQ(r->info.level, 5);
  EXPECT_EQ(r->info.raid_disks, 4u);
  EXPECT_EQ(r->info.data_offset, sb.data_offset);
  EXPECT_EQ(r->info.super_offset, sb.super_offset);
  EXPECT_EQ(r->info.array_uuid, sb.set_uuid);
}

TEST_P(Probe1xTest, BadChecksumIsCorruptAndSaysSo) {
  const int minor = GetParam();
  Superblock1 sb = make_sb1(minor, kDev, 1, 2, 0);
  auto img = encode_superblock1(sb);
  img[sb1off::events] ^= 0x01;  // events changed after the checksum was computed
  auto r = probe_member(member_with("d0.img", kDev, img, sb.super_offset));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Err::corrupt);
  EXPECT_TRUE(contains(r.status().message(), "checksum")) << r.status().message();
  EXPECT_TRUE(contains(r.status().message(), "d0.img")) << r.status().message();
}

TEST_P(Probe1xTest, UnknownFeatureBitsAreUnsupported) {
  const int minor = GetParam();
  Superblock1 sb = make_sb1(minor, kDev, 1, 2, 0);
  sb.feature_map = 1u << 20;
  auto r = probe_member(member_with_sb1("d0.img", kDev, sb));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Err::unsupported) << r.status().message();
}

INSTANTIATE_TEST_SUITE_P(Minors, Probe1xTest, ::testing::Values(0, 1, 2),
                         [](const auto& info) { return "v1_" + std::to_string(info.param); });

TEST(ProbeTest, Finds090AtTheEnd) {
  // A size that is not a multiple of 64 KiB: the superblock sits in the last whole 64 KiB.
  const uint64_t dev = kDev + 100;
  Superblock0 sb = make_sb0(dev, 5, 3, 1, 42);
  auto m = member_with_sb0("old.img", dev, sb);
  ASSERT_EQ(superblock0_offset_sectors(dev), kDev - 128);
  auto r = probe_member(std::move(m));
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->version(), "0.90");
  ASSERT_NE(r->sb0(), nullptr);
  EXPECT_EQ(r->sb1(), nullptr);
  EXPECT_EQ(r->info.metadata_major, 0);
  EXPECT_EQ(r->info.role, 1);
  EXPECT_EQ(r->info.events, 42u);
  EXPECT_EQ(r->info.data_offset, 0u);
  EXPECT_EQ(r->info.super_offset, kDev - 128);
}

TEST(ProbeTest, BadChecksum090IsCorrupt) {
  Superblock0 sb = make_sb0(kDev, 1, 2, 0);
  auto img = encode_superblock0(sb);
  img[4 * sb0word::events_lo] ^= 0x40;
  auto r = probe_member(member_with("d0.img", kDev, img, superblock0_offset_sectors(kDev)));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Err::corrupt);
  EXPECT_TRUE(contains(r.status().message(), "checksum")) << r.status().message();
}

TEST(ProbeTest, ByteSwapped090IsUnsupported) {
  // A 0.90 superblock written by a big-endian host: every word byte-swapped.
  Superblock0 sb = make_sb0(kDev, 1, 2, 0);
  auto img = encode_superblock0(sb);
  for (size_t i = 0; i < img.size(); i += 4) {
    std::swap(img[i], img[i + 3]);
    std::swap(img[i + 1], img[i + 2]);
  }
  auto r = probe_member(member_with("be.img", kDev, img, superblock0_offset_sectors(kDev)));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Err::unsupported) << r.status().message();
  EXPECT_TRUE(contains(r.status().message(), "be.img")) << r.status().message();
}

TEST(ProbeTest, NoMagicIsNotFound) {
  auto m = io::make_memory_member("blank.img", kDev * 512);
  // Something that is not md at every candidate location.
  std::memset(m->raw().data(), 0x5a, m->raw().size());
  auto r = probe_member(std::move(m));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Err::not_found);
  EXPECT_TRUE(contains(r.status().message(), "blank.img"));
  auto z = probe_member(io::make_memory_member("zero.img", kDev * 512));
  ASSERT_FALSE(z.is_ok());
  EXPECT_EQ(z.status().code(), Err::not_found);
}

TEST(ProbeTest, SuperOffsetDisagreeingWithLocationIsCorrupt) {
  // A 1.2 superblock (super_offset 8) found at sector 0, the 1.1 location.
  Superblock1 sb = make_sb1(2, kDev, 1, 2, 0);
  auto r = probe_member(member_with("moved.img", kDev, encode_superblock1(sb), 0));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Err::corrupt);
  EXPECT_TRUE(contains(r.status().message(), "says it lives at sector 8")) << r.status().message();

  // A 1.0 superblock of a larger disk, cut short: it says it lives further on.
  Superblock1 big = make_sb1(0, 2 * kDev, 1, 2, 0);
  auto r2 = probe_member(member_with("cut.img", kDev, encode_superblock1(big), superblock1_offset_sectors(0, kDev)));
  ASSERT_FALSE(r2.is_ok());
  EXPECT_EQ(r2.status().code(), Err::corrupt);
  EXPECT_TRUE(contains(r2.status().message(), "says it lives")) << r2.status().message();
}

TEST(ProbeTest, DataAreaBeyondTheDeviceIsCorrupt) {
  // The image of a member cut from a larger one: the superblock promises more data.
  Superblock1 sb = make_sb1(2, 4 * kDev, 5, 3, 0);
  auto r = probe_member(member_with_sb1("short.img", kDev, sb));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Err::corrupt);
  EXPECT_TRUE(contains(r.status().message(), "data area")) << r.status().message();
}

TEST(ProbeTest, DataSizeOver10SuperblockIsCorrupt) {
  // 1.0: the data must end before the superblock (the kernel checks data_size <= sb_start).
  Superblock1 sb = make_sb1(0, kDev, 0, 2, 0);
  sb.data_size = sb.super_offset + 8;
  auto r = probe_member(member_with_sb1("d0.img", kDev, sb));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Err::corrupt) << r.status().message();
}

TEST(ProbeTest, TooSmallDeviceIsReportedAsSuch) {
  auto r = probe_member(io::make_memory_member("tiny.img", 4096));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Err::corrupt);
  EXPECT_TRUE(contains(r.status().message(), "too small")) << r.status().message();
  auto e = probe_member(io::make_memory_member("empty.img", 0));
  ASSERT_FALSE(e.is_ok());
  EXPECT_EQ(e.status().code(), Err::corrupt);
}

TEST(ProbeTest, SuperblockCutByTheEndOfTheDeviceIsTruncated) {
  // 1.2 at sector 8 with max_dev 384 needs 1024 bytes; the device ends 512 bytes in.
  Superblock1 sb = make_sb1(2, kDev, 1, 2, 0);
  sb.max_dev = 384;
  sb.dev_roles.resize(384, kRoleSpare);
  auto img = encode_superblock1(sb);
  ASSERT_EQ(img.size(), 1024u);
  auto m = io::make_memory_member("cut.img", 9 * 512);
  std::memcpy(m->raw().data() + 8 * 512, img.data(), 512);
  auto r = probe_member(std::move(m));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Err::corrupt);
  EXPECT_TRUE(contains(r.status().message(), "truncated")) << r.status().message();
}

TEST(ProbeTest, ValidSuperblockWinsOverACorruptOne) {
  // A 1.2 location with a broken superblock, a valid 1.0 one at the end: the valid one counts.
  Superblock1 good = make_sb1(0, kDev, 1, 2, 1, 9);
  auto m = member_with_sb1("d1.img", kDev, good);
  auto bad = encode_superblock1(make_sb1(2, kDev, 1, 2, 1, 9));
  bad[sb1off::events] ^= 0xff;
  std::memcpy(m->raw().data() + 8 * 512, bad.data(), bad.size());
  auto r = probe_member(std::move(m));
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->version(), "1.0");
}

TEST(ProbeTest, OpenAndProbeNamesTheMissingPath) {
  auto r = open_and_probe("/nonexistent/umd-engine-test.img", false);
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(contains(r.status().message(), "/nonexistent/umd-engine-test.img")) << r.status().message();
}

}  // namespace
}  // namespace umd::engine
