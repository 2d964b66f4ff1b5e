#include "io/uring_queue.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "io/file_member.h"
#include "io/io_test_util.h"
#include "util/aligned_buffer.h"

namespace umd::io {
namespace {

using testing::fill_pattern;
using testing::read_file;
using testing::TempDir;

constexpr uint64_t kMiB = 1 << 20;

// Creates a queue or skips the test when io_uring is unavailable in this environment (the
// fallback itself is covered by UnavailableRingFallsBackToSynchronous).
#define MAKE_QUEUE_OR_SKIP(var, opts)                                                \
  auto var##_r = UringQueue::create(opts);                                           \
  if (!var##_r.is_ok() && var##_r.status().code() == Err::unsupported)               \
    GTEST_SKIP() << var##_r.status().message();                                      \
  ASSERT_TRUE(var##_r.is_ok()) << var##_r.status().message();                        \
  std::unique_ptr<UringQueue> var = std::move(var##_r).value()

std::unique_ptr<FileMember> open_member(const std::string& path, bool direct, UringQueue* q) {
  OpenOptions o;
  o.direct = direct;
  o.ring = q;
  auto r = FileMember::open(path, o);
  EXPECT_TRUE(r.is_ok()) << r.status().message();
  return r.is_ok() ? std::move(r).value() : nullptr;
}

// One request plus its outcome; stable address while in flight.
struct Slot {
  IoRequest req;
  std::atomic<int> calls{0};
  Status status;
};

void arm(Slot& s, IoOp op, uint64_t off, uint64_t len, uint8_t* buf, bool fua = false) {
  s.req.op = op;
  s.req.offset = off;
  s.req.length = len;
  s.req.buf = buf;
  s.req.fua = fua;
  s.req.done = [&s](Status st) {
    s.status = std::move(st);
    s.calls.fetch_add(1, std::memory_order_release);
  };
}

struct Mode {
  bool direct;
  bool reaper;
};

class UringModes : public ::testing::TestWithParam<Mode> {};

// 256 random 4 KiB writes in flight at once, then 256 reads that verify them.
TEST_P(UringModes, ManyRandomWritesThenReadsVerify) {
  TempDir dir;
  std::string path = dir.make_file("d0.img", 8 * kMiB);
  UringQueue::Options qo;
  qo.depth = 64;  // fewer than requests: exercises the backlog too
  qo.reaper_thread = GetParam().reaper;
  MAKE_QUEUE_OR_SKIP(q, qo);
  auto m = open_member(path, GetParam().direct, q.get());
  ASSERT_TRUE(m);

  constexpr int kN = 256;
  constexpr uint64_t kBlk = 4096;
  std::vector<uint64_t> blocks(8 * kMiB / kBlk);
  for (size_t i = 0; i < blocks.size(); ++i) blocks[i] = i;
  std::shuffle(blocks.begin(), blocks.end(), std::mt19937_64(42));
  blocks.resize(kN);  // distinct random blocks

  AlignedBuffer wbuf(kN * kBlk), rbuf(kN * kBlk);
  fill_pattern(wbuf.data(), wbuf.size(), 7);
  std::vector<Slot> slots(kN);
  for (int i = 0; i < kN; ++i) {
    arm(slots[i], IoOp::write, blocks[i] * kBlk, kBlk, wbuf.data() + i * kBlk);
    m->submit(slots[i].req);
  }
  q->drain();
  for (auto& s : slots) {
    EXPECT_EQ(s.calls.load(std::memory_order_acquire), 1);
    EXPECT_TRUE(s.status.is_ok()) << s.status.message();
  }
  for (int i = 0; i < kN; ++i) {
    arm(slots[i], IoOp::read, blocks[i] * kBlk, kBlk, rbuf.data() + i * kBlk);
    m->submit(slots[i].req);
  }
  q->drain();
  for (auto& s : slots) {
    EXPECT_EQ(s.calls.load(std::memory_order_acquire), 2);
    EXPECT_TRUE(s.status.is_ok()) << s.status.message();
  }
  EXPECT_EQ(std::memcmp(wbuf.data(), rbuf.data(), wbuf.size()), 0);
  // And the data really is in the file.
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(read_file(path, blocks[i] * kBlk, kBlk),
              std::vector<uint8_t>(wbuf.data() + i * kBlk, wbuf.data() + (i + 1) * kBlk));
  }
  auto st = q->stats();
  EXPECT_EQ(st.submitted, 2u * kN);
  EXPECT_EQ(st.completed, 2u * kN);
  EXPECT_GT(st.backlogged, 0u);
  EXPECT_EQ(q->in_flight(), 0u);
}

// Several threads submit at once; in reactor mode the main thread reaps meanwhile.
TEST_P(UringModes, ConcurrentSubmitters) {
  TempDir dir;
  std::string path = dir.make_file("d0.img", 8 * kMiB);
  UringQueue::Options qo;
  qo.depth = 32;
  qo.reaper_thread = GetParam().reaper;
  MAKE_QUEUE_OR_SKIP(q, qo);
  auto m = open_member(path, GetParam().direct, q.get());
  ASSERT_TRUE(m);

  constexpr int kThreads = 4, kPer = 64;
  constexpr uint64_t kBlk = 4096;
  AlignedBuffer wbuf(kThreads * kPer * kBlk);
  fill_pattern(wbuf.data(), wbuf.size(), 11);
  std::vector<Slot> slots(kThreads * kPer);
  std::atomic<int> submitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPer; ++i) {
        int k = t * kPer + i;
        arm(slots[k], IoOp::write, k * kBlk, kBlk, wbuf.data() + k * kBlk, /*fua=*/i % 16 == 0);
        m->submit(slots[k].req);
        submitted.fetch_add(1);
      }
      // Stay alive until our requests completed: the kernel cancels (ECANCELED) io_uring
      // work still queued for a thread that exits.
      for (int i = 0; i < kPer; ++i) {
        while (slots[t * kPer + i].calls.load(std::memory_order_acquire) == 0) std::this_thread::yield();
      }
    });
  }
  if (!GetParam().reaper) {
    while (submitted.load() < kThreads * kPer || q->in_flight() > 0) {
      if (q->poll() == 0) q->wait(1);
    }
  }
  for (auto& th : threads) th.join();
  q->drain();
  for (auto& s : slots) {
    ASSERT_EQ(s.calls.load(std::memory_order_acquire), 1);
    EXPECT_TRUE(s.status.is_ok()) << s.status.message();
  }
  ASSERT_TRUE(m->flush().is_ok());
  EXPECT_EQ(read_file(path, 0, wbuf.size()), std::vector<uint8_t>(wbuf.data(), wbuf.data() + wbuf.size()));
}

