// The asynchronous data path of every personality: concurrent random writes through
// submit() on RAM members (behind FaultyMembers, so faults can be injected and I/O
// counted), checked against a model of the array's bytes, against parity (every row's
// P/Q agree with its data, as the kernel's "check" would find) and against degraded
// reads with members removed (so what the kernel reconstructs is the same data).
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "assemble/engine_test_util.h"
#include "personality/personality.h"
#include "personality/stripe_head.h"
#include "io/file_member.h"
#include "io/io_test_util.h"
#include "io/uring_queue.h"
#include "layout/geometry.h"
#include "parity/parity.h"
#include "util/aligned_buffer.h"

namespace umd::engine {
namespace {

using layout::GeometryParams;
using testing::BorrowedMember;
using testing::submit_and_wait;
using testing::TestHost;

constexpr uint64_t kDataOffset = 24;  // sectors before the data on every member

struct Case {
  std::string name;
  GeometryParams p;
};
std::ostream& operator<<(std::ostream& os, const Case& c) { return os << c.name; }

GeometryParams gp(int level, uint32_t layout, uint32_t chunk, uint32_t disks, std::vector<uint64_t> sizes) {
  return GeometryParams{level, layout, chunk, disks, std::move(sizes)};
}

layout::Geometry make_geo(const GeometryParams& p) {
  auto g = layout::make_geometry(p);
  EXPECT_TRUE(g.is_ok()) << g.status().message();
  return std::move(g).value();
}

// RAM members behind FaultyMembers (write cache off: every write lands on the RAM member).
class Rig {
 public:
  explicit Rig(const GeometryParams& p) : geo_(make_geo(p)), host_(p.raid_disks) {
    for (uint32_t d = 0; d < p.raid_disks; d++) {
      const uint64_t sectors = p.member_sectors.size() == 1 ? p.member_sectors[0] : p.member_sectors[d];
      mem_.push_back(io::make_memory_member("m" + std::to_string(d), (kDataOffset + sectors) * 512));
      faulty_.push_back(std::make_unique<io::FaultyMember>(std::make_unique<BorrowedMember>(mem_.back().get())));
      EXPECT_TRUE(faulty_.back()->set_write_cache(false).is_ok());
    }
    model_.assign(geo_.array_sectors() * 512, 0);
  }

  const layout::Geometry& geo() const { return geo_; }
  TestHost& host() { return host_; }
  io::FaultyMember& faulty(uint32_t d) { return *faulty_[d]; }
  uint8_t* raw(uint32_t d, uint64_t sector) { return mem_[d]->raw().data() + (kDataOffset + sector) * 512; }
  std::vector<uint8_t>& model() { return model_; }
  uint64_t bytes() const { return model_.size(); }

  std::unique_ptr<Personality> make(const std::vector<uint32_t>& missing = {}, PersonalityHost* host = nullptr) {
    std::vector<Slot> s;
    for (uint32_t d = 0; d < geo_.raid_disks(); d++) {
      const bool gone = std::find(missing.begin(), missing.end(), d) != missing.end();
      s.push_back(Slot{gone ? nullptr : faulty_[d].get(), kDataOffset});
    }
    auto p = make_personality(geo_, std::move(s), host);
    EXPECT_TRUE(p.is_ok()) << p.status().message();
    return p.is_ok() ? std::move(p).value() : nullptr;
  }
  // The usual personality: every member present, reporting to the test host.
  std::unique_ptr<Personality> make_hosted(const std::vector<uint32_t>& missing = {}) { return make(missing, &host_); }

  void reset_counters() {
    for (auto& f : faulty_) f->reset_counters();
  }
  uint64_t total_reads() {
    uint64_t n = 0;
    for (auto& f : faulty_) n += f->counters().reads;
    return n;
  }

