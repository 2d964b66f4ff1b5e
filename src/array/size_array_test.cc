// --grow --size and --array-size on running arrays of image files (array_size.cc): the
// members grown (bigger disks), the array takes the new space and resyncs only it; a
// shrink waits for --array-size; the size clients see follows --array-size.
#include <gtest/gtest.h>

#include <cstring>

#include "array/array_test_fixture.h"

namespace umd::engine {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class SizeArrayTest : public testing::ArrayFixture {
 protected:
  void make(const std::string& level, unsigned n) {
    paths_ = make_array(level, n, 8);
    a_ = assemble_faulty(paths_, &fms_);
    ASSERT_TRUE(a_);
    data_ = pattern(a_->size_bytes(), 3);
    AlignedBuffer buf(data_.size());
    std::memcpy(buf.data(), data_.data(), data_.size());
    ASSERT_TRUE(io(*a_, BlockOp::write, 0, buf.size(), buf.data()).is_ok());
  }
  void reassemble() {
    ASSERT_TRUE(a_->stop().is_ok());
    a_.reset();
    fms_.clear();
    a_ = assemble_faulty(paths_, &fms_);
    ASSERT_TRUE(a_);
  }
  void expect_data() {
    AlignedBuffer back(data_.size());
    ASSERT_TRUE(io(*a_, BlockOp::read, 0, back.size(), back.data()).is_ok());
    EXPECT_EQ(std::memcmp(back.data(), data_.data(), data_.size()), 0);
  }
  void check_clean() {
    ASSERT_TRUE(a_->set_attr("sync_action", "check").is_ok());
    ASSERT_TRUE(a_->sync_engine().wait_idle(60s));
    EXPECT_EQ(attr_of(*a_, "mismatch_cnt"), "0");
  }

  std::vector<std::string> paths_;
  std::vector<io::FaultyMember*> fms_;
  std::unique_ptr<Array> a_;
  std::vector<uint8_t> data_;
};

// Bigger disks: the members grow from 8 to 12 MiB, and --size=max takes the new space.
TEST_F(SizeArrayTest, MaxTakesWhatGrownMembersHold) {
  for (const char* level : {"5", "1", "6", "10"}) {
    SCOPED_TRACE(std::string("raid") + level);
    make(level, 4);
    const uint64_t before = a_->size_bytes();
    const MemberInfo old = info_of(paths_[0]);
    ASSERT_TRUE(a_->stop().is_ok());
    a_.reset();
    fms_.clear();
    for (const std::string& p : paths_) fs::resize_file(p, 12 << 20);
    a_ = assemble_faulty(paths_, &fms_);
    ASSERT_TRUE(a_);
    EXPECT_EQ(a_->size_bytes(), before) << "the array grew by itself";
    ASSERT_TRUE(a_->set_component_size(std::nullopt).is_ok());
    const uint64_t want = (12 << 11) - old.data_offset;  // sectors past the data offset
    const uint64_t chunk = std::string(level) == "1" ? 1 : 128;
    EXPECT_EQ(attr_of(*a_, "component_size"), std::to_string(want / chunk * chunk / 2));
    EXPECT_GT(a_->size_bytes(), before);
    // Only the new part is resynced: md's recovery_cp at the old end.
    ASSERT_TRUE(a_->sync_engine().wait_idle(60s));
    const std::string stats = attr_of(*a_, "umd/sync_stats");
    const uint64_t done = std::stoull(stats.substr(stats.find("done_sectors ") + 13));
    const uint64_t grown = std::stoull(attr_of(*a_, "component_size")) * 2 - old.component_sectors;
    const uint64_t unit = std::string(level) == "10" ? 2 : 1;  // raid10 counts array sectors
    EXPECT_GT(done, 0u) << stats;
    EXPECT_LE(done, grown * unit) << stats;
    expect_data();
    check_clean();
    reassemble();
    EXPECT_GT(a_->size_bytes(), before);
    const MemberInfo now = info_of(paths_[1]);
    EXPECT_EQ(now.data_size, (12u << 11) - old.data_offset);
    expect_data();
    ASSERT_TRUE(a_->stop().is_ok());
    a_.reset();
    fms_.clear();
    for (const std::string& p : paths_) fs::remove(p);
  }
}

// A smaller size would cut the array: --array-size first, then the component shrinks.
TEST_F(SizeArrayTest, ShrinkingWaitsForTheArraySize) {
  make("5", 3);
  const uint64_t full = a_->size_bytes() / 512;
  const uint64_t comp = std::stoull(attr_of(*a_, "component_size")) * 2;
  const uint64_t smaller = comp - 2048;  // 1 MiB less per member
  Status s = a_->set_component_size(smaller);
  EXPECT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("--array-size="), std::string::npos) << s.message();
  const uint64_t fits = smaller * 2;  // two data disks
  ASSERT_TRUE(a_->set_array_size(fits).is_ok());
  EXPECT_EQ(attr_of(*a_, "array_size"), std::to_string(fits / 2));
  EXPECT_EQ(a_->size_bytes(), fits * 512);
  AlignedBuffer b(4096);
  EXPECT_FALSE(io(*a_, BlockOp::read, fits * 512, b.size(), b.data()).is_ok()) << "read past --array-size";
  ASSERT_TRUE(a_->set_component_size(smaller).is_ok());
  EXPECT_EQ(attr_of(*a_, "component_size"), std::to_string(smaller / 2));
  data_.resize(fits * 512);
  expect_data();
  check_clean();
  // "max" gives the whole geometry back (it is not kept in the superblocks anyway).
  ASSERT_TRUE(a_->set_array_size(std::nullopt).is_ok());
  EXPECT_EQ(attr_of(*a_, "array_size"), "default");
  EXPECT_LT(a_->size_bytes() / 512, full);
  EXPECT_FALSE(a_->set_array_size(full * 2).is_ok());
}

TEST_F(SizeArrayTest, RefusalsChangeNothing) {
  make("5", 3);
  ASSERT_TRUE(a_->stop().is_ok());
  fms_.clear();
  a_ = assemble_faulty(paths_, &fms_);
  ASSERT_TRUE(a_);
  a_->set_safe_mode_delay(0ms);
  const std::string comp = attr_of(*a_, "component_size");
  Status big = a_->set_component_size(uint64_t(64) << 11);
  EXPECT_NE(big.message().find("holds only"), std::string::npos) << big.message();
  ASSERT_TRUE(a_->set_bitmap("internal").is_ok());
  Status bm = a_->set_component_size(std::nullopt);
  EXPECT_EQ(bm.code(), Err::busy);
  EXPECT_NE(bm.message().find("bitmap"), std::string::npos) << bm.message();
  EXPECT_EQ(attr_of(*a_, "component_size"), comp);
  ASSERT_TRUE(a_->stop().is_ok());
  a_.reset();
  paths_ = make_array("0", 2);
  fms_.clear();
  a_ = assemble_faulty(paths_, &fms_);
  ASSERT_TRUE(a_);
  EXPECT_NE(a_->set_component_size(std::nullopt).message().find("raid0 has no component size"), std::string::npos);
}

}  // namespace
}  // namespace umd::engine
