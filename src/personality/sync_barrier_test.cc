// SyncBarrier (sync_barrier.h): the window a sync step raises, and the read-ahead watch
// over the rows after it.
#include "personality/sync_barrier.h"

#include <gtest/gtest.h>

namespace umd::engine {
namespace {

TEST(SyncBarrier, ARequestMeetingTheWindowIsParkedAndRunsWhenItIsLowered) {
  SyncBarrier b;
  b.arm();
  b.raise(100, 200);
  SyncBarrier::Ticket t;
  int retried = 0;
  EXPECT_FALSE(b.enter(150, 160, &t, [&] { retried++; }));
  EXPECT_TRUE(b.enter(200, 210, &t, [&] { retried++; }));  // beside the window: goes on
  b.leave(t);
  EXPECT_EQ(retried, 0);
  b.lower();
  EXPECT_EQ(retried, 1);
  b.disarm();
}

TEST(SyncBarrier, AWriteThatEntersTheWatchedRowsSpoilsTheReadAhead) {
  SyncBarrier b;
  EXPECT_FALSE(b.watch(200, 300)) << "disarmed: requests are not registered, so nothing can be watched";
  b.arm();
  b.raise(100, 200);
  SyncBarrier::Ticket t;
  // Reads never spoil it.
  ASSERT_TRUE(b.watch(200, 300));
  ASSERT_TRUE(b.enter(250, 260, &t, [] {}, false));
  b.leave(t);
  EXPECT_TRUE(b.watch_end());
  // A write elsewhere does not either; one inside the watched rows does, even once it left.
  ASSERT_TRUE(b.watch(200, 300));
  ASSERT_TRUE(b.enter(300, 310, &t, [] {}, true));
  b.leave(t);
  ASSERT_TRUE(b.enter(290, 310, &t, [] {}, true));
  b.leave(t);
  EXPECT_FALSE(b.watch_end());
  // A write already inside when the watch would begin: no watch.
  ASSERT_TRUE(b.enter(210, 220, &t, [] {}, true));
  EXPECT_FALSE(b.watch(200, 300));
  b.leave(t);
  EXPECT_TRUE(b.watch(200, 300));
  b.disarm();
  EXPECT_FALSE(b.watch_end()) << "disarmed in between: nothing vouches for the rows";
}

}  // namespace
}  // namespace umd::engine