// Large requests split into 4 KiB pieces go through the remainder (short-transfer) path.
TEST_P(UringModes, RemainderIsResubmitted) {
  TempDir dir;
  std::string path = dir.make_file("d0.img", 4 * kMiB);
  UringQueue::Options qo;
  qo.max_io_bytes = 4096;
  qo.reaper_thread = GetParam().reaper;
  MAKE_QUEUE_OR_SKIP(q, qo);
  auto m = open_member(path, GetParam().direct, q.get());
  ASSERT_TRUE(m);
  AlignedBuffer w(256 * 1024), r(256 * 1024);
  fill_pattern(w.data(), w.size(), 13);
  Slot a, b;
  arm(a, IoOp::write, 65536, w.size(), w.data());
  m->submit(a.req);
  q->drain();
  ASSERT_TRUE(a.status.is_ok()) << a.status.message();
  arm(b, IoOp::read, 65536, r.size(), r.data());
  m->submit(b.req);
  q->drain();
  ASSERT_TRUE(b.status.is_ok()) << b.status.message();
  EXPECT_EQ(std::memcmp(w.data(), r.data(), w.size()), 0);
  EXPECT_EQ(q->stats().remainder_resubmits, 2u * (256 / 4 - 1));
}

// flush, fua write, discard, misaligned buffers, and rejected requests via the ring.
TEST_P(UringModes, FlushFuaDiscardMisalignedAndRejected) {
  TempDir dir;
  std::string path = dir.make_file("d0.img", kMiB);
  UringQueue::Options qo;
  qo.reaper_thread = GetParam().reaper;
  MAKE_QUEUE_OR_SKIP(q, qo);
  auto m = open_member(path, GetParam().direct, q.get());
  ASSERT_TRUE(m);

  std::vector<uint8_t> wv(16384 + 1), rv(16384 + 5);
  uint8_t* w = wv.data() + 1;  // misaligned on purpose
  uint8_t* r = rv.data() + 5;
  fill_pattern(w, 16384, 17);
  Slot s1, s2, s3, s4, s5, s6;
  arm(s1, IoOp::write, 0, 16384, w, /*fua=*/true);
  m->submit(s1.req);
  q->drain();
  ASSERT_TRUE(s1.status.is_ok()) << s1.status.message();
  arm(s2, IoOp::flush, 0, 0, nullptr);
  m->submit(s2.req);
  arm(s3, IoOp::read, 0, 16384, r);
  m->submit(s3.req);
  q->drain();
  ASSERT_TRUE(s2.status.is_ok()) << s2.status.message();
  ASSERT_TRUE(s3.status.is_ok()) << s3.status.message();
  EXPECT_EQ(std::memcmp(w, r, 16384), 0);

  arm(s4, IoOp::discard, 0, 8192, nullptr);
  m->submit(s4.req);
  q->drain();
  ASSERT_TRUE(s4.status.is_ok()) << s4.status.message();
  EXPECT_EQ(read_file(path, 0, 8192), std::vector<uint8_t>(8192, 0));

  // Rejected before the kernel, but still completed through the queue, never inline.
  arm(s5, IoOp::read, kMiB, 4096, r);
  arm(s6, IoOp::write, 3, 4096, w);
  m->submit(s5.req);
  m->submit(s6.req);
  if (!GetParam().reaper) {
    EXPECT_EQ(s5.calls.load(), 0);
    EXPECT_EQ(s6.calls.load(), 0);
  }
  q->drain();
  EXPECT_EQ(s5.status.code(), Err::no_space);
  EXPECT_EQ(s6.status.code(), Err::invalid);
  EXPECT_NE(s5.status.message().find(path + ": read at offset 1048576 (4096 bytes)"), std::string::npos);
}

