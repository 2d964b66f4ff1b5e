// Replays the member contents recorded from the kernel's md (testdata/README).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "layout/geometry.h"

namespace umd::layout {
namespace {

struct Table {
  std::string name;
  GeometryParams params;
  uint64_t array_sectors = 0;
  std::vector<std::pair<uint64_t, std::vector<std::string>>> rows;
};

Table load(const std::filesystem::path& path) {
  Table t;
  t.name = path.filename().string();
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ss(line);
    std::string key;
    ss >> key;
    if (key == "level") {
      std::string k;
      ss >> t.params.level >> k >> t.params.layout >> k >> t.params.chunk_sectors >> k >>
          t.params.raid_disks >> k >> t.array_sectors;
    } else if (key == "member") {
      uint64_t s;
      while (ss >> s) t.params.member_sectors.push_back(s);
    } else if (key == "row") {
      std::string r;
      ss >> r;
      std::vector<std::string> cells;
      std::string c;
      while (ss >> c) cells.push_back(c);
      t.rows.emplace_back(std::stoull(r), std::move(cells));
    }
  }
  return t;
}

std::vector<Table> all_tables() {
  std::vector<Table> out;
  for (const auto& e : std::filesystem::directory_iterator(UMD_LAYOUT_TESTDATA))
    if (e.path().extension() == ".txt") out.push_back(load(e.path()));
  return out;
}

// GF(2^8) with md's polynomial 0x11d and generator 2.
uint8_t gf_mul(uint8_t a, uint8_t b) {
  uint8_t p = 0;
  while (b) {
    if (b & 1) p ^= a;
    a = static_cast<uint8_t>((a << 1) ^ ((a & 0x80) ? 0x1d : 0));
    b >>= 1;
  }
  return p;
}
uint8_t gf_pow2(uint32_t e) {
  uint8_t r = 1;
  while (e--) r = gf_mul(r, 2);
  return r;
}

std::string hex8(const uint8_t* b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 8; ++i) {
    s += d[b[i] >> 4];
    s += d[b[i] & 15];
  }
  return s;
}

TEST(OracleTest, TablesArePresent) { EXPECT_GE(all_tables().size(), 50u); }

TEST(OracleTest, EveryRecordedSectorMatches) {
  for (const Table& t : all_tables()) {
    SCOPED_TRACE(t.name);
    auto g = make_geometry(t.params);
    ASSERT_TRUE(g.is_ok()) << g.status().message();
    EXPECT_EQ(g->array_sectors(), t.array_sectors);
    const uint64_t chunk = t.params.chunk_sectors ? t.params.chunk_sectors : 8;
    for (const auto& [row, cells] : t.rows) {
      SCOPED_TRACE("row " + std::to_string(row));
      ASSERT_EQ(cells.size(), t.params.raid_disks);
      const uint64_t dev = row * chunk;
      // Raid6: rebuild P and Q of the row's first sector from the data entries.
      uint8_t p[8] = {}, q[8] = {};
      const Raid456Geometry* r456 = g->as<Raid456Geometry>();
      StripeMap sm;
      if (r456) sm = r456->stripe(row);
      for (uint32_t d = 0; d < cells.size(); ++d) {
        SCOPED_TRACE("disk " + std::to_string(d));
        const std::string& c = cells[d];
        const DevAddr at{d, dev};
        if (r456) {
          SectorRole role = r456->locate(at);
          if (c == "-") {
            EXPECT_FALSE(role.valid);
            continue;
          }
          ASSERT_TRUE(role.valid);
          if (c == "P") {
            EXPECT_EQ(role.role, DiskRole::p);
          } else if (c.starts_with("PQ:")) {
            EXPECT_NE(role.role, DiskRole::data);
          } else {
            const uint64_t a = std::stoull(c);
            ASSERT_EQ(role.role, DiskRole::data);
            EXPECT_EQ(role.array_sector, a);
            ChunkPlace cp = r456->compute_sector(a);
            EXPECT_EQ(cp.disk, d);
            EXPECT_EQ(cp.dev_sector, dev);
            EXPECT_EQ(sm.data_disk[cp.data_index], d);
            uint8_t bytes[8];
            for (int i = 0; i < 8; ++i) bytes[i] = static_cast<uint8_t>(a >> (8 * i));
            const uint8_t coef = gf_pow2(sm.q_slot[d]);
            for (int i = 0; i < 8; ++i) {
              p[i] ^= bytes[i];
              q[i] ^= gf_mul(coef, bytes[i]);
            }
          }
          continue;
        }
        std::optional<uint64_t> back;
        if (auto* x = g->as<LinearGeometry>()) back = x->to_array(at);
        if (auto* x = g->as<Raid0Geometry>()) back = x->to_array(at);
        if (auto* x = g->as<Raid1Geometry>()) back = x->to_array(at);
        if (auto* x = g->as<Raid10Geometry>()) back = x->to_array(at);
        if (c == "-") {
          EXPECT_FALSE(back.has_value());
          continue;
        }
        const uint64_t a = std::stoull(c);
        ASSERT_TRUE(back.has_value());
        EXPECT_EQ(*back, a);
        if (auto* x = g->as<Raid10Geometry>()) {
          Raid10Copies cp = x->copies(a);
          bool found = false;
          for (uint32_t i = 0; i < cp.count; ++i) found |= cp.at[i] == at;
          EXPECT_TRUE(found);
        } else if (auto* x = g->as<Raid1Geometry>()) {
          EXPECT_EQ(x->map(a, d).at, at);
        } else {
          DevExtent e = g->as<LinearGeometry>() ? g->as<LinearGeometry>()->map(a)
                                                : g->as<Raid0Geometry>()->map(a);
          EXPECT_EQ(e.at, at);
        }
      }
      if (r456 && t.params.level == kLevelRaid6) {
        EXPECT_EQ(cells[sm.pd_idx], "PQ:" + hex8(p));
        EXPECT_EQ(cells[sm.qd_idx], "PQ:" + hex8(q));
      }
    }
  }
}

}  // namespace
}  // namespace umd::layout