 private:
  layout::Geometry geo_;
  std::vector<std::unique_ptr<io::MemoryMember>> mem_;
  std::vector<std::unique_ptr<io::FaultyMember>> faulty_;
  TestHost host_;
  std::vector<uint8_t> model_;
};

// Random writes (and write-zeroes) from several threads, each with several in flight. No
// two requests in flight overlap in bytes (a test-side range lock), so the model is
// exact; they do share chunk rows all the time. The model is updated at submit time.
struct Load {
  int threads = 4;
  int ops_per_thread = 40;
  int depth = 4;
  uint64_t max_sectors = 0;  // 0: three rows' worth of data
  uint32_t align_sectors = 1;
  bool zeroes = true;
  uint64_t seed = 1;
};

struct LoadResult {
  int failed = 0;
  Status first;
};

LoadResult run_load(Personality& p, std::vector<uint8_t>& model, const Load& load,
                    std::function<void(int)> after_op = nullptr) {
  const uint64_t total = model.size() / 512;
  const uint64_t row_sectors = std::max<uint64_t>(p.geometry().chunk_sectors(), 8) *
                               std::max<uint32_t>(p.geometry().raid_disks(), 1);
  const uint64_t max_sectors = std::min<uint64_t>(total, load.max_sectors ? load.max_sectors : 3 * row_sectors);
  std::mutex range_mu;
  std::vector<std::pair<uint64_t, uint64_t>> busy;  // [start, end) sectors in flight
  std::mutex res_mu;
  LoadResult res;
  std::atomic<int> ops_done{0};

  auto worker = [&](int t) {
    std::mt19937_64 rng(load.seed * 7919 + uint64_t(t));
    std::mutex mu;
    std::condition_variable cv;
    int inflight = 0;
    for (int i = 0; i < load.ops_per_thread; i++) {
      {
        std::unique_lock lk(mu);
        cv.wait(lk, [&] { return inflight < load.depth; });
        inflight++;
      }
      const uint64_t a = load.align_sectors;
      uint64_t start = 0, len = 0;
      for (;;) {
        len = (1 + rng() % std::max<uint64_t>(max_sectors / a, 1)) * a;
        if (rng() % 4 == 0) len = std::min<uint64_t>(a * (1 + rng() % 4), max_sectors);  // small ones too
        len = std::min(len, total / a * a);
        start = rng() % (total / a - len / a + 1) * a;
        std::lock_guard lk(range_mu);
        bool clash = false;
        for (auto& [s, e] : busy) clash |= start < e && s < start + len;
        if (!clash) {
          busy.emplace_back(start, start + len);
          break;
        }
      }
      struct Op {
        BlockRequest req;
        std::vector<uint8_t> data;
      };
      auto* op = new Op;
      const bool zeroes = load.zeroes && rng() % 8 == 0;
      op->req.op = zeroes ? BlockOp::write_zeroes : BlockOp::write;
      op->req.offset = start * 512;
      op->req.length = len * 512;
      op->req.fua = rng() % 5 == 0;
      if (!zeroes) {
        op->data.resize(len * 512 + 1);
        for (auto& b : op->data) b = uint8_t(rng());
        op->req.buf = op->data.data() + 1;  // deliberately misaligned: parity levels must copy
        std::memcpy(model.data() + start * 512, op->req.buf, len * 512);
      } else {
        std::memset(model.data() + start * 512, 0, len * 512);
      }
      op->req.done = [&, op, start](Status s) {
        if (!s.is_ok()) {
          std::lock_guard lk(res_mu);
          if (res.failed++ == 0) res.first = s;
        }
        {
          std::lock_guard lk(range_mu);
          for (auto it = busy.begin(); it != busy.end(); ++it) {
            if (it->first == start) {
              busy.erase(it);
              break;
            }
          }
        }
        // Deleting op destroys this closure: take what is still needed out of it first.
        std::atomic<int>* counter = &ops_done;
        std::mutex* m = &mu;
        std::condition_variable* c = &cv;
        int* in = &inflight;
        delete op;
        counter->fetch_add(1);
        std::lock_guard lk(*m);
        (*in)--;
        c->notify_all();
      };
      p.submit(op->req);
      if (after_op) after_op(ops_done.load());
    }
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return inflight == 0; });
  };
  std::vector<std::thread> ts;
  for (int t = 0; t < load.threads; t++) ts.emplace_back(worker, t);
  for (auto& t : ts) t.join();
  return res;
}

// Reads the whole array through submit() in random pieces, several in flight, and compares.
void expect_async_reads(Personality& p, const std::vector<uint8_t>& model, uint64_t seed = 3,
                        uint32_t align_sectors = 1) {
  const uint64_t total = model.size() / 512;
  AlignedBuffer out(model.size());
  std::memset(out.data(), 0xee, out.size());
  std::mt19937_64 rng(seed);
  std::mutex mu;
  std::condition_variable cv;
  int inflight = 0;
  int failed = 0;
  std::string first;
  std::vector<std::unique_ptr<BlockRequest>> reqs;
  for (uint64_t s = 0; s < total;) {
    const uint64_t n = std::min<uint64_t>(total - s, (1 + rng() % 40) * align_sectors);
    auto req = std::make_unique<BlockRequest>();
    req->op = BlockOp::read;
    req->offset = s * 512;
    req->length = n * 512;
    req->buf = out.data() + s * 512;
    req->done = [&](Status st) {
      std::lock_guard lk(mu);
      if (!st.is_ok() && failed++ == 0) first = st.message();
      inflight--;
      cv.notify_all();
    };
    {
      std::unique_lock lk(mu);
      cv.wait(lk, [&] { return inflight < 8; });
      inflight++;
    }
    p.submit(*req);
    reqs.push_back(std::move(req));
    s += n;
  }
  std::unique_lock lk(mu);
  cv.wait(lk, [&] { return inflight == 0; });
  EXPECT_EQ(failed, 0) << first;
  for (uint64_t s = 0; s < total; s++) {
    if (std::memcmp(out.data() + s * 512, model.data() + s * 512, 512) != 0) {
      ADD_FAILURE() << "async read: array sector " << s << " differs";
      return;
    }
  }
}

void expect_sync_read(Personality& p, const std::vector<uint8_t>& model, const std::string& what) {
  AlignedBuffer out(model.size());
  Status st = p.read(0, model.size() / 512, out.data());
  ASSERT_TRUE(st.is_ok()) << what << ": " << st.message();
  for (uint64_t s = 0; s < model.size() / 512; s++) {
    if (std::memcmp(out.data() + s * 512, model.data() + s * 512, 512) != 0) {
      ADD_FAILURE() << what << ": array sector " << s << " differs";
      return;
    }
  }
}

