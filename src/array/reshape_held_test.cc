// Members whose superblocks record a reshape stopped half-way, read (open_array_read_only)
// and served (Array, with the reshape held): every sector must come from, and go to, the
// geometry that holds it. The kernel's own members are tested in
// tests/oracle/kernel_reshape_to_umd_test.py; these build the state by hand, so they run
// without the VM and can put the boundary anywhere.
#include <gtest/gtest.h>

#include <cstring>

#include "array/array.h"
#include "array/array_reader.h"
#include "personality/reshaping_personality.h"
#include "assemble/engine_test_util.h"
#include "layout/geometry.h"
#include "util/aligned_buffer.h"

namespace umd::engine {
namespace {

using testing::make_sb1;
using testing::member_with_sb1;
using testing::probed;

constexpr uint64_t kDev = 4096;  // sectors per member
constexpr uint32_t kChunk = 8;

struct Shape {
  const char* name;
  uint32_t from, to;         // raid_disks before and after
  uint64_t old_off, new_off; // data offsets
};

// Each 512-byte array sector holds its own number.
void fill(uint8_t* p, uint64_t first, uint64_t sectors) {
  for (uint64_t s = 0; s < sectors; s++) {
    std::memset(p + s * 512, 0, 512);
    const uint64_t v = first + s;
    std::memcpy(p + s * 512, &v, sizeof v);
  }
}

layout::Geometry raid5(uint32_t disks, uint64_t size) {
  layout::GeometryParams p;
  p.level = 5;
  p.layout = 2;
  p.chunk_sectors = kChunk;
  p.raid_disks = disks;
  p.member_sectors = {size};
  return std::move(layout::make_geometry(p)).value();
}

// Writes array sectors [lo, hi) through `geo` with the members' data at `off`.
void write_through(const layout::Geometry& geo, const std::vector<io::Member*>& devs, uint64_t off, uint64_t lo,
                   uint64_t hi) {
  std::vector<Slot> slots;
  for (uint32_t s = 0; s < geo.raid_disks(); s++) slots.push_back(Slot{devs[s], off});
  auto p = make_personality(geo, slots);
  ASSERT_TRUE(p.is_ok()) << p.status().message();
  AlignedBuffer buf((hi - lo) * 512);
  fill(buf.data(), lo, hi - lo);
  ASSERT_TRUE(submit_and_wait(**p, BlockOp::write, lo * 512, (hi - lo) * 512, buf.data()).is_ok());
}

// Members of a raid5 whose reshape from sh.from to sh.to disks stopped a third of the way
// (from where it began): written whole in the old geometry, then the reshaped part again in
// the new one (below the position going forwards, above it backwards).
struct Reshaped {
  std::vector<std::unique_ptr<io::MemoryMember>> mems;
  uint64_t position = 0, end = 0;
};

Reshaped make_reshaped(const Shape& sh) {
  Reshaped out;
  const uint32_t slots = std::max(sh.from, sh.to);
  const bool backwards = sh.to < sh.from;
  std::vector<Superblock1> sbs;
  for (uint32_t i = 0; i < slots; i++) {
    Superblock1 sb = make_sb1(2, kDev, 5, sh.to, i);
    sb.data_offset = sh.old_off;
    sb.data_size = kDev - sh.old_off;  // from data_offset to the end
    sb.size = (kDev - std::max(sh.old_off, sh.new_off)) / kChunk * kChunk;  // fits at either offset
    sb.feature_map |= kFeatureReshapeActive;
    if (sh.new_off != sh.old_off) {
      sb.feature_map |= kFeatureNewOffset;
      sb.new_offset = uint32_t(int32_t(sh.new_off) - int32_t(sh.old_off));
    }
    sb.delta_disks = uint32_t(int32_t(sh.to) - int32_t(sh.from));
    sb.new_level = 5;
    sb.new_layout = sb.layout;
    sb.new_chunk = sb.chunksize;
    for (uint32_t d = 0; d < slots; d++) sb.dev_roles[d] = uint16_t(d);  // a shrink's leaving slot is still active
    sbs.push_back(sb);
  }
  const uint64_t size = sbs[0].size;
  const layout::Geometry old_geo = raid5(sh.from, size), new_geo = raid5(sh.to, size);
  out.end = std::min(old_geo.array_sectors(), new_geo.array_sectors());
  // A boundary on a stripe of both geometries.
  const uint64_t unit = uint64_t(kChunk) * (sh.from - 1) * (sh.to - 1);
  out.position = (backwards ? out.end - out.end / 3 : out.end / 3) / unit * unit;
  for (auto& sb : sbs) sb.reshape_position = out.position;
  std::vector<io::Member*> devs;
  for (uint32_t i = 0; i < slots; i++) {
    out.mems.push_back(member_with_sb1("d" + std::to_string(i) + ".img", kDev, sbs[i]));
    devs.push_back(out.mems.back().get());
  }
  write_through(old_geo, devs, sh.old_off, 0, out.end);
  if (backwards) {
    write_through(new_geo, devs, sh.new_off, out.position, out.end);
  } else {
    write_through(new_geo, devs, sh.new_off, 0, out.position);
  }
  return out;
}

// Every sector of `got` holds its number.
void expect_numbered(const uint8_t* got, uint64_t first, uint64_t sectors, const std::string& what) {
  for (uint64_t s = 0; s < sectors; s++) {
    uint64_t v;
    std::memcpy(&v, got + s * 512, sizeof v);
    ASSERT_EQ(v, first + s) << what << ": array sector " << first + s;
  }
}

class ReshapeReadTest : public ::testing::TestWithParam<Shape> {};

TEST_P(ReshapeReadTest, EachSectorComesFromTheGeometryThatHoldsIt) {
  const Shape& sh = GetParam();
  Reshaped rs = make_reshaped(sh);
  const uint64_t position = rs.position, end = rs.end;
  auto& mems = rs.mems;
  std::vector<ProbedMember> ms;
  for (auto& m : mems) ms.push_back(probed(std::move(m)));
  auto r = open_array_read_only(std::move(ms), {});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  ASSERT_NE(dynamic_cast<ReshapingPersonality*>(r->personality.get()), nullptr);  // both geometries
  EXPECT_TRUE(r->set.missing_slots().empty());
  EXPECT_EQ(r->array_sectors(), end);
  AlignedBuffer got(end * 512), want(end * 512);
  fill(want.data(), 0, end);
  ASSERT_TRUE(r->read(0, end, got.data()).is_ok());
  expect_numbered(got.data(), 0, end, "reshape at " + std::to_string(position));
  // A read across the boundary, in pieces of odd sizes.
  ASSERT_TRUE(r->read(position - 5, 13, got.data()).is_ok());
  EXPECT_EQ(std::memcmp(got.data(), want.data() + (position - 5) * 512, 13 * 512), 0);
  EXPECT_EQ(r->read(end - 1, 2, got.data()).code(), Err::invalid);
}

// The Array serves the same members with the reshape held: reads and writes across the
// boundary go to the geometry that holds each sector, and after stop() the superblocks
// still record the reshape where it was, so the kernel (or umd) can take it up.
TEST_P(ReshapeReadTest, ServedWithTheReshapeHeldWhereItStopped) {
  const Shape& sh = GetParam();
  Reshaped rs = make_reshaped(sh);
  std::vector<std::unique_ptr<io::Member>> devs;
  for (auto& m : rs.mems) devs.push_back(std::make_unique<testing::BorrowedMember>(m.get()));
  auto a = Array::assemble_members("t", std::move(devs), {});
  ASSERT_TRUE(a.is_ok()) << a.status().message();
  Array& arr = **a;
  EXPECT_EQ(arr.size_bytes(), rs.end * 512);
  EXPECT_EQ(*arr.attr("reshape_position"), std::to_string(rs.position));
  EXPECT_TRUE(arr.detail().reshape.has_value());
  // Reads: whole, and across the boundary.
  AlignedBuffer buf(rs.end * 512);
  ASSERT_TRUE(submit_and_wait(arr, BlockOp::read, 0, rs.end * 512, buf.data()).is_ok());
  expect_numbered(buf.data(), 0, rs.end, "served read");
  // Writes across the boundary: sectors [position - 24, position + 40) get new numbers.
  const uint64_t lo = rs.position - 24, n = 64;
  AlignedBuffer w(n * 512);
  fill(w.data(), 1000000 + lo, n);
  ASSERT_TRUE(submit_and_wait(arr, BlockOp::write, lo * 512, n * 512, w.data(), true).is_ok());
  AlignedBuffer back(n * 512);
  ASSERT_TRUE(submit_and_wait(arr, BlockOp::read, lo * 512, n * 512, back.data()).is_ok());
  expect_numbered(back.data(), 1000000 + lo, n, "read after write");
  // Held: nothing may start that the reshape would have to wait for.
  EXPECT_EQ(arr.set_attr("sync_action", "check").code(), Err::busy);
  EXPECT_EQ(arr.set_attr("sync_action", "resync").code(), Err::busy);
  EXPECT_EQ(arr.set_bitmap("internal").code(), Err::busy);
  ASSERT_TRUE(arr.stop().is_ok());
  a->reset();

  // The members read offline: the write is where each geometry put it, the rest as before.
  std::vector<ProbedMember> ms;
  for (auto& m : rs.mems) ms.push_back(probed(std::move(m)));
  auto r = open_array_read_only(std::move(ms), {});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  ASSERT_TRUE(r->set.reshape.has_value());
  EXPECT_EQ(r->set.reshape->position, rs.position);
  EXPECT_TRUE(r->set.ref.clean);
  ASSERT_TRUE(r->read(0, rs.end, buf.data()).is_ok());
  expect_numbered(buf.data(), 0, lo, "below the write");
  expect_numbered(buf.data() + lo * 512, 1000000 + lo, n, "the write");
  expect_numbered(buf.data() + (lo + n) * 512, lo + n, rs.end - lo - n, "above the write");
}

INSTANTIATE_TEST_SUITE_P(Shapes, ReshapeReadTest,
                         ::testing::Values(Shape{"grow_3_to_4_data_moves_down", 3, 4, 256, 128},
                                           Shape{"grow_4_to_5_in_place", 4, 5, 128, 128},
                                           Shape{"shrink_4_to_3_in_place", 4, 3, 128, 128},
                                           Shape{"shrink_4_to_3_data_moves_up", 4, 3, 128, 256}),
                         [](const auto& info) { return std::string(info.param.name); });

// An in-place reshape cut off (superblocks active) is refused, as mdadm refuses it without
// the backup file, and nothing is written to the members.
TEST(ReshapeHeldTest, AnInPlaceReshapeCutOffIsNotServed) {
  Reshaped rs = make_reshaped(Shape{"grow_4_to_5_in_place", 4, 5, 128, 128});
  std::vector<std::vector<uint8_t>> before;
  for (auto& m : rs.mems) {
    // Mark the superblock active (resync_offset 0), as a crash mid-write leaves it.
    auto sb = decode_superblock1(std::span<const uint8_t>(m->raw().data() + 8 * 512, 4096));
    ASSERT_TRUE(sb.is_ok()) << sb.status().message();
    sb->resync_offset = 0;
    auto bytes = encode_superblock1(*sb);
    std::memcpy(m->raw().data() + 8 * 512, bytes.data(), bytes.size());
    before.emplace_back(m->raw().begin(), m->raw().end());
  }
  std::vector<std::unique_ptr<io::Member>> devs;
  for (auto& m : rs.mems) devs.push_back(std::make_unique<testing::BorrowedMember>(m.get()));
  auto a = Array::assemble_members("t", std::move(devs), {});
  ASSERT_FALSE(a.is_ok());
  EXPECT_NE(a.status().message().find("may be whole only in mdadm's backup file"), std::string::npos)
      << a.status().message();
  for (size_t i = 0; i < rs.mems.size(); i++) {
    EXPECT_TRUE(std::equal(before[i].begin(), before[i].end(), rs.mems[i]->raw().begin())) << "member " << i;
  }
}

}  // namespace
}  // namespace umd::engine
