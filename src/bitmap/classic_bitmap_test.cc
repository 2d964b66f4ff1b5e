// The classic bitmap's runtime: a write waits for its bit (seed 004's batches), bits are
// cleared only after the members were flushed and never while degraded, a stale bitmap
// marks everything, and the sync thread is told what it may skip.
#include "bitmap/classic_bitmap.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "bitmap/classic_bits.h"
#include "bitmap/bitmap_test_doubles.h"
#include "io/memory_member.h"

namespace umd::bitmap {
namespace {

using namespace std::chrono_literals;

using testing::GateStore;
using testing::Host;
using testing::Log;
using testing::uuid;

constexpr uint64_t kSync = 1 << 16;          // sectors covered
constexpr uint32_t kChunkBytes = 64 * 1024;  // 128 sectors: 512 chunks

// Writes a fresh bitmap (no bit set unless `all`) with `events`.
void format(GateStore& s, uint64_t events, bool all = false) {
  BitmapSuper sb;
  sb.uuid = uuid();
  sb.events = events;
  sb.sync_size = kSync;
  sb.chunksize = kChunkBytes;
  sb.daemon_sleep = 5;
  std::vector<uint8_t> img(4096, 0);
  auto enc = encode_bitmap_super(sb);
  std::copy(enc.begin(), enc.end(), img.begin());
  if (all) std::fill(img.begin() + kClassicBitsOffset, img.begin() + kClassicBitsOffset + 64, 0xff);
  ASSERT_TRUE(s.mem_.write(0, img).is_ok());
}

bool bit_on_disk(GateStore& s, uint64_t chunk) {
  std::vector<uint8_t> b(4096);
  EXPECT_TRUE(s.mem_.read(0, b).is_ok());
  return test_chunk(std::span<const uint8_t>(b).subspan(kClassicBitsOffset), chunk);
}

struct Fixture {
  Log log;
  Host host{&log};
  GateStore* store = nullptr;
  std::unique_ptr<ClassicBitmap> bm;