// Every row's P (and Q) agree with its data, read from the RAM members' raw bytes.
void expect_parity_consistent(Rig& rig) {
  const auto* g = rig.geo().as<layout::Raid456Geometry>();
  if (!g) return;
  const uint64_t chunk = g->chunk_sectors();
  for (uint64_t row = 0; row < g->rows(); row++) {
    const layout::StripeMap m = g->stripe(row);
    const bool has_q = m.qd_idx >= 0;
    std::vector<const uint8_t*> slots(has_q ? m.syndrome_width : m.ndata, nullptr);
    for (uint32_t d = 0; d < m.raid_disks; d++) {
      if (m.role[d] == layout::DiskRole::data) slots[has_q ? m.q_slot[d] : m.data_index[d]] = rig.raw(d, row * chunk);
    }
    const parity::PqCheck c = parity::check_pq(slots, rig.raw(uint32_t(m.pd_idx), row * chunk),
                                               has_q ? rig.raw(uint32_t(m.qd_idx), row * chunk) : nullptr,
                                               chunk * 512);
    if (!c.ok()) {
      ADD_FAILURE() << "row " << row << ": P ok " << c.p_ok << ", Q ok " << c.q_ok;
      return;
    }
  }
}

// Every copy of every array sector holds the model's bytes (raid1/raid10), except on `skip`.
void expect_copies_equal(Rig& rig, const std::vector<uint32_t>& skip = {}) {
  const uint64_t total = rig.geo().array_sectors();
  for (uint64_t s = 0; s < total; s++) {
    std::vector<layout::DevAddr> at;
    if (const auto* r1 = rig.geo().as<layout::Raid1Geometry>()) {
      for (uint32_t d = 0; d < r1->raid_disks(); d++) at.push_back(r1->map(s, d).at);
    } else if (const auto* r10 = rig.geo().as<layout::Raid10Geometry>()) {
      const auto c = r10->copies(s);
      at.assign(c.at.begin(), c.at.begin() + c.count);
    } else {
      return;
    }
    for (const auto& a : at) {
      if (std::find(skip.begin(), skip.end(), a.disk) != skip.end()) continue;
      if (std::memcmp(rig.raw(a.disk, a.sector), rig.model().data() + s * 512, 512) != 0) {
        ADD_FAILURE() << "array sector " << s << ": copy on slot " << a.disk << " differs";
        return;
      }
    }
  }
}

bool redundant(const layout::Geometry& g) { return g.level() >= 1; }

// With each single member (and for raid6 each pair) removed, reads still give the model.
void expect_degraded_reads(Rig& rig, const std::vector<uint32_t>& already_gone = {}) {
  const uint32_t n = rig.geo().raid_disks();
  std::vector<std::vector<uint32_t>> sets;
  for (uint32_t x = 0; x < n; x++) {
    sets.push_back({x});
    if (rig.geo().level() == 6) {
      for (uint32_t y = x + 1; y < n; y++) sets.push_back({x, y});
    }
  }
  for (auto set : sets) {
    for (uint32_t g : already_gone) {
      if (std::find(set.begin(), set.end(), g) == set.end()) set.push_back(g);
    }
    if (!rig.geo().survives(set)) continue;
    auto p = rig.make(set);
    std::string what = "missing";
    for (uint32_t d : set) what += " " + std::to_string(d);
    expect_sync_read(*p, rig.model(), what);
  }
}

std::vector<Case> write_cases() {
  std::vector<Case> v;
  v.push_back({"linear_3", gp(-1, 0, 0, 3, {40, 72, 17})});
  v.push_back({"raid0_3", gp(0, 2, 8, 3, {64, 64, 64})});
  v.push_back({"raid0_4_unequal", gp(0, 2, 16, 4, {200, 48, 100, 160})});
  v.push_back({"raid1_2", gp(1, 0, 0, 2, {96})});
  v.push_back({"raid1_3", gp(1, 0, 0, 3, {96})});
  v.push_back({"raid10_n2_3", gp(10, 0x102, 8, 3, {96})});
  v.push_back({"raid10_n2_4", gp(10, 0x102, 8, 4, {96})});
  v.push_back({"raid10_f2_4", gp(10, 0x201, 8, 4, {96})});
  v.push_back({"raid10_o2_3", gp(10, 0x10201, 8, 3, {96})});
  v.push_back({"raid10_n3_5", gp(10, 0x103, 8, 5, {96})});
  v.push_back({"raid4_4", gp(4, 0, 8, 4, {128})});
  for (uint32_t l = 0; l <= 5; l++) v.push_back({"raid5_4_layout" + std::to_string(l), gp(5, l, 8, 4, {128})});
  v.push_back({"raid5_6_layout2_chunk16", gp(5, 2, 16, 6, {128})});
  v.push_back({"raid5_2", gp(5, 2, 8, 2, {64})});
  for (uint32_t l : {1u, 2u, 5u, 8u, 9u, 10u, 17u, 20u}) {
    v.push_back({"raid6_5_layout" + std::to_string(l), gp(6, l, 8, 5, {128})});
  }
  v.push_back({"raid6_6_layout2", gp(6, 2, 8, 6, {128})});
  v.push_back({"raid6_4", gp(6, 2, 8, 4, {96})});
  return v;
}

class AsyncWriteTest : public ::testing::TestWithParam<Case> {};

TEST_P(AsyncWriteTest, ConcurrentRandomWritesReadBackAndStayConsistent) {
  Rig rig(GetParam().p);
  auto p = rig.make_hosted();
  ASSERT_NE(p, nullptr);
  LoadResult r = run_load(*p, rig.model(), Load{});
  EXPECT_EQ(r.failed, 0) << r.first.message();
  p->quiesce();
  EXPECT_EQ(rig.host().total_calls(), 0);
  expect_async_reads(*p, rig.model());
  expect_sync_read(*p, rig.model(), "all present");
  expect_parity_consistent(rig);
  expect_copies_equal(rig);
  if (redundant(rig.geo())) expect_degraded_reads(rig);
}

