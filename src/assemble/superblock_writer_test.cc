// The superblock writer's ordering: a superblock that vouches for data (a recovery
// checkpoint, a clean state) must not reach the disk before that data can.
#include <gtest/gtest.h>

#include <mutex>
#include <string>
#include <vector>

#include "assemble/engine_test_util.h"
#include "assemble/superblock_writer.h"
#include "io/fault_member.h"

namespace umd::engine {
namespace {
using namespace testing;

// Records the ops that reach a member, in order ("flush", "write@OFFSET").
class RecordingMember final : public io::MemberWrapper {
 public:
  RecordingMember(std::unique_ptr<io::Member> m, std::vector<std::string>* log)
      : MemberWrapper(std::move(m)), log_(log) {}
  Status write(uint64_t offset, std::span<const uint8_t> buf, bool fua) override {
    log_->push_back("write@" + std::to_string(offset));
    return MemberWrapper::write(offset, buf, fua);
  }
  Status flush() override {
    log_->push_back("flush");
    return MemberWrapper::flush();
  }
  // Synchronous, so the recorded order is the order of submission.
  void submit(io::IoRequest& req) override { io::Member::submit(req); }

 private:
  std::vector<std::string>* log_;
};

TEST(SuperblockWriterTest, FlushesBeforeAndAfterTheSuperblockWrite) {
  constexpr uint64_t kSectors = 8192;
  std::vector<std::string> log;
  auto ram = member_with_sb1("d0.img", kSectors, make_sb1(2, kSectors, 1, 2, 0));
  ProbedMember m = probed(std::make_unique<RecordingMember>(std::move(ram), &log));
  log.clear();  // the probe's reads are not recorded; nothing else is expected yet
  ArrayState st;
  st.events = m.info.events + 1;
  const std::vector<Status> r = write_superblocks({SuperblockTarget{&m}}, st);
  ASSERT_EQ(r.size(), 1u);
  ASSERT_TRUE(r[0].is_ok()) << r[0].message();
  const std::vector<std::string> want = {"flush", "write@4096", "flush"};
  EXPECT_EQ(log, want);
}

// What the order buys: data written before a checkpoint survives a power cut that keeps
// the new superblock, whichever of the cached blocks the cut keeps.
TEST(SuperblockWriterTest, DataBeforeTheSuperblockIsDurableWhenTheSuperblockIs) {
  constexpr uint64_t kSectors = 8192;
  auto ram = member_with_sb1("d0.img", kSectors, make_sb1(2, kSectors, 1, 2, 0));
  io::MemoryMember* raw = ram.get();
  auto faulty = std::make_unique<io::FaultyMember>(std::make_unique<BorrowedMember>(raw));
  io::FaultyMember* f = faulty.get();
  ProbedMember m = probed(std::move(faulty));
  std::vector<uint8_t> data(4096, 0x5a);
  ASSERT_TRUE(f->write(1 << 20, data, false).is_ok());  // in the volatile cache
  // The superblock's own write fails: with the flush first, the data is on disk anyway.
  f->fail_writes(4096, 4096, EIO, 1);
  ArrayState st;
  st.events = m.info.events + 1;
  const std::vector<Status> r = write_superblocks({SuperblockTarget{&m}}, st);
  ASSERT_FALSE(r[0].is_ok());
  f->power_cut();
  EXPECT_EQ(raw->raw()[1 << 20], 0x5a) << "the block written before the superblock was not flushed first";
}

}  // namespace
}  // namespace umd::engine
