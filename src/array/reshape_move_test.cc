// A reshape the superblocks record, moved to its end by the array's sync thread
// (personality/reshaping_personality.h): every sector through the geometry that holds it
// at each moment, client writes during the move, the superblocks at the end as the
// kernel's md_finish_reshape leaves them, and power cuts at any member write, after which
// the reshape resumes from the position the superblocks recorded and loses nothing.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <random>
#include <thread>

#include "array/array.h"
#include "array/array_reader.h"
#include "array/array_test_fixture.h"
#include "array/power_cut_util.h"
#include "array/reshape_test_util.h"
#include "format/superblock1.h"
#include "io/fault_member.h"

namespace umd::engine {
namespace {

using namespace reshape_test;
using testing::CountingMember;
using testing::PowerSwitch;
using namespace std::chrono_literals;

const Shape kGrow{"grow_3_to_4_data_moves_down", 3, 4, 256, 128};
const Shape kShrink{"shrink_4_to_3_data_moves_up", 4, 3, 128, 256};

std::vector<std::unique_ptr<io::Member>> borrowed(Reshaped& rs) {
  std::vector<std::unique_ptr<io::Member>> devs;
  for (auto& m : rs.mems) devs.push_back(std::make_unique<testing::BorrowedMember>(m.get()));
  return devs;
}

uint64_t new_size(const Shape& sh) { return raid5(sh.to, (kDev - std::max(sh.old_off, sh.new_off)) / kChunk * kChunk).array_sectors(); }

Superblock1 sb_of(io::MemoryMember& m) {
  auto sb = decode_superblock1(std::span<const uint8_t>(m.raw().data() + 8 * 512, 4096));
  EXPECT_TRUE(sb.is_ok()) << sb.status().message();
  return sb.is_ok() ? *sb : Superblock1{};
}

// Everything the members hold, read offline: `want` (numbered sectors, or what clients
// wrote) and zeros past it, as the reshape leaves the new rows past the old end.
void expect_contents(Reshaped& rs, const std::vector<uint8_t>& want, uint64_t size, const std::string& what) {
  std::vector<ProbedMember> ms;
  for (auto& m : rs.mems) ms.push_back(testing::probed(std::make_unique<testing::BorrowedMember>(m.get())));
  auto r = open_array_read_only(std::move(ms), {});
  ASSERT_TRUE(r.is_ok()) << what << ": " << r.status().message();
  ASSERT_EQ(r->array_sectors(), size) << what;
  AlignedBuffer got(size * 512);
  ASSERT_TRUE(r->read(0, size, got.data()).is_ok()) << what;
  for (uint64_t s = 0; s < size; s++) {
    const uint8_t* g = got.data() + s * 512;
    const bool same = s * 512 < want.size() ? std::memcmp(g, want.data() + s * 512, 512) == 0
                                            : std::all_of(g, g + 512, [](uint8_t b) { return b == 0; });
    ASSERT_TRUE(same) << what << ": array sector " << s << " of " << size;
  }
}

std::vector<uint8_t> numbered(uint64_t sectors) {
  std::vector<uint8_t> v(sectors * 512);
  fill(v.data(), 0, sectors);
  return v;
}

// n client writes of random bytes at random places below `end`, each also put in `model`.
void write_random(Array& arr, std::mt19937_64& rng, uint64_t end, int n, std::vector<uint8_t>* model) {
  for (int i = 0; i < n; i++) {
    const uint64_t len = 1 + rng() % 64, lo = rng() % (end - len);
    AlignedBuffer w(len * 512);
    for (uint64_t k = 0; k < len * 512; k += 8) {
      const uint64_t v = rng();
      std::memcpy(w.data() + k, &v, 8);
    }
    ASSERT_TRUE(submit_and_wait(arr, BlockOp::write, lo * 512, len * 512, w.data()).is_ok());
    std::memcpy(model->data() + lo * 512, w.data(), len * 512);
  }
}

class ReshapeMoveTest : public ::testing::TestWithParam<Shape> {};

// From where the reshape was recorded to its end, unattended: the array grows (or keeps
// the smaller size it was cut to), check finds nothing, and each superblock describes the
// new geometry alone, its data at the new offset.
TEST_P(ReshapeMoveTest, MovesToTheEndAndTheSuperblocksTakeTheNewGeometry) {
  const Shape& sh = GetParam();
  for (uint64_t thirds : {0u, 1u}) {
    SCOPED_TRACE("started " + std::to_string(thirds) + "/3 of the way");
    Reshaped rs = make_reshaped(sh, thirds);
    auto a = Array::assemble_members("t", borrowed(rs), {});
    ASSERT_TRUE(a.is_ok()) << a.status().message();
    Array& arr = **a;
    ASSERT_TRUE(arr.sync_engine().wait_idle(60s)) << *arr.attr("sync_action");
    EXPECT_FALSE(arr.detail().reshape.has_value());
    EXPECT_EQ(*arr.attr("reshape_position"), "none");
    EXPECT_EQ(*arr.attr("raid_disks"), std::to_string(sh.to));
    EXPECT_EQ(arr.size_bytes(), new_size(sh) * 512);
    AlignedBuffer buf(rs.end * 512);
    ASSERT_TRUE(submit_and_wait(arr, BlockOp::read, 0, rs.end * 512, buf.data()).is_ok());
    expect_numbered(buf.data(), 0, rs.end, "served after the reshape");
    ASSERT_TRUE(arr.set_attr("sync_action", "check").is_ok());
    ASSERT_TRUE(arr.sync_engine().wait_idle(60s));
    EXPECT_EQ(*arr.attr("mismatch_cnt"), "0");
    ASSERT_TRUE(arr.stop().is_ok());
    a->reset();
    for (uint32_t i = 0; i < rs.mems.size(); i++) {
      const Superblock1 sb = sb_of(*rs.mems[i]);
      EXPECT_EQ(sb.feature_map & (kFeatureReshapeActive | kFeatureNewOffset | kFeatureReshapeBackwards), 0u) << i;
      EXPECT_EQ(sb.data_offset, sh.new_off) << i;
      EXPECT_EQ(sb.data_size, kDev - sh.new_off) << i;
      EXPECT_EQ(sb.raid_disks, sh.to) << i;
      // A shrink's leaving member stays as a spare, as md leaves it.
      EXPECT_EQ(sb.dev_roles[i], i < sh.to ? i : kRoleSpare) << i;
    }
    expect_contents(rs, numbered(rs.end), new_size(sh), "offline after the reshape");
  }
}

// Clients write while the reshape moves: first with it held at sync_max (writes on both
// sides of the boundary), then across the whole array as it runs to the end. Every
// acknowledged write is where a reader finds it afterwards.
TEST_P(ReshapeMoveTest, WritesDuringTheMoveAreKept) {
  const Shape& sh = GetParam();
  Reshaped rs = make_reshaped(sh, 0);
  AssembleOptions opts;
  opts.freeze_reshape = true;
  auto a = Array::assemble_members("t", borrowed(rs), opts);
  ASSERT_TRUE(a.is_ok()) << a.status().message();
  Array& arr = **a;
  EXPECT_EQ(*arr.attr("sync_action"), "frozen");
  EXPECT_EQ(*arr.attr("reshape_position"), std::to_string(rs.position));
  const uint64_t end = rs.end;
  std::vector<uint8_t> model = numbered(end);
  std::mt19937_64 rng(7);
  auto write_some = [&](int n) { write_random(arr, rng, end, n, &model); };
  // Held half-way (sync_max is in the reshape's own progress space, over the new data
  // disks: sectors of each member, as md's).
  const uint64_t half = (end / 2) / 96 * 96;
  ASSERT_TRUE(arr.set_attr("sync_max", std::to_string(half / (sh.to - 1))).is_ok());
  ASSERT_TRUE(arr.set_attr("sync_action", "reshape").is_ok());
  ASSERT_TRUE(arr.sync_engine().wait_published(half, 60s)) << *arr.attr("sync_completed");
  EXPECT_EQ(*arr.attr("sync_action"), "reshape");
  ASSERT_TRUE(arr.detail().reshape.has_value());
  EXPECT_TRUE(arr.detail().reshape->moving);
  const uint64_t at = std::stoull(*arr.attr("reshape_position"));
  EXPECT_EQ(at, sh.to > sh.from ? half : end - half);
  write_some(200);
  // On to the end, with a writer racing it.
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    while (!stop.load()) write_some(1);
  });
  ASSERT_TRUE(arr.set_attr("sync_max", "max").is_ok());
  const bool idle = arr.sync_engine().wait_idle(60s);
  stop.store(true);
  writer.join();
  ASSERT_TRUE(idle);
  EXPECT_FALSE(arr.detail().reshape.has_value());
  write_some(50);  // and after it, through the new geometry alone
  ASSERT_TRUE(arr.set_attr("sync_action", "check").is_ok());
  ASSERT_TRUE(arr.sync_engine().wait_idle(60s));
  EXPECT_EQ(*arr.attr("mismatch_cnt"), "0");
  ASSERT_TRUE(arr.stop().is_ok());
  a->reset();
  expect_contents(rs, model, new_size(sh), "offline");
}

