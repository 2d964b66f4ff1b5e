#include "util/status.h"

#include <cerrno>

#include <gtest/gtest.h>

namespace umd {

TEST(Status, OkHasNoMessageAllocation) {
  Status s;
  EXPECT_TRUE(s.is_ok());
  EXPECT_EQ(s.code(), Err::ok);
  EXPECT_EQ(s.to_errno(), 0);
}

TEST(Status, ErrnoMapsToKindAndBack) {
  Status s = Status::from_errno(ENOSPC, "writing d0.img");
  EXPECT_FALSE(s.is_ok());
  EXPECT_EQ(s.code(), Err::no_space);
  EXPECT_EQ(s.to_errno(), -ENOSPC);
  EXPECT_NE(s.message().find("writing d0.img"), std::string::npos);
}

TEST(Status, ContextIsPrefixed) {
  Status s = Status(Err::corrupt, "bad magic").with_context("d1.img");
  EXPECT_EQ(s.message(), "d1.img: bad magic");
  EXPECT_EQ(s.to_errno(), -EUCLEAN);
}

Result<int> half(int x) {
  if (x % 2) return Result<int>(Err::invalid, "odd");
  return x / 2;
}

Status use_half(int x, int* out) {
  UMD_ASSIGN_OR_RETURN(int h, half(x));
  *out = h;
  return Status::ok();
}

TEST(Result, AssignOrReturnPropagates) {
  int out = 0;
  EXPECT_TRUE(use_half(8, &out).is_ok());
  EXPECT_EQ(out, 4);
  Status s = use_half(7, &out);
  EXPECT_EQ(s.code(), Err::invalid);
  EXPECT_EQ(out, 4);
}

}  // namespace umd
