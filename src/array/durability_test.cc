// What a FLUSH and stop() promise (array.h), where the members that take a slot's data
// are more than the slot's old member: a --replace copying onto its replacement. And the
// door (array.h): a request that must wait is parked, and the others go on.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "array/array.h"
#include "array/array_test_fixture.h"
#include "array/power_cut_util.h"
#include "format/superblock1.h"
#include "util/aligned_buffer.h"

namespace umd::engine {
namespace {

using namespace std::chrono_literals;

class DurabilityTest : public testing::ArrayFixture {
 protected:
  // raid1 of two 16 MiB members behind FaultyMembers (write cache on), a third one added
  // as a spare, and `--replace d1.img` held at half of the copy by sync_max. With
  // `bitmap`, an internal bitmap whose bits clear after 1 s of quiet.
  // `wrap`, if given, goes in front of the spare's FaultyMember.
  using Wrap = std::function<std::unique_ptr<io::Member>(std::unique_ptr<io::Member>)>;
  void start_replace_held_half_way(bool bitmap = false, Wrap wrap = nullptr) {
    paths_ = make_array("1", 2, 16);
    a_ = assemble_faulty(paths_, &fms_);
    ASSERT_TRUE(a_);
    if (bitmap) {
      ASSERT_TRUE(a_->set_bitmap("internal").is_ok());
      ASSERT_TRUE(a_->set_attr("bitmap/time_base", "1").is_ok());
    }
    const std::string spare = (dir_ / "spare.img").string();
    FILE* f = fopen(spare.c_str(), "w");
    fclose(f);
    std::filesystem::resize_file(spare, 16 << 20);
    io::OpenOptions oo;
    oo.direct = false;
    auto dev = io::open_file_member(spare, oo);
    ASSERT_TRUE(dev.is_ok());
    auto fm = std::make_unique<io::FaultyMember>(std::move(dev).value());
    spare_ = fm.get();
    std::unique_ptr<io::Member> m = std::move(fm);
    if (wrap) m = wrap(std::move(m));
    ASSERT_TRUE(a_->add_member(std::move(m), spare, false).is_ok());
    half_ = a_->size_bytes() / 512 / 2 / 8 * 8;
    ASSERT_TRUE(a_->set_attr("sync_max", std::to_string(half_)).is_ok());
    ASSERT_TRUE(a_->replace_member("d1.img", "").is_ok());
    ASSERT_TRUE(wait_until([&] { return attr("dev-spare.img/recovery_start") == std::to_string(half_); }, 5s))
        << "the copy never reached sync_max: " << attr("dev-spare.img/recovery_start");
    // The checkpoint's superblocks (flushed) put the copy point on the replacement.
    ASSERT_TRUE(wait_until([&] { return spare_->dirty_bytes() == 0; }, 5s))
        << spare_->dirty_bytes() << " dirty; sync_completed " << attr("sync_completed") << " publishes " << attr("umd/sync_stats");
  }

  std::string attr(const std::string& name) { return attr_of(*a_, name); }

  std::vector<std::string> paths_;
  std::vector<io::FaultyMember*> fms_;
  io::FaultyMember* spare_ = nullptr;
  std::unique_ptr<Array> a_;
  uint64_t half_ = 0;
};

// The replacement claims the range below the copy point (its recovery_offset), so a
// write there that a FLUSH acknowledged must be durable on it too, not only on the old
// member: after a power cut the replacement alone must hold it.
TEST_F(DurabilityTest, FlushDuringReplaceIsDurableOnTheReplacement) {
  start_replace_held_half_way();
  auto data = pattern(1 << 20, 41);
  AlignedBuffer buf(data.size());
  std::memcpy(buf.data(), data.data(), data.size());
  const uint64_t off = half_ * 512 / 2;  // below the copy point
  ASSERT_TRUE(io(*a_, BlockOp::write, off, buf.size(), buf.data()).is_ok());
  ASSERT_TRUE(io(*a_, BlockOp::flush, 0, 0, nullptr).is_ok());
  for (auto* m : fms_) EXPECT_EQ(m->dirty_bytes(), 0u) << m->name();
  EXPECT_EQ(spare_->dirty_bytes(), 0u) << "an acknowledged FLUSH left the replacement's cache dirty";
  // Power cut: every member loses what it did not make durable.
  for (auto* m : fms_) m->vanish();
  spare_->vanish();
  for (auto* m : fms_) m->power_cut();
  spare_->power_cut();
  a_.reset();
  const MemberInfo si = info_of((dir_ / "spare.img").string());
  ASSERT_TRUE(si.recovery_offset_valid);
  ASSERT_GE(si.recovery_offset * 512, off + data.size()) << "the replacement claims the written range";
  std::vector<uint8_t> back(data.size());
  std::FILE* f = std::fopen((dir_ / "spare.img").c_str(), "rb");
  ASSERT_TRUE(f);
  ASSERT_EQ(std::fseek(f, long(si.data_offset * 512 + off), SEEK_SET), 0);
  ASSERT_EQ(std::fread(back.data(), 1, back.size(), f), back.size());
  std::fclose(f);
  EXPECT_TRUE(back == data) << "the replacement lost a write a FLUSH acknowledged";
}

// Holds the superblock write that makes a member a slot's own (no recovery offset, no
// replacement flag, a slot role) until opened.
class SuperblockGate final : public io::MemberWrapper {
 public:
  explicit SuperblockGate(std::unique_ptr<io::Member> m) : MemberWrapper(std::move(m)) {}
  void submit(io::IoRequest& req) override {
    if (req.op == io::IoOp::write && takes_slot(req)) {
      std::unique_lock l(mu_);
      hit_ = true;
      cv_.notify_all();
      cv_.wait(l, [&] { return open_; });
      passed_ = true;
    }
    MemberWrapper::submit(req);
  }
  bool wait_hit(std::chrono::seconds t) {
    std::unique_lock l(mu_);
    return cv_.wait_for(l, t, [&] { return hit_; });
  }
  void open() {
    std::lock_guard l(mu_);
    open_ = true;
    cv_.notify_all();
  }
  bool passed() {
    std::lock_guard l(mu_);
    return passed_;
  }

