#include "cli/monitor_events.h"

#include <gtest/gtest.h>

namespace umd::cli {
namespace {

using nlohmann::json;

json member(const std::string& path, int slot, const std::string& state) {
  return {{"path", path}, {"name", path.substr(path.rfind('/') + 1)}, {"slot", slot}, {"state", state}};
}

// A 3-member raid5; tweak what a test needs.
json array5(json members = nullptr) {
  if (members.is_null()) {
    members = {member("/i/d0.img", 0, "active sync"), member("/i/d1.img", 1, "active sync"),
               member("/i/d2.img", 2, "active sync")};
  }
  return {{"level", 5}, {"raid_disks", 3}, {"degraded", false}, {"sync_action", "idle"}, {"sync_pos", 0},
          {"sync_end", 0}, {"mismatch_cnt", 0}, {"resync_offset", nullptr}, {"members", members}};
}

json syncing(json a, const std::string& action, uint64_t pos, uint64_t end) {
  a["sync_action"] = action;
  a["sync_pos"] = pos;
  a["sync_end"] = end;
  return a;
}

std::vector<std::string> names(const std::vector<MonitorEvent>& ev) {
  std::vector<std::string> out;
  for (const auto& e : ev) out.push_back(e.event + (e.member.empty() ? "" : " " + e.member));
  return out;
}

using V = std::vector<std::string>;

ArrayWatch named(const std::string& name) {
  ArrayWatch w;
  w.name = name;
  return w;
}
LookOptions with_test() {
  LookOptions o;
  o.test = true;
  return o;
}
LookOptions step10() {
  LookOptions o;
  o.increment = 10;
  return o;
}

TEST(MonitorEvents, EventLine) {
  EXPECT_EQ(event_line({"Fail", "md0", "/i/d1.img", ""}), "Event: Fail, Array: md0, Member: /i/d1.img");
  EXPECT_EQ(event_line({"DegradedArray", "md0", "", ""}), "Event: DegradedArray, Array: md0");
  EXPECT_EQ(event_line({"RebuildFinished", "md0", "", "mismatches found: 8 (on raid level 5)"}),
            "Event: RebuildFinished, Array: md0, Info: mismatches found: 8 (on raid level 5)");
}

TEST(MonitorEvents, FirstLookOfAHealthyArrayIsQuiet) {
  ArrayWatch w = named("md0");
  EXPECT_TRUE(monitor_look(w, array5(), {}).empty());
  EXPECT_TRUE(monitor_look(w, array5(), {}).empty());
}

TEST(MonitorEvents, TestMessageComesFirst) {
  ArrayWatch w = named("md0");
  json a = array5();
  a["degraded"] = true;
  auto ev = monitor_look(w, a, with_test());
  EXPECT_EQ(names(ev), (V{"TestMessage", "DegradedArray"}));
  EXPECT_EQ(ev[0].array, "md0");
  EXPECT_TRUE(monitor_look(w, a, {}).empty());  // still degraded: said once
}

TEST(MonitorEvents, ScannedArraysAreNew) {
  ArrayWatch w = scanned_watch("md1");
  EXPECT_EQ(names(monitor_look(w, array5(), with_test())), (V{"TestMessage", "NewArray"}));
  EXPECT_TRUE(monitor_look(w, array5(), {}).empty());
  // raid0 found by scanning: ignored, no DeviceDisappeared either.
  ArrayWatch z = scanned_watch("md2");
  json r0 = array5();
  r0["level"] = 0;
  EXPECT_TRUE(monitor_look(z, r0, {}).empty());
}

TEST(MonitorEvents, NamedRaid0IsWrongLevelOnce) {
  ArrayWatch w = named("md0");
  json r0 = array5();
  r0["level"] = 0;
  auto ev = monitor_look(w, r0, {});
  ASSERT_EQ(names(ev), (V{"DeviceDisappeared"}));
  EXPECT_EQ(ev[0].info, "Wrong-Level");
  EXPECT_TRUE(monitor_look(w, r0, {}).empty());
}

TEST(MonitorEvents, DisappearAndComeBack) {
  ArrayWatch w = named("md0");
  EXPECT_TRUE(monitor_look(w, array5(), {}).empty());
  EXPECT_EQ(names(monitor_look(w, std::nullopt, {})), (V{"DeviceDisappeared"}));
  EXPECT_TRUE(monitor_look(w, std::nullopt, {}).empty());
  json a = array5();
  a["degraded"] = true;
  EXPECT_EQ(names(monitor_look(w, a, {})), (V{"NewArray", "DegradedArray"}));
  // A named array absent at the first look is reported (mdadm does so too).
  ArrayWatch absent = named("md9");
  EXPECT_EQ(names(monitor_look(absent, std::nullopt, {})), (V{"DeviceDisappeared"}));
}

TEST(MonitorEvents, FailThenDegraded) {
  ArrayWatch w = named("md0");
  monitor_look(w, array5(), {});
  json a = array5({member("/i/d0.img", 0, "active sync"), member("/i/d1.img", 1, "faulty"),
                   member("/i/d2.img", 2, "active sync")});
  a["degraded"] = true;
  auto ev = monitor_look(w, a, {});
  EXPECT_EQ(names(ev), (V{"Fail /i/d1.img", "DegradedArray"}));
  // Removing the faulty member is no new event.
  json b = array5({member("/i/d0.img", 0, "active sync"), member("/i/d2.img", 2, "active sync")});
  b["degraded"] = true;
  EXPECT_TRUE(monitor_look(w, b, {}).empty());
}

TEST(MonitorEvents, RebuildOntoASpareThroughItsEnd) {
  ArrayWatch w = named("md0");
  json degraded = array5({member("/i/d0.img", 0, "active sync"), member("/i/d2.img", 2, "active sync")});
  degraded["degraded"] = true;
  EXPECT_EQ(names(monitor_look(w, degraded, {})), (V{"DegradedArray"}));
  // The spare is added and recovery starts onto it.
  json rebuilding = array5({member("/i/d0.img", 0, "active sync"), member("/i/d3.img", 1, "spare rebuilding"),
                            member("/i/d2.img", 2, "active sync")});
  rebuilding["degraded"] = true;
  const uint64_t end = 65024 * 2;
  EXPECT_EQ(names(monitor_look(w, syncing(rebuilding, "recover", end / 10, end), {})), (V{"RebuildStarted"}));
  EXPECT_TRUE(monitor_look(w, syncing(rebuilding, "recover", end * 15 / 100, end), {}).empty());
  EXPECT_EQ(names(monitor_look(w, syncing(rebuilding, "recover", end * 45 / 100, end), {})), (V{"Rebuild40"}));
  EXPECT_EQ(names(monitor_look(w, syncing(rebuilding, "recover", end * 61 / 100, end), {})), (V{"Rebuild60"}));
  EXPECT_EQ(names(monitor_look(w, syncing(rebuilding, "recover", end * 85 / 100, end), {})), (V{"Rebuild80"}));
  // Done: the spare is in sync, the array whole.
  auto ev = monitor_look(w, array5({member("/i/d0.img", 0, "active sync"), member("/i/d3.img", 1, "active sync"),
                                    member("/i/d2.img", 2, "active sync")}),
                         {});
  EXPECT_EQ(names(ev), (V{"RebuildFinished", "SpareActive /i/d3.img"}));
  EXPECT_EQ(ev[0].info, "");
}

TEST(MonitorEvents, RebuildIncrementAndFirstLookDuringASync) {
  ArrayWatch w = named("md0");
  const uint64_t end = 1 << 20;
  // A sync already running at the first look is not "started" (mdadm: percent unknown).
  EXPECT_TRUE(monitor_look(w, syncing(array5(), "resync", end / 20, end), step10()).empty());
  EXPECT_EQ(names(monitor_look(w, syncing(array5(), "resync", end * 12 / 100, end), step10())),
            (V{"Rebuild10"}));
  EXPECT_EQ(names(monitor_look(w, syncing(array5(), "resync", end * 57 / 100, end), step10())),
            (V{"Rebuild50"}));
}

TEST(MonitorEvents, CheckFinishedWithMismatches) {
  ArrayWatch w = named("md0");
  monitor_look(w, array5(), {});
  EXPECT_EQ(names(monitor_look(w, syncing(array5(), "check", 0, 1000), {})), (V{"RebuildStarted"}));
  json done = array5();
  done["mismatch_cnt"] = 128;
  auto ev = monitor_look(w, done, {});
  ASSERT_EQ(names(ev), (V{"RebuildFinished"}));
  EXPECT_EQ(ev[0].info, "mismatches found: 128 (on raid level 5)");
}

TEST(MonitorEvents, FailSpareDuringRebuild) {
  ArrayWatch w = named("md0");
  json r = array5({member("/i/d0.img", 0, "active sync"), member("/i/d3.img", 1, "spare rebuilding"),
                   member("/i/d2.img", 2, "active sync")});
  r["degraded"] = true;
  monitor_look(w, syncing(r, "recover", 100, 10000), {});
  json f = array5({member("/i/d0.img", 0, "active sync"), member("/i/d3.img", -1, "faulty"),
                   member("/i/d2.img", 2, "active sync")});
  f["degraded"] = true;
  EXPECT_EQ(names(monitor_look(w, f, {})), (V{"RebuildFinished", "FailSpare /i/d3.img"}));
}

TEST(MonitorEvents, MembersLeftOutAtAssemblyDoNotCount) {
  ArrayWatch w = named("md0");
  json a = array5({member("/i/d0.img", 0, "active sync"), member("/i/d1.img", -1, "removed"),
                   member("/i/d2.img", 2, "active sync")});
  monitor_look(w, a, {});
  EXPECT_TRUE(monitor_look(w, a, {}).empty());
}

}  // namespace
}  // namespace umd::cli
