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
  locks.acquire(5, &a);
  locks.acquire(5, &b);
  locks.acquire(5, &c);
  locks.acquire(6, &d);  // another row: not held up
  EXPECT_EQ(log, (std::vector<std::string>{"a", "d"}));
  EXPECT_EQ(locks.active_rows(), 2u);
  locks.release(5);
  EXPECT_EQ(log, (std::vector<std::string>{"a", "d", "b"}));
  locks.release(5);
  locks.release(5);
  EXPECT_EQ(log, (std::vector<std::string>{"a", "d", "b", "c"}));
  locks.release(6);
  EXPECT_EQ(locks.active_rows(), 0u);
}

// A task started from inside a running task waits until the running one returns.
TEST(StripeLocksTest, NestedStartsAreFlattened) {
  StripeLocks locks;
  std::vector<std::string> log;
  Task inner([&] {
    log.push_back("inner");
    locks.release(2);
  });
  Task outer([&] {
    log.push_back("outer begin");
    locks.acquire(2, &inner);
    log.push_back("outer end");
    locks.release(1);
  });
  locks.acquire(1, &outer);
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
  locks.acquire(9, &blocker);
  for (int i = 0; i < kTasks; i++) {
    tasks.push_back(std::make_unique<Task>([&] {
      ran++;
      locks.release(9);
    }));
    locks.acquire(9, tasks.back().get());
  }
  locks.release(9);
  EXPECT_EQ(ran, kTasks);
  EXPECT_EQ(locks.active_rows(), 0u);
}

}  // namespace
}  // namespace umd::engine
