// The in-place reshape and its overseer (reshape_overseer.h) on a running Array: the
// sections it saves, the backup file it leaves (mdadm's format), what the array refuses
// to do without it, and power cuts inside the critical section, after which the file is
// what brings the data back (array_backup_restore.cc).
#include "overseer/reshape_overseer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <functional>

#include "array/array_test_fixture.h"
#include "array/power_cut_util.h"
#include "format/backup_super.h"

namespace umd::overseer {
namespace {

using namespace std::chrono_literals;
using engine::Array;
using engine::AssembleOptions;
using engine::BlockOp;
using engine::ReshapeRequest;

ReshapePlan plan(uint32_t old_dd, uint32_t new_dd, uint64_t old_chunk, uint64_t new_chunk, uint64_t component) {
  ReshapePlan p;
  p.old_data_disks = old_dd;
  p.new_data_disks = new_dd;
  p.old_chunk = old_chunk;
  p.new_chunk = new_chunk;
  p.component_sectors = component;
  p.end = component / std::max(old_chunk, new_chunk) * std::max(old_chunk, new_chunk) * new_dd;
  return p;
}

// mdadm's numbers (Grow.c compute_backup_blocks, and its message "Need to backup 384K of
// critical section.." for a raid5 of 3 going to 4 with 64K chunks).
TEST(ReshapePlanTest, SectionsAndCriticalSectionsAreMdadms) {
  EXPECT_EQ(backup_blocks(plan(2, 3, 128, 128, 16384)), 768u);
  EXPECT_EQ(backup_end(plan(2, 3, 128, 128, 16384)), 768u);
  // 4 -> 5 disks: lcm(384, 512) = 1536.
  EXPECT_EQ(backup_blocks(plan(3, 4, 128, 128, 16384)), 1536u);
  EXPECT_EQ(backup_end(plan(3, 4, 128, 128, 16384)), 1536u);
  // More disks and a bigger chunk: the new rows stay on old rows still needed for two
  // sections, not one (the first step past 768 writes member sectors up to 512 over the
  // old row 3 at 384).
  EXPECT_EQ(backup_blocks(plan(2, 3, 128, 256, 16384)), 768u);
  EXPECT_EQ(backup_end(plan(2, 3, 128, 256, 16384)), 1536u);
  // The same data disks: every section, doubled while 32 fit in a member (below 16 MiB).
  EXPECT_EQ(backup_blocks(plan(2, 2, 128, 256, 16384)), 512u);
  EXPECT_EQ(backup_blocks(plan(2, 2, 128, 256, 1 << 20)), 32768u);
  EXPECT_EQ(backup_end(plan(2, 2, 128, 256, 16384)), plan(2, 2, 128, 256, 16384).end);
}

// Each test runs with 1.2 superblocks and with 0.90 ones (no data offset to move: a 0.90
// array reshapes in place only, recording it as minor 91).
class InPlaceTest : public engine::testing::ArrayFixture, public ::testing::WithParamInterface<const char*> {
 protected:
  // A raid5 of three 8 MiB members (64K chunks) holding a pattern, stopped clean, and a
  // spare; then assembled with each member a FaultyMember (write cache on) behind a
  // PowerSwitch that cuts every member at its chosen write.
  void SetUp() override {
    ArrayFixture::SetUp();
    paths_ = make_array("5", 3, 8, GetParam());
    {
      std::vector<io::FaultyMember*> fms;
      auto a = assemble_faulty(paths_, &fms);
      ASSERT_TRUE(a);
      data_ = pattern(a->size_bytes(), 7);
      AlignedBuffer buf(data_.size());
      std::memcpy(buf.data(), data_.data(), data_.size());
      ASSERT_TRUE(io(*a, BlockOp::write, 0, buf.size(), buf.data()).is_ok());
      ASSERT_TRUE(a->stop().is_ok());
    }
    spare_ = (dir_ / "d3.img").string();
    FILE* f = fopen(spare_.c_str(), "w");
    fclose(f);
    std::filesystem::resize_file(spare_, 8 << 20);
    backup_ = (dir_ / "backup").string();
  }

