#include "layout/geometry.h"

#include <gtest/gtest.h>

#include "layout/test_picture.h"

namespace umd::layout {
namespace {

using testing::params;

TEST(GeometryTest, FactoryPicksTheLevel) {
  auto g = make_geometry(params(6, 2, 8, 5, {6144}));
  ASSERT_TRUE(g.is_ok());
  EXPECT_EQ(g->level(), 6);
  EXPECT_EQ(g->layout(), 2u);
  EXPECT_EQ(g->chunk_sectors(), 8u);
  EXPECT_EQ(g->raid_disks(), 5u);
  EXPECT_EQ(g->array_sectors(), 6144u * 3);
  EXPECT_NE(g->as<Raid456Geometry>(), nullptr);
  EXPECT_EQ(g->as<Raid10Geometry>(), nullptr);
  EXPECT_EQ(g->max_missing(), 2u);
}

TEST(GeometryTest, CopiesAreIndependentValues) {
  auto a = make_geometry(params(0, 2, 8, 3, {8, 24, 24}));
  ASSERT_TRUE(a.is_ok());
  Geometry old_geo = *a;
  auto b = make_geometry(params(0, 2, 16, 3, {64, 64, 64}));
  ASSERT_TRUE(b.is_ok());
  Geometry new_geo = *b;
  EXPECT_EQ(old_geo.array_sectors(), 56u);
  EXPECT_EQ(new_geo.array_sectors(), 192u);
  Geometry again = old_geo;
  EXPECT_EQ(again.as<Raid0Geometry>()->map(30).at, old_geo.as<Raid0Geometry>()->map(30).at);
}

TEST(GeometryTest, ValidationErrorsSayWhat) {
  auto e = make_geometry(params(7, 0, 8, 3, {64}));
  EXPECT_EQ(e.status().code(), Err::unsupported);
  e = make_geometry(params(5, 2, 12, 3, {64}));
  EXPECT_EQ(e.status().code(), Err::invalid);
  EXPECT_NE(e.status().message().find("power of two"), std::string::npos);
  e = make_geometry(params(6, 2, 8, 3, {64}));
  EXPECT_NE(e.status().message().find("at least 4"), std::string::npos);
  e = make_geometry(params(10, 0x103, 8, 2, {64}));
  EXPECT_NE(e.status().message().find("copies"), std::string::npos);
  e = make_geometry(params(5, 2, 8, 3, {64, 64}));
  EXPECT_NE(e.status().message().find("member_sectors"), std::string::npos);
  e = make_geometry(params(5, 12, 8, 3, {64}));
  EXPECT_NE(e.status().message().find("layout"), std::string::npos);
}

TEST(GeometryTest, LimitsAreData) {
  EXPECT_EQ(level_limits(6)->min_disks, 4u);
  EXPECT_EQ(level_limits(6)->parity_disks, 2u);
  EXPECT_EQ(level_limits(5)->max_missing, 1u);
  EXPECT_EQ(level_limits(10)->missing, MissingRule::per_layout);
  EXPECT_EQ(level_limits(0)->missing, MissingRule::none);
  EXPECT_EQ(level_limits(1)->missing, MissingRule::all_but_one);
  EXPECT_FALSE(level_limits(-4).is_ok());
}

TEST(GeometryTest, Survives) {
  const uint32_t one[] = {1}, two[] = {0, 2};
  auto r0 = make_geometry(params(0, 1, 8, 3, {64, 64, 64}));
  ASSERT_TRUE(r0.is_ok());
  EXPECT_TRUE(r0->survives({}));
  EXPECT_FALSE(r0->survives(one));
  auto r1 = make_geometry(params(1, 0, 0, 3, {64, 60, 70}));
  ASSERT_TRUE(r1.is_ok());
  EXPECT_EQ(r1->array_sectors(), 60u);
  EXPECT_TRUE(r1->survives(two));
  EXPECT_EQ(r1->max_missing(), 2u);
  const uint32_t all[] = {0, 1, 2};
  EXPECT_FALSE(r1->survives(all));
}

}  // namespace
}  // namespace umd::layout
