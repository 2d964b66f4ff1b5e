// FaultHooks (UMD_TEST_FAULTS): the write cache of =cache, and the power cut's order —
// the gate for every member, every member vanishing, then every cache dropped.
#include "daemon/fault_hooks.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "daemon/daemon_test_util.h"
#include "util/aligned_buffer.h"

namespace umd::daemon {
namespace {

constexpr uint64_t kSize = 1 << 20;
constexpr size_t kBlock = 4096;

// The temporary directory of the daemon tests (its images live in dir_).
class FaultHooksTest : public testing::TempRuntime {
 protected:
  std::string image(const std::string& name) {
    const std::string p = dir_ + "/" + name;
    std::ofstream(p, std::ios::binary).close();
    std::filesystem::resize_file(p, kSize);
    return p;
  }
  // Opens path through the hooks and registers it, as the array's assembly does.
  std::unique_ptr<io::Member> open(FaultHooks& hooks, const std::string& path) {
    auto m = hooks.open(path, false);
    EXPECT_TRUE(m.is_ok()) << m.status().message();
    if (!m.is_ok()) return nullptr;
    hooks.commit();
    return std::move(*m);
  }
  static AlignedBuffer block(uint8_t fill) {
    AlignedBuffer b(kBlock);
    std::memset(b.data(), fill, kBlock);
    return b;
  }
  // The first byte of the block at offset in the file itself (what survives the process).
  static int on_file(const std::string& path, uint64_t offset) {
    std::ifstream f(path, std::ios::binary);
    f.seekg(std::streamoff(offset));
    char c = 0;
    f.read(&c, 1);
    return f ? static_cast<uint8_t>(c) : -1;
  }
};

TEST_F(FaultHooksTest, WithoutTheCacheWritesReachTheFileAtOnce) {
  FaultHooks hooks;
  EXPECT_FALSE(hooks.write_cache());
  const std::string p = image("d0.img");
  auto m = open(hooks, p);
  ASSERT_TRUE(m);
  ASSERT_TRUE(m->write(0, block(0x11).span(), false).is_ok());
  EXPECT_EQ(on_file(p, 0), 0x11);
}

TEST_F(FaultHooksTest, WithTheCacheAWriteReachesTheFileOnlyWhenFlushedOrFua) {
  FaultHooks hooks(true);
  const std::string p = image("d0.img");
  auto m = open(hooks, p);
  ASSERT_TRUE(m);
  ASSERT_TRUE(m->write(0, block(0x22).span(), false).is_ok());
  ASSERT_TRUE(m->write(kBlock, block(0x33).span(), true).is_ok());
  EXPECT_EQ(on_file(p, 0), 0);
  EXPECT_EQ(on_file(p, kBlock), 0x33);
  AlignedBuffer got(kBlock);
  ASSERT_TRUE(m->read(0, got.span()).is_ok());
  EXPECT_EQ(got.data()[0], 0x22);  // the member reads its own cached write
  ASSERT_TRUE(m->flush().is_ok());
  EXPECT_EQ(on_file(p, 0), 0x22);
}

TEST_F(FaultHooksTest, PowerCutKeepsWhatWasFlushedDropsTheRestAndStopsEveryMember) {
  FaultHooks hooks(true);
  const std::string p0 = image("d0.img"), p1 = image("d1.img");
  auto m0 = open(hooks, p0);
  auto m1 = open(hooks, p1);
  ASSERT_TRUE(m0 && m1);
  for (auto* m : {m0.get(), m1.get()}) {
    ASSERT_TRUE(m->write(0, block(0x44).span(), false).is_ok());
    ASSERT_TRUE(m->flush().is_ok());
    ASSERT_TRUE(m->write(kBlock, block(0x55).span(), false).is_ok());  // never flushed
    ASSERT_TRUE(m->write(2 * kBlock, block(0x66).span(), true).is_ok());
  }
  EXPECT_EQ(hooks.inject(normal_path(dir_ + "/nowhere.img"), "power-cut").code(), Err::not_found);
  // Naming one member cuts them all.
  ASSERT_TRUE(hooks.inject(normal_path(p1), "power-cut").is_ok());
  for (const std::string& p : {p0, p1}) {
    EXPECT_EQ(on_file(p, 0), 0x44) << p;
    EXPECT_EQ(on_file(p, kBlock), 0) << p << ": an unflushed write survived the cut";
    EXPECT_EQ(on_file(p, 2 * kBlock), 0x66) << p;
  }
  for (auto* m : {m0.get(), m1.get()}) {
    AlignedBuffer b(kBlock);
    Status s = m->read(0, b.span());
    EXPECT_FALSE(s.is_ok());
    EXPECT_NE(s.message().find("[power cut]"), std::string::npos) << s.message();
    EXPECT_FALSE(m->write(0, block(0x77).span(), true).is_ok());
    EXPECT_FALSE(m->flush().is_ok());
    EXPECT_FALSE(m->discard(0, kBlock).is_ok());
    Status done = Status::ok();
    int calls = 0;
    io::IoRequest req{io::IoOp::flush, false, 0, 0, nullptr, [&](Status st) {
                        done = std::move(st);
                        calls++;
                      }};
    m->submit(req);
    EXPECT_EQ(calls, 1);
    EXPECT_FALSE(done.is_ok());
  }
  EXPECT_EQ(on_file(p0, 0), 0x44);  // the write with FUA after the cut did not land
}

TEST_F(FaultHooksTest, UnknownActionsNameThePowerCut) {
  FaultHooks hooks(true);
  const std::string p = image("d0.img");
  auto m = open(hooks, p);
  ASSERT_TRUE(m);
  Status s = hooks.inject(normal_path(p), "explode");
  EXPECT_EQ(s.code(), Err::invalid);
  EXPECT_NE(s.message().find("power-cut"), std::string::npos) << s.message();
}

// A writer writes version v of one block to two members without FUA, flushes both and
// counts v as acknowledged only when both flushes succeeded (as the array acknowledges a
// client FLUSH). Whenever the cut comes, each file holds the last acknowledged version
// or a later one: an acknowledged flush never loses its data.
TEST_F(FaultHooksTest, AFlushAcknowledgedOnEveryMemberSurvivesACutAtAnyMoment) {
  for (int round = 0; round < 20; round++) {
    FaultHooks hooks(true);
    const std::string p0 = image("r" + std::to_string(round) + "a.img");
    const std::string p1 = image("r" + std::to_string(round) + "b.img");
    auto m0 = open(hooks, p0);
    auto m1 = open(hooks, p1);
    ASSERT_TRUE(m0 && m1);
    std::atomic<int> acked{0};
    std::atomic<bool> started{false};
    std::thread writer([&] {
      for (int v = 1; v < 250; v++) {
        bool ok = true;
        for (auto* m : {m0.get(), m1.get()})
          ok = m->write(0, block(uint8_t(v)).span(), false).is_ok() && ok;
        for (auto* m : {m0.get(), m1.get()}) ok = m->flush().is_ok() && ok;
        if (!ok) return;
        acked.store(v);
        started.store(true);
      }
    });
    while (!started.load()) std::this_thread::yield();
    for (int i = 0; i < round; i++) std::this_thread::yield();
    EXPECT_TRUE(hooks.inject(normal_path(p0), "power-cut").is_ok());
    writer.join();
    for (const std::string& p : {p0, p1}) {
      const int v = on_file(p, 0);
      EXPECT_GE(v, acked.load()) << p << ": acknowledged version " << acked.load()
                                 << " lost (round " << round << ")";
    }
  }
}

}  // namespace
}  // namespace umd::daemon
