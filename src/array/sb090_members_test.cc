// 0.90 arrays: a failed member replaced by a new one, as on a NAS whose system raid1 lost
// a disk. Every superblock write rebuilds the descriptor table as the kernel's
// super_90_sync does (assemble/superblock_writer.h, ArrayState::members0).
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <vector>

#include "array/array.h"
#include "assemble/engine_test_util.h"
#include "block/block_wait.h"
#include "format/superblock0.h"
#include "io/memory_member.h"
#include "util/aligned_buffer.h"

namespace umd::engine {
namespace {

using namespace std::chrono_literals;
using testing::BorrowedMember;
using testing::make_sb0;
using testing::member_with_sb0;

constexpr uint64_t kDev = 16 << 11;  // 16 MiB, in sectors

Superblock0 sb0_of(io::MemoryMember& m) {
  const uint64_t at = superblock0_offset_sectors(m.size() / 512) * 512;
  auto sb = decode_superblock0(std::span<const uint8_t>(m.raw().data() + at, kSb0Bytes));
  EXPECT_TRUE(sb.is_ok()) << sb.status().message();
  return sb.is_ok() ? *sb : Superblock0{};
}

std::string table_of(const Superblock0& sb) {
  std::string s;
  for (uint32_t i = 0; i < 4; i++) {
    const DiskDescriptor0& d = sb.disks[i];
    s += std::to_string(d.number) + ":" + std::to_string(d.raid_disk) + ":" + std::to_string(d.state) + " ";
  }
  return s + "this " + std::to_string(sb.this_disk.number) + " nr " + std::to_string(sb.nr_disks) + " active " +
         std::to_string(sb.active_disks) + " working " + std::to_string(sb.working_disks) + " failed " +
         std::to_string(sb.failed_disks) + " spare " + std::to_string(sb.spare_disks);
}

TEST(Sb090Members, AFailedMemberReplacedIsRebuiltAndNumberedAsTheKernelNumbersIt) {
  std::vector<std::unique_ptr<io::MemoryMember>> disks;
  std::vector<std::unique_ptr<io::Member>> devs;
  for (uint32_t i = 0; i < 2; i++) {
    disks.push_back(member_with_sb0("d" + std::to_string(i) + ".img", kDev, make_sb0(kDev, 1, 2, i)));
    devs.push_back(std::make_unique<BorrowedMember>(disks.back().get()));
  }
  disks.push_back(io::make_memory_member("d2.img", kDev * 512));
  auto r = Array::assemble_members("md0", std::move(devs), {});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  std::unique_ptr<Array> a = std::move(r).value();
  const uint64_t bytes = a->size_bytes();
  AlignedBuffer want(bytes);
  for (uint64_t i = 0; i < bytes; i++) want.data()[i] = uint8_t(i * 13 + (i >> 12));
  ASSERT_TRUE(submit_and_wait(*a, BlockOp::write, 0, bytes, want.data(), false).is_ok());

  ASSERT_TRUE(a->fail_member("d1.img").is_ok());
  ASSERT_TRUE(a->remove_member("d1.img").is_ok());
  ASSERT_TRUE(a->set_attr("sync_action", "frozen").is_ok());
  ASSERT_TRUE(a->add_member(std::make_unique<BorrowedMember>(disks[2].get()), "d2.img", false).is_ok());
  // Not yet rebuilt: listed as a spare from raid_disks up (number 2), slot 1 removed.
  const Superblock0 mid = sb0_of(*disks[2]);
  EXPECT_EQ(mid.this_disk.number, 2u) << table_of(mid);
  EXPECT_EQ(mid.this_disk.state, 0u) << table_of(mid);
  EXPECT_EQ(mid.disks[1].state, kDiskRemoved | kDiskFaulty) << table_of(mid);
  EXPECT_EQ(mid.disks[0].state, kDiskActive | kDiskSync) << table_of(mid);
  EXPECT_EQ(mid.failed_disks, 1u);
  EXPECT_EQ(mid.spare_disks, 1u);
  EXPECT_EQ(mid.working_disks, 2u);

  ASSERT_TRUE(a->set_attr("sync_action", "recover").is_ok());
  ASSERT_TRUE(a->sync_engine().wait_idle(30s));
  EXPECT_FALSE(a->detail().degraded);
  ASSERT_TRUE(a->stop().is_ok());
  a.reset();

  // Rebuilt: number 1 = its slot, active and in sync, on every member's table.
  for (size_t i : {size_t(0), size_t(2)}) {
    const Superblock0 sb = sb0_of(*disks[i]);
    EXPECT_EQ(sb.disks[1].number, 1u) << i << ": " << table_of(sb);
    EXPECT_EQ(sb.disks[1].raid_disk, 1u) << table_of(sb);
    EXPECT_EQ(sb.disks[1].state, kDiskActive | kDiskSync) << table_of(sb);
    EXPECT_EQ(sb.disks[2].state, 0u) << table_of(sb);
    EXPECT_EQ(sb.nr_disks, 2u) << table_of(sb);
    EXPECT_EQ(sb.active_disks, 2u) << table_of(sb);
    EXPECT_EQ(sb.working_disks, 2u) << table_of(sb);
    EXPECT_EQ(sb.failed_disks, 0u) << table_of(sb);
    EXPECT_EQ(sb.spare_disks, 0u) << table_of(sb);
    EXPECT_TRUE(sb.state & kSb0StateClean) << table_of(sb);
  }
  EXPECT_EQ(sb0_of(*disks[2]).this_disk.number, 1u);
  EXPECT_EQ(sb0_of(*disks[0]).this_disk.number, 0u);
  // The new member holds the data, and the two reassemble in sync.
  EXPECT_EQ(std::memcmp(disks[2]->raw().data(), want.data(), bytes), 0);
  std::vector<std::unique_ptr<io::Member>> again;
  again.push_back(std::make_unique<BorrowedMember>(disks[0].get()));
  again.push_back(std::make_unique<BorrowedMember>(disks[2].get()));
  auto b = Array::assemble_members("md0", std::move(again), {});
  ASSERT_TRUE(b.is_ok()) << b.status().message();
  EXPECT_FALSE((*b)->detail().degraded);
  EXPECT_TRUE((*b)->sync_engine().wait_idle(30s));
  AlignedBuffer got(bytes);
  ASSERT_TRUE(submit_and_wait(**b, BlockOp::read, 0, bytes, got.data(), false).is_ok());
  EXPECT_EQ(std::memcmp(got.data(), want.data(), bytes), 0);
}

}  // namespace
}  // namespace umd::engine
