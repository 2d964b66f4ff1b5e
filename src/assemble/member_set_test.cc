#include <gtest/gtest.h>

#include "assemble/engine_test_util.h"
#include "assemble/member_set.h"
#include "layout/layout_names.h"

namespace umd::engine {
namespace {

using testing::make_sb0;
using testing::make_sb1;
using testing::member_with_sb0;
using testing::member_with_sb1;
using testing::probed;

constexpr uint64_t kDev = 2048;

bool contains(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }

std::string name_of(uint32_t i) { return "d" + std::to_string(i) + ".img"; }

// Superblocks of an n-member array, all at `events`; tweak before turning them into members.
std::vector<Superblock1> array_sbs(int level, uint32_t n, uint64_t events = 10) {
  std::vector<Superblock1> v;
  for (uint32_t i = 0; i < n; i++) v.push_back(make_sb1(2, kDev, level, n, i, events));
  return v;
}

std::vector<ProbedMember> members_of(const std::vector<Superblock1>& sbs) {
  std::vector<ProbedMember> out;
  for (size_t i = 0; i < sbs.size(); i++) out.push_back(probed(member_with_sb1(name_of(uint32_t(i)), kDev, sbs[i])));
  return out;
}

TEST(MemberSetTest, GathersACompleteArray) {
  auto sbs = array_sbs(5, 4);
  // Given out of order: slots come from the superblocks, not the order.
  std::vector<ProbedMember> ms;
  for (uint32_t i : {2u, 0u, 3u, 1u}) ms.push_back(probed(member_with_sb1(name_of(i), kDev, sbs[i])));
  auto r = gather_members(std::move(ms), {});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->slot_member, (std::vector<int>{1, 3, 0, 2}));
  EXPECT_TRUE(r->missing_slots().empty());
  EXPECT_TRUE(r->warnings.empty());
  EXPECT_EQ(r->members[0].path, "d2.img");
  EXPECT_EQ(r->geometry.level(), 5);
  EXPECT_EQ(r->geometry.raid_disks(), 4u);
  EXPECT_EQ(r->geometry.array_sectors(), 3 * sbs[0].size);
}

TEST(MemberSetTest, NoMembersIsInvalid) {
  auto r = gather_members({}, {});
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Err::invalid);
}

TEST(MemberSetTest, DifferentArrayUuidNamesTheMember) {
  auto sbs = array_sbs(1, 3);
  sbs[2].set_uuid = testing::uuid_of(9);
  auto r = gather_members(members_of(sbs), {});
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Err::invalid);
  EXPECT_TRUE(contains(r.status().message(), "d2.img belongs to array")) << r.status().message();
  EXPECT_TRUE(contains(r.status().message(), "d0.img")) << r.status().message();
}

TEST(MemberSetTest, StaleMemberIsRefusedUnlessForced) {
  auto sbs = array_sbs(5, 4, 15);
  sbs[1].events = 10;
  auto r = gather_members(members_of(sbs), {});
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Err::invalid);
  EXPECT_TRUE(contains(r.status().message(), "d1.img is stale")) << r.status().message();
  EXPECT_TRUE(contains(r.status().message(), "events 10")) << r.status().message();

  GatherOptions force;
  force.force = true;
  auto f = gather_members(members_of(sbs), force);
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  EXPECT_EQ(f->slot_member, (std::vector<int>{0, -1, 2, 3}));
  EXPECT_EQ(f->missing_slots(), (std::vector<uint32_t>{1}));
  ASSERT_EQ(f->warnings.size(), 1u);
  EXPECT_TRUE(contains(f->warnings[0], "d1.img is stale")) << f->warnings[0];
  EXPECT_TRUE(contains(f->warnings[0], "left out")) << f->warnings[0];
  EXPECT_EQ(f->ref.events, 15u);
}

TEST(MemberSetTest, FreshestEventsPickTheReference) {
  // The freshest member is not the first one given (two events ahead: the other is stale).
  auto sbs = array_sbs(1, 2, 5);
  sbs[1].events = 7;
  sbs[1].utime = 1234;
  GatherOptions force;
  force.force = true;
  auto r = gather_members(members_of(sbs), force);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->ref.events, 7u);
  EXPECT_EQ(r->ref.utime, 1234u);
  EXPECT_EQ(r->slot_member, (std::vector<int>{-1, 1}));
}

