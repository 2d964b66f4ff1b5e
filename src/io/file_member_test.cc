#include "io/file_member.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "io/full_transfer.h"
#include "io/io_test_util.h"
#include "io/request_check.h"
#include "io/uring_queue.h"
#include "util/aligned_buffer.h"

namespace umd::io {
namespace {

using testing::fill_pattern;
using testing::read_file;
using testing::TempDir;

constexpr uint64_t kMiB = 1 << 20;

std::unique_ptr<FileMember> open_or_die(const std::string& path, OpenOptions o = {}) {
  auto r = FileMember::open(path, o);
  EXPECT_TRUE(r.is_ok()) << r.status().message();
  return r.is_ok() ? std::move(r).value() : nullptr;
}

class FileMemberModes : public ::testing::TestWithParam<bool> {};  // param: direct requested

TEST_P(FileMemberModes, WriteReadRoundTripAndGeometry) {
  TempDir dir;
  std::string path = dir.make_file("d0.img", 4 * kMiB);
  OpenOptions o;
  o.direct = GetParam();
  auto m = open_or_die(path, o);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->name(), path);
  EXPECT_EQ(m->size(), 4 * kMiB);
  EXPECT_FALSE(m->read_only());
  EXPECT_FALSE(m->block_device());
  if (!GetParam()) {
    EXPECT_FALSE(m->direct());
    EXPECT_EQ(m->block_size(), 512u);
    EXPECT_EQ(m->mem_align(), 1u);
  } else {
    // ext4/xfs/btrfs support O_DIRECT; tmpfs (older kernels) falls back to buffered.
    std::printf("direct=%d block_size=%u mem_align=%u\n", m->direct(), m->block_size(), m->mem_align());
    EXPECT_TRUE(m->block_size() == 512 || m->block_size() == 4096);
  }

  AlignedBuffer w(64 * 1024), r(64 * 1024);
  fill_pattern(w.data(), w.size(), 1);
  ASSERT_TRUE(m->write(8192, w.span()).is_ok());
  ASSERT_TRUE(m->read(8192, r.span()).is_ok());
  EXPECT_EQ(std::memcmp(w.data(), r.data(), w.size()), 0);
  ASSERT_TRUE(m->flush().is_ok());
  EXPECT_EQ(read_file(path, 8192, w.size()), std::vector<uint8_t>(w.data(), w.data() + w.size()));

  // FUA write: durable on return (at least visible through a separate fd).
  fill_pattern(w.data(), w.size(), 2);
  ASSERT_TRUE(m->write(0, w.span(), /*fua=*/true).is_ok());
  EXPECT_EQ(read_file(path, 0, w.size()), std::vector<uint8_t>(w.data(), w.data() + w.size()));
}

TEST_P(FileMemberModes, MisalignedBufferIsBounced) {
  TempDir dir;
  std::string path = dir.make_file("d0.img", kMiB);
  OpenOptions o;
  o.direct = GetParam();
  auto m = open_or_die(path, o);
  ASSERT_TRUE(m);
  std::vector<uint8_t> wbuf(8192 + 1), rbuf(8192 + 3);
  uint8_t* w = wbuf.data() + 1;  // deliberately misaligned
  uint8_t* r = rbuf.data() + 3;
  fill_pattern(w, 8192, 3);
  ASSERT_TRUE(m->write(4096, {w, 8192}).is_ok());
  ASSERT_TRUE(m->read(4096, {r, 8192}).is_ok());
  EXPECT_EQ(std::memcmp(w, r, 8192), 0);
}

TEST_P(FileMemberModes, DiscardPunchesHole) {
  TempDir dir;
  std::string path = dir.make_file("d0.img", kMiB);
  OpenOptions o;
  o.direct = GetParam();
  auto m = open_or_die(path, o);
  ASSERT_TRUE(m);
  AlignedBuffer w(64 * 1024), r(64 * 1024);
  std::memset(w.data(), 0xab, w.size());
  ASSERT_TRUE(m->write(0, w.span()).is_ok());
  ASSERT_TRUE(m->discard(0, 32 * 1024).is_ok());
  ASSERT_TRUE(m->read(0, r.span()).is_ok());
  for (size_t i = 0; i < r.size(); ++i) {
    ASSERT_EQ(r.data()[i], i < 32 * 1024 ? 0 : 0xab) << i;
  }
  EXPECT_TRUE(m->discard(0, 0).is_ok());
  EXPECT_EQ(m->discard(kMiB - 4096, 8192).code(), Err::no_space);
}

INSTANTIATE_TEST_SUITE_P(DirectAndBuffered, FileMemberModes, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "direct" : "buffered"; });

