// Bitmaps written by the real kernel (Linux 6.1, mdadm 4.2; testdata/make_fixtures.sh),
// and a lockless one built from Linux 6.18's definitions (testdata/make_v6_fixture.py):
// decoding them must give what mdadm -X printed (for the lockless one: the sysfs texts).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "bitmap/bitmap_location.h"
#include "bitmap/bitmap_super.h"
#include "bitmap/classic_bits.h"
#include "bitmap/llbitmap_state.h"
#include "bitmap/testdata_util.h"
#include "format/member_info.h"

namespace umd::bitmap {
namespace {

using testing::FixtureEntry;

// The MemberInfo of a fixture's md superblock.
MemberInfo member_info(const FixtureEntry& f) {
  const auto sb = testing::load_fixture(f.name + ".sb");
  if (auto sb1 = decode_superblock1(sb); sb1.is_ok()) return from_superblock1(*sb1);
  auto sb0 = decode_superblock0(sb);
  EXPECT_TRUE(sb0.is_ok()) << f.name << ": " << sb0.status().message();
  return from_superblock0(*sb0, uint64_t(f.values.at("size")));
}

std::string human_chunk(uint64_t bytes) {
  const char* suffix[] = {"B", "KB", "MB", "GB", "TB"};
  int i = 0;
  while (bytes >> 10) bytes >>= 10, i++;
  return fmt::format("{} {}", bytes, suffix[i]);
}

// Checks one decoded bitmap against its mdadm -X text.
void expect_matches_mdadm(const std::string& name, std::span<const uint8_t> region,
                          int metadata_major) {
  SCOPED_TRACE(name);
  const auto x = testing::parse_fields(testing::load_text(name + ".X.txt"));
  ASSERT_FALSE(x.empty());
  auto sb = decode_bitmap_super(region);
  ASSERT_TRUE(sb.is_ok()) << sb.status().message();
  EXPECT_EQ(fmt::format("{:08x}", sb->magic), x.at("Magic"));
  EXPECT_EQ(std::to_string(sb->version), x.at("Version"));
  EXPECT_EQ(format_uuid_mdadm(sb->uuid, metadata_major), x.at("UUID"));
  EXPECT_EQ(std::to_string(sb->events), x.at("Events"));
  EXPECT_EQ(std::to_string(sb->events_cleared), x.at("Events Cleared"));
  EXPECT_EQ(sb->state, 0u);
  EXPECT_EQ(x.at("State"), "OK");
  EXPECT_EQ(human_chunk(sb->chunk_bytes()), x.at("Chunksize"));
  EXPECT_EQ(fmt::format("{}s flush period", sb->daemon_sleep), x.at("Daemon"));
  EXPECT_EQ(
      sb->write_behind ? fmt::format("Allow write behind, max {}", sb->write_behind) : "Normal",
      x.at("Write Mode"));
  EXPECT_EQ(x.at("Sync Size").rfind(std::to_string(sb->sync_size / 2) + " ", 0), 0u)
      << x.at("Sync Size");
  const BitCount c = count_dirty(region.subspan(kClassicBitsOffset), sb->chunks());
  EXPECT_FALSE(c.truncated);
  char pct[16];
  std::snprintf(pct, sizeof pct, "%2.1f", 100.0 * double(c.dirty) / double(c.total ? c.total : 1));
  EXPECT_EQ(fmt::format("{} bits (chunks), {} dirty ({}%)", c.total, c.dirty, pct), x.at("Bitmap"));
}

TEST(KernelBitmaps, MembersMatchMdadmExamineBitmap) {
  int members = 0;
  for (const FixtureEntry& f : testing::load_fixture_list()) {
    if (f.name == "file") continue;
    members++;
    const MemberInfo info = member_info(f);
    auto sector = internal_bitmap_sector(info);
    ASSERT_TRUE(sector.is_ok()) << f.name << ": " << sector.status().message();
    EXPECT_EQ(int64_t(*sector), f.values.at("so") + f.values.at("bo")) << f.name;
    EXPECT_EQ(info.bitmap_offset, f.values.at("bo")) << f.name;
    expect_matches_mdadm(f.name, testing::load_fixture(f.name + ".bitmap"), info.metadata_major);
  }
  EXPECT_EQ(members, 7);
}

TEST(KernelBitmaps, BitmapFileMatchesMdadmExamineBitmap) {
  const auto file = testing::load_fixture("file.bitmap");
  ASSERT_EQ(file.size(), 318u);  // superblock + ceil(496 / 8): what md keeps on disk
  EXPECT_EQ(classic_bitmap_bytes(496), file.size());
  expect_matches_mdadm("file", file, 1);  // a file has no metadata: UUID bytes in order
}

std::vector<ChunkRange> ranges_of(const std::string& name) {
  const auto region = testing::load_fixture(name + ".bitmap");
  auto sb = decode_bitmap_super(region);
  EXPECT_TRUE(sb.is_ok());
  return dirty_ranges(std::span<const uint8_t>(region).subspan(kClassicBitsOffset), sb->chunks());
}

// Where vm_script.sh wrote: the kernel set exactly the bits of those chunks.
TEST(KernelBitmaps, DirtyChunksAreTheWrittenOnes) {
  // raid1, 64 KiB chunks: 1 MiB at 0, 4 KiB at 5 MiB, 192 KiB at 20 MiB.
  const std::vector<ChunkRange> r1 = {{0, 15}, {80, 80}, {320, 322}};
  EXPECT_EQ(ranges_of("r1run_vda"), r1);
  EXPECT_EQ(ranges_of("r1run_vdb"), r1);         // the write-mostly member holds the same bitmap
  EXPECT_TRUE(ranges_of("r1stop_vda").empty());  // a clean stop clears every bit
  // raid5 over 3 members, 64 KiB chunks (128 KiB of data per stripe): array 0-256K is
  // member 0-128K, array 8 MiB is member 4 MiB, array 40 MiB is member 20 MiB.
  const std::vector<ChunkRange> r5 = {{0, 1}, {64, 64}, {320, 320}};
  EXPECT_EQ(ranges_of("r5run_vda"), r5);
  EXPECT_EQ(ranges_of("r5run_vdc"), r5);
  // 1.0 raid1, 128 KiB chunks: 2 MiB at 1 MiB.
  EXPECT_EQ(ranges_of("v10run_vda"), (std::vector<ChunkRange>{{8, 23}}));
  // 0.90 raid1: 64 KiB at 0, 4 KiB at 16 MiB.
  EXPECT_EQ(ranges_of("v090run_vda"), (std::vector<ChunkRange>{{0, 0}, {256, 256}}));
}

TEST(KernelBitmaps, PaddingBitBeyondTheLastChunk) {
  // 511 chunks: the kernel left bit 511 (padding) set in the last byte; mdadm ignores it.
  const auto region = testing::load_fixture("v090run_vda.bitmap");
  EXPECT_TRUE(test_chunk(std::span<const uint8_t>(region).subspan(kClassicBitsOffset), 511));
  EXPECT_EQ(count_dirty(std::span<const uint8_t>(region).subspan(kClassicBitsOffset), 511).dirty,
            2u);
}

TEST(KernelBitmaps, EncodeReproducesTheKernelsBytes) {
  for (const char* name : {"r1run_vda", "r5run_vda", "v10run_vda", "v090run_vda", "file"}) {
    const auto region = testing::load_fixture(std::string(name) + ".bitmap");
    auto sb = decode_bitmap_super(region);
    ASSERT_TRUE(sb.is_ok()) << name;
    const auto again = encode_bitmap_super(*sb);
    EXPECT_TRUE(std::equal(again.begin(), again.end(), region.begin())) << name;
  }
}

}  // namespace
}  // namespace umd::bitmap

