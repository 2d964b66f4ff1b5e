// Arrays with a write-intent bitmap (issue 5): after a power cut only the chunks the
// bitmap marks are resynced (counted, and no more than the chunks written since the last
// clean point), a check afterwards finds nothing, acknowledged-and-flushed writes read
// back; a member that left comes back with --re-add and only what changed is rebuilt.
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <thread>

#include "array/array.h"
#include "array/array_test_fixture.h"
#include "layout/raid10.h"

namespace umd::engine {
namespace {

using namespace std::chrono_literals;
using BitmapArrayFixture = testing::ArrayFixture;

constexpr uint64_t kBitmapChunkSectors = 128;  // 64 KiB
constexpr uint64_t kChunkSectors = 128;        // the raid chunk, 64 KiB

struct Case {
  const char* level;
  unsigned n;
};

class BitmapArrayTest : public BitmapArrayFixture,
                        public ::testing::WithParamInterface<std::tuple<Case, const char*>> {
 protected:
  // The bitmap kind of this case: "internal", "lockless", or "file" (in the test's dir);
  // "internal090" is an internal bitmap of a 0.90 array (4 KiB after its superblock).
  std::string kind_arg() const {
    const std::string k = std::get<1>(GetParam());
    return k == "file" ? (dir_ / "bitmap.file").string() : k == "internal090" ? "internal" : k;
  }
  std::string metadata() const { return std::string(std::get<1>(GetParam())) == "internal090" ? "0.90" : "1.2"; }
  AssembleOptions options() const {
    AssembleOptions o;
    if (std::string(std::get<1>(GetParam())) == "file") o.bitmap_file = kind_arg();
    return o;
  }
  std::vector<std::string> make_bitmap_array(const std::string& level, unsigned n, const std::string& bitmap) {
    std::vector<std::string> paths;
    for (unsigned i = 0; i < n; i++) {
      paths.push_back((dir_ / ("d" + std::to_string(i) + ".img")).string());
      FILE* f = fopen(paths.back().c_str(), "w");
      fclose(f);
      std::filesystem::resize_file(paths.back(), 16 << 20);
    }
    CreateSpec spec;
    spec.array_name = "t";
    spec.level = level;
    spec.raid_devices = n;
    if (level != "1") spec.chunk_bytes = kChunkSectors * 512;
    spec.assume_clean = true;
    spec.metadata = metadata();
    spec.bitmap = bitmap;
    spec.bitmap_chunk_bytes = kBitmapChunkSectors * 512;
    spec.members = paths;
    auto r = create_array(spec);
    EXPECT_TRUE(r.is_ok()) << r.status().message();
    return paths;
  }
  std::string attr(Array& a, const std::string& n) {
    auto r = a.attr(n);
    EXPECT_TRUE(r.is_ok()) << n << ": " << r.status().message();
    return r.is_ok() ? *r : "";
  }
  uint64_t stat(Array& a, const std::string& key) {
    const std::string s = attr(a, "umd/sync_stats");
    const auto at = s.find(key + " ");
    return at == std::string::npos ? ~0ull : std::stoull(s.substr(at + key.size() + 1));
  }
  // The bitmap chunks a write of array bytes [off, off+len) marks.
  static void touched(const Case& c, uint64_t off, uint64_t len, std::set<uint64_t>* out) {
    uint64_t lo = off / 512, hi = (off + len) / 512;
    const std::string level = c.level;
    if (level == "5" || level == "6") {
      const uint64_t span = kChunkSectors * (c.n - (level == "6" ? 2 : 1));
      lo = lo / span * kChunkSectors;
      hi = (hi + span - 1) / span * kChunkSectors;
    }
    for (uint64_t ch = lo / kBitmapChunkSectors; ch * kBitmapChunkSectors < hi; ch++) out->insert(ch);
  }
};

TEST_P(BitmapArrayTest, PowerCutResyncsOnlyTheMarkedChunks) {
  const Case c = std::get<0>(GetParam());
  auto paths = make_bitmap_array(c.level, c.n, kind_arg());
  std::mt19937_64 rng(99);
  std::vector<std::tuple<uint64_t, std::vector<uint8_t>>> flushed;
  std::set<uint64_t> marked;
  uint64_t size = 0;
  {
    std::vector<io::FaultyMember*> fm;
    auto a = assemble_faulty(paths, &fm, options());
    ASSERT_TRUE(a);
    const bool ll = std::string(std::get<1>(GetParam())) == "lockless";
    EXPECT_EQ(attr(*a, "bitmap_type"), ll ? "none bitmap [llbitmap]" : "none [bitmap] llbitmap");
    EXPECT_EQ(attr(*a, "consistency_policy"), "bitmap");
    size = a->size_bytes();
    for (int i = 0; i < 24; i++) {
      const uint64_t len = 4096 * (1 + rng() % 16);
      const uint64_t off = (rng() % ((size - len) / 4096)) * 4096;
      auto data = pattern(len, uint32_t(i + 1));
      AlignedBuffer buf(len);
      std::memcpy(buf.data(), data.data(), len);
      ASSERT_TRUE(io(*a, BlockOp::write, off, len, buf.data()).is_ok());
      touched(c, off, len, &marked);
      if (i < 16) flushed.emplace_back(off, std::move(data));
      if (i == 15) {
        ASSERT_TRUE(io(*a, BlockOp::flush, 0, 0, nullptr).is_ok());
      }
    }
    for (auto* m : fm) m->power_cut();
    for (auto* m : fm) m->vanish();
  }
  std::vector<io::FaultyMember*> fm;
  auto a = assemble_faulty(paths, &fm, options());
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->sync_engine().wait_idle(60s));
  EXPECT_EQ(attr(*a, "last_sync_action"), "resync");
  EXPECT_EQ(attr(*a, "resync_start"), "none");
  const uint64_t visited = stat(*a, "done_sectors");
  const uint64_t skipped = stat(*a, "skipped_sectors");
  std::printf("raid%s %s: %zu bitmap chunks written, resync visited %llu sectors (%llu chunks), skipped %llu\n",
              c.level, std::get<1>(GetParam()), marked.size(), (unsigned long long)visited, (unsigned long long)(visited / kBitmapChunkSectors),
              (unsigned long long)skipped);
  EXPECT_GT(visited, 0u);
  EXPECT_LE(visited, marked.size() * kBitmapChunkSectors) << "resynced chunks the bitmap never marked";
  EXPECT_GT(skipped, 0u);
  ASSERT_TRUE(a->set_attr("sync_action", "check").is_ok());
  ASSERT_TRUE(a->sync_engine().wait_idle(60s));
  EXPECT_EQ(attr(*a, "last_sync_action"), "check");
  EXPECT_EQ(attr(*a, "mismatch_cnt"), "0");
  ASSERT_TRUE(a->stop().is_ok());
  a.reset();
  // The writes acknowledged before the flush, in order, over a zero array, are the model
  // for those ranges unless a later (unflushed) write overlapped them.
  std::vector<uint8_t> model(size, 0);
  for (const auto& [off, data] : flushed) std::copy(data.begin(), data.end(), model.begin() + long(off));
  const auto got = dump(paths, 0, size);
  std::set<uint64_t> later;  // 4 KiB blocks written after the flush
  rng.seed(99);
  for (int i = 0; i < 24; i++) {
    const uint64_t len = 4096 * (1 + rng() % 16);
    const uint64_t off = (rng() % ((size - len) / 4096)) * 4096;
    if (i >= 16) {
      for (uint64_t b = off; b < off + len; b += 4096) later.insert(b);
    }
  }
  for (const auto& [off, data] : flushed) {
    for (uint64_t b = off; b < off + data.size(); b += 4096) {
      if (later.count(b)) continue;
      ASSERT_TRUE(std::equal(got.begin() + long(b), got.begin() + long(b + 4096), model.begin() + long(b)))
          << "flushed block at byte " << b << " lost";
    }
  }
}

TEST_P(BitmapArrayTest, ReAddRecoversOnlyWhatChangedWhileAway) {
  const Case c = std::get<0>(GetParam());
  auto paths = make_bitmap_array(c.level, c.n, kind_arg());
  std::vector<io::FaultyMember*> fm;
  auto a = assemble_faulty(paths, &fm, options());
  ASSERT_TRUE(a);
  const uint64_t size = a->size_bytes();
  auto base = pattern(size, 1);
  ASSERT_TRUE(io(*a, BlockOp::write, 0, size, base.data()).is_ok());
  ASSERT_TRUE(a->bitmap_for_tests()->run_daemon_now().is_ok());  // everything clean again
  ASSERT_TRUE(a->fail_member("d1.img").is_ok());
  ASSERT_TRUE(a->remove_member("d1.img").is_ok());
  std::set<uint64_t> marked;
  for (uint64_t off : {uint64_t(0), size / 3, size / 2 + 8192}) {
    auto d = pattern(8192, uint32_t(off + 7));
    ASSERT_TRUE(io(*a, BlockOp::write, off, d.size(), d.data()).is_ok());
    std::copy(d.begin(), d.end(), base.begin() + long(off));
    touched(c, off, d.size(), &marked);
  }
  ASSERT_TRUE(a->add_member(paths[1], true).is_ok());
  ASSERT_TRUE(a->sync_engine().wait_idle(60s));
  EXPECT_EQ(attr(*a, "dev-d1.img/state"), "in_sync");
  const uint64_t visited = stat(*a, "done_sectors");
  std::printf("raid%s %s re-add: %zu chunks changed while away, recovery visited %llu sectors\n", c.level,
              std::get<1>(GetParam()), marked.size(),
              (unsigned long long)visited);
  EXPECT_GT(visited, 0u);
  EXPECT_LE(visited, marked.size() * kBitmapChunkSectors);
  if (std::string(c.level) == "10") {
    // raid10's recovery walks d1's member sectors: it visits the changed chunks that have
    // a copy on d1, and only those (the bitmap counts array sectors).
    const MemberInfo info = info_of(paths[0]);
    auto g = layout::Raid10Geometry::create({10, info.layout, info.chunk_sectors, c.n, {info.component_sectors}});
    ASSERT_TRUE(g.is_ok());
    uint64_t on_d1 = 0;
    for (uint64_t ch : marked) {
      const layout::Raid10Copies cp = g->copies(ch * kBitmapChunkSectors);
      for (uint32_t i = 0; i < cp.count; i++) on_d1 += cp.at[i].disk == 1;
    }
    EXPECT_EQ(visited, on_d1 * kBitmapChunkSectors) << on_d1 << " of " << marked.size() << " changed chunks have a copy on d1";
  }
  ASSERT_TRUE(a->stop().is_ok());
  a.reset();
  // d1 alone stands for its slot: drop another member and the data still reads.
  std::vector<std::string> without0(paths.begin() + 1, paths.end());
  EXPECT_EQ(dump(without0, 0, size), base) << "d1 does not hold what changed while it was away";
  EXPECT_EQ(dump(paths, 0, size), base);
}

// --grow --bitmap=internal on a running 0.90 array: the bitmap lands 4 KiB after each
// superblock (mdadm's locate_bitmap0), the superblocks say BITMAP_PRESENT, the array
// assembled again opens it; --bitmap=none takes it away again.
TEST_F(BitmapArrayFixture, A090ArrayTakesAnInternalBitmapAndGivesItBack) {
  // 256 MiB (sparse): the bitmap's chunk is mdadm's 64 MiB, so four of them
  auto paths = make_array("1", 2, 256, "0.90");
  std::vector<io::FaultyMember*> fm;
  auto a = assemble_faulty(paths, &fm);
  ASSERT_TRUE(a);
  EXPECT_EQ(*a->attr("consistency_policy"), "resync");
  Status s = a->set_bitmap("lockless");
  EXPECT_EQ(s.code(), Err::unsupported) << s.message();
  ASSERT_TRUE(a->set_bitmap("internal").is_ok());
  EXPECT_EQ(*a->attr("consistency_policy"), "bitmap");
  for (const std::string& p : paths) {
    const MemberInfo mi = info_of(p);
    EXPECT_TRUE(mi.has_internal_bitmap) << p;
    EXPECT_EQ(mi.bitmap_offset, 8) << p;
  }
  ASSERT_TRUE(a->stop().is_ok());
  a.reset();
  fm.clear();
  a = assemble_faulty(paths, &fm);
  ASSERT_TRUE(a);
  EXPECT_EQ(*a->attr("consistency_policy"), "bitmap");
  // written while d1 is away, then re-added: only that chunk is rebuilt
  ASSERT_TRUE(a->fail_member("d1.img").is_ok());
  ASSERT_TRUE(a->remove_member("d1.img").is_ok());
  auto d = pattern(8192, 3);
  ASSERT_TRUE(io(*a, BlockOp::write, 1 << 20, d.size(), d.data()).is_ok());
  ASSERT_TRUE(a->add_member(paths[1], true).is_ok());
  ASSERT_TRUE(a->sync_engine().wait_idle(60s));
  const std::string st = *a->attr("umd/sync_stats");
  const uint64_t done = std::stoull(st.substr(st.find("done_sectors ") + 13));
  EXPECT_EQ(done, 64u << 11) << st;  // the one 64 MiB chunk the write marked
  ASSERT_TRUE(a->set_bitmap("none").is_ok());
  for (const std::string& p : paths) EXPECT_FALSE(info_of(p).has_internal_bitmap) << p;
}

// A spare that takes a slot gets the whole bitmap, so any member's copy can be read.
TEST_F(BitmapArrayFixture, ASpareTakingASlotGetsTheWholeBitmap) {
  auto paths = make_array("5", 4, 16);
  const std::string spare = (dir_ / "spare.img").string();
  {
    FILE* f = fopen(spare.c_str(), "w");
    fclose(f);
    std::filesystem::resize_file(spare, 16 << 20);
  }
  std::vector<io::FaultyMember*> fm;
  auto a = assemble_faulty(paths, &fm);
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->set_bitmap("internal").is_ok());
  auto d = pattern(64 * 1024, 3);
  ASSERT_TRUE(io(*a, BlockOp::write, 0, d.size(), d.data()).is_ok());
  ASSERT_TRUE(a->add_member(spare, false).is_ok());
  ASSERT_TRUE(a->fail_member("d2.img").is_ok());
  ASSERT_TRUE(a->sync_engine().wait_idle(60s));
  ASSERT_TRUE(a->stop().is_ok());
  a.reset();
  auto region = [&](const std::string& p) {
    const MemberInfo mi = info_of(p);
    std::vector<uint8_t> b(4096);
    FILE* f = fopen(p.c_str(), "rb");
    fseek(f, long((mi.super_offset + mi.bitmap_offset) * 512), SEEK_SET);
    EXPECT_EQ(fread(b.data(), 1, b.size(), f), b.size());
    fclose(f);
    return b;
  };
  EXPECT_TRUE(info_of(spare).has_internal_bitmap);
  EXPECT_EQ(region(spare), region(paths[0]));
}

