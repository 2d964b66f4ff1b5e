#include "layout/raid0.h"

#include <gtest/gtest.h>

#include "layout/geometry.h"
#include "layout/test_picture.h"

namespace umd::layout {
namespace {

using testing::params;
using testing::picture;

// Members of 1, 3 and 3 chunks: zone 0 stripes 3 chunks over all members, zone 1 the next
// 4 over members 1 and 2. Zone 1 starts at array chunk 3, odd, so the layouts disagree.
TEST(Raid0Test, LayoutsDifferOnlyInLaterZones) {
  auto alt = make_geometry(params(0, kRaid0LayoutAlternate, 8, 3, {8, 24, 24 + 7}));
  ASSERT_TRUE(alt.is_ok()) << alt.status().message();
  EXPECT_EQ(picture(*alt, 3), "0 1 2 | . 3 4 | . 5 6");
  auto orig = make_geometry(params(0, kRaid0LayoutOriginal, 8, 3, {8, 24, 24 + 7}));
  ASSERT_TRUE(orig.is_ok());
  EXPECT_EQ(picture(*orig, 3), "0 1 2 | . 4 3 | . 6 5");
  const Raid0Geometry& g = *orig->as<Raid0Geometry>();
  ASSERT_EQ(g.zones().size(), 2u);
  EXPECT_EQ(g.zones()[1].array_start, 24u);
  EXPECT_EQ(g.zones()[1].dev_start, 8u);
  EXPECT_EQ(g.zones()[1].nb_dev, 2u);
  EXPECT_EQ(g.array_sectors(), 56u);
}

TEST(Raid0Test, ZonesFollowSizesNotRoles) {
  auto g = Raid0Geometry::create(params(0, 2, 8, 4, {48, 16, 80, 64}));
  ASSERT_TRUE(g.is_ok());
  ASSERT_EQ(g->zones().size(), 4u);
  const uint32_t z1[] = {0, 2, 3}, z2[] = {2, 3}, z3[] = {2};
  auto members = [&](size_t z) {
    const Raid0Zone& zz = g->zones()[z];
    return std::vector<uint32_t>(g->zone_members().begin() + zz.first,
                                 g->zone_members().begin() + zz.first + zz.nb_dev);
  };
  EXPECT_EQ(members(0).size(), 4u);
  EXPECT_EQ(members(1), std::vector<uint32_t>(std::begin(z1), std::end(z1)));
  EXPECT_EQ(members(2), std::vector<uint32_t>(std::begin(z2), std::end(z2)));
  EXPECT_EQ(members(3), std::vector<uint32_t>(std::begin(z3), std::end(z3)));
  EXPECT_EQ(g->array_sectors(), 48u + 16 + 80 + 64);
}

TEST(Raid0Test, RoundTripsEverySector) {
  struct C {
    uint32_t chunk;
    std::vector<uint64_t> sizes;
  } cases[] = {{8, {64, 64, 64}},          {8, {40, 16, 88, 64, 65}},
               {24, {100, 300, 200, 250}}, {16, {1000, 17, 500}},
               {8, {8, 8, 400}},           {128, {1024, 4096, 2048, 1024}}};
  for (const C& c : cases)
    for (uint32_t layout : {1u, 2u}) {
      auto g = Raid0Geometry::create(params(0, layout, c.chunk, c.sizes.size(), c.sizes));
      ASSERT_TRUE(g.is_ok()) << g.status().message();
      uint64_t total = 0;
      for (uint64_t s : c.sizes) total += (s - s % c.chunk) & ~uint64_t{c.chunk - 1};
      ASSERT_EQ(g->array_sectors(), total);
      std::vector<std::vector<bool>> hit(c.sizes.size());
      for (size_t d = 0; d < c.sizes.size(); ++d) hit[d].assign(c.sizes[d], false);
      for (uint64_t a = 0; a < total; ++a) {
        DevExtent e = g->map(a);
        ASSERT_GT(e.len, 0u);
        EXPECT_EQ(e.len, c.chunk - a % c.chunk);
        ASSERT_LT(e.at.sector, c.sizes[e.at.disk]);
        EXPECT_FALSE(hit[e.at.disk][e.at.sector]);
        hit[e.at.disk][e.at.sector] = true;
        EXPECT_EQ(g->to_array(e.at), a);
      }
      EXPECT_EQ(g->map(total).len, 0u);
    }
}

TEST(Raid0Test, UnsetLayoutOnlyMattersWhenLayoutsDiffer) {
  EXPECT_EQ(Raid0Geometry::create(params(0, 0, 8, 3, {8, 24, 24})).status().code(),
            Err::unsupported);
  EXPECT_TRUE(Raid0Geometry::create(params(0, 0, 8, 3, {24, 24, 24})).is_ok());
  // Second zone of a single member: both layouts map alike, so md ignores the word.
  EXPECT_TRUE(Raid0Geometry::create(params(0, 0, 8, 3, {8, 8, 24})).is_ok());
  EXPECT_EQ(Raid0Geometry::create(params(0, 1, 0, 3, {8, 8, 24})).status().code(), Err::invalid);
  EXPECT_EQ(Raid0Geometry::create(params(0, 1, 8, 3, {8, 8})).status().code(), Err::invalid);
}

}  // namespace
}  // namespace umd::layout