  std::unique_ptr<Array> assemble(const std::vector<std::string>& paths, AssembleOptions opts = {}) {
    ps_ = std::make_unique<engine::testing::PowerSwitch>();
    std::vector<std::unique_ptr<io::Member>> devs;
    for (const std::string& p : paths) {
      auto m = engine::testing::switched_file_member(p, ps_.get());
      EXPECT_TRUE(m.is_ok()) << m.status().message();
      if (!m.is_ok()) return nullptr;
      devs.push_back(std::move(m).value());
    }
    auto a = Array::assemble_members("t", std::move(devs), opts);
    last_error_ = a.is_ok() ? "" : a.status().message();
    return a.is_ok() ? std::move(a).value() : nullptr;
  }
  // The spare, behind the same switch as the members.
  void add_spare(Array& a) {
    auto m = engine::testing::switched_file_member(spare_, ps_.get());
    ASSERT_TRUE(m.is_ok()) << m.status().message();
    ASSERT_TRUE(a.add_member(std::move(m).value(), spare_, false).is_ok());
  }
  std::vector<std::string> all() const {
    std::vector<std::string> v = paths_;
    v.push_back(spare_);
    return v;
  }
  void expect_data(Array& a, const std::string& what) {
    AlignedBuffer back(data_.size());
    ASSERT_TRUE(io(a, BlockOp::read, 0, back.size(), back.data()).is_ok()) << what;
    for (uint64_t s = 0; s < data_.size() / 512; s++) {
      if (std::memcmp(back.data() + s * 512, data_.data() + s * 512, 512) != 0) {
        ADD_FAILURE() << what << ": array sector " << s << " differs (of " << data_.size() / 512 << ")";
        return;
      }
    }
  }
  void expect_check_clean(Array& a) {
    ASSERT_TRUE(a.set_attr("sync_action", "check").is_ok());
    ASSERT_TRUE(a.sync_engine().wait_idle(60s));
    EXPECT_EQ(attr_of(a, "mismatch_cnt"), "0");
  }
  // The running array grows to 4 disks in place under an overseer.
  // `then` runs between the start and the overseer.
  std::unique_ptr<ReshapeOverseer> grow_in_place(Array& a, ReshapeRequest rq,
                                                 const std::function<void()>& then = [] {}) {
    rq.in_place = true;
    Status s = a.start_reshape(rq);
    EXPECT_TRUE(s.is_ok()) << s.message();
    EXPECT_EQ(attr_of(a, "sync_max"), "0");  // held for the overseer
    then();
    auto p = a.overseer_plan();
    EXPECT_TRUE(p.has_value());
    if (!p) return nullptr;
    auto o = ReshapeOverseer::start(a, *p, backup_, false);
    EXPECT_TRUE(o.is_ok()) << o.status().message();
    return o.is_ok() ? std::move(o).value() : nullptr;
  }

  // A grow 3 -> 4 held inside its critical section: frozen, so the overseer saves that
  // section in part 0 of the file and the reshape moves nothing (sync_min is the floor the
  // test keeps it at). nullptr (a failure recorded) if the section is not saved.
  std::unique_ptr<ReshapeOverseer> grow_held_in_the_critical_section(Array& a) {
    add_spare(a);
    EXPECT_TRUE(a.set_attr("sync_action", "frozen").is_ok());
    auto o = grow_in_place(a, ReshapeRequest{4, {}, {}, {}, false, false});
    if (!o) return nullptr;
    if (!wait_until([&] { return o->sections_saved() == 1; }, 30s)) {
      ADD_FAILURE() << "the overseer did not save the critical section";
      return nullptr;
    }
    return o;
  }

