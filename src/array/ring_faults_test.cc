// The running array over io_uring members with faults injected on the ring's completion
// thread (run under TSan by scripts/test.sh): a member failing under concurrent writes,
// the flush fan-out meeting failing flushes, and the sync thread beside the ring.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "array/array.h"
#include "array/array_test_fixture.h"
#include "util/aligned_buffer.h"

namespace umd::engine {
namespace {

using namespace std::chrono_literals;

class RingFaultsTest : public testing::ArrayFixture {
 protected:
  void TearDown() override {
    a_.reset();  // before the fixture's ring
    ArrayFixture::TearDown();
  }
  std::string attr(const std::string& name) { return attr_of(*a_, name); }
  // Two threads write 64 KiB blocks of their own half of the array, `rounds` each;
  // `mid` runs once between, from the test's thread. Returns what each block holds.
  std::vector<uint8_t> write_from_two_threads(int rounds, const std::function<void()>& mid) {
    const uint64_t size = a_->size_bytes(), block = 64 << 10, blocks = size / block;
    std::vector<uint8_t> truth(blocks, 0);
    std::atomic<int> errors{0}, written{0};
    auto writer = [&](int t) {
      AlignedBuffer buf(block);
      for (int i = 0; i < rounds; i++) {
        const uint64_t b = uint64_t(t) * (blocks / 2) + uint64_t(i * 7 + t) % (blocks / 2);
        const uint8_t v = uint8_t(1 + (i * 2 + t) % 250);
        std::memset(buf.data(), v, block);
        if (!io(*a_, BlockOp::write, b * block, block, buf.data()).is_ok()) errors++;
        truth[b] = v;
        written++;
      }
    };
    std::thread t0(writer, 0), t1(writer, 1);
    while (written.load() < rounds / 2) std::this_thread::yield();
    mid();
    t0.join();
    t1.join();
    EXPECT_EQ(errors.load(), 0);
    return truth;
  }
  void expect_holds(const std::vector<uint8_t>& truth) {
    const uint64_t block = 64 << 10;
    AlignedBuffer buf(block);
    for (uint64_t b = 0; b < truth.size(); b++) {
      if (truth[b] == 0) continue;
      ASSERT_TRUE(io(*a_, BlockOp::read, b * block, block, buf.data()).is_ok());
      ASSERT_EQ(buf.data()[0], truth[b]) << "block " << b;
      ASSERT_EQ(buf.data()[block - 1], truth[b]) << "block " << b;
    }
  }
  std::unique_ptr<Array> a_;
  std::vector<io::FaultyMember*> fms_;
};

TEST_F(RingFaultsTest, AMemberFailingOnTheCompletionThreadUnderWrites) {
  auto paths = make_array("5", 4, 16);
  a_ = assemble_on_ring(paths, &fms_);
  ASSERT_TRUE(a_);
  auto truth = write_from_two_threads(200, [&] { fms_[2]->fail_writes(0, ~0ull); });
  EXPECT_EQ(attr("dev-d2.img/state"), "faulty");
  EXPECT_EQ(attr("degraded"), "1");
  expect_holds(truth);  // degraded: d2's blocks come from parity
  ASSERT_TRUE(a_->stop().is_ok());
  a_.reset();
  EXPECT_EQ(info_of(paths[0]).roles_of_dev_numbers.at(info_of(paths[2]).dev_number), MemberInfo::kFaulty);
}

TEST_F(RingFaultsTest, FlushFanOutWithFailingFlushes) {
  auto paths = make_array("1", 3, 8);
  a_ = assemble_on_ring(paths, &fms_);
  ASSERT_TRUE(a_);
  AlignedBuffer buf(64 << 10);
  std::memset(buf.data(), 0x33, buf.size());
  ASSERT_TRUE(io(*a_, BlockOp::write, 0, buf.size(), buf.data()).is_ok());
  fms_[1]->fail_flushes();
  // One member fails its flush: the others hold the write durably, so the flush is ok.
  EXPECT_TRUE(io(*a_, BlockOp::flush, 0, 0, nullptr).is_ok());
  EXPECT_EQ(attr("dev-d1.img/state"), "faulty");
  // Retry-class flush errors are not member failures: the client is asked to retry.
  fms_[0]->fail_flushes(EAGAIN, 1);
  EXPECT_EQ(io(*a_, BlockOp::flush, 0, 0, nullptr).code(), Err::retry);
  EXPECT_EQ(attr("dev-d0.img/state"), "in_sync");
  // Every member left fails its flush: the write is durable nowhere, the flush fails.
  ASSERT_TRUE(io(*a_, BlockOp::write, 0, buf.size(), buf.data()).is_ok());
  fms_[0]->fail_flushes();
  fms_[2]->fail_flushes();
  EXPECT_FALSE(io(*a_, BlockOp::flush, 0, 0, nullptr).is_ok());
}

TEST_F(RingFaultsTest, CheckRunsBesideClientWritesOnTheRing) {
  auto paths = make_array("6", 5, 16);
  a_ = assemble_on_ring(paths, &fms_);
  ASSERT_TRUE(a_);
  auto truth = write_from_two_threads(150, [&] { ASSERT_TRUE(a_->set_attr("sync_action", "check").is_ok()); });
  ASSERT_TRUE(a_->sync_engine().wait_idle(60s));
  EXPECT_EQ(attr("mismatch_cnt"), "0");
  EXPECT_EQ(attr("last_sync_action"), "check");
  expect_holds(truth);
}

}  // namespace
}  // namespace umd::engine
