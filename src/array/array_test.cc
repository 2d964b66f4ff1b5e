// The running array: writes and flushes through the BlockTarget interface, md's
// superblock bookkeeping (active on first write, clean after a quiet delay and at stop,
// events, failed members), the flush protocol of array.h, and power cuts.
#include "array/array.h"

#include "array/array_test_fixture.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <future>
#include <random>

#include "array/array_reader.h"
#include "assemble/create.h"
#include "format/superblock1.h"
#include "io/fault_member.h"
#include "util/aligned_buffer.h"

namespace umd::engine {
namespace {

using ArrayTest = testing::ArrayFixture;
namespace fs = std::filesystem;

TEST_F(ArrayTest, WritesReachMembersAndStopLeavesCleanSuperblocks) {
  auto paths = make_array("5", 4);
  const uint64_t ev0 = info_of(paths[0]).events;
  {
    auto a = Array::assemble("t", paths, AssembleOptions{});
    ASSERT_TRUE(a.is_ok()) << a.status().message();
    EXPECT_EQ((*a)->size_bytes(), info_of(paths[0]).component_sectors * 3 * 512);
    AlignedBuffer buf(256 * 1024);
    auto data = pattern(buf.size(), 1);
    std::memcpy(buf.data(), data.data(), data.size());
    ASSERT_TRUE(io(**a, BlockOp::write, 1 << 20, buf.size(), buf.data()).is_ok());
    // Active while writes may be in flight: the superblocks no longer say clean.
    EXPECT_FALSE(info_of(paths[0]).clean);
    ASSERT_TRUE(io(**a, BlockOp::flush, 0, 0, nullptr).is_ok());
    AlignedBuffer back(buf.size());
    ASSERT_TRUE(io(**a, BlockOp::read, 1 << 20, back.size(), back.data()).is_ok());
    EXPECT_EQ(0, std::memcmp(back.data(), data.data(), data.size()));
    ASSERT_TRUE((*a)->stop().is_ok());
    EXPECT_EQ((*a)->detail().state, "inactive");
  }
  for (auto& p : paths) {
    MemberInfo mi = info_of(p);
    EXPECT_TRUE(mi.clean) << p;
    EXPECT_EQ(mi.events, ev0 + 2) << p;  // active, then clean
  }
  EXPECT_EQ(dump(paths, 1 << 20, 256 * 1024), pattern(256 * 1024, 1));
}

TEST_F(ArrayTest, CleanAgainAfterQuietDelay) {
  auto paths = make_array("1", 2);
  std::vector<io::FaultyMember*> fm;
  auto a = assemble_faulty(paths, &fm);
  ASSERT_TRUE(a);
  a->set_safe_mode_delay(std::chrono::milliseconds(50));
  AlignedBuffer buf(4096);
  ASSERT_TRUE(io(*a, BlockOp::write, 0, 4096, buf.data()).is_ok());
  EXPECT_EQ(a->detail().state, "active");
  for (int i = 0; i < 100 && a->detail().state != "clean"; i++) usleep(20000);
  EXPECT_EQ(a->detail().state, "clean");
  EXPECT_TRUE(info_of(paths[1]).clean);
}

TEST_F(ArrayTest, FlushedWritesSurvivePowerCut) {
  auto paths = make_array("5", 3);
  const auto a_data = pattern(128 * 1024, 2), b_data = pattern(128 * 1024, 3);
  {
    std::vector<io::FaultyMember*> fm;
    auto a = assemble_faulty(paths, &fm);
    ASSERT_TRUE(a);
    AlignedBuffer buf(a_data.size());
    std::memcpy(buf.data(), a_data.data(), a_data.size());
    ASSERT_TRUE(io(*a, BlockOp::write, 0, buf.size(), buf.data()).is_ok());
    ASSERT_TRUE(io(*a, BlockOp::flush, 0, 0, nullptr).is_ok());
    std::memcpy(buf.data(), b_data.data(), b_data.size());
    ASSERT_TRUE(io(*a, BlockOp::write, 1 << 20, buf.size(), buf.data()).is_ok());
    for (auto* m : fm) m->power_cut();
    for (auto* m : fm) m->vanish();  // the machine is gone: stop() writes nothing more
  }
  // Reassembled: everything acknowledged before the flush is there.
  EXPECT_EQ(dump(paths, 0, a_data.size()), a_data);
}

// A write parked until the array turns active, and stop() at once: stop() waits for the
// parked writes as they are released. Comparing the reason of a parked write that need
// not wait any more (nullptr) with "not active" once called strlen(nullptr) there: a
// crash found by the power-cut torture (tests/torture).
TEST_F(ArrayTest, StopWhileParkedWritesAreReleased) {
  auto paths = make_array("1", 2);
  for (int i = 0; i < 100; i++) {
    std::vector<io::FaultyMember*> fm;
    auto a = assemble_faulty(paths, &fm);
    ASSERT_TRUE(a);
    AlignedBuffer buf(4096);
    std::promise<Status> done;
    BlockRequest req;
    req.op = BlockOp::write;
    req.length = buf.size();
    req.buf = buf.data();
    req.done = [&](Status s) { done.set_value(s); };
    a->submit(req);
    (void)a->stop();
    ASSERT_EQ(done.get_future().wait_for(std::chrono::seconds(60)), std::future_status::ready);
  }
}

TEST_F(ArrayTest, FuaWriteIsDurableWithoutFlush) {
  auto paths = make_array("1", 2);
  const auto data = pattern(64 * 1024, 4);
  {
    std::vector<io::FaultyMember*> fm;
    auto a = assemble_faulty(paths, &fm);
    ASSERT_TRUE(a);
    AlignedBuffer buf(data.size());
    std::memcpy(buf.data(), data.data(), data.size());
    ASSERT_TRUE(io(*a, BlockOp::write, 4096, buf.size(), buf.data(), /*fua=*/true).is_ok());
    for (auto* m : fm) m->power_cut();
    for (auto* m : fm) m->vanish();
  }
  EXPECT_EQ(dump(paths, 4096, data.size()), data);
}

TEST_F(ArrayTest, WriteErrorFailsTheMemberAndRecordsIt) {
  auto paths = make_array("5", 4);
  const auto data = pattern(512 * 1024, 5);
  {
    std::vector<io::FaultyMember*> fm;
    auto a = assemble_faulty(paths, &fm);
    ASSERT_TRUE(a);
    fm[2]->fail_writes(0, UINT64_MAX);
    AlignedBuffer buf(data.size());
    std::memcpy(buf.data(), data.data(), data.size());
    // No client error while redundancy lasts.
    ASSERT_TRUE(io(*a, BlockOp::write, 0, buf.size(), buf.data()).is_ok());
    ASSERT_TRUE(io(*a, BlockOp::flush, 0, 0, nullptr).is_ok());
    ArrayDetail d = a->detail();
    EXPECT_TRUE(d.degraded);
    EXPECT_EQ(d.failed, 1u);
    EXPECT_EQ(d.members[2].state, "faulty");
    AlignedBuffer back(data.size());
    ASSERT_TRUE(io(*a, BlockOp::read, 0, back.size(), back.data()).is_ok());
    EXPECT_EQ(0, std::memcmp(back.data(), data.data(), data.size()));
    ASSERT_TRUE(a->stop().is_ok());
  }
  // The others' superblocks mark it faulty; it is stale; the data reads without it.
  MemberInfo good = info_of(paths[0]);
  MemberInfo bad = info_of(paths[2]);
  EXPECT_EQ(good.roles_of_dev_numbers[bad.dev_number], MemberInfo::kFaulty);
  EXPECT_LT(bad.events, good.events);
  EXPECT_EQ(dump({paths[0], paths[1], paths[3]}, 0, data.size()), data);
}

TEST_F(ArrayTest, FlushErrorPrecedence) {
  auto paths = make_array("1", 3);
  std::vector<io::FaultyMember*> fm;
  auto a = assemble_faulty(paths, &fm);
  ASSERT_TRUE(a);
  // "not supported" wins over "retry"...
  fm[1]->fail_flushes(EOPNOTSUPP, 1);
  fm[2]->fail_flushes(EAGAIN, 1);
  EXPECT_EQ(io(*a, BlockOp::flush, 0, 0, nullptr).code(), Err::unsupported);
  // ...retry asks the client to send it again...
  fm[0]->fail_flushes(EAGAIN, 1);
  EXPECT_EQ(io(*a, BlockOp::flush, 0, 0, nullptr).code(), Err::retry);
  EXPECT_EQ(a->detail().failed, 0u);  // neither fails a member
  // ...and an I/O error fails that member; the flush holds through the others.
  fm[2]->fail_flushes(EIO, 1);
  EXPECT_TRUE(io(*a, BlockOp::flush, 0, 0, nullptr).is_ok());
  EXPECT_EQ(a->detail().failed, 1u);
  EXPECT_EQ(a->detail().members[2].state, "faulty");
  // With every copy's flush failing, the writes are not durable anywhere: an error, and
  // the last member standing is not failed (md never fails the last copy): broken.
  fm[0]->fail_flushes(EIO, 1);
  fm[1]->fail_flushes(EIO, 1);
  EXPECT_EQ(io(*a, BlockOp::flush, 0, 0, nullptr).code(), Err::io);
  ArrayDetail d = a->detail();
  EXPECT_EQ(d.state, "broken");
  EXPECT_EQ(d.failed, 2u);
}

TEST_F(ArrayTest, StopDrainsAndRefusesNewRequests) {
  auto paths = make_array("0", 2);
  auto a = Array::assemble("t", paths, AssembleOptions{});
  ASSERT_TRUE(a.is_ok()) << a.status().message();
  std::vector<AlignedBuffer> bufs;
  std::vector<BlockRequest> reqs(64);
  std::atomic<int> done{0};
  for (int i = 0; i < 64; i++) bufs.emplace_back(64 * 1024);
  for (int i = 0; i < 64; i++) {
    reqs[i].op = BlockOp::write;
    reqs[i].offset = uint64_t(i) * 64 * 1024;
    reqs[i].length = 64 * 1024;
    reqs[i].buf = bufs[i].data();
    reqs[i].done = [&done](Status s) {
      EXPECT_TRUE(s.is_ok()) << s.message();
      done++;
    };
    (*a)->submit(reqs[i]);
  }
  ASSERT_TRUE((*a)->stop().is_ok());
  EXPECT_EQ(done.load(), 64);
  AlignedBuffer b(4096);
  EXPECT_EQ(io(**a, BlockOp::read, 0, 4096, b.data()).code(), Err::busy);
  EXPECT_TRUE(info_of(paths[0]).clean);
}

TEST_F(ArrayTest, DegradedStartNeedsRun) {
  auto paths = make_array("5", 3);
  auto a = Array::assemble("t", {paths[0], paths[1]}, AssembleOptions{});
  ASSERT_FALSE(a.is_ok());
  EXPECT_NE(a.status().message().find("--run"), std::string::npos);
  AssembleOptions run;
  run.run = true;
  auto b = Array::assemble("t", {paths[0], paths[1]}, run);
  ASSERT_TRUE(b.is_ok()) << b.status().message();
  EXPECT_FALSE((*b)->warnings().empty());
}

TEST_F(ArrayTest, ReadOnlyRefusesWritesAndChangesNothing) {
  auto paths = make_array("10", 4);
  const uint64_t ev = info_of(paths[0]).events;
  AssembleOptions ro;
  ro.read_only = true;
  {
    auto a = Array::assemble("t", paths, ro);
    ASSERT_TRUE(a.is_ok()) << a.status().message();
    AlignedBuffer b(4096);
    EXPECT_EQ(io(**a, BlockOp::write, 0, 4096, b.data()).code(), Err::invalid);
    EXPECT_TRUE(io(**a, BlockOp::read, 0, 4096, b.data()).is_ok());
  }
  EXPECT_EQ(info_of(paths[0]).events, ev);
}

}  // namespace
}  // namespace umd::engine
