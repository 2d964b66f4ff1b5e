// End-to-end reads through make_personality: a known pattern is laid out in ARRAY space
// on RAM members (computing where every sector goes from the geometry, and P/Q with the
// parity module), then read back whole, degraded, and with failing members.
#include <gtest/gtest.h>

#include <random>

#include "assemble/engine_test_util.h"
#include "personality/personality.h"
#include "io/fault_member.h"
#include "io/memory_member.h"
#include "layout/geometry.h"
#include "parity/parity.h"
#include "util/aligned_buffer.h"

namespace umd::engine {
namespace {

using layout::GeometryParams;

constexpr uint64_t kDataOffset = 24;  // sectors before the data on every member

struct Case {
  std::string name;
  GeometryParams p;
};

std::ostream& operator<<(std::ostream& os, const Case& c) { return os << c.name; }

// Sectors each member must hold (data area), from the geometry.
uint64_t member_data_sectors(const GeometryParams& p, uint32_t disk) {
  return p.member_sectors.size() == 1 ? p.member_sectors[0] : p.member_sectors[disk];
}


std::unique_ptr<io::FaultyMember> faulty_over(io::Member* m) {
  return std::make_unique<io::FaultyMember>(std::make_unique<testing::BorrowedMember>(m));
}

class Array {
 public:
  explicit Array(const GeometryParams& p) : geo_(make(p)) {
    for (uint32_t d = 0; d < p.raid_disks; d++) {
      mem_.push_back(io::make_memory_member("m" + std::to_string(d) + ".img",
                                            (kDataOffset + member_data_sectors(p, d)) * 512));
    }
    data_ = AlignedBuffer(geo_.array_sectors() * 512);
    std::mt19937_64 rng(geo_.array_sectors() * 131 + p.layout * 7 + uint64_t(p.level + 1));
    for (size_t i = 0; i < data_.size(); i += 8) {
      uint64_t v = rng();
      std::memcpy(data_.data() + i, &v, 8);
    }
    lay_out();
  }

  const layout::Geometry& geo() const { return geo_; }
  const uint8_t* data() const { return data_.data(); }
  io::MemoryMember& member(uint32_t d) { return *mem_[d]; }

  // Slots over the members, with `missing` ones left empty and `over` ones replaced.
  std::vector<Slot> slots(const std::vector<uint32_t>& missing = {},
                          const std::map<uint32_t, io::Member*>& over = {}) {
    std::vector<Slot> s;
    for (uint32_t d = 0; d < geo_.raid_disks(); d++) {
      io::Member* m = mem_[d].get();
      if (auto it = over.find(d); it != over.end()) m = it->second;
      if (std::find(missing.begin(), missing.end(), d) != missing.end()) m = nullptr;
      s.push_back(Slot{m, kDataOffset});
    }
    return s;
  }

  std::unique_ptr<Personality> personality(std::vector<Slot> s) {
    auto p = make_personality(geo_, std::move(s));
    EXPECT_TRUE(p.is_ok()) << p.status().message();
    return p.is_ok() ? std::move(p).value() : nullptr;
  }

  // Reads the whole array in one call, or in `piece`-sector reads; ok and exact, or the error.
  Status read_all(Personality& p, uint64_t piece = 0) {
    const uint64_t total = geo_.array_sectors();
    AlignedBuffer out(total * 512);
    std::memset(out.data(), 0xee, out.size());
    if (piece == 0) {
      UMD_TRY(p.read(0, total, out.data()));
    } else {
      for (uint64_t s = 0; s < total; s += piece) {
        UMD_TRY(p.read(s, std::min(piece, total - s), out.data() + s * 512));
      }
    }
    for (uint64_t s = 0; s < total; s++) {
      if (std::memcmp(out.data() + s * 512, data_.data() + s * 512, 512) != 0) {
        ADD_FAILURE() << "array sector " << s << " differs";
        return Status(Err::corrupt, "mismatch");
      }
    }
    return Status::ok();
  }

 private:
  static layout::Geometry make(const GeometryParams& p) {
    auto g = layout::make_geometry(p);
    EXPECT_TRUE(g.is_ok()) << g.status().message();
    return std::move(g).value();
  }

