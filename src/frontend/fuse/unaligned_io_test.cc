#include "frontend/fuse/unaligned_io.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "block/memory_target.h"

namespace umd::fusefs {
namespace {

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = uint8_t(rng());
  return v;
}

// Every unaligned write lands exactly where asked, on a 512- and a 4096-byte target,
// checked against a model of the whole disk.
TEST(UnalignedIo, WritesAndReadsAtAnyOffsetMatchAModel) {
  for (uint32_t bs : {512u, 4096u}) {
    nbd::MemoryTargetOptions o;
    o.block_size = bs;
    nbd::MemoryTarget t(64 * 1024, o);
    std::vector<uint8_t> model(t.size_bytes(), 0);
    std::mt19937 rng(bs);
    for (int i = 0; i < 200; i++) {
      const uint64_t off = rng() % model.size();
      const size_t len = 1 + rng() % 9000;
      auto data = random_bytes(len, uint32_t(i));
      auto n = write_at(t, off, data);
      ASSERT_TRUE(n.is_ok()) << n.status().message();
      const size_t fit = std::min<uint64_t>(len, model.size() - off);
      ASSERT_EQ(*n, fit);
      std::copy_n(data.begin(), fit, model.begin() + off);
    }
    std::vector<uint8_t> all(model.size());
    auto n = read_at(t, 0, all);
    ASSERT_TRUE(n.is_ok());
    EXPECT_EQ(*n, model.size());
    EXPECT_TRUE(all == model);
    for (int i = 0; i < 100; i++) {
      const uint64_t off = rng() % model.size();
      std::vector<uint8_t> got(1 + rng() % 5000);
      auto r = read_at(t, off, got);
      ASSERT_TRUE(r.is_ok());
      ASSERT_EQ(*r, std::min<uint64_t>(got.size(), model.size() - off));
      EXPECT_TRUE(std::equal(got.begin(), got.begin() + *r, model.begin() + off));
    }
  }
}

TEST(UnalignedIo, EndOfTarget) {
  nbd::MemoryTarget t(8192);
  std::vector<uint8_t> buf(100, 7);
  auto r = read_at(t, 8192, buf);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(*r, 0u);
  auto w = write_at(t, 8192, buf);
  EXPECT_EQ(w.status().code(), Err::no_space);
  w = write_at(t, 8150, buf);
  ASSERT_TRUE(w.is_ok());
  EXPECT_EQ(*w, 42u);
}

TEST(UnalignedIo, ErrorsPropagate) {
  nbd::MemoryTarget t(8192);
  t.inject_error(engine::BlockOp::read, Err::io);
  std::vector<uint8_t> buf(10);
  EXPECT_EQ(read_at(t, 3, buf).status().code(), Err::io);
  EXPECT_EQ(write_at(t, 3, buf).status().code(), Err::io);  // the read of read-modify-write
  t.clear_errors();
  EXPECT_TRUE(write_at(t, 3, buf).is_ok());
}

}  // namespace
}  // namespace umd::fusefs