// Writes while a member is missing; reads reconstruct it, and for raid6 a second member
// may go as well.
TEST_P(AsyncWriteTest, DegradedWrites) {
  const auto geo = make_geo(GetParam().p);
  if (!redundant(geo)) GTEST_SKIP() << "no redundancy";
  const uint32_t n = geo.raid_disks();
  std::vector<std::vector<uint32_t>> sets = {{0}, {n - 1}};
  if (geo.level() == 6) sets.push_back({0, n - 1});
  for (const auto& missing : sets) {
    if (!geo.survives(missing)) continue;
    Rig rig(GetParam().p);
    auto p = rig.make_hosted(missing);
    LoadResult r = run_load(*p, rig.model(), Load{.threads = 3, .ops_per_thread = 30, .seed = missing[0] + 11u});
    EXPECT_EQ(r.failed, 0) << r.first.message();
    EXPECT_EQ(rig.host().total_calls(), 0);
    expect_async_reads(*p, rig.model());
    expect_sync_read(*p, rig.model(), "degraded personality");
    if (geo.level() == 6 && missing.size() == 1) expect_degraded_reads(rig, missing);
    expect_copies_equal(rig, missing);
  }
}

// A member starts failing every write in the middle of the run: the host hears of it
// exactly once, no request fails (redundancy covers it), and the data reads back with the
// member gone.
TEST_P(AsyncWriteTest, MemberFailsWritesMidRun) {
  const auto geo = make_geo(GetParam().p);
  if (!redundant(geo)) GTEST_SKIP() << "no redundancy";
  const uint32_t bad = 1 % geo.raid_disks();
  Rig rig(GetParam().p);
  auto p = rig.make_hosted();
  std::atomic<bool> injected{false};
  LoadResult r = run_load(*p, rig.model(), Load{.seed = 5}, [&](int done) {
    if (done >= 30 && !injected.exchange(true)) rig.faulty(bad).fail_writes(0, UINT64_MAX / 2);
  });
  ASSERT_TRUE(injected.load());
  EXPECT_EQ(r.failed, 0) << r.first.message();
  p->quiesce();
  EXPECT_EQ(rig.host().calls(bad), 1);
  EXPECT_EQ(rig.host().total_calls(), rig.host().calls(bad));
  if (rig.host().calls(bad) == 1) {
    EXPECT_NE(rig.host().last().message().find("injected"), std::string::npos) << rig.host().last().message();
  }
  // Writes after the failure never reach the member again.
  const uint64_t writes = rig.faulty(bad).counters().writes;
  LoadResult r2 = run_load(*p, rig.model(), Load{.threads = 2, .ops_per_thread = 20, .seed = 6});
  EXPECT_EQ(r2.failed, 0) << r2.first.message();
  if (rig.host().calls(bad) == 1) {
    EXPECT_EQ(rig.faulty(bad).counters().writes, writes);
  }
  expect_async_reads(*p, rig.model());
  auto degraded = rig.make({bad});
  expect_sync_read(*degraded, rig.model(), "failed member removed");
  if (geo.level() == 6) expect_degraded_reads(rig, {bad});
}

// A member fails reads over half its data for the whole run (writes still work): every
// read of it is rebuilt from the rest (parity) or served by another copy, and rewritten.
TEST_P(AsyncWriteTest, ReadErrorsOnOneMemberDuringWrites) {
  const auto geo = make_geo(GetParam().p);
  if (!redundant(geo)) GTEST_SKIP() << "no redundancy";
  Rig rig(GetParam().p);
  auto p = rig.make_hosted();
  const uint32_t bad = geo.raid_disks() - 1;
  rig.faulty(bad).fail_reads(0, (kDataOffset + 48) * 512);
  LoadResult r = run_load(*p, rig.model(), Load{.threads = 3, .ops_per_thread = 40, .seed = 8});
  EXPECT_EQ(r.failed, 0) << r.first.message();
  expect_async_reads(*p, rig.model());
  EXPECT_EQ(rig.host().total_calls(), 0);
  rig.faulty(bad).clear_faults();
  expect_sync_read(*p, rig.model(), "after read errors");
  expect_parity_consistent(rig);
  expect_copies_equal(rig);
}

INSTANTIATE_TEST_SUITE_P(Levels, AsyncWriteTest, ::testing::ValuesIn(write_cases()),
                         [](const auto& info) { return info.param.name; });

// ---- parity strategy ----

uint64_t bits(std::initializer_list<uint32_t> ds) {
  uint64_t m = 0;
  for (uint32_t d : ds) m |= uint64_t(1) << d;
  return m;
}

