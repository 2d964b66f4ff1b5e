#include "util/units.h"

#include <gtest/gtest.h>

namespace umd {

TEST(Units, MdadmChunkConvention) {
  EXPECT_EQ(parse_size_kib_default("64").value(), 64u * 1024);
  EXPECT_EQ(parse_size_kib_default("64K").value(), 64u * 1024);
  EXPECT_EQ(parse_size_kib_default("1M").value(), 1u << 20);
  EXPECT_EQ(parse_size_kib_default("2G").value(), 2ULL << 30);
  EXPECT_EQ(parse_size_bytes("512").value(), 512u);
  EXPECT_EQ(parse_size_bytes("1MiB").value(), 1u << 20);
}

TEST(Units, RejectsGarbage) {
  EXPECT_FALSE(parse_size_kib_default("").is_ok());
  EXPECT_FALSE(parse_size_kib_default("K").is_ok());
  EXPECT_FALSE(parse_size_kib_default("12Q").is_ok());
  EXPECT_FALSE(parse_size_kib_default("99999999999999999999").is_ok());
}

TEST(Units, HumanSize) { EXPECT_EQ(human_size_sectors(131072), "64.00 MiB 67.11 MB"); }

}  // namespace umd
