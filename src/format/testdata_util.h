// Test helper: load a fixture from src/format/testdata.
#pragma once

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace umd::testing {

inline std::vector<uint8_t> load_fixture(const std::string& name) {
  std::ifstream f(std::string(UMD_FORMAT_TESTDATA) + "/" + name, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

}  // namespace umd::testing
