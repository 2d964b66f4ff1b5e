#include "format/member_info.h"

#include <gtest/gtest.h>

#include "format/testdata_util.h"

namespace umd {
namespace {

TEST(MemberInfo, UuidFormatting) {
  std::array<uint8_t, 16> u{};
  for (int i = 0; i < 16; i++) u[size_t(i)] = uint8_t(i + 1);
  EXPECT_EQ(format_uuid_mdadm(u), "01020304:05060708:090a0b0c:0d0e0f10");
  EXPECT_EQ(format_uuid_mdadm(u, 0), "04030201:08070605:0c0b0a09:100f0e0d");
}

TEST(MemberInfo, RoleCodes) {
  EXPECT_EQ(role_from_sb1(0), 0);
  EXPECT_EQ(role_from_sb1(5), 5);
  EXPECT_EQ(role_from_sb1(kRoleSpare), MemberInfo::kSpare);
  EXPECT_EQ(role_from_sb1(kRoleFaulty), MemberInfo::kFaulty);
  EXPECT_EQ(role_from_sb1(kRoleJournal), MemberInfo::kJournal);
}

TEST(MemberInfo, FromSuperblock1CarriesFields) {
  Superblock1 sb;
  sb.set_name_str("h:x");
  sb.level = 0;
  sb.layout = 2;
  sb.feature_map = kFeatureRaid0Layout | kFeatureRecoveryOffset | kFeatureBitmapOffset;
  sb.bitmap_offset = 8;
  sb.recovery_offset = 1234;
  sb.super_offset = 8;
  sb.resync_offset = 100;
  sb.ctime = (uint64_t{5} << 40) | 1700000000;
  sb.dev_number = 1;
  sb.max_dev = 3;
  sb.dev_roles = {0, kRoleFaulty, 1};
  sb.devflags = kDevflagWriteMostly;
  MemberInfo m = from_superblock1(sb);
  EXPECT_EQ(m.metadata_major, 1);
  EXPECT_EQ(m.metadata_minor, 2);
  EXPECT_EQ(m.name, "h:x");
  EXPECT_TRUE(m.raid0_layout_flag);
  EXPECT_TRUE(m.recovery_offset_valid);
  EXPECT_EQ(m.recovery_offset, 1234u);
  EXPECT_TRUE(m.has_internal_bitmap);
  EXPECT_EQ(m.bitmap_offset, 8);
  EXPECT_FALSE(m.clean);
  EXPECT_EQ(m.resync_offset, 100u);
  EXPECT_EQ(m.role, MemberInfo::kFaulty);
  EXPECT_EQ(m.roles_of_dev_numbers, (std::vector<int>{0, MemberInfo::kFaulty, 1}));
  EXPECT_EQ(m.ctime, 1700000000u);
  EXPECT_TRUE(m.write_mostly);
  // a dev_number beyond max_dev is a spare
  sb.dev_number = 9;
  EXPECT_EQ(from_superblock1(sb).role, MemberInfo::kSpare);
}

// Which way a recorded reshape runs, as super_1_validate reads it: a shrink runs
// backwards whatever the bit says (mdadm 4.2 leaves the bit clear for one, as its
// members of a raid5 shrunk 4->3 in the oracle VM showed: feature map 0x4); with the disk
// count unchanged, the bit decides.
TEST(MemberInfo, ReshapeDirectionAsTheKernelReadsIt) {
  struct Case {
    int32_t delta;
    bool bit, backwards;
  };
  for (const Case& c : {Case{-1, false, true}, Case{-1, true, true}, Case{0, false, false}, Case{0, true, true},
                        Case{1, false, false}, Case{1, true, false}}) {
    Superblock1 sb;
    sb.level = 5;
    sb.raid_disks = 4;
    sb.feature_map = kFeatureReshapeActive | (c.bit ? kFeatureReshapeBackwards : 0);
    sb.delta_disks = uint32_t(c.delta);
    sb.new_level = 5;
    EXPECT_EQ(from_superblock1(sb).reshape_backwards, c.backwards) << "delta " << c.delta << " bit " << c.bit;
  }
  Superblock0 sb0;
  sb0.minor_version = 91;
  sb0.delta_disks = uint32_t(-1);
  EXPECT_TRUE(from_superblock0(sb0).reshape_backwards);
  sb0.delta_disks = 1;
  EXPECT_FALSE(from_superblock0(sb0).reshape_backwards);
}

// new_offset is a signed delta to data_offset, and counts only with kFeatureNewOffset.
TEST(MemberInfo, NewDataOffsetIsTheSignedDeltaWhenFlagged) {
  Superblock1 sb;
  sb.data_offset = 2048;
  sb.new_offset = uint32_t(-384);  // what mdadm 4.2 chose growing a raid5 3->4 in the oracle VM
  EXPECT_EQ(from_superblock1(sb).new_data_offset, 2048u);
  sb.feature_map = kFeatureReshapeActive | kFeatureNewOffset;
  EXPECT_EQ(from_superblock1(sb).new_data_offset, 1664u);
  sb.new_offset = 1024;
  EXPECT_EQ(from_superblock1(sb).new_data_offset, 3072u);
}

TEST(MemberInfo, Sb0DirtyUsesRecoveryCpOnlyWithMatchingEvents) {
  Superblock0 sb;
  sb.raid_disks = 2;
  sb.state = 0;
  sb.events = 10;
  sb.cp_events = 10;
  sb.recovery_cp = 777;
  EXPECT_EQ(from_superblock0(sb).resync_offset, 777u);
  sb.cp_events = 9;
  EXPECT_EQ(from_superblock0(sb).resync_offset, 0u);
  sb.state = kSb0StateClean;
  EXPECT_EQ(from_superblock0(sb).resync_offset, kMaxSector);
}

// After `mdadm --fail` of slot 1 and a rebuild onto the spare (dev 2), the survivors
// record the failed device as faulty.
TEST(MemberInfo, KernelWrittenRolesAfterFailure) {
  auto sb = decode_superblock1(testing::load_fixture("v11r1f_vda.sb"));
  ASSERT_TRUE(sb.is_ok()) << sb.status().message();
  MemberInfo m = from_superblock1(*sb);
  ASSERT_GE(m.roles_of_dev_numbers.size(), 3u);
  EXPECT_EQ(m.roles_of_dev_numbers[0], 0);
  EXPECT_EQ(m.roles_of_dev_numbers[1], MemberInfo::kFaulty);
  EXPECT_EQ(m.roles_of_dev_numbers[2], 1);
  EXPECT_EQ(m.events, 36u);

  auto sb0 = decode_superblock0(testing::load_fixture("v090r5f_vda.sb"));
  ASSERT_TRUE(sb0.is_ok()) << sb0.status().message();
  MemberInfo m0 = from_superblock0(*sb0);
  ASSERT_GE(m0.roles_of_dev_numbers.size(), 3u);
  EXPECT_EQ(m0.roles_of_dev_numbers[0], 0);
  EXPECT_EQ(m0.roles_of_dev_numbers[1], 1);
  EXPECT_EQ(m0.roles_of_dev_numbers[2], 2);
}

}  // namespace
}  // namespace umd
