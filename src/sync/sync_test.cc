// The sync thread on running arrays: recovery onto spares (and resuming it from the
// superblocks' checkpoint), resync after an unclean stop, check/repair counting and
// fixing, raid6's culprit search, md's attributes, and the half-way rule of seed 000.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <thread>

#include "array/array.h"
#include "array/array_test_fixture.h"
#include "format/superblock1.h"
#include "layout/raid456.h"

namespace umd::engine {
namespace {

using namespace std::chrono_literals;

std::string attr(Array& a, const std::string& name);
uint64_t sync_stat(Array& a, const std::string& key);

class SyncTest : public testing::ArrayFixture {
 protected:
  // An array made and assembled behind FaultyMembers, `seed`'s pattern written over it.
  struct Written {
    std::vector<std::string> paths;
    std::vector<io::FaultyMember*> fms;
    std::unique_ptr<Array> a;
    std::vector<uint8_t> data;
  };
  Written written(const std::string& level, unsigned n, uint64_t mib, uint32_t seed) {
    Written w;
    w.paths = make_array(level, n, mib);
    w.a = assemble_faulty(w.paths, &w.fms);
    if (!w.a) return w;
    w.data = pattern(w.a->size_bytes(), seed);
    EXPECT_TRUE(io(*w.a, BlockOp::write, 0, w.data.size(), w.data.data()).is_ok());
    return w;
  }
  // Clients write while a sync runs: three random 4-64 KiB writes anywhere (recorded in
  // `data`), then on once the sync has done another step, until it is idle. Some steps'
  // read-ahead is spoiled by a write, the others' is taken. Returns the writes made.
  static uint64_t write_through_sync(Array& a, std::vector<uint8_t>& data, std::mt19937_64& rng) {
    uint64_t writes = 0;
    while (attr(a, "sync_action") != "idle") {
      for (int k = 0; k < 3; k++) {
        const uint64_t len = (1 + rng() % 16) * 4096, off = rng() % ((data.size() - len) / 4096) * 4096;
        std::vector<uint8_t> w = pattern(len, uint32_t(rng()));
        if (Status s = io(a, BlockOp::write, off, len, w.data()); !s.is_ok()) {
          ADD_FAILURE() << "client write at " << off << ": " << s.message();
          return writes;
        }
        std::memcpy(data.data() + off, w.data(), len);
        writes++;
      }
      const uint64_t done = sync_stat(a, "done_sectors");
      while (sync_stat(a, "done_sectors") == done && attr(a, "sync_action") != "idle") std::this_thread::yield();
    }
    return writes;
  }
};

std::string attr(Array& a, const std::string& name) {
  auto r = a.attr(name);
  EXPECT_TRUE(r.is_ok()) << name << ": " << r.status().message();
  return r.is_ok() ? *r : "";
}

// A counter of umd/sync_stats ("done_sectors", "read_ahead_steps", ...).
uint64_t sync_stat(Array& a, const std::string& key) {
  const std::string st = attr(a, "umd/sync_stats");
  return std::stoull(st.substr(st.find(key + " ") + key.size() + 1));
}

// Overwrites `len` bytes of a member file at byte `off` with a pattern (silent corruption).
void scribble(const std::string& path, uint64_t off, size_t len, uint8_t seed) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  std::vector<char> junk(len);
  for (size_t i = 0; i < len; i++) junk[i] = char(seed + i * 7);
  f.seekp(std::streamoff(off));
  f.write(junk.data(), std::streamsize(len));
}

std::vector<char> file_bytes(const std::string& path, uint64_t off, size_t len) {
  std::ifstream f(path, std::ios::binary);
  std::vector<char> out(len);
  f.seekg(std::streamoff(off));
  f.read(out.data(), std::streamsize(len));
  return out;
}

std::string make_image(const std::filesystem::path& dir, const std::string& name, uint64_t mib) {
  const std::string p = (dir / name).string();
  FILE* f = fopen(p.c_str(), "w");
  fclose(f);
  std::filesystem::resize_file(p, mib << 20);
  return p;
}

struct LevelCase {
  const char* level;
  unsigned n;
};

class RecoveryTest : public SyncTest, public ::testing::WithParamInterface<LevelCase> {
 protected:
  // The case's array of 8 MiB members, `seed`'s pattern written over it.
  Written written(uint32_t seed) { return SyncTest::written(GetParam().level, GetParam().n, 8, seed); }
  // The end of a replacement of slot 1 (d1.img) by new.img: the array's view, then the
  // superblocks, then the data with and without slot 0 (raid10 n2: slot 0's copies are on
  // slot 1), which must come from the new member.
  void expect_slot1_replaced(std::unique_ptr<Array> a, const std::vector<std::string>& paths,
                             const std::string& fresh, const std::vector<uint8_t>& data) {
    ASSERT_TRUE(a->sync_engine().wait_idle(60s));
    EXPECT_EQ(attr(*a, "dev-new.img/slot"), "1");
    EXPECT_EQ(attr(*a, "dev-new.img/state"), "in_sync");
    EXPECT_EQ(attr(*a, "dev-d1.img/state"), "faulty");
    EXPECT_EQ(attr(*a, "degraded"), "0");
    ASSERT_TRUE(a->stop().is_ok());
    a.reset();
    EXPECT_EQ(info_of(fresh).role, 1);
    EXPECT_EQ(info_of(fresh).feature_map & kFeatureReplacement, 0u);
    std::vector<std::string> now = paths;
    now[1] = fresh;
    EXPECT_EQ(dump(now, 0, data.size()), data);
    now.erase(now.begin());
    EXPECT_EQ(dump(now, 0, data.size()), data) << "without slot 0";
  }
};

TEST_P(RecoveryTest, FailedMemberIsRebuiltOntoASpare) {
  const LevelCase c = GetParam();
  auto [paths, fms, a, data] = written(7);
  ASSERT_TRUE(a);
  const uint64_t size = data.size();
  const std::string spare = make_image(dir_, "spare.img", 8);
  ASSERT_TRUE(a->add_member(spare, false).is_ok());
  EXPECT_EQ(attr(*a, "dev-spare.img/state"), "spare");
  ASSERT_TRUE(a->fail_member("d1.img").is_ok());
  ASSERT_TRUE(a->sync_engine().wait_idle(60s));
  EXPECT_EQ(attr(*a, "dev-spare.img/state"), "in_sync");
  EXPECT_EQ(attr(*a, "dev-spare.img/slot"), "1");
  EXPECT_EQ(attr(*a, "dev-d1.img/state"), "faulty");
  EXPECT_EQ(attr(*a, "degraded"), "0");
  EXPECT_EQ(attr(*a, "last_sync_action"), "recover");
  // --remove closes it; the superblocks tell the kernel's story: spare in slot 1.
  EXPECT_EQ(a->remove_member("d1.img").code(), Err::ok);
  ASSERT_TRUE(a->stop().is_ok());
  a.reset();
  const MemberInfo si = info_of(spare);
  EXPECT_EQ(si.role, 1);
  EXPECT_FALSE(si.recovery_offset_valid);
  EXPECT_EQ(si.roles_of_dev_numbers.at(info_of(paths[1]).dev_number), MemberInfo::kFaulty);
  std::vector<std::string> now = paths;
  now[1] = spare;
  EXPECT_EQ(dump(now, 0, size), data);
  // And the spare alone carries slot 1: every other slot dropped in turn still reads.
  for (unsigned drop = 0; drop < c.n; drop++) {
    if (drop == 1 || std::string(c.level) == "10") continue;
    std::vector<std::string> without;
    for (unsigned i = 0; i < c.n; i++) {
      if (i != drop) without.push_back(now[i]);
    }
    EXPECT_EQ(dump(without, 0, size), data) << "without slot " << drop;
  }
}

INSTANTIATE_TEST_SUITE_P(Levels, RecoveryTest,
                         ::testing::Values(LevelCase{"1", 2}, LevelCase{"5", 4}, LevelCase{"6", 5},
                                           LevelCase{"10", 4}),
                         [](const auto& i) { return std::string("raid") + i.param.level; });

TEST_P(RecoveryTest, ReplaceCopiesOntoTheNewMemberWhileTheOldServes) {
  auto [paths, fms, a, data] = written(5);
  ASSERT_TRUE(a);
  const uint64_t size = data.size();
  const std::string fresh = make_image(dir_, "new.img", 8);
  ASSERT_TRUE(a->set_attr("sync_speed_max", "20000").is_ok());  // slow enough to write while it copies
  ASSERT_TRUE(a->replace_member("d1.img", fresh).is_ok());
  EXPECT_EQ(a->replace_member("d0.img", "").code(), Err::busy);  // one at a time
  // Writes during the copy reach both the old and the new member.
  auto more = pattern(1 << 20, 9);
  ASSERT_TRUE(io(*a, BlockOp::write, size / 2, more.size(), more.data()).is_ok());
  std::copy(more.begin(), more.end(), data.begin() + long(size / 2));
  ASSERT_TRUE(a->set_attr("sync_speed_max", "system").is_ok());
  expect_slot1_replaced(std::move(a), paths, fresh, data);
}

// Where the old member cannot be read, --replace rebuilds that range from the other
// members onto the new one (as md does) instead of giving up the replacement.
TEST_P(RecoveryTest, ReplaceRebuildsWhatTheOldMemberCannotRead) {
  auto [paths, fms, a, data] = written(6);
  ASSERT_TRUE(a);
  const std::string fresh = make_image(dir_, "new.img", 8);
  // 192 KiB of the old member's data area, 1 MiB in, never reads again.
  fms[1]->fail_reads(info_of(paths[1]).data_offset * 512 + (1 << 20), 192 << 10);
  ASSERT_TRUE(a->replace_member("d1.img", fresh).is_ok());
  expect_slot1_replaced(std::move(a), paths, fresh, data);
}

// A write straddling the recovery point reaches the member being rebuilt below the point
// too (raid1 pieces are whole requests, so they can straddle it).
TEST_F(SyncTest, WriteAcrossTheRecoveryPointReachesTheNewMember) {
  auto [paths, fms, a, data] = written("1", 2, 16, 21);
  ASSERT_TRUE(a);
  const uint64_t size = data.size();
  const std::string spare = make_image(dir_, "spare.img", 16);
  const uint64_t half = size / 512 / 2 / 8 * 8;
  ASSERT_TRUE(a->set_attr("sync_max", std::to_string(half)).is_ok());
  ASSERT_TRUE(a->add_member(spare, false).is_ok());
  ASSERT_TRUE(a->fail_member("d1.img").is_ok());
  for (int i = 0; i < 2000 && attr(*a, "dev-spare.img/recovery_start") != std::to_string(half); i++) {
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_EQ(attr(*a, "dev-spare.img/recovery_start"), std::to_string(half));
  auto more = pattern(64 * 1024, 22);  // 32 KiB below the recovery point, 32 KiB above
  const uint64_t off = half * 512 - 32 * 1024;
  ASSERT_TRUE(io(*a, BlockOp::write, off, more.size(), more.data()).is_ok());
  std::copy(more.begin(), more.end(), data.begin() + long(off));
  ASSERT_TRUE(a->set_attr("sync_max", "max").is_ok());
  ASSERT_TRUE(a->sync_engine().wait_idle(60s));
  ASSERT_TRUE(a->stop().is_ok());
  a.reset();
  EXPECT_EQ(dump({spare}, 0, size), data) << "the new member alone must hold the array";
}

// READ-AHEAD for raid1: a recovery step reads the next step's copy while it writes this
// one's onto the new member, and takes it only if no client write reached it meanwhile.
// Clients write all over the array through the recovery: were a stale read-ahead taken, the
// new member would hold old data where a client wrote (it alone is dumped at the end).
TEST_F(SyncTest, Raid1RecoveryUnderClientWritesRebuildsTheClientsBytes) {
  auto [paths, fms, a, data] = written("1", 2, 64, 31);
  ASSERT_TRUE(a);
  const std::string spare = make_image(dir_, "spare.img", 64);
  const uint64_t ahead_before = sync_stat(*a, "read_ahead_steps");
  ASSERT_TRUE(a->add_member(spare, false).is_ok());
  ASSERT_TRUE(a->fail_member("d1.img").is_ok());
  for (int i = 0; i < 2000 && attr(*a, "sync_action") != "recover"; i++) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(attr(*a, "sync_action"), "recover");
  std::mt19937_64 rng(5);
  const uint64_t writes = write_through_sync(*a, data, rng);
  EXPECT_EQ(attr(*a, "degraded"), "0");
  const uint64_t ahead = sync_stat(*a, "read_ahead_steps") - ahead_before;
  EXPECT_GT(ahead, 20u) << "the recovery read little ahead: this test would not see a stale one";
  EXPECT_GT(writes, 30u) << ahead << " steps read ahead";  // 80-100 here, 3 per step
  ASSERT_TRUE(a->stop().is_ok());
  a.reset();
  EXPECT_TRUE(dump({spare}, 0, data.size()) == data) << "the new member alone must hold the clients' bytes";
  EXPECT_TRUE(dump({paths[0]}, 0, data.size()) == data);
}

TEST_F(SyncTest, RecoveryResumesFromTheSuperblockCheckpoint) {
  auto [paths, fms, a, data] = written("5", 4, 32, 3);
  ASSERT_TRUE(a);
  const uint64_t size = data.size();
  const std::string spare = make_image(dir_, "spare.img", 32);
  const uint64_t end = a->size_bytes() / 512 / 3;  // member sectors in use
  const uint64_t half = end / 2 / 128 * 128;       // a multiple of the 64 KiB chunk
  ASSERT_TRUE(a->set_attr("sync_max", std::to_string(half)).is_ok());
  ASSERT_TRUE(a->add_member(spare, false).is_ok());
  ASSERT_TRUE(a->fail_member(paths[2]).is_ok());
  for (int i = 0; i < 2000 && attr(*a, "sync_completed") != fmt::format("{} / {}", half, end); i++) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(attr(*a, "sync_completed"), fmt::format("{} / {}", half, end));
  EXPECT_EQ(attr(*a, "sync_action"), "recover");
  EXPECT_EQ(attr(*a, "dev-spare.img/recovery_start"), std::to_string(half));
  ASSERT_TRUE(a->stop().is_ok());  // as a daemon killed at a checkpoint: the superblocks hold it
  a.reset();
  const MemberInfo si = info_of(spare);
  EXPECT_EQ(si.role, 2);
  ASSERT_TRUE(si.recovery_offset_valid);
  EXPECT_EQ(si.recovery_offset, half);

  std::vector<std::string> now = {paths[0], paths[1], spare, paths[3]};
  std::vector<io::FaultyMember*> fms2;
  auto b = assemble_faulty(now, &fms2);
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->sync_engine().wait_idle(60s));
  EXPECT_EQ(b->sync_engine().done_sectors(), end - half) << "resumed from the checkpoint, not from 0";
  EXPECT_EQ(attr(*b, "dev-spare.img/state"), "in_sync");
  ASSERT_TRUE(b->stop().is_ok());
  b.reset();
  EXPECT_FALSE(info_of(spare).recovery_offset_valid);
  EXPECT_EQ(dump({paths[0], paths[1], spare}, 0, size), data);  // slot 3 dropped: the spare's data counts
}

class CheckRepairTest : public SyncTest, public ::testing::WithParamInterface<LevelCase> {};

TEST_P(CheckRepairTest, CheckCountsRepairFixes) {
  const LevelCase c = GetParam();
  auto [paths, fms, a, data] = written(c.level, c.n, 8, 11);
  ASSERT_TRUE(a);
  const uint64_t size = data.size();
  ASSERT_TRUE(a->stop().is_ok());
  a.reset();
  // One 4 KiB block of member 2, 1 MiB into its data area.
  const uint64_t off = info_of(paths[2]).data_offset * 512 + (1 << 20);
  const auto before = file_bytes(paths[2], off, 4096);
  scribble(paths[2], off, 4096, 0x5a);
  fms.clear();
  a = assemble_faulty(paths, &fms);
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->set_attr("sync_action", "check").is_ok());
  ASSERT_TRUE(a->sync_engine().wait_idle(60s));
  EXPECT_EQ(attr(*a, "mismatch_cnt"), "8");
  EXPECT_EQ(attr(*a, "last_sync_action"), "check");
  EXPECT_NE(file_bytes(paths[2], off, 4096), before) << "check changes nothing";
  const bool raid6 = std::string(c.level) == "6";
  if (raid6) {
    EXPECT_EQ(attr(*a, "umd/findings"), fmt::format("slot 2 sector {} sectors 8 found", 2048));
  }
  ASSERT_TRUE(a->set_attr("sync_action", "repair").is_ok());
  ASSERT_TRUE(a->sync_engine().wait_idle(60s));
  EXPECT_EQ(attr(*a, "mismatch_cnt"), "8");
  if (raid6) {
    EXPECT_EQ(attr(*a, "umd/findings"), fmt::format("slot 2 sector {} sectors 8 fixed", 2048));
  }
  ASSERT_TRUE(a->set_attr("sync_action", "check").is_ok());
  ASSERT_TRUE(a->sync_engine().wait_idle(60s));
  EXPECT_EQ(attr(*a, "mismatch_cnt"), "0");
  ASSERT_TRUE(a->stop().is_ok());
  a.reset();
  if (raid6) {
    EXPECT_EQ(file_bytes(paths[2], off, 4096), before) << "the culprit's block is rebuilt, not the parity";
  }
  if (raid6 || std::string(c.level) == "1") {
    // raid6 fixed the data member; raid1 copied the first copy over the bad one.
    EXPECT_EQ(dump(paths, 0, size), data);
  }
}

