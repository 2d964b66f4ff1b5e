// Level changes on running arrays of image files (array_takeover.cc): the data stays
// where it is, new slots are rebuilt by recovery from spares, check finds nothing, and
// the superblocks assemble again as the new level.
#include <gtest/gtest.h>

#include <cstring>

#include "array/array_test_fixture.h"
#include "array/power_cut_util.h"

namespace umd::engine {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class TakeoverArrayTest : public testing::ArrayFixture {
 protected:
  // An array of n 8 MiB members holding a pattern.
  void make(const std::string& level, unsigned n, const std::string& metadata = "1.2") {
    paths_ = make_array(level, n, 8, metadata);
    a_ = assemble_faulty(paths_, &fms_);
    ASSERT_TRUE(a_);
    data_ = pattern(a_->size_bytes(), 11);
    AlignedBuffer buf(data_.size());
    std::memcpy(buf.data(), data_.data(), data_.size());
    ASSERT_TRUE(io(*a_, BlockOp::write, 0, buf.size(), buf.data()).is_ok());
  }
  std::string add_spare() {
    const std::string p = (dir_ / ("s" + std::to_string(spares_.size()) + ".img")).string();
    FILE* f = fopen(p.c_str(), "w");
    fclose(f);
    fs::resize_file(p, 8 << 20);
    EXPECT_TRUE(a_->add_member(p, false).is_ok());
    spares_.push_back(p);
    return p;
  }
  Status to(int level, bool preserve = true, std::optional<uint32_t> disks = {}) {
    ReshapeRequest rq;
    rq.level = level;
    rq.preserve_layout = preserve;
    rq.raid_disks = disks;
    return a_->start_reshape(rq);
  }
  void expect_data(Array& a) {
    ASSERT_EQ(a.size_bytes(), data_.size());
    AlignedBuffer back(data_.size());
    ASSERT_TRUE(io(a, BlockOp::read, 0, back.size(), back.data()).is_ok());
    EXPECT_EQ(std::memcmp(back.data(), data_.data(), data_.size()), 0);
  }
  // Waits for the recovery the change started, then checks (where the level has redundancy).
  void settle_and_check() {
    ASSERT_TRUE(a_->sync_engine().wait_idle(60s)) << attr_of(*a_, "sync_action");
    EXPECT_EQ(attr_of(*a_, "degraded"), "0");
    if (a_->detail().level == 0) return;
    ASSERT_TRUE(a_->set_attr("sync_action", "check").is_ok());
    ASSERT_TRUE(a_->sync_engine().wait_idle(60s));
    EXPECT_EQ(attr_of(*a_, "mismatch_cnt"), "0");
  }
  // check, when nothing is missing (a degraded raid6 has nothing to check against)
  void check_clean_if_whole() {
    if (attr_of(*a_, "degraded") != "0") return;
    ASSERT_TRUE(a_->set_attr("sync_action", "check").is_ok());
    ASSERT_TRUE(a_->sync_engine().wait_idle(60s));
    EXPECT_EQ(attr_of(*a_, "mismatch_cnt"), "0");
  }
  // Stops the array and assembles these members again.
  void reassemble(const std::vector<std::string>& paths) {
    ASSERT_TRUE(a_->stop().is_ok());
    a_.reset();
    fms_.clear();
    a_ = assemble_faulty(paths, &fms_);
    ASSERT_TRUE(a_);
  }
  std::vector<std::string> all() const {
    std::vector<std::string> v = paths_;
    v.insert(v.end(), spares_.begin(), spares_.end());
    return v;
  }