TEST(StripeHeadChoose, FullRmwRcwAndReconstruct) {
  using S = StripeHead::Strategy;
  uint64_t need = 0;
  // raid5 over 6 members: data 0-4, P on 5.
  const uint64_t data = bits({0, 1, 2, 3, 4}), p = bits({5});
  EXPECT_EQ(StripeHead::choose(data, p, data, 0, &need), S::full);
  EXPECT_EQ(need, 0u);
  EXPECT_EQ(StripeHead::choose(data, p, bits({0}), 0, &need), S::rmw);  // 2 reads vs 4
  EXPECT_EQ(need, bits({0, 5}));
  EXPECT_EQ(StripeHead::choose(data, p, bits({0, 1, 2, 3}), 0, &need), S::rcw);  // 5 vs 1
  EXPECT_EQ(need, bits({4}));
  // Tie (raid5 over 4: one of three data blocks: 2 reads either way) goes to rcw, as md.
  EXPECT_EQ(StripeHead::choose(bits({0, 1, 2}), bits({3}), bits({0}), 0, &need), S::rcw);
  EXPECT_EQ(need, bits({1, 2}));
  // Degraded: the written member is gone: rcw (parity only carries it).
  EXPECT_EQ(StripeHead::choose(data, p, bits({0}), bits({0}), &need), S::rcw);
  // An unwritten member is gone: rmw.
  EXPECT_EQ(StripeHead::choose(data, p, bits({0, 1, 2, 3}), bits({4}), &need), S::rmw);
  EXPECT_EQ(need, bits({0, 1, 2, 3, 5}));
  // P gone: rmw reads nothing (no parity to update).
  EXPECT_EQ(StripeHead::choose(data, p, bits({0}), bits({5}), &need), S::rmw);
  EXPECT_EQ(need, 0u);
  // raid6 with one written and one unwritten member gone: neither works alone.
  EXPECT_EQ(StripeHead::choose(bits({0, 1, 2, 3}), bits({4, 5}), bits({0}), bits({0, 1}), &need), S::reconstruct);
  EXPECT_EQ(need, bits({2, 3, 4, 5}));
}

// Reads issued per member by one write, from the FaultyMember counters.
TEST(ParityStrategyTest, FullStripeWritesIssueNoReads) {
  for (const auto& params : {gp(5, 2, 8, 4, {128}), gp(6, 2, 8, 6, {128}), gp(4, 0, 8, 5, {128})}) {
    Rig rig(params);
    auto p = rig.make_hosted();
    const auto& g = *rig.geo().as<layout::Raid456Geometry>();
    const uint64_t row_bytes = uint64_t(g.data_disks()) * g.chunk_sectors() * 512;
    std::vector<uint8_t> data(3 * row_bytes);
    std::mt19937_64 rng(9);
    for (auto& b : data) b = uint8_t(rng());
    rig.reset_counters();
    ASSERT_TRUE(submit_and_wait(*p, BlockOp::write, row_bytes, data.size(), data.data()).is_ok());
    ASSERT_TRUE(submit_and_wait(*p, BlockOp::write_zeroes, 5 * row_bytes, row_bytes, nullptr).is_ok());
    EXPECT_EQ(rig.total_reads(), 0u) << "level " << params.level;
    std::memcpy(rig.model().data() + row_bytes, data.data(), data.size());
    expect_parity_consistent(rig);
    expect_sync_read(*p, rig.model(), "after full-stripe writes");
  }
}

TEST(ParityStrategyTest, SmallWriteOnWideArrayIsReadModifyWrite) {
  Rig rig(gp(5, 2, 8, 6, {128}));  // 5 data members
  auto p = rig.make_hosted();
  std::vector<uint8_t> data(512, 0x5a);
  rig.reset_counters();
  ASSERT_TRUE(submit_and_wait(*p, BlockOp::write, 3 * 512, 512, data.data()).is_ok());
  EXPECT_EQ(rig.total_reads(), 2u);  // old data + old P
  // Four of five chunks of row 1: reconstruct-write reads the fifth only.
  const uint64_t chunk_bytes = 8 * 512;
  std::vector<uint8_t> big(4 * chunk_bytes, 0xa5);
  rig.reset_counters();
  ASSERT_TRUE(submit_and_wait(*p, BlockOp::write, 5 * chunk_bytes, big.size(), big.data()).is_ok());
  EXPECT_EQ(rig.total_reads(), 1u);
  std::memcpy(rig.model().data() + 3 * 512, data.data(), 512);
  std::memcpy(rig.model().data() + 5 * chunk_bytes, big.data(), big.size());
  expect_parity_consistent(rig);
  expect_sync_read(*p, rig.model(), "after rmw and rcw");
}

TEST(ParityStrategyTest, TieGoesToReconstructWrite) {
  Rig rig(gp(5, 2, 8, 4, {128}));  // 3 data members: one chunk -> 2 reads either way
  auto p = rig.make_hosted();
  const auto& g = *rig.geo().as<layout::Raid456Geometry>();
  std::vector<uint8_t> data(8 * 512, 0x33);
  rig.reset_counters();
  ASSERT_TRUE(submit_and_wait(*p, BlockOp::write, 0, data.size(), data.data()).is_ok());
  const layout::StripeMap m = g.stripe(0);
  EXPECT_EQ(rig.faulty(uint32_t(m.pd_idx)).counters().reads, 0u);  // rcw does not read P
  EXPECT_EQ(rig.total_reads(), 2u);
}

// A member whose reads fail over one chunk holding data, with garbage at rest there: reads
// come back right (rebuilt from the row) and the chunk is rewritten on the member.
TEST(ParityRepairTest, ReadErrorIsRebuiltAndRepaired) {
  for (const auto& params : {gp(5, 2, 8, 4, {128}), gp(6, 9, 8, 5, {128})}) {
    Rig rig(params);
    auto p = rig.make_hosted();
    LoadResult r = run_load(*p, rig.model(), Load{.threads = 2, .ops_per_thread = 30, .zeroes = false});
    ASSERT_EQ(r.failed, 0) << r.first.message();
    // Also write the whole array so every chunk holds something.
    std::mt19937_64 rng(4);
    for (auto& b : rig.model()) b = uint8_t(rng());
    ASSERT_TRUE(submit_and_wait(*p, BlockOp::write, 0, rig.bytes(), rig.model().data()).is_ok());
    const auto& g = *rig.geo().as<layout::Raid456Geometry>();
    const uint32_t bad = 2;
    uint64_t row = 0;
    while (g.stripe(row).role[bad] != layout::DiskRole::data) row++;
    const uint64_t chunk = g.chunk_sectors();
    std::vector<uint8_t> good(rig.raw(bad, row * chunk), rig.raw(bad, row * chunk) + chunk * 512);
    std::memset(rig.raw(bad, row * chunk), 0xde, chunk * 512);
    rig.faulty(bad).fail_reads((kDataOffset + row * chunk + 2) * 512, 512, EIO, 1);  // one failing read
    expect_async_reads(*p, rig.model(), 8);
    EXPECT_EQ(rig.faulty(bad).counters().injected, 1u);
    EXPECT_EQ(std::memcmp(rig.raw(bad, row * chunk), good.data(), good.size()), 0) << "chunk not repaired";
    EXPECT_EQ(rig.host().total_calls(), 0);
    expect_parity_consistent(rig);
  }
}