INSTANTIATE_TEST_SUITE_P(Levels, CheckRepairTest,
                         ::testing::Values(LevelCase{"1", 3}, LevelCase{"5", 4}, LevelCase{"6", 5}),
                         [](const auto& i) { return std::string("raid") + i.param.level; });

// READ-AHEAD (personality_impl.h): a raid5/6 sync step reads the next step's rows while it
// computes, and takes them only if no client write reached those rows meanwhile. Here
// clients write all over the array through five repairs: were a stale read-ahead taken,
// repair would write parity computed from data since overwritten (a later check counts
// it) or rebuild nothing; afterwards check finds nothing and every byte is the clients'.
TEST_P(CheckRepairTest, RepairUnderClientWritesKeepsParityAndData) {
  const LevelCase c = GetParam();
  if (std::string(c.level) == "1") GTEST_SKIP() << "raid1 reads no rows ahead";
  auto [paths, fms, a, data] = written(c.level, c.n, 16, 5);
  ASSERT_TRUE(a);
  std::mt19937_64 rng(7);
  uint64_t writes = 0;
  for (int round = 0; round < 5; round++) {
    ASSERT_TRUE(a->set_attr("sync_action", "repair").is_ok());
    writes += write_through_sync(*a, data, rng);
    EXPECT_EQ(attr(*a, "mismatch_cnt"), "0") << "round " << round;
  }
  EXPECT_GT(sync_stat(*a, "read_ahead_steps"), 10u) << "the repairs read little ahead: this test would not see a stale one";
  EXPECT_GT(writes, 50u);  // 96-160 here (fewer under ASan, whose steps outrun the writer)
  ASSERT_TRUE(a->set_attr("sync_action", "check").is_ok());
  ASSERT_TRUE(a->sync_engine().wait_idle(60s));
  EXPECT_EQ(attr(*a, "mismatch_cnt"), "0");
  std::vector<uint8_t> got(data.size());
  ASSERT_TRUE(io(*a, BlockOp::read, 0, got.size(), got.data()).is_ok());
  EXPECT_TRUE(got == data);
  ASSERT_TRUE(a->stop().is_ok());
  a.reset();
  EXPECT_TRUE(dump(paths, 0, data.size()) == data);
}

