// P and Q written by the Linux kernel's md (see testdata/README.md) must come out of
// gen_pq bit for bit, and recover() must rebuild data from the kernel's parity.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <vector>

#include "parity/parity.h"

namespace umd::parity {
namespace {

constexpr size_t kBlock = 1024, kDevs = 5;

std::vector<uint8_t> load(const char* name) {
  std::ifstream f(std::string(UMD_PARITY_TESTDATA) + "/" + name, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void check_row(const char* name, size_t pd, size_t qd, const std::vector<int>& slot_to_dev) {
  std::vector<uint8_t> img = load(name);
  ASSERT_EQ(img.size(), kBlock * kDevs) << name;
  auto dev = [&](size_t i) { return img.data() + i * kBlock; };
  std::vector<const uint8_t*> slots;
  for (int d : slot_to_dev) slots.push_back(d < 0 ? nullptr : dev(d));
  std::vector<uint8_t> p(kBlock), q(kBlock);
  gen_pq(slots, p.data(), q.data(), kBlock);
  EXPECT_EQ(p, std::vector<uint8_t>(dev(pd), dev(pd) + kBlock)) << name;
  EXPECT_EQ(q, std::vector<uint8_t>(dev(qd), dev(qd) + kBlock)) << name;
  EXPECT_TRUE(check_pq(slots, dev(pd), dev(qd), kBlock).ok());

  // Lose every pair of data blocks and rebuild them from the kernel's P and Q.
  for (size_t a = 0; a < slots.size(); ++a)
    for (size_t b = a + 1; b < slots.size(); ++b) {
      if (!slots[a] || !slots[b]) continue;
      std::vector<std::vector<uint8_t>> own;
      std::vector<uint8_t*> ms;
      for (const uint8_t* s : slots) {
        own.emplace_back(s ? std::vector<uint8_t>(s, s + kBlock) : std::vector<uint8_t>());
        ms.push_back(s ? own.back().data() : nullptr);
      }
      std::fill(own[a].begin(), own[a].end(), 0);
      std::fill(own[b].begin(), own[b].end(), 0);
      std::vector<uint8_t> pp(dev(pd), dev(pd) + kBlock), qq(dev(qd), dev(qd) + kBlock);
      ASSERT_TRUE(recover(ms, pp.data(), qq.data(), kBlock, std::vector<int>{int(a), int(b)}).is_ok());
      EXPECT_EQ(own[a], std::vector<uint8_t>(slots[a], slots[a] + kBlock)) << name << " slot " << a;
      EXPECT_EQ(own[b], std::vector<uint8_t>(slots[b], slots[b] + kBlock)) << name << " slot " << b;
    }
}

TEST(KernelBytes, LeftSymmetricRotatesSlots) {
  // Row 3 of 5 devices: P on member 5-1-3 = 1, Q on 2, data slots from member 3 on.
  check_row("raid6_left_symmetric_5dev_row3.bin", 1, 2, {3, 4, 0});
}

TEST(KernelBytes, DdfSlotsCountEveryDevice) {
  // ddf-zero-restart row 4: P on member 4, Q wraps to member 0; slot = member index.
  check_row("raid6_ddf_zero_restart_5dev_row4.bin", 4, 0, {-1, 1, 2, 3, -1});
}

TEST(KernelBytes, DdfIsNotCompactSlots) {
  // The same row read as if data filled slots 0..2 must not match: the empty slots count.
  std::vector<uint8_t> img = load("raid6_ddf_zero_restart_5dev_row4.bin");
  ASSERT_EQ(img.size(), kBlock * kDevs);
  std::vector<const uint8_t*> compact = {img.data() + 1 * kBlock, img.data() + 2 * kBlock, img.data() + 3 * kBlock};
  std::vector<uint8_t> p(kBlock), q(kBlock);
  gen_pq(compact, p.data(), q.data(), kBlock);
  EXPECT_NE(q, std::vector<uint8_t>(img.data(), img.data() + kBlock));
}

}  // namespace
}  // namespace umd::parity