// The repair write fails too: the member is failed, the read still succeeds.
TEST(ParityRepairTest, FailedRepairFailsTheMember) {
  Rig rig(gp(5, 2, 8, 4, {128}));
  auto p = rig.make_hosted();
  rig.faulty(1).fail_reads(0, UINT64_MAX / 2);
  rig.faulty(1).fail_writes(0, UINT64_MAX / 2);
  expect_async_reads(*p, rig.model());
  EXPECT_EQ(rig.host().calls(1), 1);
  EXPECT_EQ(rig.host().total_calls(), 1);
}

TEST(ParityDegradedTest, TooManyLostMembersFailWrites) {
  Rig rig(gp(5, 2, 8, 4, {128}));
  auto p = rig.make_hosted({0});
  rig.faulty(1).fail_writes(0, UINT64_MAX / 2);
  std::vector<uint8_t> data(3 * 8 * 512, 1);
  Status st = submit_and_wait(*p, BlockOp::write, 0, data.size(), data.data());
  EXPECT_EQ(st.code(), Err::io) << st.message();
  EXPECT_EQ(rig.host().calls(1), 1);
  // Two gone: reads of what lived there fail too.
  AlignedBuffer out(data.size());
  EXPECT_EQ(submit_and_wait(*p, BlockOp::read, 0, out.size(), out.data()).code(), Err::io);
}

TEST(ParityTrimTest, TrimIsAdvisoryAndWriteZeroesZeroes) {
  Rig rig(gp(6, 2, 8, 5, {128}));
  auto p = rig.make_hosted();
  std::mt19937_64 rng(2);
  for (auto& b : rig.model()) b = uint8_t(rng());
  ASSERT_TRUE(submit_and_wait(*p, BlockOp::write, 0, rig.bytes(), rig.model().data()).is_ok());
  rig.reset_counters();
  ASSERT_TRUE(submit_and_wait(*p, BlockOp::trim, 4096, 64 * 1024, nullptr).is_ok());
  EXPECT_EQ(rig.faulty(0).counters().discards + rig.faulty(0).counters().writes, 0u);
  ASSERT_TRUE(submit_and_wait(*p, BlockOp::write_zeroes, 1024, 40 * 1024, nullptr).is_ok());
  std::memset(rig.model().data() + 1024, 0, 40 * 1024);
  expect_sync_read(*p, rig.model(), "after trim and write-zeroes");
  expect_parity_consistent(rig);
}

// ---- striped and mirrored specifics ----

TEST(StripedWriteTest, WriteErrorFailsMemberAndRequest) {
  Rig rig(gp(0, 2, 8, 3, {64, 64, 64}));
  auto p = rig.make_hosted();
  rig.faulty(1).fail_writes(0, UINT64_MAX / 2);
  std::vector<uint8_t> data(8 * 512, 7);
  EXPECT_TRUE(submit_and_wait(*p, BlockOp::write, 0, data.size(), data.data()).is_ok());  // chunk 0: slot 0
  Status st = submit_and_wait(*p, BlockOp::write, 8 * 512, data.size(), data.data());
  EXPECT_EQ(st.code(), Err::io);
  EXPECT_EQ(rig.host().calls(1), 1);
  st = submit_and_wait(*p, BlockOp::write, 0, 3 * data.size(), std::vector<uint8_t>(3 * data.size()).data());
  EXPECT_EQ(st.code(), Err::io);  // the failed slot is not written again
  EXPECT_EQ(rig.host().calls(1), 1);
  EXPECT_EQ(rig.faulty(1).counters().writes, 1u);
}

TEST(StripedWriteTest, TrimDiscardsOnMembers) {
  for (const auto& params : {gp(0, 2, 8, 3, {64, 64, 64}), gp(1, 0, 0, 2, {128}), gp(10, 0x102, 8, 4, {64})}) {
    Rig rig(params);
    auto p = rig.make_hosted();
    std::mt19937_64 rng(2);
    for (auto& b : rig.model()) b = uint8_t(rng() | 1);
    ASSERT_TRUE(submit_and_wait(*p, BlockOp::write, 0, rig.bytes(), rig.model().data()).is_ok());
    ASSERT_TRUE(submit_and_wait(*p, BlockOp::trim, 4096, 16 * 1024, nullptr).is_ok());
    ASSERT_TRUE(submit_and_wait(*p, BlockOp::write_zeroes, 32 * 1024, 8 * 1024, nullptr).is_ok());
    std::memset(rig.model().data() + 4096, 0, 16 * 1024);  // RAM members zero discarded ranges
    std::memset(rig.model().data() + 32 * 1024, 0, 8 * 1024);
    uint64_t discards = 0;
    for (uint32_t d = 0; d < rig.geo().raid_disks(); d++) discards += rig.faulty(d).counters().discards;
    EXPECT_GT(discards, 0u);
    expect_sync_read(*p, rig.model(), "after trim");
    expect_copies_equal(rig);
  }
}