// raid5's sync reads a step's rows with one I/O per member; a member whose read fails is
// re-read row by row, and only the row it cannot read is rebuilt from the others and
// rewritten (md's read-error repair). A read that fails once and then works costs nothing.
TEST_F(SyncTest, ParityCheckRewritesOnlyTheRowAMemberCannotRead) {
  auto paths = make_array("5", 4, 8);  // 64 KiB chunks: 16 rows in a step
  std::vector<io::FaultyMember*> fms;
  auto a = assemble_faulty(paths, &fms);
  ASSERT_TRUE(a);
  // The array stays "active" from its first write on: no superblock write (the clean
  // mark after safe_mode_delay) lands among the bytes counted below.
  ASSERT_TRUE(a->set_attr("safe_mode_delay", "3600").is_ok());
  const uint64_t size = a->size_bytes();
  auto data = pattern(size, 5);
  ASSERT_TRUE(io(*a, BlockOp::write, 0, size, data.data()).is_ok());
  const uint64_t row_off = info_of(paths[2]).data_offset * 512 + 20 * 65536;  // row 20, in the 2nd step
  for (int64_t times : {1, 2}) {
    SCOPED_TRACE(fmt::format("the read fails {} time(s)", times));
    fms[2]->reset_counters();
    fms[2]->fail_reads(row_off + 8192, 4096, EIO, times);
    ASSERT_TRUE(a->set_attr("sync_action", "check").is_ok());
    ASSERT_TRUE(a->sync_engine().wait_idle(60s));
    EXPECT_EQ(attr(*a, "mismatch_cnt"), "0");
    EXPECT_EQ(attr(*a, "degraded"), "0") << "a read error does not fail the member";
    EXPECT_EQ(fms[2]->counters().bytes_written, times == 1 ? 0u : 65536u) << "only the unreadable row is rewritten";
  }
  ASSERT_TRUE(a->stop().is_ok());
  a.reset();
  EXPECT_EQ(dump(paths, 0, size), data);
}