TEST(FileMember, OutOfRangeAndMisalignedAreRejectedNotPerformed) {
  TempDir dir;
  std::string path = dir.make_file("d0.img", kMiB);
  auto m = open_or_die(path, OpenOptions{.direct = false});
  ASSERT_TRUE(m);
  AlignedBuffer buf(8192);
  std::memset(buf.data(), 0x5a, buf.size());

  Status s = m->write(kMiB - 4096, buf.span());
  EXPECT_EQ(s.code(), Err::no_space);
  EXPECT_NE(s.message().find(path + ": write at offset 1044480 (8192 bytes)"), std::string::npos)
      << s.message();
  EXPECT_EQ(m->read(kMiB, buf.span().subspan(0, 512)).code(), Err::no_space);
  EXPECT_EQ(m->read(UINT64_MAX - 511, buf.span().subspan(0, 512)).code(), Err::no_space);  // overflow
  EXPECT_EQ(m->read(100, buf.span().subspan(0, 512)).code(), Err::invalid);
  EXPECT_EQ(m->read(0, buf.span().subspan(0, 100)).code(), Err::invalid);
  EXPECT_TRUE(m->read(kMiB, buf.span().subspan(0, 0)).is_ok());  // empty, at the end: fine

  // Nothing was written and the file did not grow.
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), kMiB);
  EXPECT_EQ(read_file(path, kMiB - 4096, 4096), std::vector<uint8_t>(4096, 0));
}

TEST(FileMember, ReadOnly) {
  TempDir dir;
  std::string path = dir.make_file("d0.img", kMiB);
  auto m = open_or_die(path, OpenOptions{.read_only = true});
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->read_only());
  AlignedBuffer buf(4096);
  EXPECT_TRUE(m->read(0, buf.span()).is_ok());
  Status s = m->write(0, buf.span());
  EXPECT_EQ(s.code(), Err::invalid);
  EXPECT_NE(s.message().find("read-only"), std::string::npos);
  EXPECT_EQ(m->discard(0, 4096).code(), Err::invalid);
  EXPECT_TRUE(m->flush().is_ok());
}

TEST(FileMember, OpenErrorsNameThePath) {
  TempDir dir;
  auto r = open_file_member(dir.path() + "/missing.img", {});
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Err::not_found);
  EXPECT_NE(r.status().message().find("missing.img: open"), std::string::npos);

  auto d = open_file_member(dir.path(), {});
  ASSERT_FALSE(d.is_ok());
  EXPECT_EQ(d.status().code(), Err::invalid);
  EXPECT_NE(d.status().message().find("not a regular file or block device"), std::string::npos);
}

TEST(FileMember, SizeRoundsDownToBlock) {
  TempDir dir;
  std::string path = dir.make_file("odd.img", 3 * 512 + 100);
  auto m = open_or_die(path, OpenOptions{.direct = false});
  ASSERT_TRUE(m);
  EXPECT_EQ(m->size(), 3u * 512);
}

TEST(FileMember, ExclusiveLocksRegularFiles) {
  TempDir dir;
  std::string path = dir.make_file("d0.img", kMiB);
  auto a = open_or_die(path, OpenOptions{.exclusive = true});
  ASSERT_TRUE(a);
  auto b = FileMember::open(path, OpenOptions{.exclusive = true});
  ASSERT_FALSE(b.is_ok());
  EXPECT_EQ(b.status().code(), Err::busy);
  auto c = FileMember::open(path, OpenOptions{.read_only = true});  // non-exclusive: allowed
  EXPECT_TRUE(c.is_ok());
  a.reset();
  EXPECT_TRUE(FileMember::open(path, OpenOptions{.exclusive = true}).is_ok());
}

