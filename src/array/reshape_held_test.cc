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
#include "array/reshape_test_util.h"
#include "assemble/engine_test_util.h"
#include "layout/geometry.h"
#include "util/aligned_buffer.h"

namespace umd::engine {
namespace {

using namespace reshape_test;
using testing::probed;

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
  AssembleOptions opts;
  opts.freeze_reshape = true;  // else the reshapes that move the data offset resume
  auto a = Array::assemble_members("t", std::move(devs), opts);
  ASSERT_TRUE(a.is_ok()) << a.status().message();
  Array& arr = **a;
  EXPECT_EQ(*arr.attr("sync_action"), "frozen");
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

// An in-place reshape cut off (superblocks active) inside its critical section is refused,
// as mdadm refuses it without the backup file, and nothing is written to the members.
// (Past the critical section it resumes alone: reshape_move_test.cc.)
TEST(ReshapeHeldTest, AnInPlaceReshapeCutOffInItsCriticalSectionIsNotServed) {
  Reshaped rs = make_reshaped(Shape{"grow_4_to_5_in_place", 4, 5, 128, 128}, 0);
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
  EXPECT_NE(a.status().message().find("--assemble --backup-file=FILE"), std::string::npos)
      << a.status().message();
  for (size_t i = 0; i < rs.mems.size(); i++) {
    EXPECT_TRUE(std::equal(before[i].begin(), before[i].end(), rs.mems[i]->raw().begin())) << "member " << i;
  }
}

}  // namespace
}  // namespace umd::engine