// raid6 recovering one member still has a parity block that must agree with the rebuilt
// row: md checks it (handle_parity_checks6) and rewrites it. A row a crash left with a
// stale Q must come out of the recovery consistent, since a lockless bitmap counts the
// recovery as that chunk's sync and never looks at it again (found by umd_torture).
TEST_F(SyncTest, Raid6RecoveryRewritesTheParityItDidNotRebuildFrom) {
  auto [paths, fms, a, data] = written("6", 5, 8, 12);
  ASSERT_TRUE(a);
  const MemberInfo info = info_of(paths[0]);
  ASSERT_TRUE(a->stop().is_ok());
  a.reset();
  auto g = layout::Raid456Geometry::create({6, info.layout, info.chunk_sectors, 5, {info.component_sectors}});
  ASSERT_TRUE(g.is_ok()) << g.status().message();
  uint64_t row = 0;
  while (g->stripe(row).qd_idx == 1 || g->stripe(row).pd_idx == 1) row++;  // slot 1 holds data there
  const uint32_t qd = uint32_t(g->stripe(row).qd_idx);
  scribble(paths[qd], info_of(paths[qd]).data_offset * 512 + row * info.chunk_sectors * 512, 4096, 0x5c);
  fms.clear();
  a = assemble_faulty(paths, &fms);
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->fail_member("d1.img").is_ok());
  ASSERT_TRUE(a->add_member(make_image(dir_, "spare.img", 8), false).is_ok());
  ASSERT_TRUE(a->sync_engine().wait_idle(60s));
  EXPECT_EQ(attr(*a, "last_sync_action"), "recover");
  EXPECT_EQ(attr(*a, "degraded"), "0");
  ASSERT_TRUE(a->set_attr("sync_action", "check").is_ok());
  ASSERT_TRUE(a->sync_engine().wait_idle(60s));
  EXPECT_EQ(attr(*a, "mismatch_cnt"), "0") << "row " << row << "'s Q (slot " << qd << ") is still stale";
  ASSERT_TRUE(a->stop().is_ok());
  a.reset();
  std::vector<std::string> now = paths;
  now[1] = (dir_ / "spare.img").string();
  EXPECT_EQ(dump(now, 0, data.size()), data);
}

