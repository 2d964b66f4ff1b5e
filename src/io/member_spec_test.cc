#include "io/member_spec.h"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

#include "io/file_member.h"
#include "io/io_test_util.h"
#include "io/uring_queue.h"
#include "util/aligned_buffer.h"
#include "util/endian.h"

namespace umd::io {
namespace {

using testing::fill_pattern;
using testing::read_file;
using testing::TempDir;

// Writes the sfdisk-made image of format/testdata/pt_NAME.sectors to DIR/NAME.img.
std::string write_fixture_image(const TempDir& dir, const std::string& name) {
  std::ifstream f(std::string(UMD_FORMAT_TESTDATA) + "/pt_" + name + ".sectors", std::ios::binary);
  std::vector<uint8_t> raw((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_GE(raw.size(), 16u);
  const std::string path = dir.make_file(name + ".img", get_le64(raw.data() + 8));
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  for (size_t off = 16; off + 520 <= raw.size(); off += 520) {
    EXPECT_EQ(::pwrite(fd, raw.data() + off + 8, 512, off_t(get_le64(raw.data() + off) * 512)), 512);
  }
  ::close(fd);
  return path;
}

TEST(MemberSpec, Parse) {
  auto s = parse_member_spec("d0.img:p5");
  ASSERT_TRUE(s.is_ok());
  EXPECT_EQ(s->path, "d0.img");
  EXPECT_EQ(s->partition, 5u);
  EXPECT_EQ(s->text(), "d0.img:p5");
  s = parse_member_spec("/dev/sda");
  ASSERT_TRUE(s.is_ok());
  EXPECT_EQ(s->partition, 0u);
  s = parse_member_spec("weird:name:px");
  ASSERT_TRUE(s.is_ok());
  EXPECT_EQ(s->path, "weird:name:px");
  EXPECT_FALSE(parse_member_spec("d0.img:p0").is_ok());
  EXPECT_FALSE(parse_member_spec("d0.img:p999").is_ok());
}

TEST(MemberSpec, PartitionIsAWindowOfTheImage) {
  TempDir dir;
  const std::string img = write_fixture_image(dir, "mbr_logical");
  OpenOptions o;
  o.direct = true;
  auto m = open_member(img + ":p5", o);
  ASSERT_TRUE(m.is_ok()) << m.status().message();
  EXPECT_EQ((*m)->name(), img + ":p5");
  EXPECT_EQ((*m)->size(), 8192u * 512);
  const uint64_t start = 20480ull * 512;  // sfdisk's start of partition 5
  AlignedBuffer buf(8192);
  fill_pattern(buf.data(), buf.size(), 5);
  ASSERT_TRUE((*m)->write(4096, buf.span()).is_ok());
  EXPECT_EQ(read_file(img, start + 4096, buf.size()), std::vector<uint8_t>(buf.data(), buf.data() + buf.size()));
  AlignedBuffer back(8192);
  ASSERT_TRUE((*m)->read(4096, back.span()).is_ok());
  EXPECT_EQ(std::memcmp(back.data(), buf.data(), buf.size()), 0);
  // The window's end is the member's end.
  Status past = (*m)->write((*m)->size(), buf.span());
  EXPECT_EQ(past.code(), Err::no_space) << past.message();
  EXPECT_NE(past.message().find(":p5"), std::string::npos) << past.message();
}

TEST(MemberSpec, PartitionThroughIoUring) {
  TempDir dir;
  const std::string img = write_fixture_image(dir, "gpt");
  auto ring = UringQueue::create();
  if (!ring.is_ok()) GTEST_SKIP() << ring.status().message();
  OpenOptions o;
  o.ring = ring->get();
  auto m = open_member(img + ":p2", o);
  ASSERT_TRUE(m.is_ok()) << m.status().message();
  AlignedBuffer buf(4096);
  fill_pattern(buf.data(), buf.size(), 2);
  Status got = Status(Err::retry, "not done");
  IoRequest req;
  req.op = IoOp::write;
  req.offset = 8192;
  req.length = buf.size();
  req.buf = buf.data();
  req.done = [&](Status s) { got = std::move(s); };
  (*m)->submit(req);
  (*ring)->drain();
  ASSERT_TRUE(got.is_ok()) << got.message();
  const uint64_t start = 18432ull * 512;  // sfdisk's start of partition 2
  EXPECT_EQ(read_file(img, start + 8192, buf.size()), std::vector<uint8_t>(buf.data(), buf.data() + buf.size()));
}

TEST(MemberSpec, MissingAndContainerPartitionsAreRefused) {
  TempDir dir;
  const std::string img = write_fixture_image(dir, "mbr_logical");
  auto m = open_member(img + ":p4", OpenOptions{});
  ASSERT_FALSE(m.is_ok());
  EXPECT_EQ(m.status().code(), Err::not_found);
  EXPECT_NE(m.status().message().find("no partition 4 (the MBR holds 1, 2, 3, 5, 6, 7)"), std::string::npos)
      << m.status().message();
  m = open_member(img + ":p2", OpenOptions{});
  ASSERT_FALSE(m.is_ok());
  EXPECT_NE(m.status().message().find("extended partition"), std::string::npos) << m.status().message();
  const std::string plain = dir.make_file("plain.img", 1 << 20);
  m = open_member(plain + ":p1", OpenOptions{});
  ASSERT_FALSE(m.is_ok());
  EXPECT_NE(m.status().message().find("has no partition table"), std::string::npos) << m.status().message();
}

TEST(MemberSpec, ExclusiveLocksOnlyThePartitionsBytes) {
  TempDir dir;
  const std::string img = write_fixture_image(dir, "mbr_logical");
  OpenOptions ex;
  ex.exclusive = true;
  auto p1 = open_member(img + ":p1", ex);
  ASSERT_TRUE(p1.is_ok()) << p1.status().message();
  auto p5 = open_member(img + ":p5", ex);  // another array on the same disk
  ASSERT_TRUE(p5.is_ok()) << p5.status().message();
  auto again = open_member(img + ":p1", ex);
  ASSERT_FALSE(again.is_ok());
  EXPECT_EQ(again.status().code(), Err::busy) << again.status().message();
  auto whole = open_member(img, ex);
  ASSERT_FALSE(whole.is_ok());
  EXPECT_EQ(whole.status().code(), Err::busy) << whole.status().message();
  p1->reset();
  p5->reset();
  whole = open_member(img, ex);
  ASSERT_TRUE(whole.is_ok()) << whole.status().message();
}

TEST(MemberSpec, PartitionSpecsListDataPartitions) {
  TempDir dir;
  const std::string img = write_fixture_image(dir, "mbr_logical");
  auto specs = partition_specs(img);
  ASSERT_TRUE(specs.is_ok()) << specs.status().message();
  EXPECT_EQ(*specs, (std::vector<std::string>{img + ":p1", img + ":p3", img + ":p5", img + ":p6", img + ":p7"}));
  auto none = partition_specs(dir.make_file("plain.img", 1 << 20));
  ASSERT_TRUE(none.is_ok());
  EXPECT_TRUE(none->empty());
}

}  // namespace
}  // namespace umd::io