TEST(MirroredWriteTest, ReadErrorFallsToAnotherCopyAndRepairs) {
  for (uint32_t layout : {0u, 0x102u, 0x201u}) {
    Rig rig(layout ? gp(10, layout, 8, 4, {96}) : gp(1, 0, 0, 2, {96}));
    auto p = rig.make_hosted();
    std::mt19937_64 rng(layout);
    for (auto& b : rig.model()) b = uint8_t(rng());
    ASSERT_TRUE(submit_and_wait(*p, BlockOp::write, 0, rig.bytes(), rig.model().data()).is_ok());
    // The copy the balancer picks when idle is the first in md's order.
    layout::DevAddr first;
    if (const auto* r10 = rig.geo().as<layout::Raid10Geometry>()) {
      first = r10->copies(40).at[0];
    } else {
      first = {0, 40};
    }
    std::memset(rig.raw(first.disk, first.sector), 0xde, 512);
    rig.faulty(first.disk).fail_reads((kDataOffset + first.sector) * 512, 512, EIO, 1);
    AlignedBuffer out(8 * 512);
    ASSERT_TRUE(submit_and_wait(*p, BlockOp::read, 40 * 512, 512, out.data()).is_ok());
    EXPECT_EQ(std::memcmp(out.data(), rig.model().data() + 40 * 512, 512), 0);
    EXPECT_EQ(rig.faulty(first.disk).counters().injected, 1u) << std::hex << layout;
    EXPECT_EQ(std::memcmp(rig.raw(first.disk, first.sector), rig.model().data() + 40 * 512, 512), 0)
        << "copy not repaired, layout " << std::hex << layout;
    EXPECT_EQ(rig.host().total_calls(), 0);
    expect_copies_equal(rig);
  }
}

TEST(MirroredWriteTest, EveryCopyFailingFailsTheWrite) {
  Rig rig(gp(1, 0, 0, 2, {64}));
  auto p = rig.make_hosted({1});
  rig.faulty(0).fail_writes(0, UINT64_MAX / 2);
  std::vector<uint8_t> data(512, 1);
  EXPECT_EQ(submit_and_wait(*p, BlockOp::write, 0, 512, data.data()).code(), Err::io);
  EXPECT_EQ(rig.host().calls(0), 1);
}

TEST(MirroredWriteTest, ConcurrentReadsSpreadOverCopies) {
  Rig rig(gp(1, 0, 0, 3, {256}));
  auto p = rig.make_hosted();
  for (uint32_t d = 0; d < 3; d++) rig.faulty(d).set_delay(std::chrono::microseconds(300));
  // Reads go to the copy with the fewest in flight, so only reads that overlap in time
  // spread. How much they overlap is up to the scheduler (under TSan, threads may run
  // nearly one after another), so send bursts until every copy has served one; a policy
  // that always picks one copy fails all 20.
  auto all_copies_read = [&] {
    for (uint32_t d = 0; d < 3; d++) {
      if (rig.faulty(d).counters().reads == 0) return false;
    }
    return true;
  };
  for (int burst = 0; burst < 20 && !all_copies_read(); burst++) {
    std::vector<std::thread> ts;
    for (int t = 0; t < 6; t++) {
      ts.emplace_back([&, t] {
        AlignedBuffer out(4096);
        for (int i = 0; i < 6; i++) EXPECT_TRUE(submit_and_wait(*p, BlockOp::read, uint64_t(t * 8 + i) * 4096 % (128 * 512), 4096, out.data()).is_ok());
      });
    }
    for (auto& t : ts) t.join();
  }
  for (uint32_t d = 0; d < 3; d++) EXPECT_GT(rig.faulty(d).counters().reads, 0u) << "slot " << d;
}

// ---- the generic contract ----

TEST(PersonalitySubmitTest, BadRequestsAreInvalid) {
  Rig rig(gp(5, 2, 8, 4, {64}));
  auto p = rig.make_hosted();
  AlignedBuffer buf(4096);
  EXPECT_EQ(submit_and_wait(*p, BlockOp::flush, 0, 0, nullptr).code(), Err::invalid);
  EXPECT_EQ(submit_and_wait(*p, BlockOp::read, 100, 512, buf.data()).code(), Err::invalid);
  EXPECT_EQ(submit_and_wait(*p, BlockOp::write, 0, 100, buf.data()).code(), Err::invalid);
  EXPECT_EQ(submit_and_wait(*p, BlockOp::write, rig.bytes() - 512, 1024, buf.data()).code(), Err::invalid);
  EXPECT_TRUE(submit_and_wait(*p, BlockOp::write, rig.bytes(), 0, buf.data()).is_ok());
  EXPECT_EQ(p->block_size(), 512u);
}

