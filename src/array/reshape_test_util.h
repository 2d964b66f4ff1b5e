// Members of a raid5 whose superblocks record a reshape stopped part-way, built by hand
// (no VM) so tests can put the boundary anywhere: shared by reshape_held_test.cc (reading
// and serving it held) and reshape_move_test.cc (moving it to the end).
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "assemble/engine_test_util.h"
#include "block/block_wait.h"
#include "layout/geometry.h"
#include "personality/personality.h"
#include "util/aligned_buffer.h"

namespace umd::engine::reshape_test {

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
inline void fill(uint8_t* p, uint64_t first, uint64_t sectors) {
  for (uint64_t s = 0; s < sectors; s++) {
    std::memset(p + s * 512, 0, 512);
    const uint64_t v = first + s;
    std::memcpy(p + s * 512, &v, sizeof v);
  }
}

inline layout::Geometry raid5(uint32_t disks, uint64_t size) {
  layout::GeometryParams p;
  p.level = 5;
  p.layout = 2;
  p.chunk_sectors = kChunk;
  p.raid_disks = disks;
  p.member_sectors = {size};
  return std::move(layout::make_geometry(p)).value();
}

// Writes array sectors [lo, hi) through `geo` with the members' data at `off`.
inline void write_through(const layout::Geometry& geo, const std::vector<io::Member*>& devs, uint64_t off, uint64_t lo,
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

// thirds: how much of the reshape is done, in thirds of the array (0: just started).
inline Reshaped make_reshaped(const Shape& sh, uint64_t thirds = 1) {
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
  out.position = (backwards ? out.end - out.end * thirds / 3 : out.end * thirds / 3) / unit * unit;
  if (backwards && thirds == 0) out.position = out.end;
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
inline void expect_numbered(const uint8_t* got, uint64_t first, uint64_t sectors, const std::string& what) {
  for (uint64_t s = 0; s < sectors; s++) {
    uint64_t v;
    std::memcpy(&v, got + s * 512, sizeof v);
    ASSERT_EQ(v, first + s) << what << ": array sector " << first + s;
  }
}

}  // namespace umd::engine::reshape_test