 private:
  static bool takes_slot(const io::IoRequest& req) {
    auto sb = decode_superblock1(std::span<const uint8_t>(req.buf, req.length));
    if (!sb.is_ok()) return false;
    if (sb->feature_map & (kFeatureRecoveryOffset | kFeatureReplacement)) return false;
    return sb->dev_number < sb->dev_roles.size() && sb->dev_roles[sb->dev_number] < kRoleMax;
  }
  std::mutex mu_;
  std::condition_variable cv_;
  bool hit_ = false, open_ = false, passed_ = false;
};

// When a --replace completes, the superblocks name the new member as the slot's before
// any write reaches it alone: a write acknowledged earlier would, after a crash, be
// missing from the old member the superblocks still name (found by umd_torture).
TEST_F(DurabilityTest, ReplaceCompletionIsOnDiskBeforeWritesGoToTheNewMemberAlone) {
  SuperblockGate* gate = nullptr;
  start_replace_held_half_way(false, [&](std::unique_ptr<io::Member> m) {
    auto g = std::make_unique<SuperblockGate>(std::move(m));
    gate = g.get();
    return g;
  });
  // Active (a write, and no going clean meanwhile), as under a steady stream of writes:
  // the write below then needs no superblock of its own.
  a_->set_safe_mode_delay(std::chrono::hours(1));
  AlignedBuffer first(4096);
  ASSERT_TRUE(io(*a_, BlockOp::write, 0, first.size(), first.data()).is_ok());
  ASSERT_TRUE(a_->set_attr("sync_max", "max").is_ok());
  ASSERT_TRUE(gate->wait_hit(60s)) << "the replace never completed: " << attr("sync_completed");
  std::mutex mu;
  std::condition_variable cv;
  bool done = false, before_superblocks = false;
  AlignedBuffer buf(4096);
  std::memset(buf.data(), 0x6b, buf.size());
  BlockRequest w{BlockOp::write, true, 1 << 20, 4096, buf.data(), [&](Status s) {
                   EXPECT_TRUE(s.is_ok()) << s.message();
                   std::lock_guard l(mu);
                   before_superblocks = !gate->passed();
                   done = true;
                   cv.notify_all();
                 }};
  a_->submit(w);
  ASSERT_TRUE(wait_until([&] {
    std::lock_guard l(mu);
    return done || a_->parked_requests() > 0;
  }, 60s));
  gate->open();
  std::unique_lock l(mu);
  ASSERT_TRUE(cv.wait_for(l, 60s, [&] { return done; }));
  EXPECT_FALSE(before_superblocks) << "a write was acknowledged before the superblocks named the replacement";
}

// stop() flushes every member that takes data, the replacement included.
TEST_F(DurabilityTest, StopDuringReplaceLeavesTheReplacementDurable) {
  start_replace_held_half_way();
  auto data = pattern(256 << 10, 42);
  AlignedBuffer buf(data.size());
  std::memcpy(buf.data(), data.data(), data.size());
  ASSERT_TRUE(io(*a_, BlockOp::write, 4096, buf.size(), buf.data()).is_ok());
  ASSERT_TRUE(a_->stop().is_ok());
  for (auto* m : fms_) EXPECT_EQ(m->dirty_bytes(), 0u) << m->name();
  EXPECT_EQ(spare_->dirty_bytes(), 0u) << "stop() left the replacement's cache dirty";
}

// The bitmap clears bits only after flush_members(): with a --replace under way that must
// flush the replacement too, or a cleared bit would hide a write it may not hold.
TEST_F(DurabilityTest, BitmapClearFlushesTheReplacement) {
  start_replace_held_half_way(true);
  auto data = pattern(64 << 10, 43);
  AlignedBuffer buf(data.size());
  std::memcpy(buf.data(), data.data(), data.size());
  ASSERT_TRUE(io(*a_, BlockOp::write, 8192, buf.size(), buf.data()).is_ok());
  // No client flush: only the bitmap's own flush before it clears the bit.
  ASSERT_TRUE(wait_until([&] { return attr("bitmap/umd_dirty_chunks") == "0"; }))
      << "the bit never cleared: " << attr("bitmap/umd_dirty_chunks");
  EXPECT_EQ(spare_->dirty_bytes(), 0u) << "a bit was cleared while the replacement still cached the write";
}

// A write into md's suspend window waits, but it holds nobody else: a read and a write
// elsewhere, submitted after it from the same thread, complete first.
TEST_F(DurabilityTest, SuspendedWriteIsParkedAndOthersGoOn) {
  paths_ = make_array("5", 3, 8);
  a_ = assemble_faulty(paths_, &fms_);
  ASSERT_TRUE(a_);
  ASSERT_TRUE(a_->set_attr("suspend_lo", "0").is_ok());
  ASSERT_TRUE(a_->set_attr("suspend_hi", "4096").is_ok());
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int> order;
  auto note = [&](int id) {
    return [&, id](Status s) {
      EXPECT_TRUE(s.is_ok()) << id << ": " << s.message();
      std::lock_guard l(mu);
      order.push_back(id);
      cv.notify_all();
    };
  };
  AlignedBuffer b1(4096), b2(4096), b3(4096);
  BlockRequest r1{BlockOp::write, false, 0, 4096, b1.data(), note(1)};
  BlockRequest r2{BlockOp::read, false, 4 << 20, 4096, b2.data(), note(2)};
  BlockRequest r3{BlockOp::write, false, 5 << 20, 4096, b3.data(), note(3)};
  a_->submit(r1);  // returns at once: parked, not waited for
  a_->submit(r2);
  a_->submit(r3);
  {
    std::unique_lock l(mu);
    ASSERT_TRUE(cv.wait_for(l, 60s, [&] { return order.size() == 2; }));
    EXPECT_EQ(order, (std::vector<int>{2, 3}));
  }
  ASSERT_TRUE(a_->set_attr("suspend_hi", "0").is_ok());
  std::unique_lock l(mu);
  ASSERT_TRUE(cv.wait_for(l, 60s, [&] { return order.size() == 3; }));
  EXPECT_EQ(order.back(), 1);
}

// md fails a member whose bitmap write fails: a write whose bit cannot reach one copy
// must not reach that member, and the member is failed before the write completes.
class BitmapCopyFailureTest : public DurabilityTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(BitmapCopyFailureTest, AMemberWhoseBitmapCopyFailsIsFailedBeforeTheWriteReachesIt) {
  paths_ = make_array("1", 3, 16);
  a_ = assemble_faulty(paths_, &fms_);
  ASSERT_TRUE(a_);
  ASSERT_TRUE(a_->set_bitmap(GetParam()).is_ok());
  AlignedBuffer buf(64 << 10);
  std::memset(buf.data(), 0x61, buf.size());
  ASSERT_TRUE(io(*a_, BlockOp::write, 0, buf.size(), buf.data()).is_ok());  // active, a first bit
  if (std::string(GetParam()) == "internal") {
    // Its chunks are large (the whole array is one): the bit is cleared first, so the
    // next write sets it again.
    ASSERT_TRUE(a_->set_attr("bitmap/time_base", "1").is_ok());
    ASSERT_TRUE(wait_until([&] { return attr("bitmap/umd_dirty_chunks") == "0"; }))
        << attr("bitmap/umd_dirty_chunks");
  }
  // d1's bitmap area (from its superblock to its data) refuses every write from now on.
  const MemberInfo mi = info_of(paths_[1]);
  ASSERT_TRUE(mi.has_internal_bitmap);
  const uint64_t bm = (mi.super_offset + uint64_t(int64_t(mi.bitmap_offset))) * 512;
  fms_[1]->fail_writes(bm, mi.data_offset * 512 - bm);
  // A chunk far from the first: its bit is new, so the bitmap writes before the data.
  std::memset(buf.data(), 0x62, buf.size());
  ASSERT_TRUE(io(*a_, BlockOp::write, 12 << 20, buf.size(), buf.data()).is_ok());
  EXPECT_EQ(attr("dev-d1.img/state"), "faulty");
  AlignedBuffer on_d1(buf.size());
  ASSERT_TRUE(fms_[1]->read(mi.data_offset * 512 + (12 << 20), on_d1.span()).is_ok());
  EXPECT_NE(on_d1.data()[0], 0x62) << "d1 took a write its bitmap copy does not cover";
  AlignedBuffer on_d0(buf.size());
  ASSERT_TRUE(fms_[0]->read(mi.data_offset * 512 + (12 << 20), on_d0.span()).is_ok());
  EXPECT_EQ(on_d0.data()[0], 0x62) << "test bug: the write did not reach d0";
  EXPECT_EQ(attr("degraded"), "1");
  ASSERT_TRUE(a_->stop().is_ok());
  a_.reset();
  // The others' superblocks record it faulty.
  EXPECT_EQ(info_of(paths_[0]).roles_of_dev_numbers.at(mi.dev_number), MemberInfo::kFaulty);
}

INSTANTIATE_TEST_SUITE_P(Kinds, BitmapCopyFailureTest, ::testing::Values("internal", "lockless"));

// Two power cuts in a row, each in the middle of the superblocks' writes (the first one
// after a client write turns the array active): the first leaves some members one event
// behind, which assembly accepts; the second must not leave them two behind the others
// (stale, and the array refused), so the members behind are written before the freshest.
// Every pair of cut points over a raid5 of 4 members whose member I/O completes in order.
class SuperblockCutTest : public testing::ArrayFixture {
 protected:
  static constexpr uint64_t kSbOffset = 8 * 512;  // 1.2: 4 KiB from the start