  std::vector<std::string> paths_, spares_;
  std::vector<io::FaultyMember*> fms_;
  std::unique_ptr<Array> a_;
  std::vector<uint8_t> data_;
};

// mdadm's way from a mirror to raid6: raid1 -> raid5 (2 disks), grow to 3, -> raid6.
TEST_F(TakeoverArrayTest, Raid1ToRaid5ToRaid6) {
  make("1", 2);
  ASSERT_TRUE(to(5, false).is_ok());
  EXPECT_EQ(attr_of(*a_, "level"), "raid5");
  EXPECT_EQ(attr_of(*a_, "chunk_size"), std::to_string(64 * 1024));
  const MemberInfo r5 = info_of(paths_[1]);
  EXPECT_EQ(r5.level, 5);
  EXPECT_EQ(r5.layout, 2u);
  EXPECT_EQ(r5.chunk_sectors, 128u);
  expect_data(*a_);
  settle_and_check();
  // Grown to three disks by a reshape, then raid6 with Q on a fourth.
  add_spare();
  ASSERT_TRUE(a_->start_reshape(ReshapeRequest{3, {}, {}, {}, false, false}).is_ok());
  ASSERT_TRUE(a_->sync_engine().wait_idle(60s));
  ASSERT_FALSE(a_->detail().reshape.has_value());
  data_.resize(a_->size_bytes(), 0);  // the grown part reads zeros
  expect_data(*a_);
  add_spare();
  {
    Status s = to(6);
    ASSERT_TRUE(s.is_ok()) << int(s.code()) << " " << s.message() << " / " << a_->detail().level;
  }
  EXPECT_EQ(attr_of(*a_, "level"), "raid6");
  EXPECT_EQ(attr_of(*a_, "raid_disks"), "4");
  EXPECT_EQ(attr_of(*a_, "layout"), "18");  // left-symmetric-6
  settle_and_check();
  expect_data(*a_);
  reassemble(all());
  EXPECT_EQ(a_->detail().level, 6);
  expect_data(*a_);
  // And back to raid5: the Q member stays as a spare.
  ASSERT_TRUE(to(5, false).is_ok());
  EXPECT_EQ(attr_of(*a_, "layout"), "2");
  expect_data(*a_);
  size_t spares = 0;
  for (const MemberDetail& m : a_->detail().members) spares += m.slot < 0 && m.state == "spare";
  EXPECT_EQ(spares, 1u);
  settle_and_check();
}

// 0.90 superblocks take the new level as super_90_sync writes it: raid5 -> raid6 (Q
// recovered onto a spare) -> raid5 again, each assembled again from the members.
TEST_F(TakeoverArrayTest, V090Raid5ToRaid6AndBack) {
  make("5", 3, "0.90");
  add_spare();
  ASSERT_TRUE(to(6).is_ok());
  EXPECT_EQ(attr_of(*a_, "layout"), "18");  // left-symmetric-6
  settle_and_check();
  expect_data(*a_);
  reassemble(all());
  const MemberInfo r6 = info_of(spares_[0]);
  EXPECT_EQ(r6.metadata_major, 0);
  EXPECT_EQ(r6.level, 6);
  EXPECT_EQ(r6.layout, 18u);
  EXPECT_EQ(r6.raid_disks, 4u);
  EXPECT_EQ(r6.role, 3);
  EXPECT_EQ(a_->detail().level, 6);
  expect_data(*a_);
  ASSERT_TRUE(to(5, false).is_ok());
  EXPECT_EQ(attr_of(*a_, "layout"), "2");
  settle_and_check();
  reassemble(all());
  EXPECT_EQ(a_->detail().level, 5);
  EXPECT_EQ(info_of(paths_[0]).raid_disks, 3u);
  EXPECT_EQ(info_of(spares_[0]).role, MemberInfo::kSpare);  // the Q member stays as a spare
  expect_data(*a_);
}

// raid0 -> raid5 the mdadm way restripes to left-symmetric in place, which on 0.90 needs a
// backup file: refused, nothing changed; with --layout=preserve (parity-last) it converts.
TEST_F(TakeoverArrayTest, V090Raid0ToRaid5RestripeNeedsABackupFile) {
  make("0", 3, "0.90");
  add_spare();
  Status s = to(5, false);
  EXPECT_EQ(s.code(), Err::unsupported) << s.message();
  EXPECT_NE(s.message().find("--layout=preserve"), std::string::npos) << s.message();
  EXPECT_EQ(attr_of(*a_, "level"), "raid0");
  EXPECT_EQ(info_of(paths_[0]).level, 0);
  ASSERT_TRUE(to(5).is_ok());
  EXPECT_EQ(attr_of(*a_, "layout"), "5");  // parity-last
  settle_and_check();
  reassemble(all());
  EXPECT_EQ(a_->detail().level, 5);
  expect_data(*a_);
}

TEST_F(TakeoverArrayTest, Raid0ToRaid5AndBackToRaid0) {
  make("0", 3);
  add_spare();
  ASSERT_TRUE(to(5).is_ok());
  EXPECT_EQ(attr_of(*a_, "layout"), "5");  // parity-last: the new fourth slot
  // The kernel refuses the raid0-layout feature bit on a raid5 superblock.
  EXPECT_FALSE(info_of(paths_[0]).raid0_layout_flag);
  settle_and_check();
  expect_data(*a_);
  reassemble(all());
  EXPECT_EQ(a_->detail().level, 5);
  expect_data(*a_);
  // Back: the parity member leaves the array.
  ASSERT_TRUE(to(0, false).is_ok());
  EXPECT_EQ(attr_of(*a_, "raid_disks"), "3");
  expect_data(*a_);
  AlignedBuffer w(1 << 20);
  std::memset(w.data(), 0x5a, w.size());
  ASSERT_TRUE(io(*a_, BlockOp::write, 0, w.size(), w.data()).is_ok());
  std::memset(data_.data(), 0x5a, w.size());
  // All four given again: the one that left is older and not counted.
  reassemble(all());
  EXPECT_EQ(a_->detail().level, 0);
  EXPECT_EQ(a_->detail().raid_disks, 3u);
  expect_data(*a_);
}

TEST_F(TakeoverArrayTest, Raid0ToRaid10AndBackToRaid0) {
  make("0", 2);
  add_spare();
  add_spare();
  ASSERT_TRUE(to(10, false).is_ok());
  EXPECT_EQ(attr_of(*a_, "raid_disks"), "4");
  EXPECT_EQ(info_of(paths_[1]).role, 2);  // raid0's member k takes slot 2k
  settle_and_check();
  expect_data(*a_);
  reassemble(all());
  EXPECT_EQ(a_->detail().level, 10);
  expect_data(*a_);
  ASSERT_TRUE(to(0, false).is_ok());
  EXPECT_EQ(attr_of(*a_, "raid_disks"), "2");
  expect_data(*a_);
  reassemble(all());
  EXPECT_EQ(a_->detail().level, 0);
  expect_data(*a_);
}

// Waits for the chained steps to end in this level and layout (md's number).
#define WAIT_FOR_SHAPE(level, layout)                                                                          \
  ASSERT_TRUE(wait_until([&] {                                                                                 \
    return attr_of(*a_, "level") == (level) && attr_of(*a_, "layout") == (layout) &&                            \
           attr_of(*a_, "reshape_position") == "none" && attr_of(*a_, "sync_action") == "idle";                 \
  })) << attr_of(*a_, "level") << " " << attr_of(*a_, "layout") << " " << attr_of(*a_, "sync_action")

// mdadm's --level=6 without --layout: the takeover to left-symmetric-6, the recovery of
// Q, then a restripe into raid6's own left-symmetric.
TEST_F(TakeoverArrayTest, Raid5ToRaid6RestripesAfterTheRecovery) {
  make("5", 3);
  add_spare();
  ASSERT_TRUE(to(6, false).is_ok());
  WAIT_FOR_SHAPE("raid6", "2");
  EXPECT_EQ(attr_of(*a_, "raid_disks"), "4");
  expect_data(*a_);
  settle_and_check();
  reassemble(all());
  EXPECT_EQ(a_->detail().level, 6);
  expect_data(*a_);
}

// And back: restriped into left-symmetric-6 first, then the Q member leaves as a spare.
TEST_F(TakeoverArrayTest, Raid6ToRaid5RestripesFirst) {
  make("6", 4);
  ASSERT_TRUE(to(5, false).is_ok());
  WAIT_FOR_SHAPE("raid5", "2");
  EXPECT_EQ(attr_of(*a_, "raid_disks"), "3");
  expect_data(*a_);
  settle_and_check();
}

// raid0 -> raid5 ends left-symmetric, as mdadm's does; raid5 left-symmetric -> raid0
// goes by way of parity-last.
TEST_F(TakeoverArrayTest, Raid0ToRaid5AndBackTheMdadmWay) {
  make("0", 3);
  add_spare();
  ASSERT_TRUE(to(5, false).is_ok());
  WAIT_FOR_SHAPE("raid5", "2");
  expect_data(*a_);
  settle_and_check();
  ASSERT_TRUE(to(0, false).is_ok());
  WAIT_FOR_SHAPE("raid0", "0");
  EXPECT_EQ(attr_of(*a_, "raid_disks"), "3");
  expect_data(*a_);
  reassemble(all());
  EXPECT_EQ(a_->detail().level, 0);
  expect_data(*a_);
}

// Power cut at any member write of a level change (its superblocks, the spare taking the
// new slot, the recovery that fills it): assembled again, the array is the old level or
// the new one, never neither, and every byte is there.
TEST_F(TakeoverArrayTest, PowerCutAnywhereLeavesOneLevelOrTheOther) {
  make("5", 3);
  const std::string spare = add_spare();
  ASSERT_TRUE(a_->stop().is_ok());
  a_.reset();
  fms_.clear();
  const std::vector<std::string> all_paths = all();
  // One run, the power cut at member write cut_at (~0: never); returns the writes counted.
  auto run = [&](uint64_t cut_at) {
    testing::PowerSwitch ps;
    ps.cut_at = cut_at;
    std::vector<std::unique_ptr<io::Member>> devs;
    for (const std::string& p : all_paths) {
      auto m = testing::switched_file_member(p, &ps);
      EXPECT_TRUE(m.is_ok()) << m.status().message();
      if (!m.is_ok()) return uint64_t(0);
      devs.push_back(std::move(m).value());
    }
    auto a = Array::assemble_members("t", std::move(devs), {});
    EXPECT_TRUE(a.is_ok()) << a.status().message();
    if (!a.is_ok()) return uint64_t(0);
    (void)(*a)->set_attr("level", "raid6");  // fails once the power is gone
    EXPECT_TRUE((*a)->sync_engine().wait_idle(60s));
    if (ps.cut.load()) {
      for (io::FaultyMember* m : ps.members) m->power_cut();
    } else {
      EXPECT_TRUE((*a)->stop().is_ok());
    }
    a->reset();
    return ps.writes.load();
  };
  // The members as they were, to start each cut from.
  std::vector<std::vector<uint8_t>> image;
  for (const std::string& p : all_paths) {
    std::vector<uint8_t> v(fs::file_size(p));
    FILE* f = fopen(p.c_str(), "rb");
    ASSERT_EQ(fread(v.data(), 1, v.size(), f), v.size());
    fclose(f);
    image.push_back(std::move(v));
  }
  auto restore = [&] {
    for (size_t i = 0; i < all_paths.size(); i++) {
      FILE* f = fopen(all_paths[i].c_str(), "wb");
      ASSERT_EQ(fwrite(image[i].data(), 1, image[i].size(), f), image[i].size());
      fclose(f);
    }
  };
  const uint64_t total = run(~0ull);
  ASSERT_GT(total, 10u);
  int old_level = 0, new_level = 0;
  for (uint64_t k = 1; k <= 16; k++) {
    const uint64_t cut_at = total * k / 17;
    SCOPED_TRACE("power cut at member write " + std::to_string(cut_at) + " of " + std::to_string(total));
    restore();
    run(cut_at);
    fms_.clear();
    // --run: a cut while the spare was taking the new slot leaves the slot counted in the
    // freshest superblock and the spare's own one saying spare (mdadm wants --run too).
    AssembleOptions opts;
    opts.run = true;
    a_ = assemble_faulty(all_paths, &fms_, opts);
    ASSERT_TRUE(a_);
    const int level = a_->detail().level;
    ASSERT_TRUE(level == 5 || level == 6) << level;
    (level == 5 ? old_level : new_level)++;
    ASSERT_TRUE(a_->sync_engine().wait_idle(60s));
    expect_data(*a_);
    check_clean_if_whole();
    ASSERT_TRUE(a_->stop().is_ok());
    a_.reset();
  }
  EXPECT_GT(old_level, 0);  // cut before any superblock took the new level
  EXPECT_GT(new_level, 0);
  (void)spare;
}

// Written through md's own interface: the level attribute (the kernel's takeover).
TEST_F(TakeoverArrayTest, TheLevelAttributeTakesOver) {
  make("5", 3);
  add_spare();
  ASSERT_TRUE(a_->set_attr("level", "raid6").is_ok());
  EXPECT_EQ(attr_of(*a_, "level"), "raid6");
  settle_and_check();
  expect_data(*a_);
  EXPECT_FALSE(a_->set_attr("level", "raid10").is_ok());
}

// What --grow --level refuses names the reason and leaves every member as it was.
TEST_F(TakeoverArrayTest, RefusalsChangeNothing) {
  make("5", 3);
  ASSERT_TRUE(a_->stop().is_ok());  // quiet members to compare
  fms_.clear();
  a_ = assemble_faulty(paths_, &fms_);
  ASSERT_TRUE(a_);
  a_->set_safe_mode_delay(0ms);
  auto files = [&] {
    std::vector<std::vector<uint8_t>> out;
    for (const std::string& p : paths_) {
      std::vector<uint8_t> v(fs::file_size(p));
      FILE* f = fopen(p.c_str(), "rb");
      EXPECT_EQ(fread(v.data(), 1, v.size(), f), v.size());
      fclose(f);
      out.push_back(std::move(v));
    }
    return out;
  };
  const auto before = files();
  struct Case {
    int level;
    bool preserve;
    const char* says;
  };
  for (const Case& c : {Case{6, false, "need 1 spare"}, Case{6, true, "need 1 spare"},
                        Case{10, false, "not raid10"}, Case{1, false, "2-device"}}) {
    Status s = to(c.level, c.preserve);
    EXPECT_FALSE(s.is_ok()) << c.says;
    EXPECT_NE(s.message().find(c.says), std::string::npos) << s.message();
  }
  EXPECT_TRUE(files() == before) << "a refused --grow --level wrote to a member";
  ASSERT_TRUE(a_->set_bitmap("internal").is_ok());
  Status s = to(6);
  EXPECT_EQ(s.code(), Err::busy);
  EXPECT_NE(s.message().find("Bitmap must be removed"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace umd::engine
