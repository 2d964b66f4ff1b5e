// create_array, zero_superblock and open_array_read_only on temporary files.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <iterator>

#include "array/array_reader.h"
#include "assemble/create.h"
#include "assemble/engine_test_util.h"
#include "assemble/zero_superblock.h"
#include "io/io_test_util.h"
#include "layout/layout_names.h"
#include "util/aligned_buffer.h"

namespace umd::engine {
namespace {

using io::testing::TempDir;

constexpr uint64_t kMiB = 1024 * 1024;

bool contains(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }

// FNV-1a over the whole file: enough to notice any byte changed.
uint64_t file_hash(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_GE(fd, 0) << path;
  std::vector<uint64_t> buf(1 << 17);
  uint64_t h = 1469598103934665603ull, total = 0;
  for (;;) {
    std::fill(buf.begin(), buf.end(), 0);
    const ssize_t n = ::read(fd, buf.data(), buf.size() * 8);
    if (n <= 0) break;
    total += uint64_t(n);
    for (size_t i = 0; i < (size_t(n) + 7) / 8; i++) h = (h ^ buf[i]) * 1099511628211ull;
  }
  ::close(fd);
  return h ^ total;
}

void write_at(const std::string& path, uint64_t off, const std::vector<uint8_t>& bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, bytes.data(), bytes.size(), off_t(off)), ssize_t(bytes.size()));
  ::close(fd);
}

// Files with some non-zero content, so that "unchanged" means something.
std::vector<std::string> make_members(const TempDir& dir, size_t n, uint64_t size, const std::string& prefix = "d") {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; i++) {
    out.push_back(dir.make_file(prefix + std::to_string(i) + ".img", size));
    std::vector<uint8_t> junk(4096);
    for (size_t j = 0; j < junk.size(); j++) junk[j] = uint8_t(j * 7 + i);
    write_at(out.back(), size / 2, junk);
  }
  return out;
}

CreateSpec spec_for(const std::string& level, std::vector<std::string> members, const std::string& metadata = "1.2") {
  CreateSpec s;
  s.array_name = "t";
  s.level = level;
  s.raid_devices = unsigned(members.size());
  s.members = std::move(members);
  s.metadata = metadata;
  s.chunk_bytes = 64 * 1024;
  if (level == "1" || level == "mirror" || level == "raid1") s.chunk_bytes.reset();
  return s;
}

struct CreateCase {
  std::string level;
  unsigned disks;
  std::string metadata;
  std::optional<std::string> layout;
};

void PrintTo(const CreateCase& c, std::ostream* os) {
  *os << c.level << " x" << c.disks << " metadata " << c.metadata << " layout " << c.layout.value_or("default");
}

class CreateRoundTrip : public ::testing::TestWithParam<CreateCase> {};

TEST_P(CreateRoundTrip, ProbesBackAndGathers) {
  const CreateCase& c = GetParam();
  TempDir dir;
  auto paths = make_members(dir, c.disks, 8 * kMiB);
  CreateSpec spec = spec_for(c.level, paths, c.metadata);
  spec.layout = c.layout;
  auto r = create_array(spec);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_GT(r->array_sectors, 0u);
  const std::string want_version = c.metadata == "1" ? "1.2" : c.metadata;
  for (const auto& p : paths) {
    auto pm = open_and_probe(p, false);
    ASSERT_TRUE(pm.is_ok()) << pm.status().message();
    EXPECT_EQ(pm->version(), want_version);
    EXPECT_EQ(pm->info.array_uuid_text(), r->array_uuid);
    EXPECT_EQ(pm->info.raid_disks, c.disks);
    if (c.metadata != "0.90") {  // 0.90 has no name
      EXPECT_EQ(pm->info.name.substr(pm->info.name.size() - 2), ":t");
    }
  }
  auto arr = open_array_read_only(paths, {});
  ASSERT_TRUE(arr.is_ok()) << arr.status().message();
  EXPECT_EQ(arr->set.geometry.array_sectors(), r->array_sectors);
  EXPECT_EQ(arr->personality->array_sectors(), r->array_sectors);
  EXPECT_TRUE(arr->set.missing_slots().empty());
  EXPECT_TRUE(arr->set.warnings.empty());
  // A fresh array reads (zeros and the junk written before create, whatever they are).
  AlignedBuffer buf(64 * 512);
  EXPECT_TRUE(arr->personality->read(0, 64, buf.data()).is_ok());
  EXPECT_TRUE(arr->personality->read(r->array_sectors - 64, 64, buf.data()).is_ok());
}

