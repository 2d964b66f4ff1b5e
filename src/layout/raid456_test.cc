#include "layout/raid456.h"

#include <gtest/gtest.h>

#include <set>

#include "layout/geometry.h"
#include "layout/test_picture.h"

namespace umd::layout {
namespace {

using testing::params;
using testing::picture;

std::string draw(int level, uint32_t layout, uint32_t disks, uint64_t rows) {
  auto g = make_geometry(params(level, layout, 8, disks, {8 * 64}));
  EXPECT_TRUE(g.is_ok()) << g.status().message();
  return picture(*g, rows);
}

// The raid5 pictures every md text draws, 4 members, chunk numbers.
TEST(Raid456Test, Raid5Pictures) {
  EXPECT_EQ(draw(5, 0, 4, 4), "0 1 2 P | 3 4 P 5 | 6 P 7 8 | P 9 10 11");
  EXPECT_EQ(draw(5, 1, 4, 4), "P 0 1 2 | 3 P 4 5 | 6 7 P 8 | 9 10 11 P");
  EXPECT_EQ(draw(5, 2, 4, 4), "0 1 2 P | 4 5 P 3 | 8 P 6 7 | P 9 10 11");
  EXPECT_EQ(draw(5, 3, 4, 4), "P 0 1 2 | 5 P 3 4 | 7 8 P 6 | 9 10 11 P");
  EXPECT_EQ(draw(5, 4, 4, 2), "P 0 1 2 | P 3 4 5");
  EXPECT_EQ(draw(5, 5, 4, 2), "0 1 2 P | 3 4 5 P");
  EXPECT_EQ(draw(4, 2, 4, 2), "0 1 2 P | 3 4 5 P");  // raid4 ignores the layout word
}

TEST(Raid456Test, Raid6Pictures) {
  // md's raid6 rotation starts with P on the last member and Q wrapped to the first.
  EXPECT_EQ(draw(6, 2, 5, 3), "Q 0 1 2 P | 3 4 5 P Q | 7 8 P Q 6");
  EXPECT_EQ(draw(6, 0, 5, 3), "Q 0 1 2 P | 3 4 5 P Q | 6 7 P Q 8");
  EXPECT_EQ(draw(6, 1, 5, 3), "P Q 0 1 2 | 3 P Q 4 5 | 6 7 P Q 8");
  EXPECT_EQ(draw(6, 4, 5, 1), "P Q 0 1 2");
  EXPECT_EQ(draw(6, 5, 5, 1), "0 1 2 P Q");
  EXPECT_EQ(draw(6, 8, 5, 2), "P Q 0 1 2 | 3 P Q 4 5");         // ddf-zero-restart
  EXPECT_EQ(draw(6, 9, 5, 2), "0 1 2 P Q | 3 4 P Q 5");         // ddf-N-restart
  EXPECT_EQ(draw(6, 10, 5, 2), "0 1 2 Q P | 4 5 Q P 3");        // ddf-N-continue
  EXPECT_EQ(draw(6, 18, 5, 4), "0 1 2 P Q | 4 5 P 3 Q | 8 P 6 7 Q | P 9 10 11 Q");
  EXPECT_EQ(draw(6, 16, 5, 2), "0 1 2 P Q | 3 4 P 5 Q");
  EXPECT_EQ(draw(6, 20, 5, 1), "P 0 1 2 Q");
}

TEST(Raid456Test, QSlotsFollowTheKernelsOrder) {
  auto la = Raid456Geometry::create(params(6, 0, 8, 5, {512}));
  ASSERT_TRUE(la.is_ok());
  StripeMap m = la->stripe(3);  // P on 1, Q on 2, data on 0 3 4
  EXPECT_EQ(m.pd_idx, 1);
  EXPECT_EQ(m.qd_idx, 2);
  EXPECT_EQ(m.syndrome_width, 3u);
  EXPECT_EQ(m.q_slot[3], 0);  // enumeration starts just after Q
  EXPECT_EQ(m.q_slot[4], 1);
  EXPECT_EQ(m.q_slot[0], 2);
  EXPECT_EQ(m.data_index[0], 0);

  auto ls6 = Raid456Geometry::create(params(6, 18, 8, 5, {512}));
  ASSERT_TRUE(ls6.is_ok());
  m = ls6->stripe(1);  // "4 5 P 3 Q": Q last, so slots count from member 0
  EXPECT_EQ(m.q_slot[0], 0);
  EXPECT_EQ(m.q_slot[1], 1);
  EXPECT_EQ(m.q_slot[3], 2);
  EXPECT_EQ(m.data_index[3], 0);

  auto ddf = Raid456Geometry::create(params(6, 8, 8, 5, {512}));
  ASSERT_TRUE(ddf.is_ok());
  m = ddf->stripe(1);  // "3 P Q 4 5"
  EXPECT_EQ(m.syndrome_width, 5u);
  EXPECT_EQ(m.q_slot[0], 0);
  EXPECT_EQ(m.q_slot[3], 3);
  EXPECT_EQ(m.q_slot[4], 4);
  EXPECT_EQ(m.q_slot[1], kNoSlot);
}

struct Case {
  int level;
  uint32_t layout;
};

TEST(Raid456Test, ForwardReverseAndStripeAgreeForEveryLayout) {
  std::vector<Case> cases{{4, 5}};
  for (uint32_t l = 0; l <= 5; ++l) cases.push_back({5, l});
  for (uint32_t l : {0u, 1u, 2u, 3u, 4u, 5u, 8u, 9u, 10u, 16u, 17u, 18u, 19u, 20u}) cases.push_back({6, l});
  for (const Case& c : cases) {
    for (uint32_t n = c.level == 6 ? 4 : 2; n <= 9; ++n) {
      SCOPED_TRACE("level " + std::to_string(c.level) + " layout " + std::to_string(c.layout) +
                   " disks " + std::to_string(n));
      auto g = Raid456Geometry::create(params(c.level, c.layout, 8, n, {8 * 40 + 5}));
      ASSERT_TRUE(g.is_ok()) << g.status().message();
      EXPECT_EQ(g->rows(), 40u);
      EXPECT_EQ(g->array_sectors(), 40u * 8 * g->data_disks());
      for (uint64_t row = 0; row < g->rows(); ++row) {
        StripeMap m = g->stripe(row);
        std::set<uint32_t> seen;
        std::set<uint16_t> slots;
        for (uint32_t dd = 0; dd < m.ndata; ++dd) {
          const uint32_t disk = m.data_disk[dd];
          ASSERT_LT(disk, n);
          EXPECT_TRUE(seen.insert(disk).second);
          EXPECT_EQ(m.role[disk], DiskRole::data);
          EXPECT_EQ(m.data_index[disk], dd);
          if (c.level == 6) {
            ASSERT_LT(m.q_slot[disk], m.syndrome_width);
            EXPECT_TRUE(slots.insert(m.q_slot[disk]).second);
          }
          const uint64_t a = (row * m.ndata + dd) * 8 + 3;
          ChunkPlace p = g->compute_sector(a);
          EXPECT_EQ(p.row, row);
          EXPECT_EQ(p.disk, disk);
          EXPECT_EQ(p.dev_sector, row * 8 + 3);
          EXPECT_EQ(p.data_index, dd);
          EXPECT_EQ(p.pd_idx, m.pd_idx);
          EXPECT_EQ(p.qd_idx, m.qd_idx);
          EXPECT_EQ(p.len, 5u);
          SectorRole r = g->locate({disk, row * 8 + 3});
          EXPECT_TRUE(r.valid);
          EXPECT_EQ(r.role, DiskRole::data);
          EXPECT_EQ(r.array_sector, a);
        }
        EXPECT_EQ(m.role[m.pd_idx], DiskRole::p);
        EXPECT_EQ(g->locate({static_cast<uint32_t>(m.pd_idx), row * 8}).role, DiskRole::p);
        EXPECT_EQ(seen.count(m.pd_idx), 0u);
        if (c.level == 6) {
          ASSERT_GE(m.qd_idx, 0);
          EXPECT_NE(m.qd_idx, m.pd_idx);
          EXPECT_EQ(m.role[m.qd_idx], DiskRole::q);
          EXPECT_EQ(g->locate({static_cast<uint32_t>(m.qd_idx), row * 8}).role, DiskRole::q);
          EXPECT_EQ(seen.count(m.qd_idx), 0u);
        } else {
          EXPECT_EQ(m.qd_idx, -1);
        }
      }
      EXPECT_EQ(g->compute_sector(g->array_sectors()).len, 0u);
      EXPECT_FALSE(g->locate({0, g->component_sectors()}).valid);
    }
  }
}

TEST(Raid456Test, RejectsWhatMdRejects) {
  EXPECT_EQ(Raid456Geometry::create(params(5, 8, 8, 4, {64})).status().code(), Err::invalid);
  EXPECT_EQ(Raid456Geometry::create(params(5, 16, 8, 4, {64})).status().code(), Err::invalid);
  EXPECT_EQ(Raid456Geometry::create(params(6, 6, 8, 4, {64})).status().code(), Err::invalid);
  EXPECT_EQ(Raid456Geometry::create(params(6, 2, 8, 3, {64})).status().code(), Err::invalid);
  EXPECT_EQ(Raid456Geometry::create(params(5, 2, 24, 4, {64})).status().code(), Err::invalid);
  EXPECT_EQ(Raid456Geometry::create(params(5, 2, 4, 4, {64})).status().code(), Err::invalid);
  EXPECT_EQ(Raid456Geometry::create(params(5, 2, 8, 65, {64})).status().code(), Err::unsupported);
  EXPECT_TRUE(Raid456Geometry::create(params(5, 2, 8, 2, {64})).is_ok());
}

TEST(Raid456Test, SizeUsesSmallestMemberRoundedToChunk) {
  auto g = Raid456Geometry::create(params(6, 2, 128, 5, {1000, 999, 5000, 1000, 1000}));
  ASSERT_TRUE(g.is_ok());
  EXPECT_EQ(g->component_sectors(), 896u);
  EXPECT_EQ(g->array_sectors(), 896u * 3);
  const uint32_t gone01[] = {0, 1}, gone012[] = {0, 1, 2};
  EXPECT_TRUE(g->survives(gone01));
  EXPECT_FALSE(g->survives(gone012));
}

}  // namespace
}  // namespace umd::layout
