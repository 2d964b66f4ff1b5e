#include "io/fault_member.h"

#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "io/file_member.h"
#include "io/io_test_util.h"
#include "io/memory_member.h"
#include "io/uring_queue.h"
#include "util/aligned_buffer.h"

namespace umd::io {
namespace {

using testing::fill_pattern;
using testing::read_file;
using testing::TempDir;

constexpr uint64_t kMiB = 1 << 20;

std::unique_ptr<FaultyMember> faulty_memory(uint64_t size = kMiB, uint32_t bs = 512) {
  return std::make_unique<FaultyMember>(std::make_unique<MemoryMember>("d0.img", size, bs));
}

std::vector<uint8_t> filled(size_t n, uint8_t v) { return std::vector<uint8_t>(n, v); }

TEST(FaultyMember, FailsReadsInRangeOnlyPersistently) {
  auto m = faulty_memory();
  m->fail_reads(8192, 4096);
  std::vector<uint8_t> buf(4096);
  Status s = m->read(8192, buf);
  EXPECT_EQ(s.code(), Err::io);
  EXPECT_EQ(s.sys_errno(), EIO);
  EXPECT_EQ(s.message(), "d0.img: read at offset 8192 (4096 bytes) [injected]: Input/output error");
  EXPECT_EQ(m->read(8192 + 2048, buf).code(), Err::io);  // overlaps
  EXPECT_EQ(m->read(8192, buf).code(), Err::io);         // persistent
  EXPECT_TRUE(m->read(4096, buf).is_ok());               // adjacent, no overlap
  EXPECT_TRUE(m->read(12288, buf).is_ok());
  EXPECT_TRUE(m->write(8192, buf).is_ok());  // writes unaffected
  auto c = m->counters();
  EXPECT_EQ(c.reads, 5u);
  EXPECT_EQ(c.failed, 3u);
  EXPECT_EQ(c.injected, 3u);
  EXPECT_EQ(c.bytes_read, 2u * 4096);
  EXPECT_EQ(c.writes, 1u);
}

TEST(FaultyMember, FailsNTimesThenRecovers) {
  auto m = faulty_memory();
  m->fail_writes(0, 512, ENOSPC, 2);
  std::vector<uint8_t> buf(512, 1);
  EXPECT_EQ(m->write(0, buf).code(), Err::no_space);
  EXPECT_EQ(m->write(0, buf).code(), Err::no_space);
  EXPECT_TRUE(m->write(0, buf).is_ok());
  // A failed write changed nothing.
  int id = m->fail_writes(1024, 512, EIO);
  EXPECT_EQ(m->write(1024, std::vector<uint8_t>(512, 9)).code(), Err::io);
  std::vector<uint8_t> r(512);
  ASSERT_TRUE(m->read(1024, r).is_ok());
  EXPECT_EQ(r, filled(512, 0));
  m->remove_fault(id);
  EXPECT_TRUE(m->write(1024, buf).is_ok());
}

TEST(FaultyMember, RetryErrnoIsNotAMemberFailure) {
  auto m = faulty_memory();
  m->fail_reads(0, 512, EAGAIN, 1);
  std::vector<uint8_t> buf(512);
  EXPECT_EQ(m->read(0, buf).code(), Err::retry);
  EXPECT_TRUE(m->read(0, buf).is_ok());
}

TEST(FaultyMember, FailFlushAndVanish) {
  auto m = faulty_memory();
  m->fail_flushes(EIO, 1);
  std::vector<uint8_t> buf(512, 3);
  ASSERT_TRUE(m->write(0, buf).is_ok());
  Status f = m->flush();
  EXPECT_EQ(f.code(), Err::io);
  EXPECT_EQ(f.message(), "d0.img: flush [injected]: Input/output error");
  EXPECT_EQ(m->dirty_bytes(), 512u);  // a failed flush keeps the cache
  EXPECT_TRUE(m->flush().is_ok());
  EXPECT_EQ(m->dirty_bytes(), 0u);

  m->vanish();
  EXPECT_TRUE(m->vanished());
  EXPECT_FALSE(m->read(0, buf).is_ok());
  EXPECT_FALSE(m->write(0, buf).is_ok());
  EXPECT_FALSE(m->flush().is_ok());
  EXPECT_FALSE(m->discard(0, 512).is_ok());
  EXPECT_EQ(m->read(0, buf).sys_errno(), ENXIO);
  m->reappear();
  EXPECT_TRUE(m->read(0, buf).is_ok());
  EXPECT_EQ(buf, filled(512, 3));
}

TEST(FaultyMember, ValidatesBeforeCaching) {
  auto m = faulty_memory(kMiB);
  std::vector<uint8_t> buf(512);
  EXPECT_EQ(m->write(kMiB, buf).code(), Err::no_space);
  EXPECT_EQ(m->write(100, buf).code(), Err::invalid);
  EXPECT_EQ(m->dirty_bytes(), 0u);
}

// Over a real file member: flushed and FUA writes survive a power cut, the rest is lost.
TEST(FaultyMember, PowerCutLosesExactlyTheUnflushedWrites) {
  TempDir dir;
  std::string path = dir.make_file("d0.img", kMiB);
  auto fm = FileMember::open(path, OpenOptions{});
  ASSERT_TRUE(fm.is_ok()) << fm.status().message();
  FaultyMember m(std::move(fm).value());
  const uint32_t bs = m.block_size();
  AlignedBuffer a(4 * bs), b(2 * bs), c(bs), d(bs), r(8 * bs);
  std::memset(a.data(), 0xaa, a.size());
  std::memset(b.data(), 0xbb, b.size());
  std::memset(c.data(), 0xcc, c.size());
  std::memset(d.data(), 0xdd, d.size());

  ASSERT_TRUE(m.write(0, a.span()).is_ok());           // blocks 0-3, then flushed
  ASSERT_TRUE(m.flush().is_ok());
  ASSERT_TRUE(m.write(2 * bs, b.span()).is_ok());      // blocks 2-3 overwritten, unflushed
  ASSERT_TRUE(m.write(4 * bs, c.span()).is_ok());      // block 4 unflushed
  ASSERT_TRUE(m.write(4 * bs, d.span(), true).is_ok()); // block 4 FUA: durable, supersedes c
  ASSERT_TRUE(m.write(5 * bs, c.span()).is_ok());      // block 5 unflushed
  EXPECT_EQ(m.dirty_bytes(), 3u * bs);                 // blocks 2, 3, 5

  // Reads see the cache.
  ASSERT_TRUE(m.read(0, r.span()).is_ok());
  EXPECT_EQ(r.data()[0], 0xaa);
  EXPECT_EQ(r.data()[2 * bs], 0xbb);
  EXPECT_EQ(r.data()[4 * bs], 0xdd);
  EXPECT_EQ(r.data()[5 * bs], 0xcc);
  // The target does not (yet).
  EXPECT_EQ(read_file(path, 2 * bs, bs), filled(bs, 0xaa));

  m.power_cut();
  EXPECT_EQ(m.dirty_bytes(), 0u);
  ASSERT_TRUE(m.read(0, r.span()).is_ok());
  for (uint32_t i = 0; i < 8 * bs; ++i) {
    uint8_t want = i < 4 * bs ? 0xaa : i < 5 * bs ? 0xdd : 0;
    ASSERT_EQ(r.data()[i], want) << "byte " << i;
  }
  EXPECT_EQ(read_file(path, 0, 6 * bs), [&] {
    std::vector<uint8_t> v(6 * bs, 0);
    std::memset(v.data(), 0xaa, 4 * bs);
    std::memset(v.data() + 4 * bs, 0xdd, bs);
    return v;
  }());
  EXPECT_EQ(m.counters().power_cuts, 1u);
}

TEST(FaultyMember, FlushWritesCacheThroughInOrder) {
  auto m = faulty_memory(kMiB);
  auto& target = static_cast<MemoryMember&>(m->target());
  std::vector<uint8_t> x(1024, 1), y(512, 2);
  ASSERT_TRUE(m->write(4096, x).is_ok());
  ASSERT_TRUE(m->write(4096 + 512, y).is_ok());  // overwrite the second block in cache
  ASSERT_TRUE(m->write(0, y).is_ok());
  EXPECT_EQ(target.raw()[4096], 0);
  ASSERT_TRUE(m->flush().is_ok());
  EXPECT_EQ(target.raw()[0], 2);
  EXPECT_EQ(target.raw()[4096], 1);
  EXPECT_EQ(target.raw()[4096 + 512], 2);
  m->power_cut();
  EXPECT_EQ(target.raw()[4096 + 512], 2);  // flushed data survives
}

TEST(FaultyMember, PowerCutPartialIsDeterministic) {
  auto run = [](uint64_t seed) {
    auto m = faulty_memory(64 * 512);
    for (int i = 0; i < 64; ++i) EXPECT_TRUE(m->write(i * 512, std::vector<uint8_t>(512, 0xee)).is_ok());
    EXPECT_TRUE(m->power_cut_partial(seed, 0.5).is_ok());
    std::vector<uint8_t> kept;
    auto& t = static_cast<MemoryMember&>(m->target());
    for (int i = 0; i < 64; ++i) kept.push_back(t.raw()[i * 512]);
    return kept;
  };
  auto k1 = run(1), k2 = run(1), k3 = run(2);
  EXPECT_EQ(k1, k2);
  EXPECT_NE(k1, k3);
  int survivors = 0;
  for (auto v : k1) survivors += v == 0xee;
  EXPECT_GT(survivors, 0);
  EXPECT_LT(survivors, 64);
}

TEST(FaultyMember, WriteCacheOff) {
  auto m = faulty_memory();
  ASSERT_TRUE(m->write(0, std::vector<uint8_t>(512, 4)).is_ok());
  ASSERT_TRUE(m->set_write_cache(false).is_ok());  // writes the overlay through
  ASSERT_TRUE(m->write(512, std::vector<uint8_t>(512, 5)).is_ok());
  m->power_cut();
  auto& t = static_cast<MemoryMember&>(m->target());
  EXPECT_EQ(t.raw()[0], 4);
  EXPECT_EQ(t.raw()[512], 5);
}

TEST(FaultyMember, FlipBitCorruptsDataAtRest) {
  TempDir dir;
  std::string path = dir.make_file("d0.img", kMiB);
  auto fm = FileMember::open(path, OpenOptions{});
  ASSERT_TRUE(fm.is_ok());
  FaultyMember m(std::move(fm).value());
  AlignedBuffer w(4096), r(4096);
  std::memset(w.data(), 0x0f, w.size());
  ASSERT_TRUE(m.write(8192, w.span()).is_ok());
  ASSERT_TRUE(m.flush().is_ok());
  ASSERT_TRUE(m.flip_bit(8192 + 100, 7).is_ok());
  ASSERT_TRUE(m.read(8192, r.span()).is_ok());
  for (int i = 0; i < 4096; ++i) ASSERT_EQ(r.data()[i], i == 100 ? 0x8f : 0x0f) << i;
  EXPECT_EQ(read_file(path, 8192 + 100, 1)[0], 0x8f);
  EXPECT_EQ(m.flip_bit(kMiB, 0).code(), Err::invalid);
  EXPECT_EQ(m.flip_bit(0, 8).code(), Err::invalid);
}

TEST(FaultyMember, DelayAndSubmitInline) {
  auto m = faulty_memory();
  m->set_delay(std::chrono::milliseconds(20));
  std::vector<uint8_t> buf(512);
  auto t0 = std::chrono::steady_clock::now();
  int calls = 0;
  IoRequest req;
  req.op = IoOp::read;
  req.length = 512;
  req.buf = buf.data();
  req.done = [&](Status s) {
    EXPECT_TRUE(s.is_ok());
    ++calls;
  };
  m->submit(req);
  EXPECT_EQ(calls, 1);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(20));
}

TEST(FaultyMember, ConcurrentUse) {
  auto m = faulty_memory(kMiB);
  m->fail_reads(0, 512, EIO);
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&, t] {
      std::vector<uint8_t> buf(4096, static_cast<uint8_t>(t + 1)), r(4096);
      for (int i = 0; i < 200; ++i) {
        uint64_t off = (t * 200 + i) % 256 * 4096;
        EXPECT_TRUE(m->write(off, buf).is_ok());
        (void)m->read(off, r);
        if (i % 50 == 0) {
          EXPECT_TRUE(m->flush().is_ok());
          (void)m->counters();
        }
        if (t == 0 && i == 100) m->power_cut();
      }
    });
  }
  for (auto& th : ts) th.join();
  auto c = m->counters();
  EXPECT_EQ(c.writes, 800u);
  EXPECT_EQ(c.reads, 800u);
}

}  // namespace
}  // namespace umd::io