INSTANTIATE_TEST_SUITE_P(
    Levels, CreateRoundTrip,
    ::testing::Values(CreateCase{"linear", 3, "1.2", {}}, CreateCase{"0", 3, "1.2", {}}, CreateCase{"raid0", 2, "1.0", {}},
                      CreateCase{"1", 2, "1.2", {}}, CreateCase{"mirror", 3, "1.0", {}}, CreateCase{"1", 2, "1.1", {}},
                      CreateCase{"4", 3, "1.2", {}}, CreateCase{"5", 4, "1.2", {}},
                      CreateCase{"5", 3, "1.1", std::string("left-asymmetric")}, CreateCase{"6", 5, "1.2", {}},
                      CreateCase{"6", 4, "1.0", std::string("ddf-zero-restart")}, CreateCase{"10", 4, "1.2", {}},
                      CreateCase{"10", 3, "1", std::string("f2")}, CreateCase{"10", 3, "1.2", std::string("o2")},
                      CreateCase{"linear", 2, "0.90", {}}, CreateCase{"0", 3, "0.90", {}},
                      CreateCase{"1", 2, "0.90", {}}, CreateCase{"5", 4, "0.90", {}}, CreateCase{"6", 4, "0.90", {}},
                      CreateCase{"10", 4, "0.90", {}}),
    [](const auto& info) {
      std::string n = info.param.level + "_" + std::to_string(info.param.disks) + "_" + info.param.metadata;
      if (info.param.layout) n += "_" + *info.param.layout;
      for (char& ch : n) {
        if (!isalnum(uint8_t(ch))) ch = '_';
      }
      return n;
    });

TEST(CreateTest, UnequalRaid0MembersUseEachMembersSize) {
  TempDir dir;
  std::vector<std::string> paths = {dir.make_file("a.img", 4 * kMiB), dir.make_file("b.img", 8 * kMiB),
                                    dir.make_file("c.img", 6 * kMiB)};
  auto r = create_array(spec_for("0", paths));
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  uint64_t sum = 0;
  for (const auto& p : paths) {
    auto pm = open_and_probe(p, false);
    ASSERT_TRUE(pm.is_ok());
    sum += pm->info.data_size / 128 * 128;  // rounded down to the 64 KiB chunk
  }
  EXPECT_EQ(r->array_sectors, sum);
  auto arr = open_array_read_only(paths, {});
  ASSERT_TRUE(arr.is_ok()) << arr.status().message();
  EXPECT_EQ(arr->set.geometry.array_sectors(), r->array_sectors);
}

// What the kernel's super_90_sync would write first (and mdadm's init_super0 before it):
// members 24 MiB as in the kernel-written fixtures of format/testdata (size 24512 KiB).
TEST(CreateTest, V090SuperblocksAreTheKernelsShape) {
  TempDir dir;
  auto paths = make_members(dir, 3, 24 * kMiB);
  // slot 0, slot 1 missing, slot 2, a spare
  CreateSpec spec = spec_for("5", {paths[0], "missing", paths[1], paths[2]}, "0.90");
  spec.raid_devices = 3;
  spec.spare_devices = 1;
  auto r = create_array(spec);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  const std::vector<uint32_t> numbers = {0, 2, 3};
  const std::vector<std::string>& members = paths;
  for (size_t k = 0; k < members.size(); k++) {
    SCOPED_TRACE(members[k]);
    auto pm = open_and_probe(members[k], false);
    ASSERT_TRUE(pm.is_ok()) << pm.status().message();
    const Superblock0* sb = pm->sb0();
    ASSERT_NE(sb, nullptr);
    EXPECT_EQ(sb->minor_version, 90u);
    EXPECT_EQ(sb->level, 5);
    EXPECT_EQ(sb->layout, 2u);
    EXPECT_EQ(sb->chunk_size, 65536u);
    EXPECT_EQ(sb->size, 24512u);
    EXPECT_EQ(sb->raid_disks, 3u);
    EXPECT_EQ(sb->events, 1u);
    // a raid5 missing a member has nothing to resync: clean, as mdadm writes it
    EXPECT_EQ(sb->state & kSb0StateClean, kSb0StateClean);
    EXPECT_EQ(sb->nr_disks, 3u);
    EXPECT_EQ(sb->active_disks, 2u);
    EXPECT_EQ(sb->working_disks, 3u);
    EXPECT_EQ(sb->failed_disks, 1u);
    EXPECT_EQ(sb->spare_disks, 1u);
    EXPECT_EQ(sb->disks[0], (DiskDescriptor0{0, 0, 0, 0, kDiskActive | kDiskSync}));
    EXPECT_EQ(sb->disks[1], (DiskDescriptor0{1, 0, 0, 1, kDiskRemoved | kDiskFaulty}));
    EXPECT_EQ(sb->disks[2], (DiskDescriptor0{2, 0, 0, 2, kDiskActive | kDiskSync}));
    EXPECT_EQ(sb->disks[3], (DiskDescriptor0{3, 0, 0, 3, 0}));
    EXPECT_EQ(sb->this_disk, sb->disks[numbers[k]]);
    EXPECT_EQ(pm->info.array_uuid_text(), r->array_uuid);
    EXPECT_EQ(pm->info.super_offset, 49024u);
  }
  auto arr = open_array_read_only(paths, {});
  ASSERT_TRUE(arr.is_ok()) << arr.status().message();
  EXPECT_EQ(arr->set.missing_slots(), (std::vector<uint32_t>{1}));
  EXPECT_EQ(arr->set.geometry.array_sectors(), 2u * 24512 * 2);
}