// A file truncated behind the member's back: the ring sees a short read, resubmits the
// remainder, gets EOF, and reports an I/O error (no hang, no bogus success).
TEST_P(UringModes, TruncatedFileReportsEof) {
  TempDir dir;
  std::string path = dir.make_file("d0.img", kMiB);
  UringQueue::Options qo;
  qo.reaper_thread = GetParam().reaper;
  MAKE_QUEUE_OR_SKIP(q, qo);
  auto m = open_member(path, false, q.get());
  ASSERT_TRUE(m);
  ASSERT_EQ(::truncate(path.c_str(), 4096 + 2048), 0);
  AlignedBuffer r(8192);
  Slot s;
  arm(s, IoOp::read, 4096, 8192, r.data());
  m->submit(s.req);
  q->drain();
  EXPECT_EQ(s.status.code(), Err::io);
  EXPECT_NE(s.status.message().find("unexpected end of file after 2048 bytes"), std::string::npos)
      << s.status.message();
}

INSTANTIATE_TEST_SUITE_P(All, UringModes,
                         ::testing::Values(Mode{true, false}, Mode{false, false}, Mode{true, true},
                                           Mode{false, true}),
                         [](const auto& info) {
                           return std::string(info.param.direct ? "direct" : "buffered") +
                                  (info.param.reaper ? "_reaper" : "_reactor");
                         });

// The reactor never runs done() inside submit(); poll() does not block; wait(n) returns
// after n completions; done() may resubmit its own request.
TEST(UringQueue, ReactorPollWaitAndResubmitFromDone) {
  TempDir dir;
  std::string path = dir.make_file("d0.img", kMiB);
  MAKE_QUEUE_OR_SKIP(q, UringQueue::Options{});
  auto m = open_member(path, true, q.get());
  ASSERT_TRUE(m);
  AlignedBuffer buf(4096);
  int runs = 0;
  IoRequest req;
  req.op = IoOp::write;
  req.length = 4096;
  req.buf = buf.data();
  req.done = [&](Status s) {
    EXPECT_TRUE(s.is_ok()) << s.message();
    if (++runs < 10) {
      req.offset += 4096;
      m->submit(req);  // chain: the request is free to reuse inside done()
    }
  };
  m->submit(req);
  EXPECT_EQ(runs, 0);
  EXPECT_GE(q->wait(1), 1);
  q->drain();
  EXPECT_EQ(runs, 10);
  EXPECT_EQ(q->poll(), 0);
  EXPECT_EQ(q->wait(5), 0);  // nothing in flight: returns at once
}

