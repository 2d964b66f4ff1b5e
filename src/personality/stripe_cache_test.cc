#include "personality/stripe_cache.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

namespace umd::engine {
namespace {

struct Task final : StripeTask {
  explicit Task(std::function<void()> f) : f(std::move(f)) {}
  void run() override { f(); }
  std::function<void()> f;
};

TEST(StripeLocksTest, OneOwnerPerRowFifoAndRowsIndependent) {
  StripeLocks locks;
  std::vector<std::string> log;
  Task a([&] { log.push_back("a"); });
  Task b([&] { log.push_back("b"); });
  Task c([&] { log.push_back("c"); });
  Task d([&] { log.push_back("d"); });
  locks.acquire(RowKey{0, 5}, &a);
  locks.acquire(RowKey{0, 5}, &b);
  locks.acquire(RowKey{0, 5}, &c);
  locks.acquire(RowKey{0, 6}, &d);  // another row: not held up
  EXPECT_EQ(log, (std::vector<std::string>{"a", "d"}));
  EXPECT_EQ(locks.active_rows(), 2u);
  locks.release(RowKey{0, 5});
  EXPECT_EQ(log, (std::vector<std::string>{"a", "d", "b"}));
  locks.release(RowKey{0, 5});
  locks.release(RowKey{0, 5});
  EXPECT_EQ(log, (std::vector<std::string>{"a", "d", "b", "c"}));
  locks.release(RowKey{0, 6});
  EXPECT_EQ(locks.active_rows(), 0u);
}

// A task started from inside a running task waits until the running one returns.
TEST(StripeLocksTest, NestedStartsAreFlattened) {
  StripeLocks locks;
  std::vector<std::string> log;
  Task inner([&] {
    log.push_back("inner");
    locks.release(RowKey{0, 2});
  });
  Task outer([&] {
    log.push_back("outer begin");
    locks.acquire(RowKey{0, 2}, &inner);
    log.push_back("outer end");
    locks.release(RowKey{0, 1});
  });
  locks.acquire(RowKey{0, 1}, &outer);
  EXPECT_EQ(log, (std::vector<std::string>{"outer begin", "outer end", "inner"}));
  EXPECT_EQ(locks.active_rows(), 0u);
}

// A long queue on one row, each task releasing inside run() (what inline member
// completions do), runs without recursing.
TEST(StripeLocksTest, LongHandOffChainDoesNotRecurse) {
  StripeLocks locks;
  constexpr int kTasks = 200000;
  int ran = 0;
  std::vector<std::unique_ptr<Task>> tasks;
  Task blocker([] {});
  locks.acquire(RowKey{0, 9}, &blocker);
  for (int i = 0; i < kTasks; i++) {
    tasks.push_back(std::make_unique<Task>([&] {
      ran++;
      locks.release(RowKey{0, 9});
    }));
    locks.acquire(RowKey{0, 9}, tasks.back().get());
  }
  locks.release(RowKey{0, 9});
  EXPECT_EQ(ran, kTasks);
  EXPECT_EQ(locks.active_rows(), 0u);
}

// Row 5 of one geometry and row 5 of another (a reshape's old and new) are different rows.
TEST(StripeLocksTest, TheSameRowOfTwoGeometriesIsTwoRows) {
  StripeLocks locks;
  std::vector<std::string> log;
  Task a([&] { log.push_back("a"); });
  Task b([&] { log.push_back("b"); });
  locks.acquire(RowKey{0, 5}, &a);
  locks.acquire(RowKey{1, 5}, &b);  // not held up by row 5 of generation 0
  EXPECT_EQ(log, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(locks.active_rows(), 2u);
  locks.release(RowKey{0, 5});
  locks.release(RowKey{1, 5});
  EXPECT_EQ(locks.active_rows(), 0u);
}

}  // namespace
}  // namespace umd::engine