TEST(CreateTest, DegradedRaid5WithAMissingMember) {
  TempDir dir;
  auto paths = make_members(dir, 2, 8 * kMiB);
  CreateSpec spec = spec_for("5", {paths[0], "missing", paths[1]});
  auto r = create_array(spec);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  // Nothing to resync without the missing member: written in sync, as mdadm writes it (a
  // resync_offset of 0 would make the kernel refuse a dirty degraded raid5).
  EXPECT_FALSE(r->resync_pending);
  auto pm = open_and_probe(paths[0], false);
  ASSERT_TRUE(pm.is_ok());
  EXPECT_EQ(pm->info.resync_offset, kMaxSector);
  auto arr = open_array_read_only(paths, {});
  ASSERT_TRUE(arr.is_ok()) << arr.status().message();
  EXPECT_EQ(arr->set.missing_slots(), (std::vector<uint32_t>{1}));
  EXPECT_EQ(arr->set.geometry.array_sectors(), r->array_sectors);
}

TEST(CreateTest, SparesAreWrittenAsSpares) {
  TempDir dir;
  auto paths = make_members(dir, 3, 8 * kMiB);
  CreateSpec spec = spec_for("1", paths);
  spec.raid_devices = 2;
  spec.spare_devices = 1;
  auto r = create_array(spec);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  auto spare = open_and_probe(paths[2], false);
  ASSERT_TRUE(spare.is_ok());
  EXPECT_EQ(spare->info.role, MemberInfo::kSpare);
  auto arr = open_array_read_only(paths, {});
  ASSERT_TRUE(arr.is_ok()) << arr.status().message();
  EXPECT_EQ(arr->set.slot_member, (std::vector<int>{0, 1}));
}

TEST(CreateTest, ManyMembersBeyondTheDefaultRoleTable) {
  // 130 raid1 members: more than the 128 dev_roles entries written for small arrays.
  TempDir dir;
  std::vector<std::string> paths;
  for (int i = 0; i < 130; i++) paths.push_back(dir.make_file("m" + std::to_string(i) + ".img", 2 * kMiB));
  auto r = create_array(spec_for("1", paths));
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  auto last = open_and_probe(paths.back(), false);
  ASSERT_TRUE(last.is_ok()) << last.status().message();
  EXPECT_EQ(last->info.role, 129);
  auto arr = open_array_read_only(paths, {});
  ASSERT_TRUE(arr.is_ok()) << arr.status().message();
  EXPECT_TRUE(arr->set.missing_slots().empty());
  AlignedBuffer buf(8 * 512);
  EXPECT_TRUE(arr->personality->read(0, 8, buf.data()).is_ok());
}

TEST(CreateTest, ForceReplacesAnOldSuperblockElsewhere) {
  // An old 1.2 array, re-created as 1.0 with --force: the old superblock at 4 KiB must not
  // shadow the new one at the end.
  TempDir dir;
  auto paths = make_members(dir, 2, 8 * kMiB);
  auto first = create_array(spec_for("1", paths, "1.2"));
  ASSERT_TRUE(first.is_ok()) << first.status().message();
  CreateSpec again = spec_for("1", paths, "1.0");
  again.force = true;
  auto second = create_array(again);
  ASSERT_TRUE(second.is_ok()) << second.status().message();
  ASSERT_NE(first->array_uuid, second->array_uuid);
  for (const auto& p : paths) {
    auto pm = open_and_probe(p, false);
    ASSERT_TRUE(pm.is_ok()) << pm.status().message();
    EXPECT_EQ(pm->version(), "1.0");
    EXPECT_EQ(pm->info.array_uuid_text(), second->array_uuid);
  }
  auto arr = open_array_read_only(paths, {});
  ASSERT_TRUE(arr.is_ok()) << arr.status().message();
  EXPECT_EQ(arr->set.geometry.array_sectors(), second->array_sectors);
}