  uint8_t* at(layout::DevAddr a) { return mem_[a.disk]->raw().data() + (kDataOffset + a.sector) * 512; }

  void lay_out() {
    const uint64_t total = geo_.array_sectors();
    if (const auto* g = geo_.as<layout::Raid456Geometry>()) {
      lay_out_parity(*g);
      return;
    }
    for (uint64_t s = 0; s < total;) {
      const uint8_t* src = data_.data() + s * 512;
      uint64_t len = 0;
      if (const auto* g = geo_.as<layout::LinearGeometry>()) {
        auto e = g->map(s);
        len = e.len;
        std::memcpy(at(e.at), src, std::min(len, total - s) * 512);
      } else if (const auto* g0 = geo_.as<layout::Raid0Geometry>()) {
        auto e = g0->map(s);
        len = e.len;
        std::memcpy(at(e.at), src, std::min(len, total - s) * 512);
      } else if (const auto* g1 = geo_.as<layout::Raid1Geometry>()) {
        len = total - s;
        for (uint32_t d = 0; d < g1->raid_disks(); d++) std::memcpy(at(g1->map(s, d).at), src, len * 512);
      } else if (const auto* g10 = geo_.as<layout::Raid10Geometry>()) {
        auto c = g10->copies(s);
        len = std::min(c.len, total - s);
        for (uint32_t i = 0; i < c.count; i++) std::memcpy(at(c.at[i]), src, len * 512);
      }
      ASSERT_GT(len, 0u) << "sector " << s;
      s += len;
    }
  }

  void lay_out_parity(const layout::Raid456Geometry& g) {
    const uint64_t chunk = g.chunk_sectors();
    const size_t bytes = chunk * 512;
    for (uint64_t row = 0; row < g.rows(); row++) {
      const layout::StripeMap m = g.stripe(row);
      ASSERT_EQ(m.ndata, g.data_disks());
      const layout::DevAddr base{0, row * chunk};
      for (uint32_t dd = 0; dd < m.ndata; dd++) {
        const uint32_t disk = m.data_disk[dd];
        const uint64_t array_sector = (row * m.ndata + dd) * chunk;
        // The per-sector map agrees with the row map.
        const layout::ChunkPlace cp = g.compute_sector(array_sector);
        ASSERT_EQ(cp.disk, disk);
        ASSERT_EQ(cp.dev_sector, row * chunk);
        std::memcpy(at({disk, base.sector}), data_.data() + array_sector * 512, bytes);
      }
      uint8_t* p = at({uint32_t(m.pd_idx), base.sector});
      if (m.qd_idx < 0) {
        std::vector<const uint8_t*> blocks(m.ndata, nullptr);
        for (uint32_t d = 0; d < m.raid_disks; d++) {
          if (m.role[d] == layout::DiskRole::data) blocks[m.data_index[d]] = at({d, base.sector});
        }
        parity::gen_p(blocks, p, bytes);
      } else {
        std::vector<const uint8_t*> slots(m.syndrome_width, nullptr);
        for (uint32_t d = 0; d < m.raid_disks; d++) {
          if (m.role[d] == layout::DiskRole::data) {
            ASSERT_LT(m.q_slot[d], m.syndrome_width);
            ASSERT_EQ(slots[m.q_slot[d]], nullptr);
            slots[m.q_slot[d]] = at({d, base.sector});
          }
        }
        parity::gen_pq(slots, p, at({uint32_t(m.qd_idx), base.sector}), bytes);
      }
    }
  }