namespace umd::bitmap {
namespace {

// Version 6 cannot come from the oracle's kernel (6.1 has no llbitmap): v6.bitmap is
// built by make_v6_fixture.py from Linux 6.18's definitions, independently of umd.
TEST(LocklessFixture, DecodesAsTheKernelWouldShowIt) {
  const auto region = testing::load_fixture("v6.bitmap");
  auto sb = decode_bitmap_super(region);
  ASSERT_TRUE(sb.is_ok()) << sb.status().message();
  EXPECT_TRUE(sb->lockless());
  EXPECT_EQ(sb->chunk_bytes(), 65536u);
  EXPECT_EQ(sb->events, 42u);
  const LlCounts c = count_ll_states(region, sb->chunks());
  EXPECT_FALSE(c.truncated);
  EXPECT_EQ(c.invalid, 0u);
  EXPECT_EQ(format_ll_bits_show(c), testing::load_text("v6.bits.txt"));
  EXPECT_EQ(format_ll_metadata_show(ll_metadata(*sb, 8)), testing::load_text("v6.metadata.txt"));
  EXPECT_EQ(ll_state_byte(region, 202), uint8_t(LlState::syncing));
  EXPECT_EQ(ll_page_count(sb->chunks()), 1u);
  // Our encoder writes the same bytes (up to the state bytes; the file pads to 4 KiB).
  std::vector<LlState> states;
  for (uint64_t i = 0; i < sb->chunks(); i++) states.push_back(LlState(ll_state_byte(region, i)));
  const auto again = encode_ll_region(*sb, states);
  EXPECT_TRUE(std::equal(again.begin(), again.end(), region.begin()));
}

}  // namespace
}  // namespace umd::bitmap
