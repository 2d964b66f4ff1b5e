// The lockless bitmap's runtime: a write goes only once its state byte is on every copy
// (and inline, untouched, once it is), no byte of a shared block is lost, the daemon
// cleans a chunk only after its page expired, its writes drained and the members were
// flushed, never while degraded; discard, first use, reload and stale, what the sync
// thread visits, the attributes; and writers racing the daemon (run under TSan too).
#include "bitmap/lockless_bitmap.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <random>
#include <thread>

#include "bitmap/bitmap_test_doubles.h"
#include "io/memory_member.h"
#include "util/aligned_buffer.h"

namespace umd::bitmap {
namespace {

using namespace std::chrono_literals;

using testing::GateStore;
using testing::Host;
using testing::Log;
using testing::uuid;

constexpr uint64_t kSync = 1 << 16;     // sectors: 512 chunks of 128 sectors, one page
constexpr uint64_t kBigSync = 1 << 21;  // 16384 chunks: five pages
constexpr uint32_t kReserved = 256;     // sectors reserved: room for 128 Ki states

BitmapSuper header(uint64_t sync, uint64_t events) {
  BitmapSuper sb;
  sb.version = kVersionLockless;
  sb.uuid = uuid();
  sb.events = events;
  sb.sync_size = sync;
  sb.daemon_sleep = 5;
  sb.sectors_reserved = kReserved;
  return sb;
}

void put(GateStore& s, std::vector<uint8_t> img) {
  img.resize((img.size() + 4095) / 4096 * 4096, 0);
  ASSERT_TRUE(s.mem_.write(0, img).is_ok());
}

// What mdadm and umd --create write: the header only.
void format_first_use(GateStore& s, uint64_t sync, bool clean, uint32_t reserved = kReserved) {
  BitmapSuper sb = header(sync, 0);
  sb.chunksize = 0;
  sb.sectors_reserved = reserved;
  sb.set_state(kStateFirstUse, true);
  if (clean) sb.set_state(kStateClean, true);
  auto enc = encode_bitmap_super(sb);
  put(s, std::vector<uint8_t>(enc.begin(), enc.end()));
}

// An initialised bitmap with chunks of 128 sectors and these state bytes (the rest clean).
void format_states(GateStore& s, uint64_t sync, uint64_t events, const std::vector<uint8_t>& first) {
  BitmapSuper sb = header(sync, events);
  sb.chunksize = 128;
  std::vector<LlState> states(ll_chunk_count(sync, 128), LlState::clean);
  std::vector<uint8_t> img = encode_ll_region(sb, states);
  std::copy(first.begin(), first.end(), img.begin() + kLlDataOffset);
  put(s, std::move(img));
}

BitmapSuper disk_super(GateStore& s) {
  std::vector<uint8_t> b(512);
  EXPECT_TRUE(s.mem_.read(0, b).is_ok());
  auto sb = decode_bitmap_super(std::span<const uint8_t>(b).first(kBitmapSuperBytes));
  EXPECT_TRUE(sb.is_ok()) << sb.status().message();
  return sb.is_ok() ? *sb : BitmapSuper{};
}

uint8_t disk_state(GateStore& s, uint64_t chunk) {
  const uint64_t at = kLlDataOffset + chunk;
  std::vector<uint8_t> b(512);
  EXPECT_TRUE(s.mem_.read(at / 512 * 512, b).is_ok());
  return b[at % 512];
}

constexpr uint8_t U = uint8_t(LlState::unwritten), C = uint8_t(LlState::clean), D = uint8_t(LlState::dirty),
                  N = uint8_t(LlState::need_sync), S = uint8_t(LlState::syncing);

struct Fixture {
  Log log;
  Host host{&log};
  GateStore* store = nullptr;
  std::unique_ptr<LocklessBitmap> bm;
  uint64_t sync;