TEST_F(SyncTest, ResyncAfterAnUncleanStopMakesCopiesAgree) {
  auto paths = make_array("1", 2, 8);
  // As after a crash: the copies differ and the superblocks say "not in sync from 0".
  for (const std::string& p : paths) {
    auto pm = open_and_probe(p, true);
    ASSERT_TRUE(pm.is_ok());
    Superblock1 sb = *pm->sb1();
    sb.resync_offset = 0;
    auto bytes = encode_superblock1(sb);
    ASSERT_TRUE(pm->dev->write(sb.super_offset * 512, bytes).is_ok());
  }
  const uint64_t off = info_of(paths[1]).data_offset * 512 + 4096 * 10;
  scribble(paths[1], off, 4096, 0x33);
  std::vector<io::FaultyMember*> fms;
  auto a = assemble_faulty(paths, &fms);
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->sync_engine().wait_idle(60s));
  EXPECT_EQ(attr(*a, "resync_start"), "none");
  EXPECT_EQ(attr(*a, "last_sync_action"), "resync");
  ASSERT_TRUE(a->stop().is_ok());
  a.reset();
  EXPECT_EQ(info_of(paths[0]).resync_offset, kMaxSector);
  EXPECT_EQ(file_bytes(paths[1], off, 4096), file_bytes(paths[0], info_of(paths[0]).data_offset * 512 + 40960, 4096));
}