  explicit Fixture(uint64_t disk_events = 10, bool all = false) {
    auto s = std::make_unique<GateStore>(&log);
    store = s.get();
    format(*s, disk_events, all);
    ClassicBitmap::Options o;
    o.uuid = uuid();
    o.sync_sectors = kSync;
    o.events = 10;
    auto r = ClassicBitmap::open(std::move(s), host, o);
    EXPECT_TRUE(r.is_ok()) << r.status().message();
    bm = std::move(r).value();
  }
};

TEST(ClassicBitmapTest, AWriteGoesOnlyOnceItsBitIsOnDisk) {
  Fixture f;
  f.store->set_open(false);
  std::promise<void> went;
  f.bm->start_write(128 * 7, 128 * 7 + 8, [&] { went.set_value(); });
  auto fut = went.get_future();
  EXPECT_EQ(fut.wait_for(50ms), std::future_status::timeout) << "went before its bit was written";
  EXPECT_FALSE(bit_on_disk(*f.store, 7));
  f.store->set_open(true);
  ASSERT_EQ(fut.wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(bit_on_disk(*f.store, 7));
  // The chunk's bit is on disk now: a second write to it goes at once, inline.
  bool inline_go = false;
  f.bm->start_write(128 * 7 + 16, 128 * 7 + 24, [&] { inline_go = true; });
  EXPECT_TRUE(inline_go);
  f.bm->end_write(128 * 7, 128 * 7 + 8);
  f.bm->end_write(128 * 7 + 16, 128 * 7 + 24);
}

TEST(ClassicBitmapTest, WritesThatArriveTogetherShareABatch) {
  Fixture f;
  f.store->set_open(false);
  std::atomic<int> went{0};
  for (int c = 0; c < 64; c++) f.bm->start_write(uint64_t(c) * 128, uint64_t(c) * 128 + 8, [&] { went++; });
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(went.load(), 0);
  f.store->set_open(true);
  for (int i = 0; i < 500 && went.load() < 64; i++) std::this_thread::sleep_for(2ms);
  EXPECT_EQ(went.load(), 64);
  for (int c = 0; c < 64; c++) EXPECT_TRUE(bit_on_disk(*f.store, uint64_t(c))) << c;
  // 64 bits, one 512-byte block: at most two batches (the one in flight when the gate
  // closed, and the one that collected the rest), not 64.
  EXPECT_LE(f.bm->batches_written(), 2u);
  EXPECT_LE(f.store->writes(), 2);
}

TEST(ClassicBitmapTest, ClearingFlushesTheMembersFirstAndNeverWhileDegraded) {
  Fixture f;
  std::atomic<bool> went{false};
  f.bm->start_write(0, 8, [&] { went = true; });
  for (int i = 0; i < 500 && !went; i++) std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(went);
  ASSERT_TRUE(bit_on_disk(*f.store, 0));
  ASSERT_TRUE(f.bm->run_daemon_now().is_ok());
  EXPECT_TRUE(bit_on_disk(*f.store, 0)) << "cleared while a write was in flight";
  f.bm->end_write(0, 8);
  f.bm->set_degraded(true);
  ASSERT_TRUE(f.bm->run_daemon_now().is_ok());
  EXPECT_TRUE(bit_on_disk(*f.store, 0)) << "cleared on a degraded array";
  f.bm->set_degraded(false);
  f.log.clear();
  ASSERT_TRUE(f.bm->run_daemon_now().is_ok());
  EXPECT_FALSE(bit_on_disk(*f.store, 0));
  const std::vector<std::string> lines = f.log.lines();
  ASSERT_GE(lines.size(), 2u);
  EXPECT_EQ(lines.front(), "flush") << "the members must be flushed before a bit goes";
  EXPECT_EQ(f.bm->events_cleared(), 10u);
}

TEST(ClassicBitmapTest, AStaleBitmapMarksEverything) {
  Fixture f(/*disk_events=*/7);
  EXPECT_EQ(f.bm->dirty_chunks(), kSync / 128);
  EXPECT_EQ(f.bm->sync_skip(SyncKind::resync, 0, kSync), 0u);
}

TEST(ClassicBitmapTest, SyncSkipsCleanChunksAndClearsSyncedOnes) {
  Fixture f(10, /*all=*/false);
  std::atomic<bool> went{false};
  f.bm->start_write(128 * 5, 128 * 5 + 8, [&] { went = true; });
  for (int i = 0; i < 500 && !went; i++) std::this_thread::sleep_for(1ms);
  f.bm->end_write(128 * 5, 128 * 5 + 8);
  EXPECT_EQ(f.bm->sync_skip(SyncKind::resync, 0, kSync), 128u * 5);
  EXPECT_EQ(f.bm->sync_skip(SyncKind::resync, 128 * 5, kSync), 0u);
  EXPECT_EQ(f.bm->sync_skip(SyncKind::resync, 128 * 6, kSync), kSync - 128 * 6);
  EXPECT_EQ(f.bm->sync_skip(SyncKind::rebuild, 0, kSync), 0u) << "a new member needs everything";
  EXPECT_EQ(f.bm->sync_skip(SyncKind::check, 0, kSync), 0u);
  f.bm->sync_done(SyncKind::resync, 128 * 5, 128 * 6);
  ASSERT_TRUE(f.bm->run_daemon_now().is_ok());
  EXPECT_EQ(f.bm->dirty_chunks(), 0u);
}

TEST(ClassicBitmapTest, ForeignOrMismatchedBitmapsAreRefused) {
  Log log;
  Host host(&log);
  auto s = std::make_unique<GateStore>(&log);
  format(*s, 10);
  ClassicBitmap::Options o;
  o.uuid = uuid();
  o.uuid[0] ^= 1;
  o.sync_sectors = kSync;
  auto r = ClassicBitmap::open(std::move(s), host, o);
  EXPECT_EQ(r.status().code(), Err::invalid) << r.status().message();
  auto s2 = std::make_unique<GateStore>(&log);
  format(*s2, 10);
  o.uuid = uuid();
  o.sync_sectors = kSync * 2;
  auto r2 = ClassicBitmap::open(std::move(s2), host, o);
  EXPECT_EQ(r2.status().code(), Err::corrupt) << r2.status().message();
}

}  // namespace
}  // namespace umd::bitmap
