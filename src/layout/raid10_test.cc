#include "layout/raid10.h"

#include <gtest/gtest.h>

#include <set>

#include "layout/geometry.h"
#include "layout/test_picture.h"

namespace umd::layout {
namespace {

using testing::params;
using testing::picture;

// The n2 / f2 / o2 pictures of md(4), 3 members, chunk numbers.
TEST(Raid10Test, Md4Pictures) {
  auto n2 = make_geometry(params(10, 0x102, 8, 3, {8 * 6}));
  ASSERT_TRUE(n2.is_ok());
  EXPECT_EQ(picture(*n2, 3), "0 0 1 | 1 2 2 | 3 3 4");
  auto f2 = make_geometry(params(10, 0x201, 8, 3, {8 * 4}));
  ASSERT_TRUE(f2.is_ok());
  EXPECT_EQ(f2->as<Raid10Geometry>()->stride(), 16u);
  EXPECT_EQ(picture(*f2, 4), "0 1 2 | 3 4 5 | 2 0 1 | 5 3 4");
  auto o2 = make_geometry(params(10, 0x10201, 8, 3, {8 * 4}));
  ASSERT_TRUE(o2.is_ok());
  EXPECT_EQ(picture(*o2, 4), "0 1 2 | 2 0 1 | 3 4 5 | 5 3 4");
}

TEST(Raid10Test, CopiesComeInMdOrder) {
  auto g = Raid10Geometry::create(params(10, 0x202, 8, 4, {8 * 8}));  // near 2, far 2
  ASSERT_TRUE(g.is_ok());
  Raid10Copies c = g->copies(8 * 1 + 2);  // chunk 1
  ASSERT_EQ(c.count, 4u);
  EXPECT_EQ(c.len, 6u);
  // near copy 0 on member 2, its far copy two members on; then near copy 1 and its far copy.
  EXPECT_EQ(c.at[0], (DevAddr{2, 2}));
  EXPECT_EQ(c.at[1], (DevAddr{0, 2 + g->stride()}));
  EXPECT_EQ(c.at[2], (DevAddr{3, 2}));
  EXPECT_EQ(c.at[3], (DevAddr{1, 2 + g->stride()}));
}

TEST(Raid10Test, SizesMatchMd) {
  // From the kernel: 4 MiB members, 1 MiB data offset, 4 KiB chunks.
  struct S {
    uint32_t layout, disks;
    uint64_t array;
  } cases[] = {{0x102, 3, 9216},  {0x201, 3, 9216},  {0x10201, 3, 9216}, {0x103, 3, 6144},
               {0x301, 3, 6144},  {0x102, 4, 12288}, {0x103, 4, 8192},   {0x401, 4, 6144},
               {0x102, 5, 15360}, {0x103, 5, 10240}, {0x10301, 5, 10240}};
  for (const S& s : cases) {
    auto g = Raid10Geometry::create(params(10, s.layout, 8, s.disks, {6144}));
    ASSERT_TRUE(g.is_ok());
    EXPECT_EQ(g->array_sectors(), s.array) << std::hex << s.layout << std::dec << " " << s.disks;
  }
  // Uneven counts: md rounds the per-member chunks up and the far stride down.
  auto g = Raid10Geometry::create(params(10, 0x201, 8, 3, {8 * 7 + 3}));
  ASSERT_TRUE(g.is_ok());
  EXPECT_EQ(g->array_sectors(), 8u * 9);
  EXPECT_EQ(g->dev_sectors(), 8u * 6);
  EXPECT_EQ(g->stride(), 8u * 3);
}

TEST(Raid10Test, RoundTripsEveryLayout) {
  for (uint32_t sets : {0u})
    for (uint32_t nc = 1; nc <= 4; ++nc)
      for (uint32_t fc = 1; fc <= 4; ++fc)
        for (bool off : {false, true})
          for (uint32_t n = 2; n <= 9; ++n) {
            if (nc * fc < 2 || nc * fc > n || (off && n % nc)) continue;
            const uint32_t layout = nc | fc << 8 | (off ? kRaid10OffsetBit : 0) | sets << 17;
            SCOPED_TRACE("layout " + std::to_string(layout) + " disks " + std::to_string(n));
            auto g = Raid10Geometry::create(params(10, layout, 8, n, {8 * 37 + 1}));
            ASSERT_TRUE(g.is_ok()) << g.status().message();
            for (uint64_t a = 1; a < g->array_sectors(); a += 8) {
              Raid10Copies c = g->copies(a);
              ASSERT_EQ(c.count, nc * fc);
              EXPECT_EQ(c.len, 7u);
              std::set<uint32_t> disks;
              for (uint32_t i = 0; i < c.count; ++i) {
                disks.insert(c.at[i].disk);
                ASSERT_LT(c.at[i].sector, g->dev_sectors());
                EXPECT_EQ(g->to_array(c.at[i]), a);
              }
              EXPECT_EQ(disks.size(), c.count);
            }
            // Every used member sector holds a copy of what to_array says.
            for (uint32_t d = 0; d < n; ++d)
              for (uint64_t s = 0; s < g->dev_sectors(); s += 8) {
                auto a = g->to_array({d, s});
                if (!a) continue;
                Raid10Copies c = g->copies(*a);
                bool found = false;
                for (uint32_t i = 0; i < c.count; ++i) found |= c.at[i] == DevAddr{d, s};
                EXPECT_TRUE(found) << d << ":" << s;
              }
            EXPECT_EQ(g->copies(g->array_sectors()).len, 0u);
          }
}

TEST(Raid10Test, SurvivesDependsOnWhichMembers) {
  auto n2 = Raid10Geometry::create(params(10, 0x102, 8, 4, {64}));
  ASSERT_TRUE(n2.is_ok());
  const uint32_t m01[] = {0, 1}, m02[] = {0, 2}, m12[] = {1, 2}, m023[] = {0, 2, 3};
  EXPECT_FALSE(n2->survives(m01));
  EXPECT_TRUE(n2->survives(m02));
  EXPECT_TRUE(n2->survives(m12));
  EXPECT_FALSE(n2->survives(m023));
  EXPECT_EQ(n2->max_missing(), 1u);
  auto f2 = Raid10Geometry::create(params(10, 0x201, 8, 4, {64}));
  ASSERT_TRUE(f2.is_ok());
  EXPECT_TRUE(f2->survives(m02));
  EXPECT_FALSE(f2->survives(m12));
  auto n3 = Raid10Geometry::create(params(10, 0x103, 8, 5, {64}));
  ASSERT_TRUE(n3.is_ok());
  EXPECT_EQ(n3->max_missing(), 2u);
}

TEST(Raid10Test, RejectsWhatMdRejects) {
  EXPECT_EQ(Raid10Geometry::create(params(10, 0x103, 8, 2, {64})).status().code(), Err::invalid);
  EXPECT_EQ(Raid10Geometry::create(params(10, 0x101, 8, 2, {64})).status().code(), Err::invalid);
  EXPECT_EQ(Raid10Geometry::create(params(10, 0x100, 8, 2, {64})).status().code(), Err::invalid);
  EXPECT_EQ(Raid10Geometry::create(params(10, 0x102, 4, 2, {64})).status().code(), Err::invalid);
  EXPECT_EQ(Raid10Geometry::create(params(10, 0x102, 24, 2, {64})).status().code(), Err::invalid);
  EXPECT_EQ(Raid10Geometry::create(params(10, 0x60102, 8, 2, {64})).status().code(),
            Err::unsupported);
  EXPECT_EQ(Raid10Geometry::create(params(10, 0x80102, 8, 2, {64})).status().code(),
            Err::unsupported);
  EXPECT_EQ(Raid10Geometry::create(params(10, 0x20201, 8, 4, {64})).status().code(),
            Err::unsupported);
  EXPECT_EQ(Raid10Geometry::create(params(10, 0x10202, 8, 5, {64})).status().code(),
            Err::unsupported);
  EXPECT_TRUE(Raid10Geometry::create(params(10, 0x10202, 8, 4, {64})).is_ok());
}

}  // namespace
}  // namespace umd::layout
