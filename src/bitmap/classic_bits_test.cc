#include "bitmap/classic_bits.h"

#include <gtest/gtest.h>

#include <vector>

namespace umd::bitmap {
namespace {

TEST(ClassicBits, ChunkCountRoundsUp) {
  EXPECT_EQ(classic_chunk_count(63488, 65536), 496u);  // 31 MiB, 64 KiB
  EXPECT_EQ(classic_chunk_count(65408, 65536), 511u);  // 31.94 MiB: the last chunk is partial
  EXPECT_EQ(classic_chunk_count(65408, 131072), 256u);
  EXPECT_EQ(classic_chunk_count(1, 64 << 20), 1u);
  EXPECT_EQ(classic_chunk_count(0, 65536), 0u);
  EXPECT_EQ(classic_chunk_count(100, 0), 0u);
}

TEST(ClassicBits, BytesOnDisk) {
  EXPECT_EQ(classic_bitmap_bytes(496), 256u + 62u);  // the 318-byte bitmap file mdadm made
  EXPECT_EQ(classic_bitmap_bytes(511), 256u + 64u);
  EXPECT_EQ(classic_bitmap_bytes(0), 256u);
  EXPECT_EQ(classic_node_stride_bytes(496), 4096u);
  EXPECT_EQ(classic_node_stride_bytes((4096 - 256) * 8), 4096u);
  EXPECT_EQ(classic_node_stride_bytes((4096 - 256) * 8 + 1), 8192u);
}

TEST(ClassicBits, LittleEndianBitOrder) {
  std::vector<uint8_t> bits(4, 0);
  EXPECT_TRUE(set_chunk(bits, 0, true));
  EXPECT_TRUE(set_chunk(bits, 9, true));
  EXPECT_TRUE(set_chunk(bits, 31, true));
  EXPECT_EQ(bits, (std::vector<uint8_t>{0x01, 0x02, 0x00, 0x80}));
  EXPECT_TRUE(test_chunk(bits, 9));
  EXPECT_FALSE(test_chunk(bits, 8));
  EXPECT_TRUE(set_chunk(bits, 9, false));
  EXPECT_EQ(bits[1], 0);
  EXPECT_FALSE(set_chunk(bits, 32, true));  // beyond the area
  EXPECT_FALSE(test_chunk(bits, 1000));
}

TEST(ClassicBits, ChunkOfSector) {
  EXPECT_EQ(classic_chunk_of_sector(0, 65536), 0u);
  EXPECT_EQ(classic_chunk_of_sector(127, 65536), 0u);
  EXPECT_EQ(classic_chunk_of_sector(128, 65536), 1u);
  EXPECT_EQ(classic_chunk_of_sector(32768, 65536), 256u);
}

TEST(ClassicBits, CountIgnoresPaddingBits) {
  // 11 chunks: the last byte holds 3 of them; md may leave the other 5 bits set.
  std::vector<uint8_t> bits = {0xff, 0xff};
  auto c = count_dirty(bits, 11);
  EXPECT_EQ(c, (BitCount{11, 11, false}));
  bits = {0x81, 0xf8};
  EXPECT_EQ(count_dirty(bits, 11), (BitCount{11, 2, false}));
}

TEST(ClassicBits, CountTruncatedArea) {
  std::vector<uint8_t> bits = {0x0f};
  EXPECT_EQ(count_dirty(bits, 20), (BitCount{8, 4, true}));
  EXPECT_EQ(count_dirty({}, 0), (BitCount{0, 0, false}));
}

TEST(ClassicBits, DirtyRanges) {
  std::vector<uint8_t> bits(8, 0);
  for (uint64_t c : {0, 1, 2, 7, 8, 20, 40, 41, 63}) set_chunk(bits, c, true);
  auto r = dirty_ranges(bits, 63);  // chunk 63 is padding
  EXPECT_EQ(r, (std::vector<ChunkRange>{{0, 2}, {7, 8}, {20, 20}, {40, 41}}));
  EXPECT_TRUE(dirty_ranges(std::vector<uint8_t>(3, 0), 24).empty());
  EXPECT_EQ(dirty_ranges(std::vector<uint8_t>(2, 0xff), 16), (std::vector<ChunkRange>{{0, 15}}));
}

TEST(ClassicBits, DirtyRangesStopAtTheLimit) {
  const std::vector<uint8_t> alternating(4, 0x55);  // 16 one-chunk ranges
  EXPECT_EQ(dirty_ranges(alternating, 32).size(), 16u);
  EXPECT_EQ(dirty_ranges(alternating, 32, 3), (std::vector<ChunkRange>{{0, 0}, {2, 2}, {4, 4}}));
  // A range under way when the limit is reached is finished, not cut.
  EXPECT_EQ(dirty_ranges(std::vector<uint8_t>{0xff, 0x00, 0xff}, 24, 1), (std::vector<ChunkRange>{{0, 7}}));
}

}  // namespace
}  // namespace umd::bitmap
