#include "cli/examine_bitmap_report.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "bitmap/testdata_util.h"
#include "cli/cmd_examine_bitmap.h"
#include "format/superblock0.h"
#include "format/superblock1.h"

namespace umd::cli {
namespace {

namespace fs = std::filesystem;
namespace bt = bitmap::testing;

class ExamineBitmap : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("umd-xbm-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static void put(const fs::path& p, uint64_t offset, const std::vector<uint8_t>& bytes) {
    std::fstream f(p, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(std::streamoff(offset));
    f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  }
  // A sparse member image of the fixture's size holding its md superblock and bitmap
  // where the kernel wrote them.
  fs::path member_image(const bt::FixtureEntry& f, std::vector<uint8_t> sb = {}) {
    const fs::path p = dir_ / (f.name + ".img");
    { std::ofstream(p, std::ios::binary); }
    fs::resize_file(p, uint64_t(f.values.at("size")) * 512);
    if (sb.empty()) sb = bt::load_fixture(f.name + ".sb");
    put(p, uint64_t(f.values.at("so")) * 512, sb);
    put(p, uint64_t(f.values.at("so") + f.values.at("bo")) * 512,
        bt::load_fixture(f.name + ".bitmap"));
    return p;
  }
  fs::path file_with(const std::string& name, const std::vector<uint8_t>& bytes) {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    return p;
  }
  struct Run {
    int rc;
    std::string out, err;
  };
  static Run run(const std::vector<std::string>& paths, bool json = false) {
    ::testing::internal::CaptureStdout();
    ::testing::internal::CaptureStderr();
    Run r;
    r.rc = cmd_examine_bitmap(paths, json);
    r.out = ::testing::internal::GetCapturedStdout();
    r.err = ::testing::internal::GetCapturedStderr();
    return r;
  }
  // The mdadm -X text of a fixture, with its Filename line naming `path`.
  static std::string mdadm_text(const std::string& name, const std::string& path) {
    std::string t = bt::load_text(name + ".X.txt");
    const size_t a = t.find("Filename : ") + 11, b = t.find('\n', a);
    return t.replace(a, b - a, path);
  }

  fs::path dir_;
};

TEST_F(ExamineBitmap, MembersPrintWhatMdadmPrinted) {
  int n = 0;
  for (const auto& f : bt::load_fixture_list()) {
    if (f.name == "file") continue;
    const std::string img = member_image(f).string();
    const Run r = run({img});
    EXPECT_EQ(r.rc, 0) << f.name << ": " << r.err;
    EXPECT_EQ(r.out, mdadm_text(f.name, img)) << f.name;
    n++;
  }
  EXPECT_EQ(n, 7);
}

TEST_F(ExamineBitmap, BitmapFilePrintsWhatMdadmPrinted) {
  const std::string p = file_with("bm.bin", bt::load_fixture("file.bitmap")).string();
  const Run r = run({p});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, mdadm_text("file", p));
}

TEST_F(ExamineBitmap, ShortBitmapFileCountsWhatItHolds) {
  auto bytes = bt::load_fixture("file.bitmap");
  bytes.resize(300);  // 44 bytes of bits: 352 of the 496 chunks
  const std::string p = file_with("short.bin", bytes).string();
  const Run r = run({p});
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(r.out.find("          Bitmap : 352 bits (chunks), 352 dirty (100.0%)\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.err.find("holds only 352"), std::string::npos) << r.err;
}

TEST_F(ExamineBitmap, Json) {
  bt::FixtureEntry f;
  for (const auto& e : bt::load_fixture_list())
    if (e.name == "r1run_vda") f = e;
  const std::string img = member_image(f).string();
  const Run r = run({img, file_with("bm.bin", bt::load_fixture("file.bitmap")).string()}, true);
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["source"], "member");
  EXPECT_EQ(j[0]["metadata"], "1.2");
  EXPECT_EQ(j[0]["bitmap_sector"], 16);
  EXPECT_EQ(j[0]["bitmap_offset"], 8);
  EXPECT_EQ(j[0]["kind"], "classic");
  EXPECT_EQ(j[0]["version"], 4);
  EXPECT_EQ(j[0]["chunk_bytes"], 65536);
  EXPECT_EQ(j[0]["write_behind"], 256);
  EXPECT_EQ(j[0]["chunks"], 496);
  EXPECT_EQ(j[0]["dirty"], 20);
  EXPECT_EQ(j[0]["dirty_ranges"], nlohmann::json::parse("[[0,15],[80,80],[320,322]]"));
  EXPECT_EQ(j[1]["source"], "file");
  EXPECT_EQ(j[1]["dirty"], 496);
  EXPECT_FALSE(j[1].contains("metadata"));
}

TEST_F(ExamineBitmap, MemberWithoutBitmapIsOneLine) {
  bt::FixtureEntry f;
  for (const auto& e : bt::load_fixture_list())
    if (e.name == "r5run_vda") f = e;
  auto sb = decode_superblock1(bt::load_fixture(f.name + ".sb"));
  ASSERT_TRUE(sb.is_ok());
  sb->feature_map &= ~kFeatureBitmapOffset;
  sb->bitmap_offset = 0;
  const std::string img = member_image(f, encode_superblock1(*sb)).string();
  const Run r = run({img});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "umd: " + img + ": no write-intent bitmap (feature map 0x0)\n");
}

TEST_F(ExamineBitmap, V090MemberWithoutBitmap) {
  bt::FixtureEntry f;
  for (const auto& e : bt::load_fixture_list())
    if (e.name == "v090run_vda") f = e;
  auto sb = decode_superblock0(bt::load_fixture(f.name + ".sb"));
  ASSERT_TRUE(sb.is_ok());
  sb->state &= ~kSb0StateBitmapPresent;
  const std::string img = member_image(f, encode_superblock0(*sb)).string();
  const Run r = run({img});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(
      r.err,
      "umd: " + img +
          ": no write-intent bitmap (0.90 superblock without the bitmap-present state bit)\n");
}

TEST_F(ExamineBitmap, NeitherMemberNorBitmap) {
  const fs::path p = file_with("zero.img", std::vector<uint8_t>(1 << 20, 0));
  Run r = run({p.string()});
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("neither an md member nor a bitmap file"), std::string::npos) << r.err;
  r = run({(dir_ / "missing.img").string()});
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("missing.img"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("neither"), std::string::npos) << r.err;
  r = run({});
  EXPECT_EQ(r.rc, 2);
}

