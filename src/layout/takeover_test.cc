#include "layout/takeover.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <map>
#include <set>

#include "layout/test_picture.h"

namespace umd::layout {
namespace {

using testing::params;

Geometry geo(int level, uint32_t layout, uint32_t chunk, uint32_t disks, std::vector<uint64_t> sizes) {
  auto g = make_geometry(params(level, layout, chunk, disks, std::move(sizes)));
  EXPECT_TRUE(g.is_ok()) << g.status().message();
  return std::move(g).value();
}

// Every place that holds array sector s: its copies, and for a raid5 with one data disk
// the parity too (P of one block is that block).
std::set<std::pair<uint32_t, uint64_t>> places(const Geometry& g, uint64_t s) {
  std::set<std::pair<uint32_t, uint64_t>> out;
  if (auto* r = g.as<Raid1Geometry>()) {
    for (uint32_t d = 0; d < r->raid_disks(); d++) out.insert({d, s});
  }
  if (auto* r = g.as<Raid0Geometry>()) out.insert({r->map(s).at.disk, r->map(s).at.sector});
  if (auto* r = g.as<Raid10Geometry>()) {
    Raid10Copies c = r->copies(s);
    for (uint32_t i = 0; i < c.count; i++) out.insert({c.at[i].disk, c.at[i].sector});
  }
  if (auto* r = g.as<Raid456Geometry>()) {
    ChunkPlace p = r->compute_sector(s);
    out.insert({p.disk, p.dev_sector});
    if (r->data_disks() == 1) out.insert({uint32_t(r->stripe(p.dev_sector / r->chunk_sectors()).pd_idx), p.dev_sector});
  }
  return out;
}

// Sectors that would move: wherever the new geometry keeps a sector on a slot a member
// fills, the old geometry must have had it at the same sector of that member.
size_t moved_sectors(const Geometry& old, const Takeover& t) {
  const Geometry ng = geo(t.params.level, t.params.layout, t.params.chunk_sectors, t.params.raid_disks,
                          t.params.member_sectors);
  EXPECT_EQ(ng.array_sectors(), old.array_sectors());
  size_t moved = 0, kept = 0;
  for (uint64_t s = 0; s < old.array_sectors(); s += 3) {
    const auto was = places(old, s);
    for (auto [slot, sector] : places(ng, s)) {
      const int from = t.from_slot[slot];
      if (from < 0) continue;  // a new slot: recovery fills it
      (was.count({uint32_t(from), sector}) ? kept : moved)++;
    }
  }
  EXPECT_GT(kept + moved, 0u);
  return moved;
}
void expect_no_byte_moves(const Geometry& old, const Takeover& t) { EXPECT_EQ(moved_sectors(old, t), 0u); }

TakeoverRequest to(int level) {
  TakeoverRequest r;
  r.level = level;
  return r;
}
TakeoverRequest preserve(int level) {
  TakeoverRequest r = to(level);
  r.preserve = true;
  return r;
}

TEST(TakeoverTest, Raid1ToRaid5PicksTheKernelsChunk) {
  const Geometry r1 = geo(1, 0, 0, 2, {4096});
  auto t = plan_takeover(r1, {true, true}, to(5));
  ASSERT_TRUE(t.is_ok()) << t.status().message();
  EXPECT_EQ(t->params.chunk_sectors, 128u);  // 64K divides 2 MiB
  EXPECT_EQ(t->params.layout, 2u);          // left-symmetric
  expect_no_byte_moves(r1, *t);
  // 2 MiB + 24K: 8K is the largest power of two that divides it.
  const Geometry odd = geo(1, 0, 0, 2, {4096 + 48});
  auto t2 = plan_takeover(odd, {true, true}, to(5));
  ASSERT_TRUE(t2.is_ok());
  EXPECT_EQ(t2->params.chunk_sectors, 16u);
  expect_no_byte_moves(odd, *t2);
  auto bad = plan_takeover(geo(1, 0, 0, 2, {4097}), {true, true}, to(5));
  EXPECT_NE(bad.status().message().find("multiple of 4K"), std::string::npos);
  EXPECT_NE(plan_takeover(geo(1, 0, 0, 3, {4096}), {true, true, true}, to(5)).status().message().find("2-device"),
            std::string::npos);
}

TEST(TakeoverTest, Raid5ToRaid1AndBack) {
  for (uint32_t layout : {0u, 1u, 2u, 3u, 4u, 5u}) {
    const Geometry r5 = geo(5, layout, 16, 2, {4096});
    auto t = plan_takeover(r5, {true, true}, to(1));
    ASSERT_TRUE(t.is_ok()) << layout << ": " << t.status().message();
    expect_no_byte_moves(r5, *t);
  }
}

TEST(TakeoverTest, Raid5ToRaid6KeepsEveryBlockAndParityAndAddsQLast) {
  for (uint32_t layout : {0u, 1u, 2u, 3u, 4u, 5u}) {
    const Geometry r5 = geo(5, layout, 8, 4, {8 * 20});
    auto t = plan_takeover(r5, {true, true, true, true}, preserve(6));
    ASSERT_TRUE(t.is_ok()) << t.status().message();
    EXPECT_EQ(t->params.raid_disks, 5u);
    EXPECT_EQ(t->from_slot, (std::vector<int>{0, 1, 2, 3, -1}));
    expect_no_byte_moves(r5, *t);
    const Geometry r6 = geo(6, t->params.layout, 8, 5, {8 * 20});
    for (uint64_t row = 0; row < 20; row++) {
      EXPECT_EQ(r6.as<Raid456Geometry>()->stripe(row).pd_idx, r5.as<Raid456Geometry>()->stripe(row).pd_idx);
      EXPECT_EQ(r6.as<Raid456Geometry>()->stripe(row).qd_idx, 4) << "layout " << layout;
    }
    // And back: the Q member leaves as a spare.
    auto back = plan_takeover(r6, {true, true, true, true, true}, to(5));
    ASSERT_TRUE(back.is_ok()) << back.status().message();
    EXPECT_EQ(back->params.layout, layout);
    EXPECT_EQ(back->leaving, (std::vector<uint32_t>{4}));
    EXPECT_TRUE(back->leaving_as_spares);
    expect_no_byte_moves(r6, *back);
  }
  // Without --layout mdadm restripes into raid6's layout of the same name after the
  // takeover; --layout names another.
  auto std6 = plan_takeover(geo(5, 2, 8, 4, {8 * 20}), {true, true, true, true}, to(6));
  ASSERT_TRUE(std6.is_ok()) << std6.status().message();
  EXPECT_EQ(std6->params.layout, 18u);
  EXPECT_EQ(std6->restripe_after, 2u);
  TakeoverRequest rs = to(6);
  rs.layout = 3;
  EXPECT_EQ(plan_takeover(geo(5, 2, 8, 4, {8 * 20}), {true, true, true, true}, rs)->restripe_after, 3u);
  EXPECT_FALSE(plan_takeover(geo(5, 5, 8, 4, {8 * 20}), {true, true, true, true}, to(6))->restripe_after);
  // raid6 with Q rotating: first restriped into its "-6" twin, then taken over.
  auto ls6 = plan_takeover(geo(6, 2, 8, 5, {8 * 20}), std::vector<bool>(5, true), to(5));
  ASSERT_TRUE(ls6.is_ok()) << ls6.status().message();
  EXPECT_EQ(ls6->restripe_before, 18u);
  TakeoverRequest ra = to(5);
  ra.layout = 1;
  EXPECT_EQ(plan_takeover(geo(6, 18, 8, 5, {8 * 20}), std::vector<bool>(5, true), ra)->restripe_before, 17u);
}

TEST(TakeoverTest, Raid0ToParityLastAndBack) {
  const Geometry r0 = geo(0, 0, 16, 3, {16 * 10, 16 * 10, 16 * 10});
  for (int level : {4, 5}) {
    auto t = plan_takeover(r0, {true, true, true}, preserve(level));
    ASSERT_TRUE(t.is_ok()) << t.status().message();
    EXPECT_EQ(t->from_slot, (std::vector<int>{0, 1, 2, -1}));
    expect_no_byte_moves(r0, *t);
    const Geometry p = geo(level, t->params.layout, 16, 4, {16 * 10});
    auto back = plan_takeover(p, {true, true, true, true}, to(0));
    ASSERT_TRUE(back.is_ok()) << back.status().message();
    EXPECT_EQ(back->leaving, (std::vector<uint32_t>{3}));
    EXPECT_TRUE(back->data_size_is_component);
    expect_no_byte_moves(p, *back);
  }
  // mdadm's defaults: raid0 -> raid5 ends left-symmetric (a restripe after the recovery);
  // raid5 left-symmetric -> raid0 restripes into parity-last first.
  EXPECT_EQ(plan_takeover(r0, {true, true, true}, to(5))->restripe_after, 2u);
  EXPECT_FALSE(plan_takeover(r0, {true, true, true}, to(4))->restripe_after);
  EXPECT_EQ(plan_takeover(geo(5, 2, 16, 4, {160}), std::vector<bool>(4, true), to(0))->restripe_before, 5u);
  // Members of different sizes: two zones, which md will not take over.
  auto zones = plan_takeover(geo(0, 2, 16, 2, {160, 320}), {true, true}, preserve(5));
  EXPECT_NE(zones.status().message().find("more than one zone"), std::string::npos);
}

TEST(TakeoverTest, Raid0ToRaid10AndBackKeepingAWorkingMemberOfEachPair) {
  const Geometry r0 = geo(0, 0, 16, 2, {16 * 10, 16 * 10});
  auto t = plan_takeover(r0, {true, true}, to(10));
  ASSERT_TRUE(t.is_ok()) << t.status().message();
  EXPECT_EQ(t->from_slot, (std::vector<int>{0, -1, 1, -1}));
  expect_no_byte_moves(r0, *t);
  const Geometry r10 = geo(10, 0x102, 16, 4, {16 * 10});
  auto back = plan_takeover(r10, {false, true, true, true}, to(0));
  ASSERT_TRUE(back.is_ok()) << back.status().message();
  EXPECT_EQ(back->from_slot, (std::vector<int>{1, 2}));
  EXPECT_EQ(back->leaving, (std::vector<uint32_t>{0, 3}));
  expect_no_byte_moves(r10, *back);
  EXPECT_NE(plan_takeover(r10, {false, false, true, true}, to(0)).status().message().find("slots 0 and 1"),
            std::string::npos);
  EXPECT_NE(plan_takeover(geo(10, 0x201, 16, 4, {160}), std::vector<bool>(4, true), to(0)).status().message().find(
                "2 near copies"),
            std::string::npos);
}

// The check above sees a plan that would move data: raid0's member 1 put in slot 1 of a
// raid10 near-2, where slot 2 belongs.
TEST(TakeoverTest, TheCheckSeesAWrongSlotMap) {
  const Geometry r0 = geo(0, 0, 16, 2, {16 * 10, 16 * 10});
  auto t = plan_takeover(r0, {true, true}, to(10));
  ASSERT_TRUE(t.is_ok());
  t->from_slot = {0, 1, -1, -1};
  EXPECT_GT(moved_sectors(r0, *t), 0u);
}

// Every takeover the table plans, from every level, layout, member count and chunk here,
// into every level with every layout it may be asked for: no sector moves, and a chained
// restripe names a layout the new level has.
TEST(TakeoverTest, EveryPlanOverEveryLayoutMovesNoByte) {
  const std::map<int, std::vector<uint32_t>> layouts = {
      {0, {0, 1, 2}}, {1, {0}}, {4, {0, 5}}, {5, {0, 1, 2, 3, 4, 5}},
      {6, {0, 1, 2, 3, 4, 5, 8, 9, 10, 16, 17, 18, 19, 20}}, {10, {0x102, 0x103, 0x201, 0x10201}}};
  size_t plans = 0, restripes = 0;
  for (const auto& [level, ls] : layouts) {
    for (uint32_t disks = 2; disks <= 6; disks++) {
      for (uint32_t layout : ls) {
        for (uint32_t chunk : {8u, 16u}) {
          const uint32_t c = level == 1 ? 0 : chunk;
          const uint64_t member = 12 * 16;
          auto g = make_geometry(params(level, layout, c, disks,
                                        level == 0 ? std::vector<uint64_t>(disks, member) : std::vector<uint64_t>{member}));
          if (!g.is_ok()) continue;
          for (const auto& [target, tls] : layouts) {
            std::vector<TakeoverRequest> asks{to(target), preserve(target)};
            for (uint32_t tl : tls) {
              TakeoverRequest r = to(target);
              r.layout = tl;
              asks.push_back(r);
            }
            for (const TakeoverRequest& rq : asks) {
              auto t = plan_takeover(*g, std::vector<bool>(disks, true), rq);
              if (!t.is_ok() || t->restripe_before) continue;
              SCOPED_TRACE(fmt::format("raid{} layout {} disks {} chunk {} -> raid{} (layout {}, preserve {})", level,
                                       layout, disks, c, target, rq.layout ? int(*rq.layout) : -1, rq.preserve));
              EXPECT_EQ(moved_sectors(*g, *t), 0u);
              if (t->restripe_after) {
                restripes++;
                GeometryParams p = t->params;
                p.layout = *t->restripe_after;
                EXPECT_TRUE(make_geometry(p).is_ok());
              }
              plans++;
            }
          }
        }
      }
    }
  }
  RecordProperty("plans", int(plans));
  RecordProperty("restripes", int(restripes));
  EXPECT_GT(plans, 200u);
  EXPECT_GT(restripes, 20u);
}

TEST(TakeoverTest, ChangesTheLevelCannotMakeAreRefused) {
  const Geometry r5 = geo(5, 2, 16, 3, {160});
  EXPECT_NE(plan_takeover(r5, {true, true, true}, to(10)).status().message().find("not raid10"), std::string::npos);
  EXPECT_NE(plan_takeover(r5, {true, true, true}, to(5)).status().message().find("already"), std::string::npos);
  TakeoverRequest more = preserve(6);
  more.raid_disks = 6;
  EXPECT_NE(plan_takeover(r5, {true, true, true}, more).status().message().find("makes 4 devices"),
            std::string::npos);
  TakeoverRequest chunk = preserve(6);
  chunk.chunk_sectors = 32;
  EXPECT_NE(plan_takeover(r5, {true, true, true}, chunk).status().message().find("keeps the chunk"),
            std::string::npos);
  EXPECT_NE(plan_takeover(r5, {true, false, false}, preserve(6)).status().message().find("more than one"),
            std::string::npos);
  EXPECT_NE(plan_takeover(geo(-1, 0, 0, 2, {100, 100}), {true, true}, to(5)).status().message().find("cannot change"),
            std::string::npos);
}

}  // namespace
}  // namespace umd::layout
