#include "bitmap/llbitmap_state.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace umd::bitmap {
namespace {

using A = LlAction;
using S = LlState;

struct Transition {
  S from;
  A action;
  std::optional<S> to;  // nullopt: the kernel leaves the chunk alone ("x" / BitNone)
};

// Every cell of state_machine[][] in Linux 6.18 drivers/md/md-llbitmap.c, copied by hand,
// one line per cell, in the kernel's order.
// clang-format off
const Transition kKernelTable[] = {
    {S::unwritten, A::startwrite, S::dirty},
    {S::unwritten, A::startsync, std::nullopt},
    {S::unwritten, A::endsync, std::nullopt},
    {S::unwritten, A::abortsync, std::nullopt},
    {S::unwritten, A::reload, std::nullopt},
    {S::unwritten, A::daemon, std::nullopt},
    {S::unwritten, A::discard, std::nullopt},
    {S::unwritten, A::stale, std::nullopt},

    {S::clean, A::startwrite, S::dirty},
    {S::clean, A::startsync, std::nullopt},
    {S::clean, A::endsync, std::nullopt},
    {S::clean, A::abortsync, std::nullopt},
    {S::clean, A::reload, std::nullopt},
    {S::clean, A::daemon, std::nullopt},
    {S::clean, A::discard, S::unwritten},
    {S::clean, A::stale, S::need_sync},

    {S::dirty, A::startwrite, std::nullopt},
    {S::dirty, A::startsync, std::nullopt},
    {S::dirty, A::endsync, std::nullopt},
    {S::dirty, A::abortsync, std::nullopt},
    {S::dirty, A::reload, S::need_sync},
    {S::dirty, A::daemon, S::clean},
    {S::dirty, A::discard, S::unwritten},
    {S::dirty, A::stale, S::need_sync},

    {S::need_sync, A::startwrite, std::nullopt},
    {S::need_sync, A::startsync, S::syncing},
    {S::need_sync, A::endsync, std::nullopt},
    {S::need_sync, A::abortsync, std::nullopt},
    {S::need_sync, A::reload, std::nullopt},
    {S::need_sync, A::daemon, std::nullopt},
    {S::need_sync, A::discard, S::unwritten},
    {S::need_sync, A::stale, std::nullopt},

    {S::syncing, A::startwrite, std::nullopt},
    {S::syncing, A::startsync, S::syncing},
    {S::syncing, A::endsync, S::dirty},
    {S::syncing, A::abortsync, S::need_sync},
    {S::syncing, A::reload, S::need_sync},
    {S::syncing, A::daemon, std::nullopt},
    {S::syncing, A::discard, S::unwritten},
    {S::syncing, A::stale, S::need_sync},
};
// clang-format on

TEST(LlBitmapState, EveryCellOfTheKernelTable) {
  std::set<std::pair<S, A>> seen;
  for (const Transition& t : kKernelTable) {
    EXPECT_EQ(next_state(t.from, t.action), t.to)
        << ll_state_name(t.from) << " --" << ll_action_name(t.action) << "-->";
    seen.insert({t.from, t.action});
  }
  EXPECT_EQ(seen.size(), kLlStateCount * kLlActionCount);  // no cell listed twice or missed
}

// The table in llbitmap_state.h's opening comment says what kLlTransitions holds.
TEST(LlBitmapState, DocumentedTableMatchesTheCode) {
  std::ifstream h(std::string(UMD_BITMAP_TESTDATA) + "/../llbitmap_state.h");
  ASSERT_TRUE(h);
  const std::map<std::string, uint8_t> word = {{"unwritten", 0}, {"clean", 1},   {"dirty", 2},
                                               {"need-sync", 3}, {"syncing", 4}, {"-", kLlNone}};
  size_t rows = 0;
  bool in_table = false;
  for (std::string line; std::getline(h, line);) {
    if (line.find("state \\ action") != std::string::npos) {
      in_table = true;
      continue;
    }
    if (!in_table) continue;
    std::istringstream cells(line.substr(2));  // past "//"
    std::vector<std::string> w;
    for (std::string c; cells >> c;) w.push_back(c);
    if (w.empty()) break;
    ASSERT_EQ(w.size(), 1 + kLlActionCount) << line;
    const uint8_t from = word.at(w[0]);
    for (size_t a = 0; a < kLlActionCount; a++)
      EXPECT_EQ(kLlTransitions[from][a], word.at(w[1 + a]))
          << w[0] << " " << ll_action_name(LlAction(a));
    rows++;
  }
  EXPECT_EQ(rows, kLlStateCount);
}

TEST(LlBitmapState, ByteValuesAndNames) {
  EXPECT_EQ(uint8_t(S::unwritten), 0);
  EXPECT_EQ(uint8_t(S::clean), 1);
  EXPECT_EQ(uint8_t(S::dirty), 2);
  EXPECT_EQ(uint8_t(S::need_sync), 3);
  EXPECT_EQ(uint8_t(S::syncing), 4);
  EXPECT_EQ(kLlNone, 0xff);
  EXPECT_EQ(uint8_t(A::startwrite), 0);
  EXPECT_EQ(uint8_t(A::stale), 7);
  EXPECT_STREQ(ll_state_name(S::need_sync), "need sync");
  EXPECT_STREQ(ll_action_name(A::abortsync), "abortsync");
  EXPECT_TRUE(is_ll_state(4));
  EXPECT_FALSE(is_ll_state(5));
}

// The kernel's documented scenarios, walked through next_state_in.
TEST(LlBitmapState, Raid1WriteDaemonAndPowerFailure) {
  const LlArrayKind raid1;
  auto step = [&](S s, A a) { return next_state_in(uint8_t(s), a, raid1); };
  EXPECT_EQ(step(S::unwritten, A::startwrite), S::dirty);
  EXPECT_EQ(step(S::clean, A::startwrite), S::dirty);
  EXPECT_EQ(step(S::dirty, A::daemon), S::clean);
  EXPECT_EQ(step(S::dirty, A::reload), S::need_sync);  // assembled after a crash
  EXPECT_EQ(step(S::need_sync, A::startsync), S::syncing);
  EXPECT_EQ(step(S::syncing, A::endsync), S::dirty);
  EXPECT_EQ(step(S::dirty, A::startsync), std::nullopt);
}

TEST(LlBitmapState, Raid456FirstWriteNeedsSync) {
  const LlArrayKind raid5{.degraded = false, .raid456 = true};
  EXPECT_EQ(next_state_in(uint8_t(S::unwritten), A::startwrite, raid5), S::need_sync);
  EXPECT_EQ(next_state_in(uint8_t(S::clean), A::startwrite, raid5), S::dirty);  // parity exists
  EXPECT_EQ(next_state_in(uint8_t(S::dirty), A::daemon, raid5), S::clean);
}

TEST(LlBitmapState, DegradedOverrides) {
  for (bool raid456 : {false, true}) {
    const LlArrayKind deg{.degraded = true, .raid456 = raid456};
    EXPECT_EQ(next_state_in(uint8_t(S::unwritten), A::startwrite, deg), S::need_sync);
    EXPECT_EQ(next_state_in(uint8_t(S::clean), A::startwrite, deg), S::need_sync);
    EXPECT_EQ(next_state_in(uint8_t(S::dirty), A::startsync, deg), S::syncing);
    EXPECT_EQ(next_state_in(uint8_t(S::dirty), A::daemon, deg), std::nullopt);  // no daemon
    EXPECT_EQ(next_state_in(uint8_t(S::need_sync), A::startsync, deg), S::syncing);
    EXPECT_EQ(next_state_in(uint8_t(S::syncing), A::endsync, deg), S::dirty);
  }
}

TEST(LlBitmapState, GarbageByteForcesResync) {
  for (uint8_t raw : {uint8_t(5), uint8_t(0x80), uint8_t(0xff)}) {
    for (size_t a = 0; a < kLlActionCount; a++) {
      if (A(a) == A::daemon) continue;
      EXPECT_EQ(next_state_in(raw, A(a), {}), S::need_sync) << int(raw) << " " << a;
    }
  }
}

TEST(LlBitmapState, BlockInfection) {
  EXPECT_EQ(infect_state(uint8_t(S::unwritten), false), S::dirty);
  EXPECT_EQ(infect_state(uint8_t(S::unwritten), true), S::need_sync);
  EXPECT_EQ(infect_state(uint8_t(S::clean), true), S::dirty);
  EXPECT_EQ(infect_state(uint8_t(S::syncing), false), std::nullopt);
  EXPECT_EQ(infect_state(uint8_t(S::need_sync), false), std::nullopt);
}

TEST(LlBitmapLayout, StateBytesStartAt1KiB) {
  EXPECT_EQ(ll_region_bytes(0), 1024u);
  EXPECT_EQ(ll_page_count(1), 1u);
  EXPECT_EQ(ll_page_count(3072), 1u);  // 1024 + 3072 = one page exactly
  EXPECT_EQ(ll_page_count(3073), 2u);
  EXPECT_EQ(ll_block_of_chunk(0, 512), 2u);
  EXPECT_EQ(ll_block_of_chunk(511, 512), 2u);
  EXPECT_EQ(ll_block_of_chunk(512, 512), 3u);
  EXPECT_EQ(ll_block_of_chunk(3071, 4096), 0u);
  EXPECT_EQ(ll_block_of_chunk(3072, 4096), 1u);
}

TEST(LlBitmapLayout, InitialChunk) {
  // 128 KiB reserved (mdadm's room for a lockless bitmap): up to 131072 chunks.
  EXPECT_EQ(ll_initial_chunk_sectors(63488, 256), 128u);
  EXPECT_EQ(ll_initial_chunk_sectors(uint64_t(131072) * 128, 256), 128u);
  EXPECT_EQ(ll_initial_chunk_sectors(uint64_t(131072) * 128 + 1, 256), 256u);
  EXPECT_EQ(ll_initial_chunk_sectors(uint64_t(4) << 40 >> 9, 256), 65536u);  // 4 TiB: 32 MiB chunks
}

BitmapSuper v6_super(uint64_t sync, uint32_t chunk) {
  BitmapSuper sb;
  sb.version = kVersionLockless;
  sb.sync_size = sync;
  sb.chunksize = chunk;
  sb.daemon_sleep = kLlDefaultDaemonSleep;
  sb.sectors_reserved = 256;
  return sb;
}

TEST(LlBitmapLayout, RegionRoundTripAndCounts) {
  std::vector<S> states(10, S::clean);
  states[0] = S::unwritten;
  states[3] = S::dirty;
  states[4] = S::dirty;
  states[7] = S::need_sync;
  states[9] = S::syncing;
  const BitmapSuper sb = v6_super(1280, 128);
  auto region = encode_ll_region(sb, states);
  ASSERT_EQ(region.size(), 1034u);
  EXPECT_EQ(region[256], 0);
  EXPECT_EQ(region[1023], 0);
  EXPECT_EQ(region[1024 + 3], 2);
  auto back = decode_bitmap_super(region);
  ASSERT_TRUE(back.is_ok()) << back.status().message();
  EXPECT_EQ(*back, sb);
  EXPECT_EQ(ll_state_byte(region, 9), 4);
  EXPECT_EQ(ll_state_byte(region, 10), 0);  // beyond: unwritten

  region[1024 + 5] = 0x42;  // garbage
  LlCounts c = count_ll_states(region, sb.chunks());
  EXPECT_EQ(c.total, 10u);
  EXPECT_EQ(c.of(S::unwritten), 1u);
  EXPECT_EQ(c.of(S::clean), 4u);
  EXPECT_EQ(c.of(S::dirty), 2u);
  EXPECT_EQ(c.of(S::need_sync), 1u);
  EXPECT_EQ(c.of(S::syncing), 1u);
  EXPECT_EQ(c.invalid, 1u);
  EXPECT_FALSE(c.truncated);
  // Exactly what bits_show prints (the garbage byte is only logged by the kernel).
  EXPECT_EQ(format_ll_bits_show(c), "unwritten 1\nclean 4\ndirty 2\nneed sync 1\nsyncing 1\n");

  LlCounts t = count_ll_states(std::span<const uint8_t>(region).first(1030), 10);
  EXPECT_TRUE(t.truncated);
  EXPECT_EQ(t.total, 6u);
}

TEST(LlBitmapLayout, MetadataShow) {
  const BitmapSuper sb = v6_super(63488, 128);
  const LlMetadata m = ll_metadata(sb, 8);
  EXPECT_EQ(m.chunkshift, 7u);
  EXPECT_EQ(m.chunks, 496u);
  EXPECT_EQ(format_ll_metadata_show(m),
            "chunksize 128\nchunkshift 7\nchunks 496\noffset 8\ndaemon_sleep 30\n");
}

}  // namespace
}  // namespace umd::bitmap