// A holder that lets go within the grace period (as a crashed daemon's files do once the
// kernel tears down its io_uring) does not make the open fail.
TEST(FileMember, ExclusiveOpenWaitsForAHolderThatIsGoingAway) {
  TempDir dir;
  std::string path = dir.make_file("d0.img", kMiB);
  auto a = open_or_die(path, OpenOptions{.exclusive = true});
  ASSERT_TRUE(a);
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    a.reset();
  });
  auto b = FileMember::open(path, OpenOptions{.exclusive = true});
  release.join();
  EXPECT_TRUE(b.is_ok()) << b.status().message();
}

TEST(FileMember, TruncatedUnderneathIsAnIoErrorNotAHang) {
  TempDir dir;
  std::string path = dir.make_file("d0.img", kMiB);
  auto m = open_or_die(path, OpenOptions{.direct = false});
  ASSERT_TRUE(m);
  ASSERT_EQ(::truncate(path.c_str(), 4096 + 1024), 0);  // someone shrank it behind our back
  AlignedBuffer buf(8192);
  Status s = m->read(4096, buf.span());
  EXPECT_EQ(s.code(), Err::io);
  EXPECT_NE(s.message().find("unexpected end of file after 1024 bytes"), std::string::npos) << s.message();
}

TEST(FileMember, SubmitWithoutRingCompletesInline) {
  TempDir dir;
  std::string path = dir.make_file("d0.img", kMiB);
  auto m = open_or_die(path);
  ASSERT_TRUE(m);
  AlignedBuffer buf(4096);
  int calls = 0;
  IoRequest req;
  req.op = IoOp::write;
  req.offset = 0;
  req.length = 4096;
  req.buf = buf.data();
  req.done = [&](Status s) {
    EXPECT_TRUE(s.is_ok());
    ++calls;
  };
  m->submit(req);
  EXPECT_EQ(calls, 1);
}

bool on_tmpfs(const std::string& path) {
  struct statfs sfs {};
  return ::statfs(path.c_str(), &sfs) == 0 && sfs.f_type == TMPFS_MAGIC;
}

// A 1 MiB file on /dev/shm (tmpfs), opened with a reaper-mode ring, for the tests of
// memory-backed files below (skipped where /dev/shm is no tmpfs or io_uring is missing).
class MemoryBackedFileMember : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!on_tmpfs("/dev/shm")) GTEST_SKIP() << "/dev/shm is not a tmpfs here";
    dir_.emplace("/dev/shm");
    path_ = dir_->make_file("d0.img", kMiB);
    auto ring = UringQueue::create({.reaper_thread = true});
    if (!ring.is_ok()) GTEST_SKIP() << ring.status().message();
    ring_ = std::move(ring).value();
    m_ = open_or_die(path_, {.ring = ring_.get()});
    ASSERT_TRUE(m_);
  }
  std::optional<TempDir> dir_;
  std::string path_;
  std::unique_ptr<UringQueue> ring_;
  std::unique_ptr<FileMember> m_;  // closed before the ring goes
};