TEST(MemberSetTest, MemberOneEventBehindIsCurrent) {
  // A power cut between two members' superblock writes of one update (raid6, seen after a
  // crash under writes): one member at 26, the four others still at 25. md takes them all.
  auto sbs = array_sbs(6, 5, 25);
  sbs[3].events = 26;
  auto r = gather_members(members_of(sbs), {});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->slot_member, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_TRUE(r->missing_slots().empty());
  EXPECT_TRUE(r->warnings.empty());
  EXPECT_EQ(r->ref.events, 26u);
}

TEST(MemberSetTest, MemberThatMissedTheFinishOfAReshapeTakesTheNewShape) {
  // A 3->4 grow that moved the data down by 32 sectors, cut off inside md_finish_reshape's
  // superblock writes: members 0 and 1 finished (events 20), 2 and 3 still show the reshape
  // near its end (events 19). Read as they are, 2 and 3 would be read at the old offset.
  auto sbs = array_sbs(5, 4, 20);
  for (Superblock1& sb : sbs) {
    sb.data_offset = 32;
    sb.data_size = kDev - 32;
    sb.size = sb.data_size / 8 * 8;
    sb.chunksize = 16;
  }
  for (uint32_t i : {2u, 3u}) {
    Superblock1& sb = sbs[i];
    sb.events = 19;
    sb.feature_map |= kFeatureReshapeActive | kFeatureNewOffset;
    sb.data_offset = 64;
    sb.data_size = kDev - 64;
    sb.new_offset = uint32_t(-32);
    sb.reshape_position = 4000;
    sb.delta_disks = 1;
    sb.new_level = 5;
    sb.new_layout = sb.layout;
    sb.new_chunk = 16;
    sb.chunksize = 8;  // the old chunk
  }
  auto r = gather_members(members_of(sbs), {});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_FALSE(r->reshape.has_value());
  EXPECT_EQ(r->slot_member, (std::vector<int>{0, 1, 2, 3}));
  for (uint32_t i = 0; i < 4; i++) {
    const Superblock1& sb = *r->members[i].sb1();
    EXPECT_EQ(sb.feature_map & (kFeatureReshapeActive | kFeatureNewOffset), 0u) << i;
    EXPECT_EQ(sb.data_offset, 32u) << i;
    EXPECT_EQ(sb.data_size, kDev - 32) << i;
    EXPECT_EQ(sb.chunksize, 16u) << i;
    EXPECT_EQ(r->members[i].info.data_offset, 32u) << i;
    EXPECT_EQ(r->members[i].info.events, i < 2 ? 20u : 19u) << i;  // its own: the next write catches it up
  }
  ASSERT_EQ(r->warnings.size(), 2u);
  EXPECT_TRUE(contains(r->warnings[0], "d2.img: one event behind d0.img")) << r->warnings[0];
  EXPECT_TRUE(contains(r->warnings[0], "data offset 32 sectors")) << r->warnings[0];
}

TEST(MemberSetTest, MemberTwoEventsBehindIsStale) {
  // The margin is one event: two behind is stale, as with mdadm and the kernel.
  auto sbs = array_sbs(6, 5, 26);
  sbs[1].events = 24;
  sbs[2].events = 25;
  auto r = gather_members(members_of(sbs), {});
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(contains(r.status().message(), "d1.img is stale: events 24")) << r.status().message();
  GatherOptions force;
  force.force = true;
  auto f = gather_members(members_of(sbs), force);
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  EXPECT_EQ(f->slot_member, (std::vector<int>{0, -1, 2, 3, 4}));
}

TEST(MemberSetTest, TwoMembersClaimingOneSlot) {
  // A member image copied block for block: same device number, same slot.
  auto sbs = array_sbs(5, 3);
  std::vector<ProbedMember> ms;
  ms.push_back(probed(member_with_sb1("d0.img", kDev, sbs[0])));
  ms.push_back(probed(member_with_sb1("d1.img", kDev, sbs[1])));
  ms.push_back(probed(member_with_sb1("copy-of-d1.img", kDev, sbs[1])));
  auto r = gather_members(std::move(ms), {});
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Err::invalid);
  EXPECT_TRUE(contains(r.status().message(), "d1.img and copy-of-d1.img both claim slot 1")) << r.status().message();
}