  layout::Geometry geo_;
  std::vector<std::unique_ptr<io::MemoryMember>> mem_;
  AlignedBuffer data_;
};

GeometryParams gp(int level, uint32_t layout, uint32_t chunk, uint32_t disks, std::vector<uint64_t> sizes) {
  return GeometryParams{level, layout, chunk, disks, std::move(sizes)};
}

std::vector<Case> all_cases() {
  std::vector<Case> v;
  v.push_back({"linear_3_unequal", gp(-1, 0, 0, 3, {40, 72, 17})});
  v.push_back({"linear_1", gp(-1, 0, 0, 1, {33})});
  v.push_back({"raid0_3_equal", gp(0, 2, 8, 3, {64, 64, 64})});
  v.push_back({"raid0_3_unequal_alt", gp(0, 2, 8, 3, {32, 96, 64})});
  v.push_back({"raid0_3_unequal_orig", gp(0, 1, 8, 3, {32, 96, 64})});
  v.push_back({"raid0_4_unequal_alt_chunk16", gp(0, 2, 16, 4, {200, 48, 100, 160})});
  v.push_back({"raid1_2", gp(1, 0, 0, 2, {50})});
  v.push_back({"raid1_3", gp(1, 0, 0, 3, {50})});
  v.push_back({"raid1_20", gp(1, 0, 0, 20, {9})});  // more members than raid10 has copies
  v.push_back({"raid10_n2_3", gp(10, 0x102, 8, 3, {64})});
  v.push_back({"raid10_n2_4", gp(10, 0x102, 8, 4, {64})});
  v.push_back({"raid10_f2_3", gp(10, 0x201, 8, 3, {64})});
  v.push_back({"raid10_f2_4", gp(10, 0x201, 8, 4, {64})});
  v.push_back({"raid10_o2_3", gp(10, 0x10201, 8, 3, {64})});
  v.push_back({"raid10_o2_4", gp(10, 0x10201, 8, 4, {64})});
  v.push_back({"raid10_n3_5", gp(10, 0x103, 8, 5, {64})});
  v.push_back({"raid10_n2f2_4", gp(10, 0x202, 8, 4, {64})});
  v.push_back({"raid4_4", gp(4, 0, 8, 4, {64})});
  v.push_back({"raid4_3_layout5", gp(4, 5, 8, 3, {64})});
  for (uint32_t l = 0; l <= 5; l++) {
    v.push_back({"raid5_4_layout" + std::to_string(l), gp(5, l, 8, 4, {64})});
    v.push_back({"raid5_5_layout" + std::to_string(l), gp(5, l, 16, 5, {80})});
  }
  v.push_back({"raid5_2_layout2", gp(5, 2, 8, 2, {48})});
  for (uint32_t l : {0u, 1u, 2u, 3u, 4u, 5u, 8u, 9u, 10u, 16u, 17u, 18u, 19u, 20u}) {
    v.push_back({"raid6_5_layout" + std::to_string(l), gp(6, l, 8, 5, {80})});
    v.push_back({"raid6_6_layout" + std::to_string(l), gp(6, l, 8, 6, {96})});
  }
  v.push_back({"raid6_4_layout2", gp(6, 2, 8, 4, {64})});
  return v;
}

class PersonalityTest : public ::testing::TestWithParam<Case> {};

TEST_P(PersonalityTest, ReadsBackWithEveryMember) {
  Array a(GetParam().p);
  ASSERT_GT(a.geo().array_sectors(), 0u);
  auto p = a.personality(a.slots());
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->array_sectors(), a.geo().array_sectors());
  EXPECT_EQ(p->geometry().level(), GetParam().p.level);
  Status st = a.read_all(*p);
  EXPECT_TRUE(st.is_ok()) << st.message();
  // Reads that start and end inside chunks.
  for (uint64_t piece : {1u, 3u, 5u, 13u}) {
    st = a.read_all(*p, piece);
    EXPECT_TRUE(st.is_ok()) << "piece " << piece << ": " << st.message();
  }
}

TEST_P(PersonalityTest, ReadsBeyondTheEndAreInvalid) {
  Array a(GetParam().p);
  auto p = a.personality(a.slots());
  ASSERT_NE(p, nullptr);
  const uint64_t n = a.geo().array_sectors();
  AlignedBuffer buf(4 * 512);
  EXPECT_EQ(p->read(n, 1, buf.data()).code(), Err::invalid);
  EXPECT_EQ(p->read(n - 1, 2, buf.data()).code(), Err::invalid);
  EXPECT_EQ(p->read(n + 100, 1, buf.data()).code(), Err::invalid);
  EXPECT_EQ(p->read(1, UINT64_MAX, buf.data()).code(), Err::invalid);
  EXPECT_TRUE(p->read(n, 0, buf.data()).is_ok());
  ASSERT_TRUE(p->read(n - 1, 1, buf.data()).is_ok());
  EXPECT_EQ(std::memcmp(buf.data(), a.data() + (n - 1) * 512, 512), 0);
}

// Whether reading the whole array must succeed with these members gone.
bool readable(const layout::Geometry& g, const std::vector<uint32_t>& missing) {
  return missing.empty() || g.survives(missing);
}

TEST_P(PersonalityTest, EachSingleMemberMissing) {
  Array a(GetParam().p);
  for (uint32_t d = 0; d < a.geo().raid_disks(); d++) {
    auto p = a.personality(a.slots({d}));
    ASSERT_NE(p, nullptr);
    Status st = a.read_all(*p);
    if (readable(a.geo(), {d})) {
      EXPECT_TRUE(st.is_ok()) << "slot " << d << " missing: " << st.message();
      st = a.read_all(*p, 5);
      EXPECT_TRUE(st.is_ok()) << "slot " << d << " missing, 5-sector reads: " << st.message();
    } else {
      EXPECT_EQ(st.code(), Err::io) << "slot " << d << " missing: " << st.message();
    }
  }
}

TEST_P(PersonalityTest, EveryPairMissing) {
  Array a(GetParam().p);
  const uint32_t n = a.geo().raid_disks();
  if (n < 3) GTEST_SKIP() << "fewer than three members";
  for (uint32_t x = 0; x < n; x++) {
    for (uint32_t y = x + 1; y < n; y++) {
      auto p = a.personality(a.slots({x, y}));
      ASSERT_NE(p, nullptr);
      Status st = a.read_all(*p);
      if (readable(a.geo(), {x, y})) {
        EXPECT_TRUE(st.is_ok()) << "slots " << x << "," << y << " missing: " << st.message();
      } else {
        EXPECT_EQ(st.code(), Err::io) << "slots " << x << "," << y << " missing: " << st.message();
      }
    }
  }
}

// A member whose reads fail in the middle of its data (chunk rows 1-2 of an 8-sector chunk,
// or sectors 8..23 of a raid1/linear member).
TEST_P(PersonalityTest, FailingReadsOnOneMember) {
  Array a(GetParam().p);
  uint64_t hits = 0;
  for (uint32_t d = 0; d < a.geo().raid_disks(); d++) {
    auto faulty = faulty_over(&a.member(d));
    faulty->fail_reads((kDataOffset + 8) * 512, 16 * 512);
    auto p = a.personality(a.slots({}, {{d, faulty.get()}}));
    ASSERT_NE(p, nullptr);
    Status st = a.read_all(*p, 7);
    const int level = a.geo().level();
    if (level == 0 || level == -1) {
      // No redundancy: the failure shows, unless the range holds none of the array.
      if (!st.is_ok()) {
        EXPECT_EQ(st.code(), Err::io) << st.message();
        EXPECT_NE(st.message().find("injected"), std::string::npos) << st.message();
      }
    } else {
      EXPECT_TRUE(st.is_ok()) << "slot " << d << " failing: " << st.message();
    }
    hits += faulty->counters().failed;
  }
  EXPECT_GT(hits, 0u) << "no fault was ever hit";
}

// Degraded and failing at once: redundancy spent on the missing member cannot also cover
// a failing one, except for raid6 (two) and mirrors with copies to spare.
TEST_P(PersonalityTest, MissingPlusFailing) {
  Array a(GetParam().p);
  const uint32_t n = a.geo().raid_disks();
  const int level = a.geo().level();
  if (level <= 0 || n < 3) GTEST_SKIP();
  for (uint32_t gone = 0; gone < n; gone++) {
    const uint32_t bad = (gone + 1) % n;
    auto faulty = faulty_over(&a.member(bad));
    faulty->fail_reads(0, UINT64_MAX / 2);  // every read of the member fails
    auto p = a.personality(a.slots({gone}, {{bad, faulty.get()}}));
    ASSERT_NE(p, nullptr);
    Status st = a.read_all(*p);
    if (readable(a.geo(), {gone, bad})) {
      EXPECT_TRUE(st.is_ok()) << gone << " missing, " << bad << " failing: " << st.message();
    } else {
      EXPECT_EQ(st.code(), Err::io) << gone << " missing, " << bad << " failing: " << st.message();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Levels, PersonalityTest, ::testing::ValuesIn(all_cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace umd::engine

namespace umd::engine {
namespace {

// raid1 may have far more members than raid10 has copies (kMaxRaid10Copies): any one of
// them must be enough, the last ones included.
TEST(MirroredTest, Raid1OfManyMembersReadsFromAnyOne) {
  Array a(gp(1, 0, 0, 20, {9}));
  for (uint32_t keep = 0; keep < 20; keep++) {
    std::vector<uint32_t> missing;
    for (uint32_t d = 0; d < 20; d++) {
      if (d != keep) missing.push_back(d);
    }
    auto p = a.personality(a.slots(missing));
    ASSERT_NE(p, nullptr);
    Status st = a.read_all(*p);
    EXPECT_TRUE(st.is_ok()) << "only slot " << keep << " present: " << st.message();
  }
}

// The first copy failing falls to the next, for every raid10 layout tried.
TEST(MirroredTest, FirstCopyFailingFallsToTheNext) {
  for (uint32_t layout : {0x102u, 0x201u, 0x10201u}) {
    Array a(gp(10, layout, 8, 4, {64}));
    const auto* g = a.geo().as<layout::Raid10Geometry>();
    ASSERT_NE(g, nullptr);
    // Make every member fail every read of the chunk row holding array sector 40's first copy.
    const layout::Raid10Copies c = g->copies(40);
    auto faulty = faulty_over(&a.member(c.at[0].disk));
    faulty->fail_reads((kDataOffset + c.at[0].sector) * 512, 512);
    auto p = a.personality(a.slots({}, {{c.at[0].disk, faulty.get()}}));
    ASSERT_NE(p, nullptr);
    AlignedBuffer buf(512);
    ASSERT_TRUE(p->read(40, 1, buf.data()).is_ok()) << std::hex << layout;
    EXPECT_EQ(std::memcmp(buf.data(), a.data() + 40 * 512, 512), 0);
    EXPECT_EQ(faulty->counters().failed, 1u);
    // With the other copy missing as well, the member's error comes back.
    auto q = a.personality(a.slots({c.at[1].disk}, {{c.at[0].disk, faulty.get()}}));
    Status st = q->read(40, 1, buf.data());
    EXPECT_EQ(st.code(), Err::io);
    EXPECT_NE(st.message().find("injected"), std::string::npos) << st.message();
  }
}

TEST(ParityTest, UnrecoverableRowNamesTheCause) {
  Array a(gp(5, 2, 8, 4, {64}));
  auto faulty = faulty_over(&a.member(2));
  faulty->fail_reads(0, UINT64_MAX / 2);
  auto p = a.personality(a.slots({0}, {{2, faulty.get()}}));
  AlignedBuffer buf(a.geo().array_sectors() * 512);
  Status st = p->read(0, a.geo().array_sectors(), buf.data());
  EXPECT_EQ(st.code(), Err::io);
  EXPECT_NE(st.message().find("raid5 tolerates 1"), std::string::npos) << st.message();
}

TEST(PersonalityMakeTest, SlotCountMustMatch) {
  auto g = layout::make_geometry(gp(5, 2, 8, 4, {64}));
  ASSERT_TRUE(g.is_ok());
  auto p = make_personality(*g, std::vector<Slot>(3));
  ASSERT_FALSE(p.is_ok());
  EXPECT_EQ(p.status().code(), Err::invalid);
}

TEST(StripedTest, MissingMemberIsAnIoErrorNamingTheSlot) {
  Array a(gp(0, 2, 8, 3, {64, 64, 64}));
  auto p = a.personality(a.slots({1}));
  AlignedBuffer buf(8 * 512);
  EXPECT_TRUE(p->read(0, 8, buf.data()).is_ok());  // chunk 0 lives on slot 0
  Status st = p->read(8, 8, buf.data());
  EXPECT_EQ(st.code(), Err::io);
  EXPECT_NE(st.message().find("slot 1"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace umd::engine