// Memory-backed files: a small read or write (and a flush) completes inside submit() on the
// submitting thread even with a ring attached; a transfer above kInlineBytes goes through
// the ring and completes on its reaper. The bytes land either way.
TEST_F(MemoryBackedFileMember, DoesSmallIoInline) {
  EXPECT_TRUE(m_->memory_backed());

  const std::thread::id me = std::this_thread::get_id();
  struct Done {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    std::thread::id on;
  };
  auto run = [&](IoOp op, uint64_t off, uint64_t len, uint8_t* buf, bool* inline_) {
    Done d;
    IoRequest req;
    req.op = op;
    req.offset = off;
    req.length = len;
    req.buf = buf;
    req.done = [&d](Status s) {
      EXPECT_TRUE(s.is_ok()) << s.message();
      std::lock_guard l(d.mu);
      d.done = true;
      d.on = std::this_thread::get_id();
      d.cv.notify_one();
    };
    m_->submit(req);
    {
      std::lock_guard l(d.mu);
      *inline_ = d.done && d.on == me;
    }
    std::unique_lock l(d.mu);
    d.cv.wait(l, [&] { return d.done; });
  };
  const uint64_t small = FileMember::kInlineBytes, big = 2 * FileMember::kInlineBytes;
  AlignedBuffer w(big), r(big);
  fill_pattern(w.data(), big, 7);
  const uint64_t ring_before = ring_->stats().submitted;
  bool inl = false;
  run(IoOp::write, 4096, small, w.data(), &inl);
  EXPECT_TRUE(inl) << "a 64 KiB write on tmpfs went through the ring";
  run(IoOp::read, 4096, small, r.data(), &inl);
  EXPECT_TRUE(inl);
  EXPECT_EQ(std::memcmp(r.data(), w.data(), small), 0);
  run(IoOp::flush, 0, 0, nullptr, &inl);
  EXPECT_TRUE(inl);
  EXPECT_EQ(ring_->stats().submitted, ring_before);

  run(IoOp::write, 256 * 1024, big, w.data(), &inl);
  EXPECT_FALSE(inl) << "a 128 KiB write on tmpfs did not go through the ring";
  EXPECT_EQ(ring_->stats().submitted, ring_before + 1);
  EXPECT_EQ(read_file(path_, 256 * 1024, big), std::vector<uint8_t>(w.data(), w.data() + big));
  EXPECT_EQ(read_file(path_, 4096, small), std::vector<uint8_t>(w.data(), w.data() + small));

  TempDir other;  // $TMPDIR: memory-backed only if it is a tmpfs (or ramfs)
  auto m2 = open_or_die(other.make_file("d1.img", kMiB));
  ASSERT_TRUE(m2);
  struct statfs sfs {};
  ASSERT_EQ(::statfs(other.path().c_str(), &sfs), 0);
  EXPECT_EQ(m2->memory_backed(), sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC);
}

// Memory-backed files: a transfer above kInlineBytes goes to the ring only while the ring
// has no other such transfer in flight; with one there (its done() held back here) the next
// is copied inline, beside it, on the submitting thread.
TEST_F(MemoryBackedFileMember, LargeTransfersRunInlineWhileTheRingCopies) {
  const uint64_t big = 2 * FileMember::kInlineBytes;
  AlignedBuffer a(big), b(big);
  fill_pattern(a.data(), big, 11);
  fill_pattern(b.data(), big, 12);
  const std::thread::id me = std::this_thread::get_id();

  std::mutex mu;
  std::condition_variable cv;
  bool a_done = false, release = false, b_done = false;
  std::thread::id a_on, b_on;
  IoRequest ra;
  ra.op = IoOp::write;
  ra.offset = 0;
  ra.length = big;
  ra.buf = a.data();
  ra.done = [&](Status s) {
    EXPECT_TRUE(s.is_ok()) << s.message();
    std::unique_lock l(mu);
    a_done = true;
    a_on = std::this_thread::get_id();
    cv.notify_all();
    cv.wait(l, [&] { return release; });  // A stays in flight until B is done
  };
  const uint64_t ring_before = ring_->stats().submitted;
  m_->submit(ra);
  {
    std::unique_lock l(mu);
    cv.wait(l, [&] { return a_done; });
  }
  EXPECT_NE(a_on, me) << "the first 128 KiB write did not go through the ring";
  EXPECT_EQ(ring_->copies_in_flight(), 1u);

  IoRequest rb;
  rb.op = IoOp::write;
  rb.offset = big;
  rb.length = big;
  rb.buf = b.data();
  rb.done = [&](Status s) {
    EXPECT_TRUE(s.is_ok()) << s.message();
    std::lock_guard l(mu);
    b_done = true;
    b_on = std::this_thread::get_id();
  };
  m_->submit(rb);
  {
    std::lock_guard l(mu);
    EXPECT_TRUE(b_done) << "the second 128 KiB write, with the first in the ring, did not run inside submit()";
    EXPECT_EQ(b_on, me);
    release = true;
    cv.notify_all();
  }
  ring_->drain();
  EXPECT_EQ(ring_->stats().submitted, ring_before + 1);
  EXPECT_EQ(ring_->copies_in_flight(), 0u);
  EXPECT_EQ(read_file(path_, 0, big), std::vector<uint8_t>(a.data(), a.data() + big));
  EXPECT_EQ(read_file(path_, big, big), std::vector<uint8_t>(b.data(), b.data() + big));
}