// Every refusal leaves every member byte for byte as it was.
class Refusal : public ::testing::Test {
 protected:
  void expect_refused(const CreateSpec& spec, Err code, const std::string& words) {
    std::vector<uint64_t> before;
    for (const auto& p : spec.members) before.push_back(p == "missing" ? 0 : file_hash(p));
    auto r = create_array(spec);
    ASSERT_FALSE(r.is_ok());
    EXPECT_EQ(r.status().code(), code) << r.status().message();
    EXPECT_TRUE(contains(r.status().message(), words)) << r.status().message();
    for (size_t i = 0; i < spec.members.size(); i++) {
      if (spec.members[i] == "missing") continue;
      EXPECT_EQ(file_hash(spec.members[i]), before[i]) << spec.members[i] << " was changed";
    }
  }
  TempDir dir_;
};

TEST_F(Refusal, ExistingSuperblockWithoutForce) {
  auto paths = make_members(dir_, 3, 8 * kMiB);
  // Only the last member belongs to an array already.
  auto other = make_members(dir_, 1, 8 * kMiB, "other");
  ASSERT_TRUE(create_array(spec_for("1", {other[0], paths[2]})).is_ok());
  expect_refused(spec_for("5", paths), Err::busy, paths[2]);
}

TEST_F(Refusal, CorruptSuperblockWithoutForce) {
  auto paths = make_members(dir_, 3, 8 * kMiB);
  auto img = encode_superblock1(testing::make_sb1(2, 8 * kMiB / 512, 5, 3, 0));
  img[sb1off::events] ^= 1;
  write_at(paths[1], 8 * 512, img);
  expect_refused(spec_for("5", paths), Err::busy, "checksum");
}

TEST_F(Refusal, TooSmallMember) {
  auto paths = make_members(dir_, 3, 8 * kMiB);
  paths.push_back(dir_.make_file("small.img", 512 * 1024));
  expect_refused(spec_for("6", paths), Err::no_space, "small.img");
}

TEST_F(Refusal, TinyMember) {
  // Smaller than any superblock: still "too small", not "use --force".
  auto paths = make_members(dir_, 2, 8 * kMiB);
  paths.push_back(dir_.make_file("tiny.img", 4096));
  expect_refused(spec_for("5", paths), Err::no_space, "tiny.img");
}

TEST_F(Refusal, BadChunk) {
  auto paths = make_members(dir_, 3, 8 * kMiB);
  CreateSpec s = spec_for("5", paths);
  s.chunk_bytes = 48 * 1024;
  expect_refused(s, Err::invalid, "chunk");
  s.chunk_bytes = 1000;
  expect_refused(s, Err::invalid, "chunk");
  s.chunk_bytes = 2048;
  expect_refused(s, Err::invalid, "chunk");
  CreateSpec m = spec_for("1", paths);
  m.chunk_bytes = 64 * 1024;
  expect_refused(m, Err::invalid, "chunk");
}

TEST_F(Refusal, WrongMemberCount) {
  auto paths = make_members(dir_, 3, 8 * kMiB);
  CreateSpec s = spec_for("5", paths);
  s.raid_devices = 4;
  expect_refused(s, Err::invalid, "4 raid devices");
  s.raid_devices = 2;
  expect_refused(s, Err::invalid, "members");
  CreateSpec six = spec_for("6", paths);
  expect_refused(six, Err::invalid, "at least 4");
}

TEST_F(Refusal, OtherNonsense) {
  auto paths = make_members(dir_, 3, 8 * kMiB);
  CreateSpec lvl = spec_for("7", paths);
  expect_refused(lvl, Err::invalid, "level");
  CreateSpec md = spec_for("5", paths, "0.91");
  expect_refused(md, Err::invalid, "0.91");
  CreateSpec md_bm = spec_for("5", paths, "0.90");
  md_bm.bitmap = "lockless";
  expect_refused(md_bm, Err::unsupported, "0.90");
  CreateSpec lay = spec_for("5", paths);
  lay.layout = "sideways";
  expect_refused(lay, Err::invalid, "layout");
  CreateSpec bm = spec_for("0", paths);
  bm.bitmap = "internal";
  expect_refused(bm, Err::invalid, "bitmap");  // raid0 has nothing for a bitmap to track
  CreateSpec bmname = spec_for("5", paths);
  bmname.bitmap = "sideways";
  expect_refused(bmname, Err::invalid, "bitmap");
  CreateSpec miss = spec_for("5", {paths[0], "missing", "missing"});
  expect_refused(miss, Err::invalid, "missing");
  CreateSpec r0 = spec_for("0", {paths[0], "missing", paths[1]});
  expect_refused(r0, Err::invalid, "missing");
  CreateSpec dup = spec_for("1", {paths[0], paths[0]});
  expect_refused(dup, Err::invalid, paths[0]);
}