TEST_F(ExamineBitmap, CorruptBitmapSuperblock) {
  auto bytes = bt::load_fixture("file.bitmap");
  bytes[52] = 0x01;  // chunksize 65537: not a power of two
  const std::string p = file_with("bad.bin", bytes).string();
  const Run r = run({p});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, "umd: " + p + ": bitmap chunksize 65537 bytes is not a power of two\n");
  bytes = bt::load_fixture("file.bitmap");
  bytes[4] = 9;
  const Run v = run({file_with("v9.bin", bytes).string()});
  EXPECT_NE(v.err.find("version 9 is unknown"), std::string::npos) << v.err;
}

// A mutated bitmap superblock (version 5, nodes 0xffffffff) kept -X busy for minutes,
// building one node entry per claimed node. It is refused at once, with the reason.
TEST_F(ExamineBitmap, HugeClusterNodeCountIsRefused) {
  auto bytes = bt::load_fixture("file.bitmap");
  bytes[4] = bitmap::kVersionClustered;
  for (int i = 68; i < 72; i++) bytes[size_t(i)] = 0xff;
  const std::string p = file_with("nodes.bin", bytes).string();
  const auto start = std::chrono::steady_clock::now();
  for (bool json : {false, true}) {
    const Run r = run({p}, json);
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(r.err, "umd: " + p + ": bitmap claims 4294967295 cluster nodes; at most 16384 node bitmaps fit in "
                     "the 64 MiB umd reads\n");
    EXPECT_EQ(r.out, "");
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(ExamineBitmapText, ClusterNodeCountAtTheLimitIsExamined) {
  bitmap::BitmapSuper sb;
  sb.version = bitmap::kVersionClustered;
  sb.sync_size = 2048;
  sb.chunksize = 65536;
  sb.nodes = kMaxClusterNodes;
  std::vector<uint8_t> region(4096, 0);
  auto h = bitmap::encode_bitmap_super(sb);
  std::copy(h.begin(), h.end(), region.begin());
  auto e = examine_bitmap_region(BitmapSource{}, region);
  ASSERT_TRUE(e.is_ok()) << e.status().message();
  ASSERT_EQ(e->nodes.size(), size_t(kMaxClusterNodes));
  EXPECT_TRUE(e->nodes[0].readable);
  EXPECT_FALSE(e->nodes[1].readable);
  sb.nodes++;
  h = bitmap::encode_bitmap_super(sb);
  std::copy(h.begin(), h.end(), region.begin());
  EXPECT_EQ(examine_bitmap_region(BitmapSource{}, region).status().code(), Err::corrupt);
}

// A bitmap of alternating bits lists at most kMaxDirtyRanges runs (it would list one per
// two chunks: 2^28 in the 64 MiB -X reads, gigabytes of JSON), and says it stopped; the
// dirty count still counts every chunk.
TEST(ExamineBitmapText, DirtyRangesAreBounded) {
  bitmap::BitmapSuper sb;
  sb.sync_size = 4 * kMaxDirtyRanges + 64;  // one 512-byte chunk per sector
  sb.chunksize = 512;
  std::vector<uint8_t> region(bitmap::classic_bitmap_bytes(sb.chunks()), 0x55);
  auto h = bitmap::encode_bitmap_super(sb);
  std::copy(h.begin(), h.end(), region.begin());
  auto e = examine_bitmap_region(BitmapSource{}, region);
  ASSERT_TRUE(e.is_ok()) << e.status().message();
  EXPECT_EQ(e->nodes.at(0).count.dirty, sb.chunks() / 2);
  EXPECT_EQ(e->nodes.at(0).dirty.size(), kMaxDirtyRanges);
  const nlohmann::json j = examine_bitmap_json(*e);
  EXPECT_EQ(j["dirty_ranges"].size(), kMaxDirtyRanges);
  EXPECT_EQ(j["dirty_ranges_truncated"], true);
  sb.sync_size = 64;
  h = bitmap::encode_bitmap_super(sb);
  std::copy(h.begin(), h.end(), region.begin());
  EXPECT_EQ(examine_bitmap_json(*examine_bitmap_region(BitmapSource{}, region))["dirty_ranges_truncated"], false);
}

// The cluster name is 64 bytes from disk: bytes that are not UTF-8 are escaped, in the
// text and in JSON (which would otherwise throw).
TEST(ExamineBitmapText, ClusterNameThatIsNotUtf8IsEscaped) {
  bitmap::BitmapSuper sb;
  sb.version = bitmap::kVersionClustered;
  sb.sync_size = 2048;
  sb.chunksize = 65536;
  sb.nodes = 1;
  const char name[] = "h\xff" "a";
  std::copy(name, name + 3, sb.cluster_name.begin());
  std::vector<uint8_t> region(4096, 0);
  auto h = bitmap::encode_bitmap_super(sb);
  std::copy(h.begin(), h.end(), region.begin());
  BitmapSource src;
  src.filename = "bm\xfe";
  auto e = examine_bitmap_region(src, region);
  ASSERT_TRUE(e.is_ok());
  const nlohmann::json j = examine_bitmap_json(*e);
  EXPECT_NO_THROW((void)j.dump());
  EXPECT_EQ(j["cluster_name"], "h\\xffa");
  EXPECT_EQ(j["filename"], "bm\\xfe");
  const std::string t = examine_bitmap_text(*e);
  EXPECT_NE(t.find("    Cluster name : h\\xffa "), std::string::npos) << t;
  EXPECT_NE(t.find("        Filename : bm\\xfe\n"), std::string::npos) << t;
}

// A 1.2 member whose bitmap is the lockless one of make_v6_fixture.py.
TEST_F(ExamineBitmap, LocklessMember) {
  bt::FixtureEntry f;
  for (const auto& e : bt::load_fixture_list())
    if (e.name == "r1run_vda") f = e;
  const fs::path img = member_image(f);
  put(img, uint64_t(f.values.at("so") + f.values.at("bo")) * 512, bt::load_fixture("v6.bitmap"));
  const Run r = run({img.string()});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("         Version : 6 (lockless)\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("          Events : 42\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("          Bitmap : 496 chunks, one state byte each\n       Unwritten : 64\n"
                       "           Clean : 426\n           Dirty : 3\n       Need Sync : 2\n       "
                       "  Syncing : 1\n"),
            std::string::npos)
      << r.out;
}

TEST(MdadmHumanSize, AsMdadm) {
  EXPECT_EQ(mdadm_human_size(31744ull * 1024), " (31.00 MiB 32.51 MB)");
  EXPECT_EQ(mdadm_human_size(32704ull * 1024), " (31.94 MiB 33.49 MB)");
  EXPECT_EQ(mdadm_human_size(4999ull * 1024), "");
  EXPECT_EQ(mdadm_human_size(3ull << 30), " (3.00 GiB 3.22 GB)");
  EXPECT_EQ(mdadm_human_size(4ull << 40), " (4.00 TiB 4.40 TB)");
}

bitmap::BitmapSuper v6() {
  bitmap::BitmapSuper sb;
  sb.version = bitmap::kVersionLockless;
  for (int i = 0; i < 16; i++) sb.uuid[size_t(i)] = uint8_t(0xa0 + i);
  sb.events = 7;
  sb.events_cleared = 6;
  sb.sync_size = 63488;
  sb.chunksize = 128;
  sb.daemon_sleep = 30;
  sb.sectors_reserved = 256;
  return sb;
}

TEST(ExamineBitmapText, Lockless) {
  std::vector<bitmap::LlState> states(496, bitmap::LlState::clean);
  for (int i = 0; i < 100; i++) states[size_t(i)] = bitmap::LlState::unwritten;
  states[200] = states[201] = bitmap::LlState::dirty;
  states[300] = bitmap::LlState::need_sync;
  auto region = bitmap::encode_ll_region(v6(), states);
  region[1024 + 400] = 0x77;
  BitmapSource src{.filename = "d0.img",
                   .member = true,
                   .metadata = "1.2",
                   .bitmap_sector = 16,
                   .bitmap_offset = 8};
  auto e = examine_bitmap_region(src, region);
  ASSERT_TRUE(e.is_ok()) << e.status().message();
  EXPECT_EQ(examine_bitmap_text(*e),
            "        Filename : d0.img\n"
            "           Magic : 6d746962\n"
            "         Version : 6 (lockless)\n"
            "            UUID : a0a1a2a3:a4a5a6a7:a8a9aaab:acadaeaf\n"
            "          Events : 7\n"
            "  Events Cleared : 6\n"
            "           State : OK\n"
            "       Chunksize : 64 KB\n"
            "          Daemon : 30s flush period\n"
            "      Write Mode : Normal\n"
            "       Sync Size : 31744 (31.00 MiB 32.51 MB)\n"
            "          Bitmap : 496 chunks, one state byte each\n"
            "       Unwritten : 100\n"
            "           Clean : 392\n"
            "           Dirty : 2\n"
            "       Need Sync : 1\n"
            "         Syncing : 0\n"
            "         Invalid : 1\n");
  const auto j = examine_bitmap_json(*e);
  EXPECT_EQ(j["kind"], "lockless");
  EXPECT_EQ(j["states"]["need_sync"], 1);
  EXPECT_EQ(j["invalid"], 1);
  EXPECT_EQ(bitmap_region_bytes(e->sb), 1024u + 496u);
}

TEST(ExamineBitmapText, LocklessFirstUse) {
  bitmap::BitmapSuper sb = v6();
  sb.chunksize = 0;
  sb.set_state(bitmap::kStateFirstUse, true);
  sb.set_state(bitmap::kStateClean, true);
  const auto head = bitmap::encode_bitmap_super(sb);
  BitmapSource src;
  src.filename = "d0.img";
  auto e = examine_bitmap_region(src, head);
  ASSERT_TRUE(e.is_ok()) << e.status().message();
  const std::string t = examine_bitmap_text(*e);
  EXPECT_NE(t.find("           State : first-use,clean\n"), std::string::npos) << t;
  EXPECT_NE(t.find("writes every chunk as clean"), std::string::npos) << t;
  EXPECT_EQ(examine_bitmap_json(*e)["initialised"], false);
}

TEST(ExamineBitmapText, ClusteredPrintsEachNode) {
  bitmap::BitmapSuper sb;
  sb.version = bitmap::kVersionClustered;
  sb.sync_size = 2048;  // 16 chunks of 64 KiB
  sb.chunksize = 65536;
  sb.nodes = 2;
  const char name[] = "ha";
  std::copy(name, name + 2, sb.cluster_name.begin());
  std::vector<uint8_t> region(8192, 0);
  auto h0 = bitmap::encode_bitmap_super(sb);
  std::copy(h0.begin(), h0.end(), region.begin());
  sb.events = 9;
  sb.state = 2;
  auto h1 = bitmap::encode_bitmap_super(sb);
  std::copy(h1.begin(), h1.end(), region.begin() + 4096);
  region[4096 + 256] = 0x03;
  EXPECT_EQ(bitmap_region_bytes(sb), 8192u);
  BitmapSource src;
  src.filename = "/dev/sdb";
  auto e = examine_bitmap_region(src, region);
  ASSERT_TRUE(e.is_ok());
  const std::string t = examine_bitmap_text(*e);
  EXPECT_GT(t.find("Events"), t.find("Node Slot : 0")) << t;  // no array-wide events: per node only
  EXPECT_NE(t.find("   Cluster nodes : 2\n    Cluster name : ha" + std::string(62, ' ') + "\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("       Node Slot : 1\n          Events : 9\n  Events Cleared : 0\n           "
                   "State : Out of date\n"
                   "          Bitmap : 16 bits (chunks), 2 dirty (12.5%)\n"),
            std::string::npos)
      << t;
}

}  // namespace
}  // namespace umd::cli