TEST_F(SyncTest, AttributesFollowMdRules) {
  auto paths = make_array("5", 3, 8);
  std::vector<io::FaultyMember*> fms;
  auto a = assemble_faulty(paths, &fms);
  ASSERT_TRUE(a);
  EXPECT_EQ(attr(*a, "level"), "raid5");
  EXPECT_EQ(attr(*a, "raid_disks"), "3");
  EXPECT_EQ(attr(*a, "chunk_size"), "65536");
  EXPECT_EQ(attr(*a, "sync_action"), "idle");
  EXPECT_EQ(attr(*a, "sync_completed"), "none");
  EXPECT_EQ(attr(*a, "sync_speed_min"), "1000 (system)");
  ASSERT_TRUE(a->set_attr("sync_speed_max", "5000\n").is_ok());
  EXPECT_EQ(attr(*a, "sync_speed_max"), "5000 (local)");
  ASSERT_TRUE(a->set_attr("sync_speed_max", "system").is_ok());
  EXPECT_EQ(attr(*a, "sync_speed_max"), "200000 (system)");
  EXPECT_EQ(a->set_attr("sync_max", "100").code(), Err::invalid);  // not a multiple of the chunk
  EXPECT_EQ(a->set_attr("sync_action", "scrub").code(), Err::invalid);
  EXPECT_EQ(a->set_attr("level", "raid10").code(), Err::invalid);    // no takeover from raid5 into raid10
  EXPECT_EQ(a->set_attr("no_such", "1").code(), Err::not_found);
  EXPECT_EQ(a->fail_member("nope.img").code(), Err::not_found);
  EXPECT_EQ(a->remove_member("d0.img").code(), Err::busy);  // active
  ASSERT_TRUE(a->fail_member("d0.img").is_ok());
  EXPECT_EQ(a->fail_member("d1.img").code(), Err::busy);  // the last copy of its data
  EXPECT_EQ(attr(*a, "dev-d1.img/state"), "in_sync");
  EXPECT_EQ(attr(*a, "degraded"), "1");
  for (const std::string& n : a->attr_names()) EXPECT_TRUE(a->attr(n).is_ok()) << n;
}

