#include "util/printable.h"

#include <gtest/gtest.h>

namespace umd {
namespace {

TEST(PrintableTest, ValidUtf8PassesUnchanged) {
  EXPECT_EQ(printable("host:md0"), "host:md0");
  EXPECT_EQ(printable("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x92\xbe"), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x92\xbe");
  EXPECT_EQ(printable(""), "");
  EXPECT_EQ(printable("back\\slash"), "back\\slash");
}

TEST(PrintableTest, InvalidBytesAreEscaped) {
  EXPECT_EQ(printable("md\xff" "0"), "md\\xff0");
  EXPECT_EQ(printable("\x80"), "\\x80");                  // a lone continuation byte
  EXPECT_EQ(printable("\xc3"), "\\xc3");                  // truncated at the end
  EXPECT_EQ(printable("\xc3(x"), "\\xc3(x");              // a bad continuation
  EXPECT_EQ(printable("\xc0\xaf"), "\\xc0\\xaf");         // overlong '/'
  EXPECT_EQ(printable("\xe0\x80\xaf"), "\\xe0\\x80\\xaf");  // overlong, three bytes
  EXPECT_EQ(printable("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a UTF-16 surrogate
  EXPECT_EQ(printable("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // above U+10FFFF
  EXPECT_EQ(printable("\xf5\x80\x80\x80"), "\\xf5\\x80\\x80\\x80");
}

TEST(PrintableTest, ControlBytesAreEscaped) {
  EXPECT_EQ(printable("a\nb\tc\x1b[2J\x7f"), "a\\x0ab\\x09c\\x1b[2J\\x7f");
  EXPECT_EQ(printable(std::string_view("a\0b", 3)), "a\\x00b");
}

TEST(PrintableTest, EveryByteStringComesOutValidAndPrintable) {
  // Every one- and two-byte string: no control byte, nothing printable() would change again.
  for (int a = 0; a < 256; a++) {
    for (int b = 0; b < 256; b++) {
      const char raw[2] = {char(a), char(b)};
      const std::string p = printable(std::string_view(raw, 2));
      for (char c : p) ASSERT_FALSE(uint8_t(c) < 0x20 || c == 0x7f) << a << " " << b;
      ASSERT_EQ(printable(p), p) << a << " " << b;
    }
  }
}

}  // namespace
}  // namespace umd