TEST(CreateTest, ParseLevel) {
  EXPECT_EQ(*layout::parse_level("linear"), -1);
  EXPECT_EQ(*layout::parse_level("stripe"), 0);
  EXPECT_EQ(*layout::parse_level("mirror"), 1);
  EXPECT_EQ(*layout::parse_level("raid4"), 4);
  EXPECT_EQ(*layout::parse_level("5"), 5);
  EXPECT_EQ(*layout::parse_level("raid6"), 6);
  EXPECT_EQ(*layout::parse_level("10"), 10);
  EXPECT_EQ(layout::parse_level("raid7").status().code(), Err::invalid);
}

TEST(ZeroSuperblockTest, ErasesWhatCreateWrote) {
  TempDir dir;
  auto paths = make_members(dir, 2, 8 * kMiB);
  ASSERT_TRUE(create_array(spec_for("1", paths, "1.0")).is_ok());
  ASSERT_TRUE(zero_superblock(paths[0]).is_ok());
  auto pm = open_and_probe(paths[0], false);
  ASSERT_FALSE(pm.is_ok());
  EXPECT_EQ(pm.status().code(), Err::not_found);
  EXPECT_EQ(zero_superblock(paths[0]).code(), Err::not_found);
  EXPECT_TRUE(open_and_probe(paths[1], false).is_ok());
}

TEST(ZeroSuperblockTest, ErasesEveryVersionAndCorruptOnes) {
  TempDir dir;
  const uint64_t sectors = 8 * kMiB / 512;
  auto p = dir.make_file("all.img", 8 * kMiB);
  auto bad = encode_superblock1(testing::make_sb1(2, sectors, 1, 2, 0));
  bad[sb1off::events] ^= 1;
  write_at(p, 8 * 512, bad);
  write_at(p, 0, encode_superblock1(testing::make_sb1(1, sectors, 1, 2, 0)));
  write_at(p, superblock1_offset_sectors(0, sectors) * 512, encode_superblock1(testing::make_sb1(0, sectors, 1, 2, 0)));
  write_at(p, superblock0_offset_sectors(sectors) * 512, encode_superblock0(testing::make_sb0(sectors, 1, 2, 0)));
  ASSERT_TRUE(zero_superblock(p).is_ok());
  auto pm = open_and_probe(p, false);
  ASSERT_FALSE(pm.is_ok());
  EXPECT_EQ(pm.status().code(), Err::not_found) << pm.status().message();
}

TEST(ArrayReaderTest, ReadsWhatWasWrittenThroughTheMembers) {
  // raid1 on 1.2: array sector s is member sector data_offset + s on every member.
  TempDir dir;
  auto paths = make_members(dir, 2, 8 * kMiB);
  ASSERT_TRUE(create_array(spec_for("1", paths)).is_ok());
  auto pm = open_and_probe(paths[1], false);
  ASSERT_TRUE(pm.is_ok());
  std::vector<uint8_t> pattern(4096);
  for (size_t i = 0; i < pattern.size(); i++) pattern[i] = uint8_t(i * 13 + 5);
  for (const auto& p : paths) write_at(p, (pm->info.data_offset + 40) * 512, pattern);
  auto arr = open_array_read_only(paths, {});
  ASSERT_TRUE(arr.is_ok()) << arr.status().message();
  AlignedBuffer buf(4096);
  ASSERT_TRUE(arr->personality->read(40, 8, buf.data()).is_ok());
  EXPECT_EQ(std::memcmp(buf.data(), pattern.data(), 4096), 0);
}

TEST(ArrayReaderTest, NamesAMemberThatCannotBeOpened) {
  auto r = open_array_read_only({"/nonexistent/a.img"}, {});
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(contains(r.status().message(), "/nonexistent/a.img")) << r.status().message();
}

}  // namespace
}  // namespace umd::engine
