#include "cli/sync_progress.h"

#include <gtest/gtest.h>

namespace umd::cli {
namespace {

using nlohmann::json;

TEST(SyncProgress, MdstatLineLikeTheKernel) {
  // 14592 of 65024 KiB: md's per-mille is (29184>>10)*1000/((130048>>10)+1) = 218, so
  // 21.8% and four '=' (218 / 50).
  json a = {{"sync_action", "recover"}, {"sync_pos", 14592 * 2}, {"sync_end", 65024 * 2}, {"sync_speed_kibs", 40960}};
  EXPECT_EQ(mdstat_progress(a),
            "[====>................]  recovery = 21.8% (14592/65024) finish=0.0min speed=40960K/sec");
  a["sync_speed_kibs"] = 100;  // 50432 KiB left at 100 K/s = 504 s = 8.4 min
  EXPECT_EQ(mdstat_progress(a),
            "[====>................]  recovery = 21.8% (14592/65024) finish=8.4min speed=100K/sec");
  EXPECT_EQ(sync_percent(a), 21);
}

// mdstat counts where the run is (md's curr_resync), ahead of sync_completed, which is
// published only now and then (half-way to sync_max, seed 000).
TEST(SyncProgress, TheLineCountsWhereTheRunIsNotWhatWasPublished) {
  json a = {{"sync_action", "reshape"}, {"sync_pos", 0}, {"sync_done", 14592 * 2}, {"sync_end", 65024 * 2},
            {"sync_speed_kibs", 40960}};
  EXPECT_EQ(mdstat_progress(a),
            "[====>................]  reshape = 21.8% (14592/65024) finish=0.0min speed=40960K/sec");
  EXPECT_EQ(sync_percent(a), 21);
}

TEST(SyncProgress, Words) {
  EXPECT_EQ(mdstat_sync_word("resync"), "resync");
  EXPECT_EQ(mdstat_sync_word("repair"), "resync");  // md: MD_RECOVERY_SYNC without CHECK
  EXPECT_EQ(mdstat_sync_word("check"), "check");
  EXPECT_EQ(mdstat_sync_word("recover"), "recovery");
  EXPECT_EQ(detail_status_kind("recover"), "Rebuild");
  EXPECT_EQ(detail_status_kind("resync"), "Resync");
  EXPECT_EQ(detail_status_kind("check"), "Check");
  EXPECT_EQ(detail_state_suffix("check"), ", checking");
}

TEST(SyncProgress, IdlePendingAndBounds) {
  json idle = {{"sync_action", "idle"}, {"sync_pos", 0}, {"sync_end", 0}, {"resync_offset", nullptr}};
  EXPECT_EQ(mdstat_progress(idle), "");
  EXPECT_EQ(sync_percent(idle), -1);
  idle["resync_offset"] = 4096;
  EXPECT_EQ(mdstat_progress(idle), "resync=PENDING");
  json frozen = {{"sync_action", "frozen"}, {"sync_pos", 10}, {"sync_end", 100}};
  EXPECT_FALSE(sync_running(frozen));
  json done = {{"sync_action", "check"}, {"sync_pos", 1 << 20}, {"sync_end", 1 << 20}};
  EXPECT_EQ(mdstat_progress(done).substr(0, 24), "[===================>.] ");  // 999 per mille
  EXPECT_EQ(sync_per_mille(0, 1000), 0u);
  EXPECT_EQ(sync_per_mille(5000, 1000), 0u);  // clamped to end: (1000>>10)*1000/1
}

}  // namespace
}  // namespace umd::cli