TEST_F(SyncTest, ForeignAndTooSmallMembersAreRefused) {
  auto paths = make_array("1", 2, 8);
  const std::string tiny = make_image(dir_, "tiny.img", 1);
  std::vector<io::FaultyMember*> fms;
  auto a = assemble_faulty(paths, &fms);
  ASSERT_TRUE(a);
  Status s = a->add_member(tiny, false);
  EXPECT_EQ(s.code(), Err::no_space) << s.message();
  EXPECT_NE(s.message().find("too small"), std::string::npos) << s.message();
  s = a->add_member(tiny, true);
  EXPECT_EQ(s.code(), Err::invalid) << s.message();
}

// Seed 000: an overseer that moves sync_max forward whenever sync_completed changes keeps
// the sync thread busy -- it barely waits at sync_max -- because sync_completed is
// published half-way to sync_max, before the thread gets there.
TEST_F(SyncTest, OverseerDoubleBufferingKeepsTheSyncThreadBusy) {
  auto paths = make_array("1", 2, 128);
  std::vector<io::FaultyMember*> fms;
  auto a = assemble_faulty(paths, &fms);
  ASSERT_TRUE(a);
  const uint64_t end = a->size_bytes() / 512;
  const uint64_t window = 16384;  // 8 MiB
  uint64_t max = window;
  ASSERT_TRUE(a->set_attr("sync_max", std::to_string(max)).is_ok());
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(a->set_attr("sync_action", "repair").is_ok());
  std::string last;
  uint64_t moves = 0;
  while (std::chrono::steady_clock::now() - t0 < 60s) {
    const std::string c = attr(*a, "sync_completed");
    if (c == "none" && moves > 0) break;
    if (c != last && c != "none") {
      last = c;
      const uint64_t done = std::stoull(c.substr(0, c.find(' ')));
      // Keep the next window open: sync_max one window past what was just published.
      if (done + window > max && max < end) {
        max = std::min(end, max + window);
        ASSERT_TRUE(a->set_attr("sync_max", max >= end ? "max" : std::to_string(max)).is_ok());
        moves++;
      }
    }
    std::this_thread::sleep_for(200us);
  }
  const auto total_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(a->sync_engine().wait_idle(60s));
  const uint64_t publishes = a->sync_engine().publishes();
  const uint64_t waited = a->sync_engine().wait_ms();
  std::printf("overseer: %llu sectors, window %llu, %llu sync_max moves, %llu sync_completed updates, "
              "sync thread waited %llu ms of %lld ms\n",
              (unsigned long long)end, (unsigned long long)window, (unsigned long long)moves,
              (unsigned long long)publishes, (unsigned long long)waited, (long long)total_ms);
  EXPECT_GE(moves, end / window - 2);
  EXPECT_LT(waited * 5, uint64_t(total_ms) + 5) << "the sync thread spent over 20% of the run waiting at sync_max";
}

}  // namespace
}  // namespace umd::engine