// A member failing half-way: the reshape goes on to its end degraded (as md's does, reading
// the failed member's blocks from parity), clients keep reading and writing, and a spare
// added after it rebuilds the new geometry: check finds nothing and every sector is right.
TEST_P(ReshapeMoveTest, AMemberFailingHalfWayLeavesTheArrayDegradedAndWhole) {
  const Shape& sh = GetParam();
  Reshaped rs = make_reshaped(sh, 0);
  AssembleOptions opts;
  opts.freeze_reshape = true;
  auto a = Array::assemble_members("t", borrowed(rs), opts);
  ASSERT_TRUE(a.is_ok()) << a.status().message();
  Array& arr = **a;
  const uint64_t end = rs.end;
  std::vector<uint8_t> model = numbered(end);
  std::mt19937_64 rng(11);
  auto write_some = [&](int n) { write_random(arr, rng, end, n, &model); };
  auto expect_model = [&](const std::string& what) {
    AlignedBuffer got(end * 512);
    ASSERT_TRUE(submit_and_wait(arr, BlockOp::read, 0, end * 512, got.data()).is_ok()) << what;
    for (uint64_t s = 0; s < end; s++) {
      ASSERT_EQ(std::memcmp(got.data() + s * 512, model.data() + s * 512, 512), 0) << what << ": sector " << s;
    }
  };
  const uint64_t half = (end / 2) / 96 * 96;
  ASSERT_TRUE(arr.set_attr("sync_max", std::to_string(half / (sh.to - 1))).is_ok());
  ASSERT_TRUE(arr.set_attr("sync_action", "reshape").is_ok());
  ASSERT_TRUE(arr.sync_engine().wait_published(half, 60s)) << *arr.attr("sync_completed");
  write_some(50);
  // Slot 1 holds data in both geometries.
  ASSERT_TRUE(arr.fail_member("d1.img").is_ok());
  EXPECT_EQ(*arr.attr("degraded"), "1");
  write_some(50);
  expect_model("degraded, held half-way");
  ASSERT_TRUE(arr.set_attr("sync_max", "max").is_ok());
  ASSERT_TRUE(arr.sync_engine().wait_idle(60s));
  ASSERT_FALSE(arr.detail().reshape.has_value()) << *arr.attr("reshape_position");
  EXPECT_EQ(*arr.attr("raid_disks"), std::to_string(sh.to));
  expect_model("degraded, reshaped");
  write_some(50);
  // A spare takes the failed slot and recovery rebuilds it in the new geometry.
  ASSERT_TRUE(arr.remove_member("d1.img").is_ok());
  ASSERT_TRUE(arr.add_member(io::make_memory_member("s.img", kDev * 512), "s.img", false).is_ok());
  ASSERT_TRUE(arr.sync_engine().wait_idle(60s));
  EXPECT_EQ(*arr.attr("degraded"), "0");
  ASSERT_TRUE(arr.set_attr("sync_action", "check").is_ok());
  ASSERT_TRUE(arr.sync_engine().wait_idle(60s));
  EXPECT_EQ(*arr.attr("mismatch_cnt"), "0");
  expect_model("recovered");
}