  // A bitmap as created (first use, clean), opened by an array with `events` 10.
  explicit Fixture(uint64_t sync_sectors = kSync, uint32_t block = 512, bool raid456 = false)
      : sync(sync_sectors) {
    auto s = std::make_unique<GateStore>(&log, block);
    format_first_use(*s, sync, /*clean=*/true);
    open(std::move(s), raid456);
  }
  // An initialised bitmap with these first state bytes.
  Fixture(const std::vector<uint8_t>& states, uint64_t disk_events) : sync(kSync) {
    auto s = std::make_unique<GateStore>(&log, 512);
    format_states(*s, sync, disk_events, states);
    open(std::move(s), false);
  }
  void open(std::unique_ptr<GateStore> s, bool raid456) {
    store = s.get();
    LocklessBitmap::Options o;
    o.uuid = uuid();
    o.sync_sectors = sync;
    o.events = 10;
    o.raid456 = raid456;
    o.offset_sectors = 8;
    auto r = LocklessBitmap::open(std::move(s), host, o);
    EXPECT_TRUE(r.is_ok()) << r.status().message();
    if (r.is_ok()) bm = std::move(r).value();
    log.clear();
  }
  // A write to chunk c that has gone (its go ran), still in flight.
  void write(uint64_t c) {
    bool went = false;
    bm->start_write(c * 128, c * 128 + 8, [&] { went = true; });
    EXPECT_TRUE(went);
  }
  void end(uint64_t c) { bm->end_write(c * 128, c * 128 + 8); }
};

TEST(LocklessBitmapTest, AFirstWriteGoesOnlyOnceItsBlockIsWrittenASecondGoesInline) {
  Fixture f;
  f.store->set_open(false);
  std::atomic<bool> went{false};
  uint8_t seen_on_disk = 0xff;
  std::thread t([&] {
    f.bm->start_write(128 * 7, 128 * 7 + 8, [&] {
      seen_on_disk = disk_state(*f.store, 7);
      went = true;
    });
  });
  ASSERT_TRUE(f.store->wait_for_waiting(1));
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(went.load()) << "went before its state byte was written";
  EXPECT_EQ(disk_state(*f.store, 7), C);
  f.store->set_open(true);
  t.join();
  EXPECT_TRUE(went.load());
  EXPECT_EQ(seen_on_disk, D);
  EXPECT_EQ(f.log.lines(), std::vector<std::string>{"write 1024"});  // (1024 + 7) / 512 = block 2
  // The byte is on disk: a second write goes at once, inline, and writes nothing.
  const int writes = f.store->writes();
  bool inline_go = false;
  f.bm->start_write(128 * 7 + 16, 128 * 7 + 24, [&] { inline_go = true; });
  EXPECT_TRUE(inline_go);
  EXPECT_EQ(f.store->writes(), writes);
  f.bm->end_write(128 * 7, 128 * 7 + 8);
  f.bm->end_write(128 * 7 + 16, 128 * 7 + 24);
  EXPECT_EQ(f.bm->dirty_chunks(), 1u);
}

TEST(LocklessBitmapTest, TwoWritersOfOneBlockBothWaitForAWriteHoldingTheirByte) {
  Fixture f;
  f.store->set_open(false);
  std::atomic<int> went{0};
  std::atomic<int> bad{0};
  auto writer = [&](uint64_t c0, uint64_t c1) {
    f.bm->start_write(c0 * 128, c1 * 128, [&, c0, c1] {
      for (uint64_t c = c0; c < c1; c++) bad += disk_state(*f.store, c) != D;
      went++;
    });
  };
  // A marks chunks 3 and 4 and is held writing; B's chunk 5 shares the block: it waits
  // for the block. C's chunk 4 is already dirty in memory but not yet on disk: it waits.
  std::thread a([&] { writer(3, 5); });
  ASSERT_TRUE(f.store->wait_for_waiting(1));
  std::thread b([&] { writer(5, 6); });
  std::thread c([&] { writer(4, 5); });
  std::this_thread::sleep_for(30ms);
  EXPECT_EQ(went.load(), 0);
  f.store->set_open(true);
  a.join();
  b.join();
  c.join();
  EXPECT_EQ(went.load(), 3);
  EXPECT_EQ(bad.load(), 0) << "a writer went before its byte was on disk";
  for (uint64_t ch = 3; ch < 6; ch++) EXPECT_EQ(disk_state(*f.store, ch), D) << ch;
  EXPECT_EQ(disk_state(*f.store, 2), C);
  EXPECT_EQ(disk_state(*f.store, 6), C);
  f.bm->end_write(3 * 128, 5 * 128);
  f.bm->end_write(5 * 128, 6 * 128);
  f.bm->end_write(4 * 128, 5 * 128);
}

TEST(LocklessBitmapTest, TheDaemonCleansExpiredDrainedPagesAfterFlushingTheMembers) {
  Fixture f;
  const auto t0 = std::chrono::steady_clock::now();
  f.write(0);
  ASSERT_EQ(disk_state(*f.store, 0), D);
  f.log.clear();
  // Not expired: the page was written less than barrier_idle (5 s) ago.
  ASSERT_TRUE(f.bm->run_daemon_at(t0 + 1s).is_ok());
  EXPECT_EQ(f.bm->state(0), LlState::dirty);
  EXPECT_TRUE(f.log.lines().empty());
  // Expired, but a write is in flight: the daemon waits for it.
  auto pass = std::async(std::launch::async, [&] { return f.bm->run_daemon_at(t0 + 6s); });
  EXPECT_EQ(pass.wait_for(50ms), std::future_status::timeout) << "did not wait for the write in flight";
  EXPECT_EQ(disk_state(*f.store, 0), D);
  f.end(0);
  ASSERT_EQ(pass.wait_for(5s), std::future_status::ready);
  ASSERT_TRUE(pass.get().is_ok());
  EXPECT_EQ(f.bm->state(0), LlState::clean);
  EXPECT_EQ(disk_state(*f.store, 0), C);
  EXPECT_EQ(f.log.lines(), (std::vector<std::string>{"flush", "write 1024"}))
      << "the members are flushed before a clean byte is written";
  // Once cleaned, the page is not looked at again until it is written.
  f.log.clear();
  ASSERT_TRUE(f.bm->run_daemon_at(t0 + 60s).is_ok());
  EXPECT_TRUE(f.log.lines().empty());
  EXPECT_EQ(f.bm->dirty_chunks(), 0u);
}

TEST(LocklessBitmapTest, TheDaemonThreadWakesEveryDaemonSleep) {
  Fixture f;
  ASSERT_TRUE(f.bm->set_attr("llbitmap/daemon_sleep", "1").is_ok());
  ASSERT_TRUE(f.bm->set_attr("llbitmap/barrier_idle", "0").is_ok());
  f.write(9);
  f.end(9);
  for (int i = 0; i < 400 && disk_state(*f.store, 9) != C; i++) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(disk_state(*f.store, 9), C);
  EXPECT_EQ(f.log.lines().front(), "write 1024");
  EXPECT_EQ(f.log.lines().at(1), "flush");
}

TEST(LocklessBitmapTest, AWriteDuringThePassKeepsItsChunkDirty) {
  Fixture f;
  f.write(1);
  f.end(1);
  // A write sneaks in after the drain and before the clean: while the members flush. Its
  // data may not be durable: the chunk stays dirty until a later pass.
  f.host.on_flush = [&] { f.write(1); };
  ASSERT_TRUE(f.bm->run_daemon_now().is_ok());
  EXPECT_EQ(f.bm->state(1), LlState::dirty);
  EXPECT_EQ(disk_state(*f.store, 1), D);
  f.host.on_flush = nullptr;
  f.end(1);
  ASSERT_TRUE(f.bm->run_daemon_now().is_ok());
  EXPECT_EQ(disk_state(*f.store, 1), C);
}

TEST(LocklessBitmapTest, NothingIsCleanedOnADegradedArrayAndNewWritesNeedSync) {
  Fixture f;
  f.write(0);
  f.end(0);
  f.log.clear();
  f.bm->set_degraded(true);
  ASSERT_TRUE(f.bm->run_daemon_now().is_ok());
  EXPECT_EQ(f.bm->state(0), LlState::dirty);
  EXPECT_EQ(disk_state(*f.store, 0), D);
  EXPECT_TRUE(f.log.lines().empty()) << "no flush, no write while degraded";
  f.write(1);
  f.end(1);
  EXPECT_EQ(disk_state(*f.store, 1), N) << "written while degraded: the missing member needs it";
  f.bm->set_degraded(false);
  ASSERT_TRUE(f.bm->run_daemon_now().is_ok());
  EXPECT_EQ(disk_state(*f.store, 0), C);
  EXPECT_EQ(disk_state(*f.store, 1), N) << "need-sync waits for the sync thread";
}

TEST(LocklessBitmapTest, Raid456FirstWritesNeedSync) {
  Fixture f(kSync, 512, /*raid456=*/true);
  // Created clean (--assume-clean): parity is good, a write makes it dirty.
  f.write(0);
  f.end(0);
  EXPECT_EQ(disk_state(*f.store, 0), D);
  f.bm->discard(0, 128);
  EXPECT_EQ(disk_state(*f.store, 0), U);
  // Never written (parity never built): the write needs the lazy recovery.
  f.write(0);
  f.end(0);
  EXPECT_EQ(disk_state(*f.store, 0), N);
}

TEST(LocklessBitmapTest, DiscardMakesWholeChunksUnwritten) {
  Fixture f;
  for (uint64_t c : {2, 3, 4, 5, 510, 511}) {
    f.write(c);
    f.end(c);
  }
  f.bm->discard(128 * 2 + 1, 128 * 5);  // chunks 3 and 4 whole; 2 only in part
  EXPECT_EQ(disk_state(*f.store, 2), D);
  EXPECT_EQ(disk_state(*f.store, 3), U);
  EXPECT_EQ(disk_state(*f.store, 4), U);
  EXPECT_EQ(disk_state(*f.store, 5), D);
  f.bm->discard(128 * 510, kSync);  // to the array's end
  EXPECT_EQ(disk_state(*f.store, 510), U);
  EXPECT_EQ(disk_state(*f.store, 511), U);
  EXPECT_EQ(f.bm->dirty_chunks(), 2u);
  f.bm->discard(128 * 2 + 1, 128 * 2 + 100);  // no whole chunk: nothing
  EXPECT_EQ(disk_state(*f.store, 2), D);
}

TEST(LocklessBitmapTest, FirstUseChoosesTheChunkAndWritesEveryState) {
  for (bool clean : {true, false}) {
    SCOPED_TRACE(clean ? "assume-clean" : "unwritten");
    Log log;
    Host host(&log);
    auto s = std::make_unique<GateStore>(&log, 512);
    GateStore* store = s.get();
    constexpr uint64_t kLarge = uint64_t{1} << 24;  // 8 GiB in 8 reserved sectors
    format_first_use(*s, kLarge, clean, /*reserved=*/8);
    LocklessBitmap::Options o;
    o.uuid = uuid();
    o.sync_sectors = kLarge;
    o.events = 10;
    auto r = LocklessBitmap::open(std::move(s), host, o);
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    auto& bm = *r;
    EXPECT_EQ(bm->chunk_sectors(), ll_initial_chunk_sectors(kLarge, 8));
    EXPECT_EQ(bm->chunk_sectors(), 4096u);  // 4096 chunks fill the 4096 bytes of room
    EXPECT_EQ(bm->chunks(), 4096u);
    const BitmapSuper sb = disk_super(*store);
    EXPECT_EQ(sb.chunksize, 4096u);
    EXPECT_FALSE(sb.has_state(kStateFirstUse));
    EXPECT_FALSE(sb.has_state(kStateClean));
    EXPECT_EQ(sb.daemon_sleep, kLlDefaultDaemonSleep);
    EXPECT_EQ(sb.sync_size, kLarge);
    std::vector<uint8_t> region(ll_region_bytes(4096));
    ASSERT_TRUE(store->mem_.read(0, region).is_ok());  // 5120 bytes: whole blocks
    const LlCounts n = count_ll_states(region, 4096);
    EXPECT_EQ(n.of(clean ? LlState::clean : LlState::unwritten), 4096u);
    EXPECT_EQ(bm->dirty_chunks(), 0u);
    // The superblock was written last, after every state.
    const auto lines = log.lines();
    ASSERT_FALSE(lines.empty());
    EXPECT_EQ(lines.back(), "write 0");
    EXPECT_EQ(lines.size(), 10u);  // 5120 bytes: ten blocks
    EXPECT_EQ(bm->sync_skip(SyncKind::rebuild, 0, kLarge), clean ? 0u : kLarge);
  }
}

TEST(LocklessBitmapTest, LoadReloadsDirtyChunksAndAStaleBitmapSyncsEverythingWritten) {
  {
    Fixture f({U, C, D, N, S, 0x77}, /*disk_events=*/10);
    EXPECT_EQ(f.bm->state(0), LlState::unwritten);
    EXPECT_EQ(f.bm->state(1), LlState::clean);
    EXPECT_EQ(f.bm->state(2), LlState::need_sync) << "dirty at a crash: resync it";
    EXPECT_EQ(f.bm->state(3), LlState::need_sync);
    EXPECT_EQ(f.bm->state(4), LlState::need_sync);
    EXPECT_EQ(f.bm->state(5), LlState::need_sync) << "no state at all: resync it";
    EXPECT_EQ(disk_state(*f.store, 2), N);
    EXPECT_EQ(disk_state(*f.store, 5), N);
    EXPECT_EQ(f.bm->dirty_chunks(), 4u);
  }
  {
    Fixture f({U, C, D, N, S}, /*disk_events=*/7);
    EXPECT_EQ(f.bm->state(0), LlState::unwritten) << "never written: nothing to sync even when stale";
    for (uint64_t c = 1; c < 5; c++) EXPECT_EQ(f.bm->state(c), LlState::need_sync) << c;
    EXPECT_EQ(f.bm->state(6), LlState::need_sync);
    EXPECT_EQ(f.bm->dirty_chunks(), kSync / 128 - 1);
    EXPECT_EQ(disk_state(*f.store, 1), N);
    EXPECT_FALSE(disk_super(*f.store).has_state(kStateStale));
  }
}

TEST(LocklessBitmapTest, WhatTheSyncThreadVisits) {
  // 0 unwritten, 1 clean, 2 need-sync, 3 dirty (written since assembly), the rest unwritten.
  std::vector<uint8_t> states(kSync / 128, U);
  states[1] = C;
  states[2] = N;
  Fixture f(states, 10);
  f.write(3);
  f.end(3);
  ASSERT_EQ(f.bm->state(3), LlState::dirty);
  // resync: only what may differ between the members (need-sync, syncing).
  EXPECT_EQ(f.bm->sync_skip(SyncKind::resync, 0, kSync), 256u);
  EXPECT_EQ(f.bm->sync_skip(SyncKind::resync, 256, kSync), 0u);
  EXPECT_EQ(f.bm->sync_run(SyncKind::resync, 256, kSync), 128u);
  EXPECT_EQ(f.bm->sync_skip(SyncKind::resync, 384, kSync), kSync - 384);
  EXPECT_EQ(f.bm->sync_skip(SyncKind::resync, 0, 200), 200u) << "never beyond end";
  // recover (--re-add): what was written while the member was away, too.
  EXPECT_EQ(f.bm->sync_skip(SyncKind::recover, 0, kSync), 256u);
  EXPECT_EQ(f.bm->sync_run(SyncKind::recover, 256, kSync), 256u);
  // rebuild and check: everything ever written (lazy recovery skips the rest).
  EXPECT_EQ(f.bm->sync_skip(SyncKind::rebuild, 0, kSync), 128u);
  EXPECT_EQ(f.bm->sync_run(SyncKind::rebuild, 128, kSync), 384u);
  EXPECT_EQ(f.bm->sync_skip(SyncKind::rebuild, 512, kSync), kSync - 512);
  EXPECT_EQ(f.bm->sync_skip(SyncKind::check, 0, kSync), 128u);
  EXPECT_EQ(f.bm->sync_run(SyncKind::check, 128, kSync), 384u);
  // A degraded resync syncs the dirty chunks as well.
  f.bm->set_degraded(true);
  EXPECT_EQ(f.bm->sync_run(SyncKind::resync, 256, kSync), 256u);
  f.bm->set_degraded(false);
  // Synced: need-sync -> syncing -> dirty; the daemon cleans it. A part synced is not.
  f.bm->sync_done(SyncKind::resync, 256, 300);
  EXPECT_EQ(f.bm->state(2), LlState::need_sync);
  f.bm->sync_done(SyncKind::resync, 256, 384);
  EXPECT_EQ(f.bm->state(2), LlState::dirty);
  EXPECT_EQ(disk_state(*f.store, 2), D);
  EXPECT_EQ(f.bm->sync_skip(SyncKind::resync, 0, kSync), kSync);
  ASSERT_TRUE(f.bm->run_daemon_at(std::chrono::steady_clock::now() + 10s).is_ok());
  EXPECT_EQ(f.bm->state(2), LlState::clean);
  EXPECT_EQ(f.bm->state(3), LlState::clean);
  EXPECT_EQ(f.bm->dirty_chunks(), 0u);
}

TEST(LocklessBitmapTest, Attributes) {
  Fixture f;
  EXPECT_EQ(f.bm->kind(), std::string("llbitmap"));
  EXPECT_EQ(f.bm->attr_names(), (std::vector<std::string>{"llbitmap/bits", "llbitmap/metadata",
                                                           "llbitmap/daemon_sleep", "llbitmap/barrier_idle"}));
  f.write(0);
  f.end(0);
  f.bm->discard(128 * 10, 128 * 12);
  EXPECT_EQ(*f.bm->attr("llbitmap/bits"), "unwritten 2\nclean 509\ndirty 1\nneed sync 0\nsyncing 0\n");
  EXPECT_EQ(*f.bm->attr("llbitmap/metadata"),
            "chunksize 128\nchunkshift 7\nchunks 512\noffset 8\ndaemon_sleep 30\n");
  EXPECT_EQ(*f.bm->attr("llbitmap/daemon_sleep"), "30");
  EXPECT_EQ(*f.bm->attr("llbitmap/barrier_idle"), "5");
  ASSERT_TRUE(f.bm->set_attr("llbitmap/daemon_sleep", "7\n").is_ok());
  ASSERT_TRUE(f.bm->set_attr("llbitmap/barrier_idle", "0").is_ok());
  EXPECT_EQ(*f.bm->attr("llbitmap/daemon_sleep"), "7");
  EXPECT_EQ(*f.bm->attr("llbitmap/barrier_idle"), "0");
  EXPECT_EQ(f.bm->set_attr("llbitmap/daemon_sleep", "0").code(), Err::invalid);
  EXPECT_EQ(f.bm->set_attr("llbitmap/barrier_idle", "-1").code(), Err::invalid);
  EXPECT_EQ(f.bm->set_attr("llbitmap/barrier_idle", "1.5").code(), Err::invalid);
  EXPECT_EQ(f.bm->set_attr("llbitmap/bits", "1").code(), Err::invalid);
  EXPECT_EQ(f.bm->set_attr("llbitmap/nope", "1").code(), Err::not_found);
  EXPECT_EQ(f.bm->attr("bitmap/chunksize").status().code(), Err::not_found);
  // The superblock carries daemon_sleep and the events from the next update on.
  ASSERT_TRUE(f.bm->write_super(11).is_ok());
  const BitmapSuper sb = disk_super(*f.store);
  EXPECT_EQ(sb.events, 11u);
  EXPECT_EQ(sb.daemon_sleep, 7u);
  EXPECT_EQ(f.bm->events_cleared(), 0u);
  // barrier_idle 0: a page expires as soon as its writes are done.
  f.write(1);
  f.end(1);
  ASSERT_TRUE(f.bm->run_daemon_at(std::chrono::steady_clock::now()).is_ok());
  EXPECT_EQ(f.bm->state(1), LlState::clean);
}

TEST(LocklessBitmapTest, FourKiBlocksKeepTheSuperblockBesideTheStates) {
  Fixture f(kSync, 4096);
  f.write(5);
  f.end(5);
  EXPECT_EQ(f.log.lines(), std::vector<std::string>{"write 0"});  // chunks 0..3071 share block 0
  EXPECT_EQ(disk_state(*f.store, 5), D);
  EXPECT_EQ(disk_super(*f.store).chunksize, 128u);
  ASSERT_TRUE(f.bm->write_super(12).is_ok());
  EXPECT_EQ(disk_super(*f.store).events, 12u);
  EXPECT_EQ(disk_state(*f.store, 5), D) << "the superblock's block carries the states too";
}

TEST(LocklessBitmapTest, ForeignOrMismatchedBitmapsAreRefused) {
  Log log;
  Host host(&log);
  LocklessBitmap::Options o;
  o.uuid = uuid();
  o.sync_sectors = kSync;
  auto try_open = [&](auto&& prepare, const LocklessBitmap::Options& opts) {
    auto s = std::make_unique<GateStore>(&log, 512);
    prepare(*s);
    return LocklessBitmap::open(std::move(s), host, opts).status().code();
  };
  auto first_use = [](GateStore& s) { format_first_use(s, kSync, false); };
  LocklessBitmap::Options other = o;
  other.uuid[0] ^= 1;
  EXPECT_EQ(try_open(first_use, other), Err::invalid);
  LocklessBitmap::Options bigger = o;
  bigger.sync_sectors = kSync * 2;
  EXPECT_EQ(try_open(first_use, bigger), Err::corrupt);
  auto classic = [](GateStore& s) {
    BitmapSuper sb = header(kSync, 0);
    sb.version = kVersionLittleEndian;
    sb.chunksize = 64 * 1024;
    auto enc = encode_bitmap_super(sb);
    put(s, std::vector<uint8_t>(enc.begin(), enc.end()));
  };
  EXPECT_EQ(try_open(classic, o), Err::unsupported);
  auto tiny_chunk = [](GateStore& s) {  // 512 states cannot fit 1 sector of room
    BitmapSuper sb = header(kSync, 0);
    sb.chunksize = 8;
    sb.sectors_reserved = 1;
    auto enc = encode_bitmap_super(sb);
    put(s, std::vector<uint8_t>(enc.begin(), enc.end()));
  };
  EXPECT_EQ(try_open(tiny_chunk, o), Err::corrupt);
}

TEST(LocklessBitmapTest, WritersRacingTheDaemonNeverGoBeforeTheirBytesAreOnDisk) {
  Fixture f(kBigSync);
  const uint64_t chunks = f.bm->chunks();
  ASSERT_EQ(chunks, kBigSync / 128);
  ASSERT_TRUE(f.bm->set_attr("llbitmap/barrier_idle", "0").is_ok());
  std::atomic<int> bad{0};
  std::atomic<int> done{0};
  std::atomic<uint64_t> gone{0};
  constexpr int kThreads = 4, kIters = 1500;
  auto writer = [&](int seed) {
    std::mt19937_64 rng(uint64_t(seed) * 7919 + 1);
    for (int i = 0; i < kIters; i++) {
      // Mostly chunks around page boundaries (3072, 7168, ...) and a few hot ones.
      uint64_t c = rng() % 4 == 0 ? rng() % 8 : (3072 + 4096 * (rng() % 4) + rng() % 16) - 8;
      const uint64_t n = 1 + rng() % 3;
      if (c + n > chunks) c = chunks - n;
      const uint64_t lo = c * 128 + rng() % 64, hi = (c + n - 1) * 128 + 64 + rng() % 64;
      f.bm->start_write(lo, hi, [&] {
        for (uint64_t k = c; k < c + n; k++) {
          const uint8_t on_disk = disk_state(*f.store, k);
          if (on_disk != D && on_disk != N) bad++;
        }
        gone++;
      });
      if (rng() % 8 == 0) std::this_thread::yield();
      f.bm->end_write(lo, hi);
    }
    done++;
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) threads.emplace_back(writer, t);
  // The daemon races the writers for as long as they run (how many passes that makes
  // depends on the scheduler, so only the invariants below are asserted).
  do {
    ASSERT_TRUE(f.bm->run_daemon_now().is_ok());
  } while (done.load() < kThreads);
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0) << "a write went while its chunk was not marked on disk";
  EXPECT_EQ(gone.load(), uint64_t(kThreads) * kIters);
  ASSERT_TRUE(f.bm->stop().is_ok());
  EXPECT_EQ(f.bm->dirty_chunks(), 0u) << "stop cleans every quiet chunk";
  for (uint64_t c = 0; c < chunks; c += 97) EXPECT_EQ(disk_state(*f.store, c), C) << c;
  for (uint64_t c = 3060; c < 3090; c++) EXPECT_EQ(disk_state(*f.store, c), C) << c;
}

}  // namespace
}  // namespace umd::bitmap