// Lazy recovery (seed 001): a raid5 with a lockless bitmap is created without its initial
// sync, so the parity of a chunk never written is whatever the members held. The first
// write to such a chunk makes it need-sync, and that alone starts a resync of it (the
// kernel's MD_RECOVERY_NEEDED), without waiting for a restart: afterwards no chunk needs
// a sync, and the written block survives the loss of its member.
TEST_F(BitmapArrayFixture, LocklessRaid5FirstWriteToAChunkSyncsItAtOnce) {
  std::vector<std::string> paths;
  for (unsigned i = 0; i < 4; i++) {
    paths.push_back((dir_ / ("d" + std::to_string(i) + ".img")).string());
    FILE* f = fopen(paths.back().c_str(), "w");
    auto junk = pattern(16 << 20, 100 + i);  // the members' old contents: no parity at all
    ASSERT_EQ(fwrite(junk.data(), 1, junk.size(), f), junk.size());
    fclose(f);
  }
  CreateSpec spec;
  spec.array_name = "t";
  spec.level = "5";
  spec.raid_devices = 4;
  spec.chunk_bytes = 64 * 1024;
  spec.bitmap = "lockless";
  spec.members = paths;
  ASSERT_TRUE(create_array(spec).is_ok());
  std::vector<io::FaultyMember*> fm;
  auto a = assemble_faulty(paths, &fm);
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->sync_engine().wait_idle(60s));
  auto get = [&](const std::string& name) {
    auto r = a->attr(name);
    return r.is_ok() ? *r : r.status().message();
  };
  auto bits = [&] { return get("llbitmap/bits"); };
  ASSERT_EQ(bits().find("clean 0\ndirty 0\nneed sync 0\nsyncing 0\n") != std::string::npos, true) << bits();
  auto done_sectors = [&] {
    const std::string st = get("umd/sync_stats");
    const auto at = st.find("done_sectors ");
    return at == std::string::npos ? ~0ull : std::stoull(st.substr(at + 13));
  };
  const uint64_t before = done_sectors();
  auto d = pattern(4096, 9);
  ASSERT_TRUE(io(*a, BlockOp::write, 8192, d.size(), d.data()).is_ok());
  // The resync the write asked for runs and ends by itself.
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (bits().find("need sync 0\nsyncing 0\n") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_TRUE(a->sync_engine().wait_idle(60s));
  EXPECT_NE(bits().find("need sync 0\nsyncing 0\n"), std::string::npos) << bits();
  EXPECT_EQ(done_sectors() - before, 128u) << "a resync of the written chunk ran";
  EXPECT_EQ(get("resync_start"), "none");
  // Array sector 16 is on d0 in row 0 (left-symmetric): lose d0 and read it back from parity.
  ASSERT_TRUE(a->fail_member("d0.img").is_ok());
  std::vector<uint8_t> back(4096);
  ASSERT_TRUE(io(*a, BlockOp::read, 8192, back.size(), back.data()).is_ok());
  EXPECT_EQ(back, d) << "the write's parity was built";
  ASSERT_TRUE(a->stop().is_ok());
}

INSTANTIATE_TEST_SUITE_P(Levels, BitmapArrayTest,
                         ::testing::Combine(::testing::Values(Case{"1", 2}, Case{"5", 4}, Case{"6", 5}, Case{"10", 4}),
                                            ::testing::Values("internal", "file", "lockless", "internal090")),
                         [](const auto& i) {
                           return std::string("raid") + std::get<0>(i.param).level + "_" + std::get<1>(i.param);
                         });

}  // namespace
}  // namespace umd::engine