TEST(UringQueue, DestructorDrains) {
  TempDir dir;
  std::string path = dir.make_file("d0.img", kMiB);
  std::vector<Slot> slots(32);
  AlignedBuffer buf(32 * 4096);
  {
    MAKE_QUEUE_OR_SKIP(q, UringQueue::Options{.depth = 8});
    auto m = open_member(path, true, q.get());
    ASSERT_TRUE(m);
    for (int i = 0; i < 32; ++i) {
      arm(slots[i], IoOp::write, i * 4096, 4096, buf.data() + i * 4096);
      m->submit(slots[i].req);
    }
    q.reset();  // member still alive: requests must all complete first
  }
  for (auto& s : slots) EXPECT_EQ(s.calls.load(), 1);
}

TEST(UringQueue, UnavailableRingFallsBackToSynchronous) {
  for (int e : {EPERM, ENOSYS}) {
    UringQueue::Options qo;
    qo.simulate_init_errno = e;
    auto r = UringQueue::create(qo);
    ASSERT_FALSE(r.is_ok());
    EXPECT_EQ(r.status().code(), Err::unsupported);
    EXPECT_NE(r.status().message().find("io_uring unavailable"), std::string::npos);
  }
  UringQueue::Options qo;
  qo.simulate_init_errno = ENOMEM;
  EXPECT_EQ(UringQueue::create(qo).status().code(), Err::retry);
  EXPECT_EQ(UringQueue::create(UringQueue::Options{.depth = 0}).status().code(), Err::invalid);

  // The caller's fallback: no ring, so submit() runs synchronously and inline.
  TempDir dir;
  std::string path = dir.make_file("d0.img", kMiB);
  auto m = open_member(path, true, nullptr);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->ring(), nullptr);
  AlignedBuffer w(4096), rd(4096);
  fill_pattern(w.data(), 4096, 23);
  Slot a, b;
  arm(a, IoOp::write, 8192, 4096, w.data());
  m->submit(a.req);
  EXPECT_EQ(a.calls.load(), 1);
  arm(b, IoOp::read, 8192, 4096, rd.data());
  m->submit(b.req);
  EXPECT_EQ(b.calls.load(), 1);
  EXPECT_TRUE(b.status.is_ok());
  EXPECT_EQ(std::memcmp(w.data(), rd.data(), 4096), 0);
}

// One reactor ring driving several members at once.
TEST(UringQueue, OneRingManyMembers) {
  TempDir dir;
  MAKE_QUEUE_OR_SKIP(q, UringQueue::Options{.depth = 16});
  std::vector<std::unique_ptr<FileMember>> ms;
  for (int i = 0; i < 4; ++i) {
    ms.push_back(open_member(dir.make_file("d" + std::to_string(i) + ".img", kMiB), i % 2 == 0, q.get()));
    ASSERT_TRUE(ms.back());
  }
  AlignedBuffer w(4 * 16 * 4096), r(4 * 16 * 4096);
  fill_pattern(w.data(), w.size(), 29);
  std::vector<Slot> slots(64);
  for (int i = 0; i < 64; ++i) {
    arm(slots[i], IoOp::write, (i / 4) * 4096, 4096, w.data() + i * 4096);
    ms[i % 4]->submit(slots[i].req);
  }
  q->drain();
  for (int i = 0; i < 64; ++i) {
    ASSERT_TRUE(slots[i].status.is_ok());
    arm(slots[i], IoOp::read, (i / 4) * 4096, 4096, r.data() + i * 4096);
    ms[i % 4]->submit(slots[i].req);
  }
  q->drain();
  EXPECT_EQ(std::memcmp(w.data(), r.data(), w.size()), 0);
}

}  // namespace
}  // namespace umd::io