// A 0.90 --replace of slot 2 cut off inside the superblock writes that finished it: the
// old member (one event behind, which assembly accepts) still says slot 2, and so does the
// new one, which took its number. The newer events win, in either order, as in mdadm.
TEST(MemberSetTest, A090ReplacedMemberOneEventBehindGivesWayToTheNewer) {
  for (bool old_first : {true, false}) {
    SCOPED_TRACE(old_first ? "old member first" : "new member first");
    std::vector<ProbedMember> ms;
    for (uint32_t i = 0; i < 2; i++) ms.push_back(probed(member_with_sb0(name_of(i), kDev, make_sb0(kDev, 5, 3, i, 20))));
    auto old_member = probed(member_with_sb0("old.img", kDev, make_sb0(kDev, 5, 3, 2, 19)));
    auto new_member = probed(member_with_sb0("new.img", kDev, make_sb0(kDev, 5, 3, 2, 20)));
    if (old_first) {
      ms.push_back(std::move(old_member));
      ms.push_back(std::move(new_member));
    } else {
      ms.push_back(std::move(new_member));
      ms.push_back(std::move(old_member));
    }
    auto r = gather_members(std::move(ms), {});
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    ASSERT_GE(r->slot_member[2], 0);
    EXPECT_EQ(r->members[size_t(r->slot_member[2])].path, "new.img");
    ASSERT_EQ(r->warnings.size(), 1u);
    EXPECT_TRUE(contains(r->warnings[0], "old.img: new.img holds slot 2 with newer events (20 > 19); left out"))
        << r->warnings[0];
  }
}

TEST(MemberSetTest, MemberTheFreshestMarksFaultyIsLeftOut) {
  // d2 failed: the others carried on (events 20) and mark its device number faulty; its
  // own superblock still says slot 2 at the same events.
  auto sbs = array_sbs(5, 4, 20);
  for (uint32_t i : {0u, 1u, 3u}) sbs[i].dev_roles[2] = kRoleFaulty;
  auto r = gather_members(members_of(sbs), {});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->slot_member, (std::vector<int>{0, 1, -1, 3}));
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_TRUE(contains(r->warnings[0], "d2.img")) << r->warnings[0];
}

TEST(MemberSetTest, FailedMemberWithOlderEventsIsLeftOutWithoutForce) {
  // The usual shape of a failed member: its superblock stopped at events 10 while the
  // others went on to 20 and marked it faulty. It is not counted, so it is not "stale".
  auto sbs = array_sbs(5, 4, 20);
  sbs[2].events = 10;
  for (uint32_t i : {0u, 1u, 3u}) sbs[i].dev_roles[2] = kRoleFaulty;
  auto r = gather_members(members_of(sbs), {});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->slot_member, (std::vector<int>{0, 1, -1, 3}));
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_TRUE(contains(r->warnings[0], "d2.img")) << r->warnings[0];
}

TEST(MemberSetTest, OwnFaultyRoleIsLeftOut) {
  auto sbs = array_sbs(1, 2);
  for (auto& sb : sbs) sb.dev_roles[1] = kRoleFaulty;
  auto r = gather_members(members_of(sbs), {});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->slot_member, (std::vector<int>{0, -1}));
}

TEST(MemberSetTest, TooManyMissing) {
  auto sbs = array_sbs(5, 4);
  std::vector<ProbedMember> ms;
  ms.push_back(probed(member_with_sb1("d0.img", kDev, sbs[0])));
  ms.push_back(probed(member_with_sb1("d2.img", kDev, sbs[2])));
  auto r = gather_members(std::move(ms), {});
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Err::invalid);
  EXPECT_TRUE(contains(r.status().message(), "2 of 4")) << r.status().message();
  EXPECT_TRUE(contains(r.status().message(), "slots 1, 3")) << r.status().message();
  EXPECT_TRUE(contains(r.status().message(), "raid5")) << r.status().message();

  // Without the completeness requirement the set is returned, missing slots and all.
  std::vector<ProbedMember> again;
  again.push_back(probed(member_with_sb1("d0.img", kDev, sbs[0])));
  again.push_back(probed(member_with_sb1("d2.img", kDev, sbs[2])));
  GatherOptions lax;
  lax.require_complete_data = false;
  auto l = gather_members(std::move(again), lax);
  ASSERT_TRUE(l.is_ok()) << l.status().message();
  EXPECT_EQ(l->missing_slots(), (std::vector<uint32_t>{1, 3}));
}