TEST(PersonalitySubmitTest, FuaReachesEveryMemberWrite) {
  for (const auto& params : {gp(5, 2, 8, 4, {64}), gp(10, 0x102, 8, 4, {64}), gp(0, 2, 8, 2, {64, 64})}) {
    Rig rig(params);
    for (uint32_t d = 0; d < params.raid_disks; d++) ASSERT_TRUE(rig.faulty(d).set_write_cache(true).is_ok());
    auto p = rig.make_hosted();
    std::vector<uint8_t> data(20 * 512, 3);
    ASSERT_TRUE(submit_and_wait(*p, BlockOp::write, 1024, data.size(), data.data(), true).is_ok());
    uint64_t dirty = 0;
    for (uint32_t d = 0; d < params.raid_disks; d++) dirty += rig.faulty(d).dirty_bytes();
    EXPECT_EQ(dirty, 0u) << "level " << params.level;
    ASSERT_TRUE(submit_and_wait(*p, BlockOp::write, 1024, data.size(), data.data(), false).is_ok());
    dirty = 0;
    for (uint32_t d = 0; d < params.raid_disks; d++) dirty += rig.faulty(d).dirty_bytes();
    EXPECT_GT(dirty, 0u);
  }
}

TEST(PersonalitySubmitTest, QuiesceWaitsForEverything) {
  for (const auto& params : {gp(5, 2, 8, 4, {128}), gp(10, 0x102, 8, 4, {128}), gp(0, 2, 8, 2, {64, 64})}) {
    Rig rig(params);
    for (uint32_t d = 0; d < params.raid_disks; d++) rig.faulty(d).set_delay(std::chrono::microseconds(200));
    auto p = rig.make_hosted();
    std::atomic<int> completed{0};
    std::vector<std::thread> ts;
    std::vector<std::vector<uint8_t>> bufs(4, std::vector<uint8_t>(4096, 9));
    std::vector<BlockRequest> reqs(4);
    for (int t = 0; t < 4; t++) {
      reqs[t].op = BlockOp::write;
      reqs[t].offset = uint64_t(t) * 8192;
      reqs[t].length = 4096;
      reqs[t].buf = bufs[t].data();
      reqs[t].done = [&](Status s) {
        EXPECT_TRUE(s.is_ok()) << s.message();
        completed.fetch_add(1);
      };
      ts.emplace_back([&, t] { p->submit(reqs[t]); });
    }
    for (auto& t : ts) t.join();
    p->quiesce();
    EXPECT_EQ(completed.load(), 4);
  }
}

// ---- real files through io_uring, completions on the reaper thread ----

class UringArrayTest : public ::testing::TestWithParam<Case> {};

TEST_P(UringArrayTest, ConcurrentWritersOnFiles) {
  const GeometryParams params = GetParam().p;
  auto q = io::UringQueue::create(io::UringQueue::Options{.depth = 64, .reaper_thread = true});
  if (!q.is_ok()) GTEST_SKIP() << q.status().message();
  io::testing::TempDir dir;
  const layout::Geometry geo = make_geo(params);
  std::vector<std::unique_ptr<io::Member>> members;
  std::vector<std::string> paths;
  for (uint32_t d = 0; d < params.raid_disks; d++) {
    paths.push_back(dir.make_file("d" + std::to_string(d) + ".img", (kDataOffset + params.member_sectors[0]) * 512));
    auto m = io::open_file_member(paths.back(), io::OpenOptions{.direct = true, .ring = q->get()});
    ASSERT_TRUE(m.is_ok()) << m.status().message();
    members.push_back(std::move(m).value());
  }
  std::vector<Slot> slots;
  for (auto& m : members) slots.push_back(Slot{m.get(), kDataOffset});
  TestHost host(params.raid_disks);
  auto pr = make_personality(geo, slots, &host);
  ASSERT_TRUE(pr.is_ok());
  Personality& p = **pr;
  const uint32_t align = p.block_size() / 512;
  std::vector<uint8_t> model(geo.array_sectors() * 512, 0);
  LoadResult r = run_load(p, model, Load{.threads = 4, .ops_per_thread = 40, .align_sectors = align, .seed = 21});
  EXPECT_EQ(r.failed, 0) << r.first.message();
  p.quiesce();
  EXPECT_EQ(host.total_calls(), 0);
  expect_async_reads(p, model, 5, align);
  expect_sync_read(p, model, "io_uring array");
  // Parity from the files themselves.
  if (const auto* g = geo.as<layout::Raid456Geometry>()) {
    const uint64_t chunk = g->chunk_sectors();
    for (uint64_t row = 0; row < g->rows(); row++) {
      const layout::StripeMap m = g->stripe(row);
      std::vector<std::vector<uint8_t>> blocks;
      for (uint32_t d = 0; d < m.raid_disks; d++) {
        blocks.push_back(io::testing::read_file(paths[d], (kDataOffset + row * chunk) * 512, chunk * 512));
      }
      std::vector<const uint8_t*> data(m.ndata);
      for (uint32_t d = 0; d < m.raid_disks; d++) {
        if (m.role[d] == layout::DiskRole::data) data[m.data_index[d]] = blocks[d].data();
      }
      ASSERT_TRUE(parity::check_pq(data, blocks[uint32_t(m.pd_idx)].data(), nullptr, chunk * 512).ok())
          << "row " << row;
    }
  }
  for (uint32_t d = 0; d < params.raid_disks; d++) {
    if (!geo.survives(std::vector<uint32_t>{d})) continue;
    std::vector<Slot> s = slots;
    s[d] = Slot{};
    auto degraded = make_personality(geo, s, nullptr);
    ASSERT_TRUE(degraded.is_ok());
    expect_sync_read(**degraded, model, "io_uring array without slot " + std::to_string(d));
  }
}

INSTANTIATE_TEST_SUITE_P(Files, UringArrayTest,
                         ::testing::Values(Case{"raid5_4", gp(5, 2, 16, 4, {256})},
                                           Case{"raid10_n2_4", gp(10, 0x102, 16, 4, {256})}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace umd::engine
