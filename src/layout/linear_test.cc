#include "layout/linear.h"

#include <gtest/gtest.h>

#include "layout/test_picture.h"

namespace umd::layout {
namespace {

using testing::params;

TEST(LinearTest, ConcatenatesInRoleOrderRoundedToChunk) {
  auto g = LinearGeometry::create(params(-1, 0, 8, 3, {20, 5, 16}));
  ASSERT_TRUE(g.is_ok());
  EXPECT_EQ(g->array_sectors(), 16u + 0 + 16);
  EXPECT_EQ(g->map(0).at, (DevAddr{0, 0}));
  EXPECT_EQ(g->map(0).len, 16u);
  EXPECT_EQ(g->map(15).len, 1u);
  // Member 1 rounds to nothing and is skipped.
  EXPECT_EQ(g->map(16).at, (DevAddr{2, 0}));
  EXPECT_EQ(g->map(31).at, (DevAddr{2, 15}));
  EXPECT_EQ(g->map(32).len, 0u);
  EXPECT_EQ(g->to_array({2, 3}), 19u);
  EXPECT_FALSE(g->to_array({0, 16}).has_value());
  EXPECT_FALSE(g->to_array({1, 0}).has_value());
}

TEST(LinearTest, NoChunkMeansNoRounding) {
  auto g = LinearGeometry::create(params(-1, 0, 0, 2, {7, 9}));
  ASSERT_TRUE(g.is_ok());
  EXPECT_EQ(g->array_sectors(), 16u);
  for (uint64_t a = 0; a < 16; ++a) {
    DevExtent e = g->map(a);
    EXPECT_EQ(g->to_array(e.at), a);
  }
  EXPECT_EQ(g->map(7).at, (DevAddr{1, 0}));
}

}  // namespace
}  // namespace umd::layout
