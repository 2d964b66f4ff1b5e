#include "layout/geometry_view.h"

#include <gtest/gtest.h>

namespace umd::layout {
namespace {

Geometry raid5(uint32_t disks) {
  GeometryParams p;
  p.level = kLevelRaid5;
  p.layout = 2;
  p.chunk_sectors = 128;
  p.raid_disks = disks;
  p.member_sectors = std::vector<uint64_t>(disks, 1 << 16);
  auto g = make_geometry(p);
  EXPECT_TRUE(g.is_ok()) << g.status().message();
  return *g;
}

bool operator==(const GeometryPiece& a, const GeometryPiece& b) {
  return a.lo == b.lo && a.hi == b.hi && a.generation == b.generation && a.wait == b.wait;
}

TEST(GeometryView, OneGeometryIsOnePiece) {
  GeometryView v(raid5(3), 7);
  EXPECT_FALSE(v.reshaping());
  const auto p = v.pieces(100, 5000);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_TRUE((p[0] == GeometryPiece{100, 5000, 7, false}));
  EXPECT_TRUE(v.pieces(5, 5).empty());
}

TEST(GeometryView, ForwardReshapeNewBelowTheSectionBeingMoved) {
  // raid5 3 -> 4 disks at position 1024, the section [1024, 2048) being moved.
  GeometryView v(raid5(3), raid5(4), 1024, 2048, false, 0);
  const auto p = v.pieces(0, 4096);
  ASSERT_EQ(p.size(), 3u);
  EXPECT_TRUE((p[0] == GeometryPiece{0, 1024, 1, false}));
  EXPECT_TRUE((p[1] == GeometryPiece{1024, 2048, 0, true}));
  EXPECT_TRUE((p[2] == GeometryPiece{2048, 4096, 0, false}));
  EXPECT_EQ(v.geometry(1).raid_disks(), 4u);
  EXPECT_EQ(v.geometry(0).raid_disks(), 3u);
  EXPECT_EQ(v.current().raid_disks(), 4u);
  // Entirely on one side: one piece.
  ASSERT_EQ(v.pieces(0, 512).size(), 1u);
  EXPECT_EQ(v.pieces(0, 512)[0].generation, 1u);
  ASSERT_EQ(v.pieces(3000, 3100).size(), 1u);
  EXPECT_EQ(v.pieces(3000, 3100)[0].generation, 0u);
}

TEST(GeometryView, BackwardsReshapeNewAboveThePosition) {
  // Shrinking: the reshape walks down from the end; position 4096, moving [3072, 4096).
  GeometryView v(raid5(4), raid5(3), 4096, 3072, true, 2);
  const auto p = v.pieces(0, 8192);
  ASSERT_EQ(p.size(), 3u);
  EXPECT_TRUE((p[0] == GeometryPiece{0, 3072, 2, false}));
  EXPECT_TRUE((p[1] == GeometryPiece{3072, 4096, 2, true}));
  EXPECT_TRUE((p[2] == GeometryPiece{4096, 8192, 3, false}));
}

TEST(GeometryView, PiecesCoverTheRangeExactly) {
  GeometryView v(raid5(3), raid5(5), 777, 900, false);
  for (uint64_t lo : {0ull, 500ull, 777ull, 800ull, 900ull, 1000ull}) {
    for (uint64_t len : {1ull, 100ull, 200ull, 5000ull}) {
      uint64_t at = lo;
      for (const GeometryPiece& p : v.pieces(lo, lo + len)) {
        EXPECT_EQ(p.lo, at);
        EXPECT_LT(p.lo, p.hi);
        at = p.hi;
      }
      EXPECT_EQ(at, lo + len);
    }
  }
}

}  // namespace
}  // namespace umd::layout