namespace umd::io {
namespace {

// With set_async, a FaultyMember over an io_uring member stays asynchronous: the I/O is
// the ring's, and an injected fault arrives on the ring's completion thread.
TEST(FaultyMember, AsyncPassThroughFailsOnTheCompletionThread) {
  TempDir dir;
  const std::string path = dir.make_file("d0.img", kMiB);
  UringQueue::Options ro;
  ro.reaper_thread = true;
  auto ring = UringQueue::create(ro);
  ASSERT_TRUE(ring.is_ok()) << ring.status().message();
  OpenOptions oo;
  oo.ring = ring->get();
  auto dev = open_file_member(path, oo);
  ASSERT_TRUE(dev.is_ok());
  FaultyMember fm(std::move(dev).value());
  EXPECT_EQ(fm.set_async(true).code(), Err::invalid);  // the cache is on
  ASSERT_TRUE(fm.set_write_cache(false).is_ok());
  ASSERT_TRUE(fm.set_async(true).is_ok());
  fm.fail_reads(4096, 4096);
  AlignedBuffer buf(8192);
  std::memset(buf.data(), 0x7e, buf.size());
  std::mutex mu;
  std::condition_variable cv;
  int done = 0;
  Status st[3];
  std::thread::id where[3];
  auto req = [&](IoOp op, uint64_t off, int i) {
    IoRequest r{op, false, off, 4096, buf.data() + (i == 2 ? 4096 : 0), {}};
    r.done = [&, i](Status s) {
      std::lock_guard l(mu);
      st[i] = std::move(s);
      where[i] = std::this_thread::get_id();
      done++;
      cv.notify_all();
    };
    return r;
  };
  IoRequest w = req(IoOp::write, 0, 0), bad = req(IoOp::read, 4096, 1), good = req(IoOp::read, 0, 2);
  fm.submit(w);
  {
    std::unique_lock l(mu);
    ASSERT_TRUE(cv.wait_for(l, std::chrono::seconds(30), [&] { return done == 1; }));
  }
  fm.submit(bad);
  fm.submit(good);
  std::unique_lock l(mu);
  ASSERT_TRUE(cv.wait_for(l, std::chrono::seconds(30), [&] { return done == 3; }));
  EXPECT_TRUE(st[0].is_ok()) << st[0].message();
  EXPECT_EQ(st[1].code(), Err::io);
  EXPECT_NE(st[1].message().find("[injected]"), std::string::npos) << st[1].message();
  EXPECT_NE(where[1], std::this_thread::get_id()) << "the fault arrived inline, not on the ring's thread";
  EXPECT_TRUE(st[2].is_ok()) << st[2].message();
  EXPECT_EQ(read_file(path, 0, 4096), std::vector<uint8_t>(4096, 0x7e));
  EXPECT_EQ(fm.counters().injected, 1u);
  EXPECT_EQ(fm.counters().bytes_written, 4096u);
}

}  // namespace
}  // namespace umd::io
