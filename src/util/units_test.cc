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

// Figures printed by mdadm 4.2's --examine on the kernel's members and arrays.
TEST(Units, MdadmHumanSize) {
  EXPECT_EQ(mdadm_human_size(63488), " (31.00 MiB 32.51 MB)");      // Avail Dev Size
  EXPECT_EQ(mdadm_human_size(95232 * 2), " (93.00 MiB 97.52 MB)");  // Array Size 95232 KiB
  EXPECT_EQ(mdadm_human_size(36864), " (18.00 MiB 18.87 MB)");      // Reshape pos'n 18432
  EXPECT_EQ(mdadm_human_size(9999), "");                            // below 5000 KiB
  EXPECT_EQ(mdadm_human_size(10000), " (4.88 MiB 5.12 MB)");
  // MiB up to 2 GiB, then GiB; GiB up to 2 TiB, then TiB (not the next unit at 1024).
  EXPECT_EQ(mdadm_human_size(3u << 20), " (1536.00 MiB 1610.61 MB)");
  EXPECT_EQ(mdadm_human_size(4u << 21), " (4.00 GiB 4.29 GB)");
  EXPECT_EQ(mdadm_human_size(uint64_t(3) << 31), " (3.00 TiB 3.30 TB)");
  EXPECT_EQ(mdadm_human_size(~uint64_t(0)).substr(0, 2), " (");  // no overflow at the top
}

}  // namespace umd