// Superblocks of an array whose reshape from `from` to `to` disks stopped at `position`.
std::vector<Superblock1> reshaping_sbs(uint32_t from, uint32_t to, uint64_t position) {
  auto sbs = array_sbs(5, std::max(from, to));
  for (auto& sb : sbs) {
    sb.raid_disks = to;
    sb.delta_disks = uint32_t(int32_t(to) - int32_t(from));
    sb.feature_map |= kFeatureReshapeActive;
    sb.reshape_position = position;
    sb.new_level = 5;
    sb.new_layout = sb.layout;
    sb.new_chunk = sb.chunksize;
  }
  return sbs;
}

TEST(MemberSetTest, ARecordedGrowGivesBothGeometries) {
  auto r = gather_members(members_of(reshaping_sbs(3, 4, 64)), {});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  ASSERT_TRUE(r->reshape.has_value());
  EXPECT_EQ(r->geometry.raid_disks(), 4u);
  EXPECT_EQ(r->reshape->previous.raid_disks(), 3u);
  EXPECT_EQ(r->reshape->position, 64u);
  EXPECT_FALSE(r->reshape->backwards);
  EXPECT_EQ(r->slot_member.size(), 4u);
  // The disk the grow adds is only in the new geometry: without it both still read.
  auto sbs = reshaping_sbs(3, 4, 64);
  std::vector<Superblock1> three(sbs.begin(), sbs.begin() + 3);
  EXPECT_TRUE(gather_members(members_of(three), {}).is_ok());
  // Without it and slot 0, the new geometry has two holes: refused, saying which geometry.
  std::vector<ProbedMember> ms;
  ms.push_back(probed(member_with_sb1("d1.img", kDev, sbs[1])));
  ms.push_back(probed(member_with_sb1("d2.img", kDev, sbs[2])));
  auto bad = gather_members(std::move(ms), {});
  ASSERT_FALSE(bad.is_ok());
  EXPECT_TRUE(contains(bad.status().message(), "2 of 4 members missing (slots 0, 3)")) << bad.status().message();
}

TEST(MemberSetTest, ARecordedShrinkKeepsTheSlotItTakesAway) {
  auto r = gather_members(members_of(reshaping_sbs(4, 3, 3 * 8)), {});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->geometry.raid_disks(), 3u);
  EXPECT_EQ(r->reshape->previous.raid_disks(), 4u);
  EXPECT_TRUE(r->reshape->backwards);
  EXPECT_EQ(r->slot_member.size(), 4u);
  EXPECT_GE(r->slot_member[3], 0);
  // Missing the slot that leaves: the previous geometry is degraded, the new one whole.
  auto sbs = reshaping_sbs(4, 3, 3 * 8);
  std::vector<Superblock1> three(sbs.begin(), sbs.begin() + 3);
  auto d = gather_members(members_of(three), {});
  ASSERT_TRUE(d.is_ok()) << d.status().message();
  EXPECT_EQ(d->slot_member[3], -1);
}

// In place (no new offset) and cut off mid-section: what was being moved may be whole only
// in mdadm's backup file. Said once, naming the position; a clean stop says nothing.
TEST(MemberSetTest, AnInPlaceReshapeCutOffWarnsOfTheBackupFile) {
  auto sbs = reshaping_sbs(3, 4, 64);
  auto clean = gather_members(members_of(sbs), {});
  ASSERT_TRUE(clean.is_ok()) << clean.status().message();
  EXPECT_TRUE(clean->warnings.empty());
  for (auto& sb : sbs) sb.resync_offset = 0;  // active: not stopped cleanly
  auto cut = gather_members(members_of(sbs), {});
  ASSERT_TRUE(cut.is_ok()) << cut.status().message();
  ASSERT_EQ(cut->warnings.size(), 1u);
  EXPECT_TRUE(contains(cut->warnings[0], "at array sector 64 may be whole only in mdadm's backup file"))
      << cut->warnings[0];
  // Moving the data (a new offset) needs no backup: no warning.
  for (auto& sb : sbs) {
    sb.feature_map |= kFeatureNewOffset;
    sb.new_offset = uint32_t(-32);
  }
  auto moved = gather_members(members_of(sbs), {});
  ASSERT_TRUE(moved.is_ok()) << moved.status().message();
  EXPECT_TRUE(moved->warnings.empty());
}

