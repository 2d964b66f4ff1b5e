// Test helpers: the fixtures of src/bitmap/testdata, recorded from the real kernel.
#pragma once

#include <cstdint>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace umd::bitmap::testing {

inline std::string testdata_path(const std::string& name) {
  return std::string(UMD_BITMAP_TESTDATA) + "/" + name;
}

inline std::vector<uint8_t> load_fixture(const std::string& name) {
  std::ifstream f(testdata_path(name), std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

inline std::string load_text(const std::string& name) {
  std::ifstream f(testdata_path(name));
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// "  Events Cleared : 1" -> {"Events Cleared", "1"}: the fields of an mdadm -X text.
inline std::map<std::string, std::string> parse_fields(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    const size_t colon = line.find(" : ");
    if (colon == std::string::npos) continue;
    const size_t start = line.find_first_not_of(' ');
    out[line.substr(start, colon - start)] = line.substr(colon + 3);
  }
  return out;
}

// One line of fixtures.txt: "r1run_vda sb=0 so=8 bo=8 size=65536" or
// "file slot=14 fsize=318".
struct FixtureEntry {
  std::string name;
  std::map<std::string, long long> values;
};

inline std::vector<FixtureEntry> load_fixture_list() {
  std::vector<FixtureEntry> out;
  std::istringstream in(load_text("fixtures.txt"));
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    FixtureEntry e;
    words >> e.name;
    for (std::string kv; words >> kv;) {
      const size_t eq = kv.find('=');
      e.values[kv.substr(0, eq)] = std::stoll(kv.substr(eq + 1));
    }
    if (!e.name.empty()) out.push_back(e);
  }
  return out;
}

}  // namespace umd::bitmap::testing
