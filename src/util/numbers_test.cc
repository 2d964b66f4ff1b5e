#include "util/numbers.h"

#include <gtest/gtest.h>

namespace umd {
namespace {

TEST(Numbers, U64TakesWholeDecimalsAndWhatEchoAppends) {
  EXPECT_EQ(parse_u64("0"), 0u);
  EXPECT_EQ(parse_u64("4096\n"), 4096u);
  EXPECT_EQ(parse_u64("18446744073709551615"), UINT64_MAX);
  for (const char* bad : {"", "\n", "-1", "+1", " 1", "1x", "0x10", "18446744073709551616", "1.5"}) {
    EXPECT_FALSE(parse_u64(bad)) << '"' << bad << '"';
  }
}

TEST(Numbers, SecondsAreNonNegativeDecimals) {
  EXPECT_EQ(parse_seconds("5"), 5.0);
  EXPECT_EQ(parse_seconds("0.25\n"), 0.25);
  for (const char* bad : {"", "-1", "+2", "1e3", "nan", "inf", "2s", " 1"}) {
    EXPECT_FALSE(parse_seconds(bad)) << '"' << bad << '"';
  }
}

}  // namespace
}  // namespace umd