TEST(MemberSetTest, AReshapePositionPastTheEndIsCorrupt) {
  auto sbs = reshaping_sbs(3, 4, 0);
  const uint64_t end = 3 * sbs[0].size;  // the new geometry's size: 3 data disks
  for (auto& sb : sbs) sb.reshape_position = end + 8;
  auto r = gather_members(members_of(sbs), {});
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Err::corrupt);
  EXPECT_TRUE(contains(r.status().message(), "reshape position")) << r.status().message();
  for (auto& sb : sbs) sb.reshape_position = end;
  EXPECT_TRUE(gather_members(members_of(sbs), {}).is_ok());
}

TEST(MemberSetTest, ANewDataOffsetOutsideTheMemberIsCorrupt) {
  auto sbs = reshaping_sbs(3, 4, 64);
  for (auto& sb : sbs) {
    sb.feature_map |= kFeatureNewOffset;
    sb.new_offset = uint32_t(-int32_t(sb.data_offset) - 8);  // before the start of the device
  }
  auto r = gather_members(members_of(sbs), {});
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Err::corrupt);
  EXPECT_TRUE(contains(r.status().message(), "d0.img: the reshape's new data offset")) << r.status().message();
  for (auto& sb : sbs) sb.new_offset = 8;  // past the end: the data would not fit
  r = gather_members(members_of(sbs), {});
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(contains(r.status().message(), "leaves no room")) << r.status().message();
  for (auto& sb : sbs) sb.new_offset = uint32_t(-32);  // down, inside the room before the data
  EXPECT_TRUE(gather_members(members_of(sbs), {}).is_ok());
}

// A wild raid_disks or delta_disks is a corrupt superblock, named as one, before anything
// is sized by it (2^31 slots would be 8 GiB of table).
TEST(MemberSetTest, ImpossibleDiskCountsAreCorrupt) {
  auto sbs = array_sbs(5, 3);
  for (auto& sb : sbs) sb.raid_disks = 0x80000000u;
  auto r = gather_members(members_of(sbs), {});
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Err::corrupt);
  EXPECT_TRUE(contains(r.status().message(), "raid_disks 2147483648 is outside 1..1920")) << r.status().message();
  auto rs = reshaping_sbs(3, 4, 64);
  for (auto& sb : rs) sb.delta_disks = 0x80000000u;  // INT32_MIN
  r = gather_members(members_of(rs), {});
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Err::corrupt);
  EXPECT_TRUE(contains(r.status().message(), "leaves no possible previous geometry")) << r.status().message();
  for (auto& sb : rs) sb.delta_disks = 4;  // from 0 disks
  EXPECT_EQ(gather_members(members_of(rs), {}).status().code(), Err::corrupt);
}

TEST(MemberSetTest, Raid0CannotMissAnything) {
  auto sbs = array_sbs(0, 3);
  std::vector<ProbedMember> ms;
  ms.push_back(probed(member_with_sb1("d0.img", kDev, sbs[0])));
  ms.push_back(probed(member_with_sb1("d1.img", kDev, sbs[1])));
  auto r = gather_members(std::move(ms), {});
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(contains(r.status().message(), "1 of 3")) << r.status().message();
  EXPECT_TRUE(contains(r.status().message(), "slot 2")) << r.status().message();
}

TEST(MemberSetTest, SpareIsIgnored) {
  auto sbs = array_sbs(5, 3);
  Superblock1 spare = make_sb1(2, kDev, 5, 3, 3);
  for (auto* sb : {&sbs[0], &sbs[1], &sbs[2], &spare}) sb->dev_roles[3] = kRoleSpare;
  auto ms = members_of(sbs);
  ms.insert(ms.begin(), probed(member_with_sb1("spare.img", kDev, spare)));
  auto r = gather_members(std::move(ms), {});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->members.size(), 4u);
  EXPECT_EQ(r->slot_member, (std::vector<int>{1, 2, 3}));
  EXPECT_TRUE(r->warnings.empty());
}

