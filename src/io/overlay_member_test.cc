#include "io/overlay_member.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "io/io_test_util.h"
#include "io/member_spec.h"
#include "util/aligned_buffer.h"

namespace umd::io {
namespace {

using testing::fill_pattern;
using testing::read_file;
using testing::TempDir;

constexpr uint64_t kSize = 1 << 20;

struct Fixture {
  TempDir dir;
  std::string img, ov;
  std::vector<uint8_t> model;  // what the member should read
  Fixture() {
    img = dir.make_file("d0.img", kSize);
    model.resize(kSize);
    fill_pattern(model.data(), model.size(), 7);
    int fd = ::open(img.c_str(), O_WRONLY | O_CLOEXEC);
    EXPECT_EQ(::pwrite(fd, model.data(), model.size(), 0), ssize_t(kSize));
    ::close(fd);
    ov = dir.path() + "/ov";
    std::filesystem::create_directory(ov);
  }
  std::unique_ptr<Member> open(bool read_only = false, const std::string& which = "") {
    OpenOptions o;
    o.overlay_dir = ov;
    o.read_only = read_only;
    auto m = open_member(which.empty() ? img : which, o);
    EXPECT_TRUE(m.is_ok()) << m.status().message();
    return m.is_ok() ? std::move(m).value() : nullptr;
  }
  void write(Member& m, uint64_t off, size_t len, uint64_t seed) {
    std::vector<uint8_t> b(len);
    fill_pattern(b.data(), len, seed);
    ASSERT_TRUE(m.write(off, b).is_ok());
    std::memcpy(model.data() + off, b.data(), len);
  }
  void expect_reads_model(Member& m) {
    std::vector<uint8_t> all(kSize);
    ASSERT_TRUE(m.read(0, all).is_ok());
    EXPECT_TRUE(all == model);
    std::vector<uint8_t> part(1536);  // unaligned to the overlay's blocks
    ASSERT_TRUE(m.read(3584, part).is_ok());
    EXPECT_EQ(std::memcmp(part.data(), model.data() + 3584, part.size()), 0);
  }
};

TEST(OverlayMember, WritesNeverReachTheImageAndReadsMerge) {
  Fixture f;
  const auto before = read_file(f.img, 0, kSize);
  auto m = f.open();
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->read_only());
  f.write(*m, 0, 4096, 1);          // one whole block
  f.write(*m, 8192 + 512, 512, 2);  // part of a block: the rest copied in
  f.write(*m, 20480 - 1024, 8192, 3);  // straddles three blocks, partial at both ends
  f.write(*m, kSize - 512, 512, 4);    // the last sector
  f.expect_reads_model(*m);
  EXPECT_EQ(static_cast<OverlayMember&>(*m).blocks_written(), 1u + 1u + 3u + 1u);
  ASSERT_TRUE(m->flush().is_ok());
  EXPECT_EQ(read_file(f.img, 0, kSize), before);
}

TEST(OverlayMember, PersistsAcrossOpens) {
  Fixture f;
  {
    auto m = f.open();
    f.write(*m, 65536, 4096, 5);
    f.write(*m, 100 * 512, 512, 6);
    ASSERT_TRUE(m->flush().is_ok());
  }
  auto again = f.open();
  f.expect_reads_model(*again);
  again.reset();
  auto ro = f.open(true);
  EXPECT_TRUE(ro->read_only());
  f.expect_reads_model(*ro);
  EXPECT_EQ(ro->write(0, std::vector<uint8_t>(512)).code(), Err::invalid);
}

TEST(OverlayMember, BitsReachTheMapOnlyAtFlush) {
  Fixture f;
  auto m = f.open();
  f.write(*m, 0, 4096, 8);
  const std::string map = f.ov + "/d0.img.map";
  EXPECT_EQ(read_file(map, OverlayMember::kBitsOffset, 1)[0], 0);  // data not yet durable
  ASSERT_TRUE(m->flush().is_ok());
  EXPECT_EQ(read_file(map, OverlayMember::kBitsOffset, 1)[0], 1);
  // FUA writes are durable at once.
  std::vector<uint8_t> b(4096, 0xab);
  ASSERT_TRUE(m->write(4096, b, true).is_ok());
  EXPECT_EQ(read_file(map, OverlayMember::kBitsOffset, 1)[0], 3);
}

TEST(OverlayMember, RefusesAnotherMembersOverlayAndASecondOpener) {
  Fixture f;
  auto m = f.open();
  ASSERT_TRUE(m);
  OpenOptions o;
  o.overlay_dir = f.ov;
  auto second = open_member(f.img, o);
  ASSERT_FALSE(second.is_ok());
  EXPECT_EQ(second.status().code(), Err::busy) << second.status().message();
  m.reset();
  // Another d0.img, in another directory: same overlay file name, other origin.
  std::filesystem::create_directory(f.dir.path() + "/other");
  const std::string other = f.dir.make_file("other/d0.img", kSize);
  auto wrong = open_member(other, o);
  ASSERT_FALSE(wrong.is_ok());
  EXPECT_NE(wrong.status().message().find("belongs to " + f.img), std::string::npos) << wrong.status().message();
  o.overlay_dir = f.dir.path() + "/plain";
  f.dir.make_file("plain", 0);
  auto nodir = open_member(f.img, o);
  ASSERT_FALSE(nodir.is_ok());
  EXPECT_NE(nodir.status().message().find("not a directory"), std::string::npos) << nodir.status().message();
  o.overlay_dir = f.dir.path() + "/new";  // made by a writable open
  EXPECT_TRUE(open_member(f.img, o).is_ok());
  EXPECT_TRUE(std::filesystem::is_directory(o.overlay_dir));
}

TEST(OverlayMember, ReadOnlyWithoutAnOverlayYetReadsTheImage) {
  Fixture f;
  auto ro = f.open(true);
  ASSERT_TRUE(ro);
  f.expect_reads_model(*ro);
  EXPECT_FALSE(std::filesystem::exists(f.ov + "/d0.img.map"));
  f.ov += "/not-yet";  // nor the directory itself: reads see the image
  auto ro2 = f.open(true);
  ASSERT_TRUE(ro2);
  f.expect_reads_model(*ro2);
  EXPECT_FALSE(std::filesystem::exists(f.ov));
}

}  // namespace
}  // namespace umd::io