// A run of the reshape from the start, the power cut at member write `cut_at` (never:
// ~0); returns the writes it counted.
uint64_t run_with_power_cut(Reshaped& rs, uint64_t cut_at) {
  PowerSwitch ps;
  ps.cut_at = cut_at;
  std::vector<std::unique_ptr<io::Member>> devs;
  for (auto& m : rs.mems) {
    auto fm = std::make_unique<io::FaultyMember>(std::make_unique<testing::BorrowedMember>(m.get()));
    EXPECT_TRUE(fm->set_write_cache(true).is_ok());
    ps.members.push_back(fm.get());
    devs.push_back(std::make_unique<CountingMember>(std::move(fm), &ps));
  }
  auto a = Array::assemble_members("t", std::move(devs), {});
  EXPECT_TRUE(a.is_ok()) << a.status().message();
  if (!a.is_ok()) return 0;
  // Ends either way: the reshape finishes, or every member is gone and it stops.
  EXPECT_TRUE((*a)->sync_engine().wait_idle(60s));
  if (ps.cut.load()) {
    for (io::FaultyMember* m : ps.members) m->power_cut();
  }
  a->reset();
  return ps.writes.load();
}

// Power cuts spread over a whole reshape (which records its position many times: the
// room between the old and new data is small). After each, the array assembles, the
// reshape resumes from the recorded position and runs to the end, and every sector is
// the one written before it began.
TEST_P(ReshapeMoveTest, PowerCutAnywhereResumesAndLosesNothing) {
  const Shape& sh = GetParam();
  uint64_t total = 0;
  {
    Reshaped rs = make_reshaped(sh, 0);
    total = run_with_power_cut(rs, ~0ull);
    expect_contents(rs, numbered(rs.end), new_size(sh), "uncut");
  }
  ASSERT_GT(total, 20u);
  // 12 cuts here; UMD_RESHAPE_CUTS=N for a denser sweep outside CI.
  const char* env = std::getenv("UMD_RESHAPE_CUTS");
  const uint64_t cuts = env ? std::max<uint64_t>(1, std::strtoull(env, nullptr, 10)) : 12;
  std::vector<uint64_t> cut_points;
  for (uint64_t i = 1; i <= cuts; i++) cut_points.push_back(total * i / (cuts + 1));
  // And inside the last superblock wave, md_finish_reshape's: some members take the new
  // geometry, the others keep the reshape one event behind.
  for (uint64_t k = 1; k <= sh.to; k++) cut_points.push_back(total - k);
  for (uint64_t cut_at : cut_points) {
    SCOPED_TRACE("power cut at member write " + std::to_string(cut_at) + " of " + std::to_string(total));
    Reshaped rs = make_reshaped(sh, 0);
    run_with_power_cut(rs, cut_at);
    // Assembled again: the reshape resumes where the superblocks say, and finishes.
    auto a = Array::assemble_members("t", borrowed(rs), {});
    ASSERT_TRUE(a.is_ok()) << a.status().message();
    ASSERT_TRUE((*a)->sync_engine().wait_idle(60s));
    EXPECT_FALSE((*a)->detail().reshape.has_value());
    ASSERT_TRUE((*a)->stop().is_ok());
    a->reset();
    expect_contents(rs, numbered(rs.end), new_size(sh), "after the cut and the resumed reshape");
    // Every member tells the same story afterwards: a member that missed the finishing
    // wave must not keep its reshape under a fresh event count.
    const Superblock1 first = sb_of(*rs.mems[0]);
    for (uint32_t i = 0; i < rs.mems.size(); i++) {
      const Superblock1 sb = sb_of(*rs.mems[i]);
      EXPECT_EQ(sb.events, first.events) << i;
      EXPECT_EQ(sb.feature_map & (kFeatureReshapeActive | kFeatureNewOffset | kFeatureReshapeBackwards), 0u) << i;
      EXPECT_EQ(sb.raid_disks, sh.to) << i;
      EXPECT_EQ(sb.data_offset, sh.new_off) << i;
      EXPECT_EQ(sb.data_size, kDev - sh.new_off) << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, ReshapeMoveTest, ::testing::Values(kGrow, kShrink),
                         [](const auto& info) { return std::string(info.param.name); });

// A reshape that rewrites in place (no new data offset), recorded past its critical
// section: the new rows stay below the old ones still needed, so it resumes by itself and
// runs to the end, as the kernel's raid5_run resumes it (reshaping_personality.h).
TEST(ReshapeInPlace, PastTheCriticalSectionItResumesAlone) {
  const Shape sh{"grow_4_to_5_in_place", 4, 5, 128, 128};
  Reshaped rs = make_reshaped(sh, 1);
  auto a = Array::assemble_members("t", borrowed(rs), {});
  ASSERT_TRUE(a.is_ok()) << a.status().message();
  EXPECT_FALSE((*a)->overseer_plan().has_value());
  ASSERT_TRUE((*a)->sync_engine().wait_idle(60s));
  EXPECT_FALSE((*a)->detail().reshape.has_value());
  ASSERT_TRUE((*a)->stop().is_ok());
  a->reset();
  expect_contents(rs, numbered(rs.end), new_size(sh), "after the reshape in place");
}

// Recorded inside its critical section (here at its start), it waits at sync_max for an
// overseer with the backup file, and says so; nothing is moved.
TEST(ReshapeInPlace, InsideTheCriticalSectionItWaitsForAnOverseer) {
  Reshaped rs = make_reshaped(Shape{"grow_4_to_5_in_place", 4, 5, 128, 128}, 0);
  auto a = Array::assemble_members("t", borrowed(rs), {});
  ASSERT_TRUE(a.is_ok()) << a.status().message();
  EXPECT_TRUE((*a)->overseer_plan().has_value());
  EXPECT_EQ(*(*a)->attr("sync_max"), "0");
  ASSERT_TRUE((*a)->detail().reshape.has_value());
  EXPECT_EQ((*a)->detail().reshape->position, 0u);
  bool warned = false;
  for (const std::string& w : (*a)->warnings()) warned |= w.find("--backup-file") != std::string::npos;
  EXPECT_TRUE(warned);
  ASSERT_TRUE((*a)->stop().is_ok());
  a->reset();
  expect_contents(rs, numbered(rs.end), rs.end, "held at 0");
}

// --grow on a running array: the superblocks are rewritten to record a reshape from 0
// with the data offset moved down by mdadm's rule, and the sync thread moves it while the
// array serves. The data stays, the array grows, check finds nothing, and the members,
// assembled again, are a plain array of the new shape.
namespace fs = std::filesystem;

class GrowTest : public testing::ArrayFixture {
 protected:
  // A raid5 of three 8 MiB members (64K chunks) holding a pattern, and a spare.
  void SetUp() override {
    ArrayFixture::SetUp();
    paths_ = make_array("5", 3, 8);
    a_ = assemble_faulty(paths_, &fms_);
    ASSERT_TRUE(a_);
    data_ = pattern(a_->size_bytes(), 5);
    AlignedBuffer buf(data_.size());
    std::memcpy(buf.data(), data_.data(), data_.size());
    ASSERT_TRUE(io(*a_, BlockOp::write, 0, buf.size(), buf.data()).is_ok());
    spare_ = (dir_ / "d3.img").string();
    FILE* f = fopen(spare_.c_str(), "w");
    fclose(f);
    fs::resize_file(spare_, 8 << 20);
  }
  void add_spare() { ASSERT_TRUE(a_->add_member(spare_, false).is_ok()); }
  void expect_data(Array& a) {
    AlignedBuffer back(data_.size());
    ASSERT_TRUE(io(a, BlockOp::read, 0, back.size(), back.data()).is_ok());
    EXPECT_EQ(std::memcmp(back.data(), data_.data(), data_.size()), 0);
  }
  std::vector<std::vector<uint8_t>> files() {
    std::vector<std::vector<uint8_t>> out;
    for (const std::string& p : paths_) out.push_back(read_file(p));
    out.push_back(read_file(spare_));
    return out;
  }
  static std::vector<uint8_t> read_file(const std::string& p) {
    std::vector<uint8_t> v(fs::file_size(p));
    FILE* f = fopen(p.c_str(), "rb");
    EXPECT_EQ(fread(v.data(), 1, v.size(), f), v.size());
    fclose(f);
    return v;
  }

  std::vector<std::string> paths_;
  std::vector<io::FaultyMember*> fms_;
  std::unique_ptr<Array> a_;
  std::vector<uint8_t> data_;
  std::string spare_;
};

TEST_F(GrowTest, RaidDevicesThreeToFourWhileServing) {
  add_spare();
  const uint64_t before = a_->size_bytes();
  const MemberInfo old = info_of(paths_[0]);
  ASSERT_TRUE(a_->start_reshape(ReshapeRequest{4, {}, {}, {}, false, false}).is_ok());
  // Recorded at once, as mdadm leaves it: from 0, the data offset down by mdadm's
  // min_offset_change, lcm(256, 384 sectors of data per row) / 2 old data disks = 384.
  const MemberInfo rec = info_of(paths_[0]);
  EXPECT_TRUE(rec.reshape_active);
  EXPECT_EQ(rec.new_data_offset, old.data_offset - 384);
  EXPECT_EQ(rec.raid_disks, 4u);
  EXPECT_EQ(rec.delta_disks, 1);
  ASSERT_TRUE(a_->sync_engine().wait_idle(60s)) << attr_of(*a_, "sync_action");
  EXPECT_FALSE(a_->detail().reshape.has_value());
  EXPECT_EQ(a_->size_bytes(), before / 2 * 3);
  expect_data(*a_);
  ASSERT_TRUE(a_->set_attr("sync_action", "check").is_ok());
  ASSERT_TRUE(a_->sync_engine().wait_idle(60s));
  EXPECT_EQ(attr_of(*a_, "mismatch_cnt"), "0");
  ASSERT_TRUE(a_->stop().is_ok());
  a_.reset();
  const MemberInfo done = info_of(spare_);
  EXPECT_FALSE(done.reshape_active);
  EXPECT_EQ(done.role, 3);
  EXPECT_EQ(done.data_offset, old.data_offset - 384);
  std::vector<std::string> all = paths_;
  all.push_back(spare_);
  fms_.clear();
  auto again = assemble_faulty(all, &fms_);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->detail().raid_disks, 4u);
  expect_data(*again);
}

// sync_max was a multiple of the old chunk when set, but not of the reshape's sections
// (whole new rows: 128 x 3 data disks = 384 sectors): the section it falls in is moved
// whole, as md's reshape_request does, so the position stays on a section boundary (md
// refuses any other, and a resume from one moved part of a section twice).
TEST_F(GrowTest, SyncMaxInsideASectionHoldsTheReshapeAtTheSectionsEnd) {
  add_spare();
  ASSERT_TRUE(a_->set_attr("sync_max", "640").is_ok());
  ASSERT_TRUE(a_->start_reshape(ReshapeRequest{4, {}, {}, {}, false, false}).is_ok());
  ASSERT_TRUE(a_->sync_engine().wait_published(640, 30s)) << attr_of(*a_, "sync_completed");
  EXPECT_EQ(attr_of(*a_, "reshape_position"), "768");
  ASSERT_TRUE(wait_until([&] { return info_of(paths_[0]).reshape_position == 768; }, 30s))
      << "recorded: " << info_of(paths_[0]).reshape_position;
  ASSERT_TRUE(a_->set_attr("sync_max", "max").is_ok());
  ASSERT_TRUE(a_->sync_engine().wait_idle(60s));
  EXPECT_FALSE(a_->detail().reshape.has_value());
  expect_data(*a_);
}

TEST_F(GrowTest, ChunkChangeOnTheSameDisks) {
  ASSERT_TRUE(a_->start_reshape(ReshapeRequest{{}, 256, {}, {}, false, false}).is_ok());
  ASSERT_TRUE(a_->sync_engine().wait_idle(60s));
  EXPECT_EQ(attr_of(*a_, "chunk_size"), std::to_string(128 * 1024));
  expect_data(*a_);
  ASSERT_TRUE(a_->set_attr("sync_action", "check").is_ok());
  ASSERT_TRUE(a_->sync_engine().wait_idle(60s));
  EXPECT_EQ(attr_of(*a_, "mismatch_cnt"), "0");
}

// Fewer devices, the way mdadm wants it done: the array cut first (--array-size), room
// made after the data (--size), then --raid-devices; the reshape walks back from the end
// with the data moving up, and the leaving member becomes a spare.
TEST_F(GrowTest, FewerDevicesAfterArraySizeAndSize) {
  const uint64_t comp = std::stoull(attr_of(*a_, "component_size")) * 2;
  const uint64_t min = 128;   // lcm(256, 128 sectors of data per row) / 2 old data disks
  const uint64_t keep = comp - min;  // one data disk of this many sectors is what is left
  // One refusal names both steps.
  Status s = a_->start_reshape(ReshapeRequest{2, {}, {}, {}, false, false});
  EXPECT_NE(s.message().find("first --grow --array-size=" + std::to_string(keep / 2) + "K, then --grow --size=" +
                             std::to_string(keep / 2) + "K"),
            std::string::npos)
      << s.message();
  ASSERT_TRUE(a_->set_array_size(keep).is_ok());
  s = a_->start_reshape(ReshapeRequest{2, {}, {}, {}, false, false});
  EXPECT_NE(s.message().find("first --grow --size=" + std::to_string(keep / 2) + "K"), std::string::npos)
      << s.message();
  ASSERT_TRUE(a_->set_component_size(keep).is_ok());
  const MemberInfo old = info_of(paths_[0]);
  ASSERT_TRUE(a_->start_reshape(ReshapeRequest{2, {}, {}, {}, false, false}).is_ok());
  const MemberInfo rec = info_of(paths_[0]);
  EXPECT_TRUE(rec.reshape_active);
  EXPECT_EQ(rec.delta_disks, -1);
  EXPECT_EQ(rec.raid_disks, 2u);
  EXPECT_EQ(rec.new_data_offset, old.data_offset + min);
  ASSERT_TRUE(a_->sync_engine().wait_idle(60s)) << attr_of(*a_, "sync_action");
  EXPECT_FALSE(a_->detail().reshape.has_value());
  EXPECT_EQ(attr_of(*a_, "raid_disks"), "2");
  data_.resize(keep * 512);
  expect_data(*a_);
  ASSERT_TRUE(a_->set_attr("sync_action", "check").is_ok());
  ASSERT_TRUE(a_->sync_engine().wait_idle(60s));
  EXPECT_EQ(attr_of(*a_, "mismatch_cnt"), "0");
  ASSERT_TRUE(a_->stop().is_ok());
  a_.reset();
  EXPECT_EQ(info_of(paths_[2]).role, MemberInfo::kSpare);
  fms_.clear();
  auto again = assemble_faulty(paths_, &fms_);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->detail().raid_disks, 2u);
  EXPECT_EQ(again->size_bytes(), keep * 512);
  expect_data(*again);
}