TEST(RequestCheck, MessageFormat) {
  EXPECT_EQ(describe_io("d0.img", IoOp::read, 4096, 4096), "d0.img: read at offset 4096 (4096 bytes)");
  EXPECT_EQ(describe_io("d0.img", IoOp::flush, 0, 0), "d0.img: flush");
  Status s = Status::from_errno(EIO, describe_io("d0.img", IoOp::read, 4096, 4096));
  EXPECT_EQ(s.message(), "d0.img: read at offset 4096 (4096 bytes): Input/output error");
  EXPECT_EQ(s.code(), Err::io);
}

// transfer_full with a fake syscall: short counts, EINTR, EOF, EAGAIN.
TEST(TransferFull, ContinuesShortTransfersAndRetriesEintr) {
  std::vector<uint8_t> src(10000), dst(10000, 0);
  fill_pattern(src.data(), src.size(), 9);
  int calls = 0, eintrs = 0;
  auto op = [&](uint8_t* b, size_t n, off_t off) -> ssize_t {
    ++calls;
    if (calls % 3 == 0) {
      ++eintrs;
      errno = EINTR;
      return -1;
    }
    size_t k = std::min<size_t>(n, 777);  // always short
    std::memcpy(b, src.data() + off, k);
    return static_cast<ssize_t>(k);
  };
  Status s = transfer_full(op, dst.data(), dst.size(), 0, [] { return std::string("x"); });
  EXPECT_TRUE(s.is_ok()) << s.message();
  EXPECT_EQ(src, dst);
  EXPECT_GT(eintrs, 0);
}

TEST(TransferFull, EofAndErrors) {
  uint8_t buf[4096];
  int calls = 0;
  auto eof_after_one = [&](uint8_t*, size_t n, off_t) -> ssize_t { return calls++ == 0 ? std::min<ssize_t>(n, 512) : 0; };
  Status s = transfer_full(eof_after_one, buf, sizeof buf, 0, [] { return std::string("m: read"); });
  EXPECT_EQ(s.code(), Err::io);
  EXPECT_EQ(s.message(), "m: read: unexpected end of file after 512 bytes");

  auto again = [](uint8_t*, size_t, off_t) -> ssize_t {
    errno = EAGAIN;
    return -1;
  };
  s = transfer_full(again, buf, sizeof buf, 0, [] { return std::string("m: read"); });
  EXPECT_EQ(s.code(), Err::retry);  // kept apart from member failure
  auto eio = [](uint8_t*, size_t, off_t) -> ssize_t {
    errno = EIO;
    return -1;
  };
  s = transfer_full(eio, buf, sizeof buf, 0, [] { return std::string("m: read"); });
  EXPECT_EQ(s.code(), Err::io);
  EXPECT_EQ(s.sys_errno(), EIO);
}

// Block-device path: only when a test device is provided (e.g. a loop device), since tests
// must not create devices. UMD_TEST_BLOCKDEV=/dev/loopN (its contents are overwritten).
TEST(FileMember, BlockDeviceWhenProvided) {
  const char* dev = std::getenv("UMD_TEST_BLOCKDEV");
  if (!dev || !*dev) GTEST_SKIP() << "set UMD_TEST_BLOCKDEV to a scratch block device";
  auto m = open_or_die(dev, OpenOptions{.exclusive = true});
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->block_device());
  EXPECT_GT(m->size(), 0u);
  std::printf("size=%llu block_size=%u direct=%d\n", static_cast<unsigned long long>(m->size()),
              m->block_size(), m->direct());
  EXPECT_EQ(FileMember::open(dev, OpenOptions{.exclusive = true}).status().code(), Err::busy);
  AlignedBuffer w(8192), r(8192);
  fill_pattern(w.data(), w.size(), 5);
  ASSERT_TRUE(m->write(0, w.span(), true).is_ok());
  ASSERT_TRUE(m->read(0, r.span()).is_ok());
  EXPECT_EQ(std::memcmp(w.data(), r.data(), w.size()), 0);
  EXPECT_TRUE(m->discard(0, 8192).is_ok());
  EXPECT_TRUE(m->flush().is_ok());
  EXPECT_EQ(m->read(m->size(), r.span()).code(), Err::no_space);
}

}  // namespace
}  // namespace umd::io
