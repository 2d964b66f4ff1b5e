#include "layout/layout_names.h"

#include <gtest/gtest.h>

namespace umd::layout {
namespace {

TEST(LayoutNamesTest, ParityNamesRoundTrip) {
  for (uint32_t v : {0u, 1u, 2u, 3u, 4u, 5u}) {
    EXPECT_EQ(*parse_layout(5, layout_name(5, v)), v);
    EXPECT_EQ(*parse_layout(6, layout_name(6, v)), v);
  }
  for (uint32_t v : {8u, 9u, 10u, 16u, 17u, 18u, 19u, 20u})
    EXPECT_EQ(*parse_layout(6, layout_name(6, v)), v);
  EXPECT_EQ(layout_name(5, 2), "left-symmetric");
  EXPECT_EQ(layout_name(6, 9), "ddf-N-restart");
  EXPECT_EQ(layout_name(6, 18), "left-symmetric-6");
  EXPECT_EQ(layout_name(6, 20), "parity-first-6");
  EXPECT_EQ(layout_name(5, 8), "unknown-8");
  EXPECT_EQ(layout_name(4, 5), "parity-last");
}

TEST(LayoutNamesTest, MdadmAliases) {
  EXPECT_EQ(*parse_layout(5, "ls"), 2u);
  EXPECT_EQ(*parse_layout(5, "la"), 0u);
  EXPECT_EQ(*parse_layout(5, "rs"), 3u);
  EXPECT_EQ(*parse_layout(5, "ra"), 1u);
  EXPECT_EQ(*parse_layout(6, "default"), 2u);
  // raid5 has no DDF coefficient order; mdadm maps the names onto the plain layouts.
  EXPECT_EQ(*parse_layout(5, "ddf-zero-restart"), 1u);
  EXPECT_EQ(*parse_layout(5, "ddf-N-restart"), 0u);
  EXPECT_EQ(*parse_layout(5, "ddf-N-continue"), 2u);
  EXPECT_EQ(*parse_layout(6, "ddf-zero-restart"), 8u);
  EXPECT_FALSE(parse_layout(5, "left-symmetric-6").is_ok());
  EXPECT_EQ(*parse_layout(4, "parity-last"), 5u);
  EXPECT_EQ(*parse_layout(4, "default"), 5u);
  EXPECT_FALSE(parse_layout(4, "left-symmetric").is_ok());
  EXPECT_EQ(*parse_layout(6, "17"), 17u);
  EXPECT_FALSE(parse_layout(6, "7").is_ok());
}

TEST(LayoutNamesTest, Raid0) {
  EXPECT_EQ(*parse_layout(0, "original"), 1u);
  EXPECT_EQ(*parse_layout(0, "alternate"), 2u);
  EXPECT_EQ(*parse_layout(0, "2"), 2u);
  EXPECT_EQ(*parse_layout(0, "dangerous"), 0u);
  EXPECT_EQ(layout_name(0, 1), "original");
  EXPECT_EQ(layout_name(0, 2), "alternate");
  EXPECT_FALSE(parse_layout(0, "left-symmetric").is_ok());
}

TEST(LayoutNamesTest, Raid10) {
  EXPECT_EQ(*parse_layout(10, "n2"), 0x102u);
  EXPECT_EQ(*parse_layout(10, "f2"), 0x201u);
  EXPECT_EQ(*parse_layout(10, "o2"), 0x10201u);
  EXPECT_EQ(*parse_layout(10, "n3"), 0x103u);
  EXPECT_EQ(layout_name(10, 0x102), "n2");
  EXPECT_EQ(layout_name(10, 0x301), "f3");
  EXPECT_EQ(layout_name(10, 0x10301), "o3");
  EXPECT_EQ(layout_name(10, 0x202), "near=2,far=2");
  EXPECT_EQ(layout_name(10, 0x40201), "near=1,far=2,far-sets=2");
  for (uint32_t v : {0x202u, 0x10202u, 0x40201u, 0x20302u})
    EXPECT_EQ(*parse_layout(10, layout_name(10, v)), v);
  EXPECT_FALSE(parse_layout(10, "x2").is_ok());
  EXPECT_FALSE(parse_layout(10, "n").is_ok());
  EXPECT_FALSE(parse_layout(10, "n201").is_ok());
}

TEST(LayoutNamesTest, Defaults) {
  EXPECT_EQ(default_layout(5), 2u);
  EXPECT_EQ(default_layout(6), 2u);
  EXPECT_EQ(default_layout(10), 0x102u);
  EXPECT_EQ(default_layout(0), 1u);
  EXPECT_EQ(default_layout(4), 5u);
  EXPECT_EQ(layout_name(1, 0), "");
  EXPECT_FALSE(parse_layout(1, "n2").is_ok());
}

}  // namespace
}  // namespace umd::layout