// raid10 near-2, 4 -> 5 members (md's raid10 reshape): the data moves down by the chunk,
// copies kept whole section by section; power cut at any point is the array tests' job.
class Raid10GrowTest : public testing::ArrayFixture {};

// raid10's bitmap counts array sectors, which md resizes when the reshape begins; umd does
// not yet, so a raid10 with a bitmap is refused its grow, nothing written.
TEST_F(Raid10GrowTest, ABitmapIsRefusedAndNothingChanges) {
  std::vector<std::string> paths = make_array("10", 4, 8);
  std::vector<io::FaultyMember*> fms;
  auto a = assemble_faulty(paths, &fms);
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->set_bitmap("internal").is_ok());
  const MemberInfo before = info_of(paths[0]);
  Status s = a->start_reshape(ReshapeRequest{{}, 256, {}, {}, false, false});
  EXPECT_EQ(s.code(), Err::busy);
  EXPECT_NE(s.message().find("write-intent bitmap"), std::string::npos) << s.message();
  EXPECT_EQ(info_of(paths[0]).events, before.events);
  EXPECT_FALSE(info_of(paths[0]).reshape_active);
}

TEST_F(Raid10GrowTest, FourToFiveMembers) {
  std::vector<std::string> paths = make_array("10", 4, 8);
  std::vector<io::FaultyMember*> fms;
  auto a = assemble_faulty(paths, &fms);
  ASSERT_TRUE(a);
  const std::vector<uint8_t> data = pattern(a->size_bytes(), 9);
  {
    AlignedBuffer buf(data.size());
    std::memcpy(buf.data(), data.data(), data.size());
    ASSERT_TRUE(io(*a, BlockOp::write, 0, buf.size(), buf.data()).is_ok());
  }
  const std::string spare = (dir_ / "d4.img").string();
  FILE* fh = fopen(spare.c_str(), "w");
  fclose(fh);
  fs::resize_file(spare, 8 << 20);
  ASSERT_TRUE(a->add_member(spare, false).is_ok());
  const uint64_t before = a->size_bytes();
  const MemberInfo old = info_of(paths[0]);
  ASSERT_TRUE(a->start_reshape(ReshapeRequest{5, {}, {}, {}, false, false}).is_ok());
  EXPECT_EQ(info_of(paths[0]).new_data_offset, old.data_offset - 128);  // mdadm: the chunk
  ASSERT_TRUE(a->sync_engine().wait_idle(60s)) << attr_of(*a, "sync_action");
  EXPECT_FALSE(a->detail().reshape.has_value());
  EXPECT_EQ(a->size_bytes(), before / 4 * 5);
  AlignedBuffer back(data.size());
  ASSERT_TRUE(io(*a, BlockOp::read, 0, back.size(), back.data()).is_ok());
  EXPECT_EQ(std::memcmp(back.data(), data.data(), data.size()), 0);
  ASSERT_TRUE(a->set_attr("sync_action", "check").is_ok());
  ASSERT_TRUE(a->sync_engine().wait_idle(60s));
  EXPECT_EQ(attr_of(*a, "mismatch_cnt"), "0");
  ASSERT_TRUE(a->stop().is_ok());
  a.reset();
  paths.push_back(spare);
  fms.clear();
  auto again = assemble_faulty(paths, &fms);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->detail().raid_disks, 5u);
  ASSERT_TRUE(io(*again, BlockOp::read, 0, back.size(), back.data()).is_ok());
  EXPECT_EQ(std::memcmp(back.data(), data.data(), data.size()), 0);
}