TEST(MemberSetTest, RoleBeyondRaidDisksIsCorrupt) {
  auto sbs = array_sbs(1, 2);
  for (auto& sb : sbs) sb.dev_roles[1] = 7;
  auto r = gather_members(members_of(sbs), {});
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Err::corrupt);
  EXPECT_TRUE(contains(r.status().message(), "d1.img")) << r.status().message();
}

TEST(MemberSetTest, MemberStillRecoveringIsNotRead) {
  auto sbs = array_sbs(1, 2);
  sbs[1].feature_map |= kFeatureRecoveryOffset;
  sbs[1].recovery_offset = 16;
  auto r = gather_members(members_of(sbs), {});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->slot_member, (std::vector<int>{0, -1}));
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_TRUE(contains(r->warnings[0], "recovery")) << r->warnings[0];
}

TEST(MemberSetTest, GathersA090Array) {
  std::vector<ProbedMember> ms;
  for (uint32_t i = 0; i < 3; i++) ms.push_back(probed(member_with_sb0(name_of(i), kDev, make_sb0(kDev, 5, 3, i))));
  auto r = gather_members(std::move(ms), {});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->slot_member, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(r->geometry.array_sectors(), 2 * r->ref.component_sectors / 8 * 8);
}

// 0.90: a chunk change 4K -> 8K cut off inside md_finish_reshape's superblock writes.
// Members 0 and 1 wrote the finished shape (minor 90, events 20); member 2 still records
// the reshape (minor 91, events 19) and takes the new shape before it is read or written.
TEST(MemberSetTest, A090MemberThatMissedTheFinishOfAReshapeTakesTheNewShape) {
  std::vector<ProbedMember> ms;
  for (uint32_t i = 0; i < 3; i++) {
    Superblock0 sb = make_sb0(kDev, 5, 3, i, 20);
    sb.chunk_size = 8192;
    if (i == 2) {
      sb.events = 19;
      sb.cp_events = 19;
      sb.minor_version = 91;
      sb.chunk_size = 4096;
      sb.reshape_position = 512;
      sb.new_level = 5;
      sb.new_layout = sb.layout;
      sb.new_chunk = 8192;
    }
    ms.push_back(probed(member_with_sb0(name_of(i), kDev, sb)));
  }
  auto r = gather_members(std::move(ms), {});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_FALSE(r->reshape.has_value());
  EXPECT_EQ(r->slot_member, (std::vector<int>{0, 1, 2}));
  const Superblock0& sb = *r->members[2].sb0();
  EXPECT_EQ(sb.minor_version, 90u);
  EXPECT_EQ(sb.chunk_size, 8192u);
  EXPECT_EQ(sb.reshape_position, 0u);
  EXPECT_EQ(sb.new_chunk, 0u);
  EXPECT_FALSE(r->members[2].info.reshape_active);
  EXPECT_EQ(r->members[2].info.chunk_sectors, 16u);
  EXPECT_EQ(r->members[2].info.role, 2);  // its own table entry
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_TRUE(contains(r->warnings[0], "d2.img: one event behind d0.img")) << r->warnings[0];
}

TEST(MemberSetTest, GeometryParamsPerMemberForRaid0) {
  MemberInfo ref;
  ref.level = 0;
  ref.layout = 2;
  ref.chunk_sectors = 8;
  ref.raid_disks = 3;
  ref.data_size = 100;
  MemberInfo a = ref, b = ref;
  a.data_size = 64;
  b.data_size = 200;
  auto p = geometry_params(ref, {&a, nullptr, &b});
  EXPECT_EQ(p.member_sectors, (std::vector<uint64_t>{64, 100, 200}));
  ref.level = 5;
  ref.component_sectors = 96;
  auto q = geometry_params(ref, {&a, nullptr, &b});
  EXPECT_EQ(q.member_sectors, (std::vector<uint64_t>{96}));
}

TEST(MemberSetTest, LevelNames) {
  EXPECT_EQ(layout::level_name(-1), "linear");
  EXPECT_EQ(layout::level_name(0), "raid0");
  EXPECT_EQ(layout::level_name(6), "raid6");
  EXPECT_EQ(layout::level_name(10), "raid10");
}

}  // namespace
}  // namespace umd::engine