  std::vector<std::string> paths_;
  std::string spare_, backup_, last_error_;
  std::vector<uint8_t> data_;
  std::unique_ptr<engine::testing::PowerSwitch> ps_;
};

TEST_P(InPlaceTest, ThreeToFourDisksWithABackupFile) {
  auto a = assemble(paths_);
  ASSERT_TRUE(a);
  add_spare(*a);
  const MemberInfo before = info_of(paths_[0]);
  auto o = grow_in_place(*a, ReshapeRequest{4, {}, {}, {}, false, false});
  ASSERT_TRUE(o);
  // The superblocks record a reshape with no new offset, as the kernel's for mdadm's
  // in-place grow.
  const MemberInfo rec = info_of(paths_[0]);
  const bool v090 = std::string(GetParam()) == "0.90";
  EXPECT_TRUE(rec.reshape_active);
  EXPECT_EQ(rec.new_data_offset, rec.data_offset);
  EXPECT_EQ(rec.raid_disks, 4u);
  EXPECT_EQ(rec.delta_disks, 1);
  EXPECT_EQ(rec.metadata_minor, v090 ? 91 : 2);  // 0.90: super_90_sync's mark of a reshape
  ASSERT_TRUE(o->wait_ended(60s));
  EXPECT_TRUE(o->status().is_ok()) << o->status().message();
  EXPECT_EQ(o->sections_saved(), 1u);  // the critical section: 768 sectors
  EXPECT_FALSE(std::filesystem::exists(backup_));  // removed once not needed
  ASSERT_TRUE(a->sync_engine().wait_idle(60s));
  EXPECT_FALSE(a->detail().reshape.has_value());
  EXPECT_EQ(attr_of(*a, "suspend_lo"), "0");
  EXPECT_EQ(attr_of(*a, "suspend_hi"), "0");
  EXPECT_EQ(attr_of(*a, "sync_max"), "max");
  expect_data(*a, "after the reshape");
  expect_check_clean(*a);
  ASSERT_TRUE(a->stop().is_ok());
  a.reset();
  const MemberInfo done = info_of(spare_);
  EXPECT_FALSE(done.reshape_active);
  EXPECT_EQ(done.raid_disks, 4u);
  EXPECT_EQ(done.role, 3);
  EXPECT_EQ(done.metadata_minor, v090 ? 90 : 2);
  EXPECT_EQ(done.data_offset, before.data_offset);  // the data never moved
  a = assemble(all());
  ASSERT_TRUE(a) << last_error_;
  expect_data(*a, "assembled again");
}

// A chunk change on the same disks rewrites every section in place: the overseer saves
// each one before the reshape reaches it, in the two parts of the file by turns.
TEST_P(InPlaceTest, ChunkChangeBacksUpEverySection) {
  auto a = assemble(paths_);
  ASSERT_TRUE(a);
  const uint64_t comp = std::stoull(attr_of(*a, "component_size")) * 2;
  if (comp % 256) {
    // 0.90: the data ends at the superblock, 127 chunks of 64K here. As mdadm, the new
    // chunk must divide the component: refused, nothing changed; then --array-size and
    // --size make it so.
    ReshapeRequest rq{{}, 256, {}, {}, false, false};
    rq.in_place = true;
    Status s = a->start_reshape(rq);
    EXPECT_NE(s.message().find("does not evenly divide device size"), std::string::npos) << s.message();
    EXPECT_FALSE(a->detail().reshape.has_value());
    EXPECT_FALSE(info_of(paths_[0]).reshape_active);
    ASSERT_TRUE(a->set_array_size(comp / 256 * 256 * 2).is_ok());  // 2 data disks
    Status sz = a->set_component_size(comp / 256 * 256);
    ASSERT_TRUE(sz.is_ok()) << sz.message();
    data_.resize(a->size_bytes());
  }
  auto o = grow_in_place(*a, ReshapeRequest{{}, 256, {}, {}, false, false});
  ASSERT_TRUE(o);
  const auto p = plan(2, 2, 128, 256, std::stoull(attr_of(*a, "component_size")) * 2);
  ASSERT_TRUE(o->wait_ended(120s));
  EXPECT_TRUE(o->status().is_ok()) << o->status().message();
  EXPECT_EQ(o->sections_saved(), (p.end + backup_blocks(p) - 1) / backup_blocks(p));
  ASSERT_TRUE(a->sync_engine().wait_idle(60s));
  EXPECT_FALSE(a->detail().reshape.has_value());
  EXPECT_EQ(attr_of(*a, "chunk_size"), std::to_string(128 * 1024));
  expect_data(*a, "after the chunk change");
  expect_check_clean(*a);
}

// 0.90 superblocks have no data offset: a grow without --backup-file cannot move the data
// out of its own way, and is refused before anything changes.
TEST_P(InPlaceTest, A090ArrayNeedsABackupFile) {
  if (std::string(GetParam()) != "0.90") GTEST_SKIP() << "1.x moves the data offset instead";
  auto a = assemble(paths_);
  ASSERT_TRUE(a);
  add_spare(*a);
  const std::string sync_max = attr_of(*a, "sync_max");
  Status s = a->start_reshape(ReshapeRequest{4, {}, {}, {}, false, false});
  EXPECT_EQ(s.code(), Err::invalid);
  EXPECT_NE(s.message().find("give --backup-file"), std::string::npos) << s.message();
  EXPECT_FALSE(a->detail().reshape.has_value());
  EXPECT_EQ(attr_of(*a, "sync_max"), sync_max);
  EXPECT_FALSE(info_of(paths_[0]).reshape_active);
  EXPECT_EQ(info_of(paths_[0]).raid_disks, 3u);
  expect_data(*a, "refused");
}

// Without an overseer nothing is rewritten over itself: lifted past sync_max by hand, the
// reshape stops at its first section (not suspended) and the data stays as it was.
TEST_P(InPlaceTest, WithoutTheSuspendedWindowNothingIsRewritten) {
  auto a = assemble(paths_);
  ASSERT_TRUE(a);
  add_spare(*a);
  ReshapeRequest rq{4, {}, {}, {}, false, false};
  rq.in_place = true;
  ASSERT_TRUE(a->start_reshape(rq).is_ok());
  ASSERT_TRUE(a->set_attr("sync_max", "max").is_ok());
  // The step refuses (the sync thread says why among the warnings); the reshape stays.
  ASSERT_TRUE(wait_until([&] {
    for (const std::string& w : a->warnings()) {
      if (w.find("not suspended") != std::string::npos) return true;
    }
    return false;
  }, 60s));
  ASSERT_TRUE(a->detail().reshape.has_value());
  EXPECT_EQ(a->detail().reshape->position, 0u);
  expect_data(*a, "held at 0");
}

// The backup is mdadm's: the block at byte 0 decodes, names the array, and part 0 holds
// the critical section's sectors as the array had them.
TEST_P(InPlaceTest, TheBackupFileIsMdadmsFormat) {
  auto a = assemble(paths_);
  ASSERT_TRUE(a);
  auto o = grow_held_in_the_critical_section(*a);
  ASSERT_TRUE(o);
  auto bsb = read_backup_super(backup_);
  ASSERT_TRUE(bsb.is_ok()) << bsb.status().message();
  EXPECT_EQ(bsb->version, BackupVersion::v1);
  EXPECT_EQ(bsb->devstart, 8u);
  EXPECT_EQ(bsb->arraystart, 0u);
  EXPECT_EQ(bsb->length, 768u);
  EXPECT_EQ(bsb->devstart2, 768u);
  EXPECT_EQ(bsb->set_uuid, info_of(paths_[0]).array_uuid);
  EXPECT_EQ(std::filesystem::file_size(backup_), (768u + 8) * 512);
  auto part = read_backup_part(backup_, *bsb, 0);
  ASSERT_TRUE(part.is_ok());
  EXPECT_EQ(std::memcmp(part->data(), data_.data(), 768 * 512), 0);
  EXPECT_EQ(attr_of(*a, "suspend_lo"), "0");
  EXPECT_EQ(attr_of(*a, "suspend_hi"), "768");
  ASSERT_TRUE(a->set_attr("sync_action", "reshape").is_ok());
  ASSERT_TRUE(o->wait_ended(60s));
  ASSERT_TRUE(a->sync_engine().wait_idle(60s));
  expect_data(*a, "after the reshape");
}

// Past the critical section the reshape goes on by itself: a backup file given at assembly
// is read and checked (named in a warning if it is not this reshape's), never restored.
TEST_P(InPlaceTest, PastTheCriticalSectionABackupFileIsReadNotRestored) {
  auto a = assemble(paths_);
  ASSERT_TRUE(a);
  auto o = grow_held_in_the_critical_section(*a);
  ASSERT_TRUE(o);
  const std::string kept = backup_ + ".kept", junk = backup_ + ".junk";
  std::filesystem::copy_file(backup_, kept);
  {
    std::vector<uint8_t> j(8192, 0x5a);
    FILE* f = fopen(junk.c_str(), "wb");
    ASSERT_EQ(fwrite(j.data(), 1, j.size(), f), j.size());
    fclose(f);
  }
  ASSERT_TRUE(a->set_attr("sync_speed_max", "2000").is_ok());  // KiB/s: seconds for the rest
  ASSERT_TRUE(a->set_attr("sync_action", "reshape").is_ok());
  ASSERT_TRUE(o->wait_ended(60s));  // past the critical section
  ASSERT_TRUE(a->set_attr("sync_action", "frozen").is_ok());
  ASSERT_TRUE(a->sync_engine().wait_idle(60s));
  ASSERT_TRUE(a->detail().reshape.has_value());
  ASSERT_TRUE(a->stop().is_ok());
  a.reset();
  auto warned = [](Array& b, const std::string& words) {
    for (const std::string& w : b.warnings()) {
      if (w.find(words) != std::string::npos) return true;
    }
    return false;
  };
  for (const auto& [file, words] : {std::pair{kept, std::string("nothing in it is needed")},
                                    std::pair{junk, std::string("not used")}}) {
    AssembleOptions ao;
    ao.backup_file = file;
    ao.freeze_reshape = true;
    auto b = assemble(all(), ao);
    ASSERT_TRUE(b) << last_error_;
    EXPECT_TRUE(warned(*b, words)) << file;
    ASSERT_TRUE(b->stop().is_ok());
  }
  auto b = assemble(all());
  ASSERT_TRUE(b) << last_error_;
  ASSERT_TRUE(b->sync_engine().wait_idle(60s));
  EXPECT_FALSE(b->detail().reshape.has_value());
  expect_data(*b, "after the reshape");
}

// Power cut at every member write of the critical section's move (and the superblock
// writes around it). Assembled again without the backup file, the array refuses (active
// when cut) or holds the reshape (clean); with it, the section comes back from the file,
// a new overseer takes the reshape to its end, and no sector differs.
TEST_P(InPlaceTest, PowerCutInTheCriticalSectionIsRestoredFromTheBackup) {
  uint64_t total = 0, cuts = 0, restored = 0;
  for (uint64_t cut_at = 1;; cut_at++) {
    SCOPED_TRACE("power cut at member write " + std::to_string(cut_at));
    // Fresh members each time.
    SetUp();
    auto a = assemble(paths_);
    ASSERT_TRUE(a);
    add_spare(*a);
    // Counted from the moment the superblocks record the reshape.
    auto o = grow_in_place(*a, ReshapeRequest{4, {}, {}, {}, false, false}, [&] {
      ps_->writes.store(0);
      ps_->cut_at = cut_at;
    });
    ASSERT_TRUE(o);
    // Ends either way: past the critical section (the overseer leaves), or cut.
    ASSERT_TRUE(wait_until([&] { return o->ended() || ps_->cut.load(); }, 60s));
    const bool passed = o->ended() && o->status().is_ok() && !ps_->cut.load();
    o->stop();
    if (passed) {  // the rest of the reshape is the other tests' (no backup is needed there)
      a.reset();
      total = cut_at;
      break;
    }
    ASSERT_TRUE(a->sync_engine().wait_idle(60s));
    for (io::FaultyMember* m : ps_->members) m->power_cut();
    a.reset();
    cuts++;
    if (!std::filesystem::exists(backup_)) continue;  // cut before the file was made
    // Without the file: refused when the array was active, else held at sync_max.
    {
      auto b = assemble(all());
      if (b) {
        ASSERT_TRUE(b->detail().reshape.has_value());
        if (b->overseer_plan()) {
          EXPECT_NE(attr_of(*b, "sync_max"), "max");
        }
        ASSERT_TRUE(b->stop().is_ok());
      } else {
        EXPECT_NE(last_error_.find("--backup-file"), std::string::npos) << last_error_;
      }
    }
    AssembleOptions ao;
    ao.backup_file = backup_;
    auto b = assemble(all(), ao);
    ASSERT_TRUE(b) << last_error_;
    std::unique_ptr<ReshapeOverseer> o2;
    if (auto p = b->overseer_plan()) {
      auto r = ReshapeOverseer::start(*b, *p, backup_, true);
      ASSERT_TRUE(r.is_ok()) << r.status().message();
      o2 = std::move(r).value();
    }
    ASSERT_TRUE(b->sync_engine().wait_idle(60s));
    if (o2) {
      ASSERT_TRUE(o2->wait_ended(60s));
      EXPECT_TRUE(o2->status().is_ok()) << o2->status().message();
      ASSERT_TRUE(b->sync_engine().wait_idle(60s));
    }
    EXPECT_FALSE(b->detail().reshape.has_value());
    for (const std::string& w : b->warnings()) restored += w.find("restored the critical section") != std::string::npos;
    expect_data(*b, "restored and reshaped");
    expect_check_clean(*b);
  }
  // The cuts met the critical section's writes, and some of them needed the file.
  EXPECT_GT(total, 4u);
  EXPECT_GT(restored, 0u) << cuts << " cuts";
  std::printf("%lu cuts before the critical section passed, %lu restored from the backup file\n",
              (unsigned long)cuts, (unsigned long)restored);
}

INSTANTIATE_TEST_SUITE_P(Metadata, InPlaceTest, ::testing::Values("1.2", "0.90"),
                         [](const auto& info) { return std::string(info.param) == "0.90" ? "v090" : "v12"; });

}  // namespace
}  // namespace umd::overseer
