#include "block/memory_target.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <vector>

#include "block/block_wait.h"

namespace umd::nbd {
namespace {

using engine::BlockOp;
using engine::BlockRequest;

Status run(MemoryTarget& t, BlockOp op, uint64_t off, uint64_t len, uint8_t* buf = nullptr,
           bool fua = false) {
  return engine::submit_and_wait(t, op, off, len, buf, fua);
}

TEST(MemoryTarget, ContractBasics) {
  MemoryTarget t(1000 * 1024 + 100);
  EXPECT_EQ(t.size_bytes(), 1000u * 1024);
  std::vector<uint8_t> w(4096, 0xab), r(4096);
  ASSERT_TRUE(run(t, BlockOp::write, 8192, 4096, w.data(), true).is_ok());
  ASSERT_TRUE(run(t, BlockOp::read, 8192, 4096, r.data()).is_ok());
  EXPECT_EQ(w, r);
  EXPECT_EQ(t.fua_requests(), 1u);
  ASSERT_TRUE(run(t, BlockOp::trim, 8192, 512).is_ok());
  ASSERT_TRUE(run(t, BlockOp::write_zeroes, 8704, 512).is_ok());
  ASSERT_TRUE(run(t, BlockOp::read, 8192, 4096, r.data()).is_ok());
  EXPECT_EQ(r[0], 0);
  EXPECT_EQ(r[1023], 0);
  EXPECT_EQ(r[1024], 0xab);
  EXPECT_TRUE(run(t, BlockOp::flush, 0, 0).is_ok());
  EXPECT_EQ(run(t, BlockOp::read, 1, 512, r.data()).code(), Err::invalid);
  EXPECT_EQ(run(t, BlockOp::read, t.size_bytes(), 512, r.data()).code(), Err::no_space);
  t.set_read_only(true);
  EXPECT_EQ(run(t, BlockOp::write, 0, 512, w.data()).code(), Err::invalid);
  EXPECT_EQ(t.submitted(BlockOp::write), 2u);
}

TEST(MemoryTarget, InjectedErrorsCountAndRange) {
  MemoryTarget t(1 << 20);
  std::vector<uint8_t> buf(4096, 1);
  t.inject_error(BlockOp::write, Err::io, 4096, 4096, 2);
  EXPECT_TRUE(run(t, BlockOp::write, 0, 4096, buf.data()).is_ok());  // outside the range
  EXPECT_EQ(run(t, BlockOp::write, 4096, 512, buf.data()).code(), Err::io);
  EXPECT_EQ(run(t, BlockOp::write, 0, 8192, buf.data()).code(), Err::io);  // overlaps
  EXPECT_TRUE(run(t, BlockOp::write, 4096, 512, buf.data()).is_ok());      // used up
  t.inject_error(BlockOp::flush, Err::retry);
  EXPECT_EQ(run(t, BlockOp::flush, 0, 0).code(), Err::retry);
  EXPECT_EQ(run(t, BlockOp::flush, 0, 0).code(), Err::retry);  // forever
  t.clear_errors();
  EXPECT_TRUE(run(t, BlockOp::flush, 0, 0).is_ok());
}

TEST(MemoryTarget, DelayedCompletionsArriveOutOfOrder) {
  MemoryTarget t(1 << 20, {.max_delay_us = 2000});
  constexpr int kN = 64;
  std::mutex mu;
  std::vector<int> order;
  std::vector<BlockRequest> reqs(kN);
  std::vector<std::vector<uint8_t>> bufs(kN, std::vector<uint8_t>(512));
  std::atomic<int> left{kN};
  std::promise<void> all;
  for (int i = 0; i < kN; i++) {
    reqs[i] = {BlockOp::read, false, uint64_t(i) * 512, 512, bufs[i].data(), [&, i](Status s) {
                 EXPECT_TRUE(s.is_ok());
                 {
                   std::lock_guard lock(mu);
                   order.push_back(i);
                 }
                 if (--left == 0) all.set_value();
               }};
    t.submit(reqs[i]);
  }
  all.get_future().wait();
  std::vector<int> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_NE(order, sorted);
}

TEST(MemoryTarget, HoldParksCompletions) {
  MemoryTarget t(1 << 20);
  t.hold(true);
  std::atomic<int> done{0};
  BlockRequest r{BlockOp::flush, false, 0, 0, nullptr, [&](Status) { done++; }};
  t.submit(r);
  EXPECT_EQ(t.held(), 1u);
  EXPECT_EQ(done.load(), 0);
  t.hold(false);
  EXPECT_EQ(done.load(), 1);
}

}  // namespace
}  // namespace umd::nbd
