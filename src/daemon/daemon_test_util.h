// Shared by the daemon unit tests: a temporary runtime base in $UMD_RUNTIME_DIR.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

namespace umd::daemon::testing {

class TempRuntime : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/umd-daemon-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ::setenv("UMD_RUNTIME_DIR", (dir_ + "/run").c_str(), 1);
  }
  void TearDown() override {
    ::unsetenv("UMD_RUNTIME_DIR");
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string dir_;
};

}  // namespace umd::daemon::testing
