#include "io/memory_member.h"

#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace umd::io {
namespace {

TEST(MemoryMember, ContractBasics) {
  MemoryMember m("mem0", 1000, 512);
  EXPECT_EQ(m.size(), 512u);  // rounded down to whole blocks
  EXPECT_EQ(m.block_size(), 512u);
  EXPECT_EQ(m.name(), "mem0");
  std::vector<uint8_t> w(512, 7), r(512);
  ASSERT_TRUE(m.write(0, w).is_ok());
  ASSERT_TRUE(m.read(0, r).is_ok());
  EXPECT_EQ(w, r);
  EXPECT_EQ(m.read(512, r).code(), Err::no_space);
  EXPECT_EQ(m.read(1, r).code(), Err::invalid);
  EXPECT_EQ(m.read(0, std::span<uint8_t>(r).subspan(0, 10)).code(), Err::invalid);
  ASSERT_TRUE(m.discard(0, 512).is_ok());
  ASSERT_TRUE(m.read(0, r).is_ok());
  EXPECT_EQ(r, std::vector<uint8_t>(512, 0));
  EXPECT_TRUE(m.flush().is_ok());
  m.set_read_only(true);
  EXPECT_EQ(m.write(0, w).code(), Err::invalid);
  EXPECT_EQ(m.discard(0, 512).code(), Err::invalid);
  EXPECT_TRUE(m.read(0, r).is_ok());

  auto m4 = make_memory_member("mem1", 1 << 20, 4096);
  EXPECT_EQ(m4->block_size(), 4096u);
  EXPECT_EQ(m4->write(512, w).code(), Err::invalid);
}

TEST(MemoryMember, ConcurrentReadersAndWriters) {
  MemoryMember m("mem0", 1 << 20, 4096);
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&, t] {
      std::vector<uint8_t> w(4096, static_cast<uint8_t>(t)), r(4096);
      for (int i = 0; i < 500; ++i) {
        EXPECT_TRUE(m.write((i % 64) * 4096, w).is_ok());
        EXPECT_TRUE(m.read((i % 64) * 4096, r).is_ok());
        // Each write is atomic: a block is uniformly one writer's byte.
        for (auto b : r) ASSERT_EQ(b, r[0]);
      }
    });
  }
  for (auto& th : ts) th.join();
}

}  // namespace
}  // namespace umd::io