// What --grow refuses names the reason and leaves every member as it was.
TEST_F(GrowTest, RefusalsChangeNothing) {
  ASSERT_TRUE(a_->stop().is_ok());  // quiet members to compare
  fms_.clear();
  a_ = assemble_faulty(paths_, &fms_);
  ASSERT_TRUE(a_);
  a_->set_safe_mode_delay(0ms);
  const auto before = files();
  struct Case {
    ReshapeRequest rq;
    const char* says;
  };
  for (const Case& c : {Case{{4, {}, {}, {}, false, false}, "need 1 spare to avoid degraded array, and only have 0"},
                        Case{{3, {}, {}, {}, false, false}, "no change requested"},
                        Case{{2, {}, {}, {}, false, false}, "--array-size="},
                        Case{{{}, 96, {}, {}, false, false}, "chunk"}}) {
    Status s = a_->start_reshape(c.rq);
    EXPECT_FALSE(s.is_ok()) << c.says;
    EXPECT_NE(s.message().find(c.says), std::string::npos) << s.message();
  }
  EXPECT_TRUE(files() == before) << "a refused --grow wrote to a member";
  // A too-small new member: refused when it comes, or when the reshape would need it.
  const std::string small = (dir_ / "small.img").string();
  FILE* f = fopen(small.c_str(), "w");
  fclose(f);
  fs::resize_file(small, 2 << 20);
  Status added = a_->add_member(small, false);
  if (added.is_ok()) {
    Status s = a_->start_reshape(ReshapeRequest{4, {}, {}, {}, false, false});
    EXPECT_FALSE(s.is_ok());
    EXPECT_NE(s.message().find("too small"), std::string::npos) << s.message();
  } else {
    EXPECT_NE(added.message().find("small"), std::string::npos) << added.message();
  }
  EXPECT_TRUE(files() == before) << "a refused --grow wrote to a member";
  // A lockless bitmap: the kernel reshapes none (a classic one stays: the test below).
  ASSERT_TRUE(a_->set_bitmap("lockless").is_ok());
  Status s = a_->start_reshape(ReshapeRequest{{}, 256, {}, {}, false, false});
  EXPECT_EQ(s.code(), Err::busy);
  EXPECT_NE(s.message().find("write-intent bitmap"), std::string::npos) << s.message();
  ASSERT_TRUE(a_->set_bitmap("none").is_ok());
}