  // Assembles, writes a block, and cuts the power at superblock write `cut_at` (counted
  // from 1 in this run); then the members' unflushed writes are gone.
  void run_cut_at(const std::vector<std::string>& paths, uint64_t cut_at) {
    testing::PowerSwitch ps;
    ps.cut_at = cut_at;
    ps.only_offset = kSbOffset;
    std::vector<std::unique_ptr<io::Member>> devs;
    for (auto& p : paths) {
      auto m = testing::switched_file_member(p, &ps);
      ASSERT_TRUE(m.is_ok()) << m.status().message();
      devs.push_back(std::move(m).value());
    }
    auto a = Array::assemble_members("t", std::move(devs), {});
    ASSERT_TRUE(a.is_ok()) << a.status().message();
    AlignedBuffer buf(4096);
    std::memset(buf.data(), 0x5a, buf.size());
    (void)io(**a, BlockOp::write, 0, buf.size(), buf.data());  // fails once the power is cut
    ASSERT_TRUE(ps.cut.load()) << "no cut at superblock write " << cut_at << " of " << ps.writes.load();
    for (io::FaultyMember* m : ps.members) m->power_cut();
    a->reset();
  }

  std::vector<uint64_t> events(const std::vector<std::string>& paths) {
    std::vector<uint64_t> out;
    for (auto& p : paths) out.push_back(info_of(p).events);
    return out;
  }
};

TEST_F(SuperblockCutTest, TwoCutsInSuperblockWritesLeaveNoMemberTwoEventsBehind) {
  for (uint64_t first = 2; first <= 4; first++) {
    for (uint64_t second = 1; second <= 4; second++) {
      SCOPED_TRACE("cuts at superblock writes " + std::to_string(first) + " and " + std::to_string(second));
      std::filesystem::remove_all(dir_);
      std::filesystem::create_directories(dir_);
      const auto paths = make_array("5", 4);
      run_cut_at(paths, first);
      auto ev = events(paths);
      ASSERT_LE(*std::max_element(ev.begin(), ev.end()) - *std::min_element(ev.begin(), ev.end()), 1u);
      ASSERT_NE(*std::max_element(ev.begin(), ev.end()), *std::min_element(ev.begin(), ev.end()))
          << "the first cut left every member at one count: nothing to test";
      run_cut_at(paths, second);
      ev = events(paths);
      EXPECT_LE(*std::max_element(ev.begin(), ev.end()) - *std::min_element(ev.begin(), ev.end()), 1u)
          << ev[0] << " " << ev[1] << " " << ev[2] << " " << ev[3];
      std::vector<io::FaultyMember*> fms;
      auto a = assemble_faulty(paths, &fms);
      ASSERT_TRUE(a) << "assembly after the second cut";
      EXPECT_EQ(attr_of(*a, "degraded"), "0");
      ASSERT_TRUE(a->stop().is_ok());
    }
  }
}

}  // namespace
}  // namespace umd::engine