// An internal bitmap stays through a grow, as the kernel keeps it: the data moves down no
// further than the bitmap's end, writes during the move mark and clear bits, and the
// array assembles again with its bitmap, all bits clear after a quiet period.
TEST_F(GrowTest, AnInternalBitmapStaysThroughTheGrow) {
  ASSERT_TRUE(a_->set_bitmap("internal").is_ok());
  ASSERT_TRUE(a_->set_attr("bitmap/time_base", "1").is_ok());
  add_spare();
  const MemberInfo old = info_of(paths_[0]);
  ASSERT_TRUE(old.has_internal_bitmap);
  ASSERT_TRUE(a_->set_attr("sync_max", "3072").is_ok());
  ASSERT_TRUE(a_->start_reshape(ReshapeRequest{4, {}, {}, {}, false, false}).is_ok());
  ASSERT_TRUE(a_->sync_engine().wait_published(3072, 30s));
  // Writes on both sides of the held reshape, through both geometries.
  std::mt19937_64 rng(9);
  for (int i = 0; i < 40; i++) {
    const uint64_t len = 8 * (1 + rng() % 16), lo = rng() % (data_.size() / 512 - len) / 8 * 8;
    AlignedBuffer w(len * 512);
    for (uint64_t k = 0; k < len * 512; k++) w.data()[k] = uint8_t(rng());
    ASSERT_TRUE(io(*a_, BlockOp::write, lo * 512, w.size(), w.data()).is_ok());
    std::memcpy(data_.data() + lo * 512, w.data(), w.size());
  }
  ASSERT_TRUE(a_->set_attr("sync_max", "max").is_ok());
  ASSERT_TRUE(a_->sync_engine().wait_idle(60s));
  EXPECT_FALSE(a_->detail().reshape.has_value());
  expect_data(*a_);
  ASSERT_TRUE(a_->set_attr("sync_action", "check").is_ok());
  ASSERT_TRUE(a_->sync_engine().wait_idle(60s));
  EXPECT_EQ(attr_of(*a_, "mismatch_cnt"), "0");
  ASSERT_TRUE(wait_until([&] { return attr_of(*a_, "bitmap/umd_dirty_chunks") == "0"; }, 30s))
      << attr_of(*a_, "bitmap/umd_dirty_chunks");
  ASSERT_TRUE(a_->stop().is_ok());
  a_.reset();
  const MemberInfo done = info_of(paths_[0]);
  EXPECT_TRUE(done.has_internal_bitmap);
  EXPECT_EQ(done.data_offset, old.data_offset - 384);
  EXPECT_GE(done.data_offset, done.super_offset + uint64_t(done.bitmap_offset) + 8);
  std::vector<std::string> all = paths_;
  all.push_back(spare_);
  fms_.clear();
  auto again = assemble_faulty(all, &fms_);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->detail().raid_disks, 4u);
  expect_data(*again);
}

}  // namespace
}  // namespace umd::engine
