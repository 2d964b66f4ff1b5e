#include "daemon/runtime_dir.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "daemon/daemon_test_util.h"

namespace umd::daemon {
namespace {

class RuntimeDirTest : public testing::TempRuntime {};

bool exists(const std::string& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0;
}

TEST_F(RuntimeDirTest, BaseFollowsEnvironment) {
  EXPECT_EQ(runtime_base(), dir_ + "/run");
  EXPECT_EQ(runtime_dir_of("md0"), dir_ + "/run/md0");
}

TEST_F(RuntimeDirTest, NamesMustBeOnePathComponent) {
  EXPECT_TRUE(check_array_name("md0").is_ok());
  EXPECT_TRUE(check_array_name("my-array_1.x").is_ok());
  for (const char* bad : {"", ".", "..", "a/b", "/md0", "a\nb"}) {
    Status s = check_array_name(bad);
    EXPECT_EQ(s.code(), Err::invalid) << bad;
  }
  EXPECT_EQ(check_array_name(std::string(65, 'a')).code(), Err::invalid);
}

TEST_F(RuntimeDirTest, AcquireCreatesPrivateDirectoryWithPidAndLock) {
  auto rd = RuntimeDir::acquire("md0");
  ASSERT_TRUE(rd.is_ok()) << rd.status().message();
  struct stat st;
  ASSERT_EQ(::stat((*rd)->path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat(runtime_base().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(holder_pid("md0"), ::getpid());
  EXPECT_EQ((*rd)->control_socket(), dir_ + "/run/md0/control");
  EXPECT_EQ((*rd)->default_nbd_socket(), dir_ + "/run/md0/nbd.sock");
  EXPECT_EQ(list_runtime_names(), std::vector<std::string>{"md0"});
}

TEST_F(RuntimeDirTest, SecondAcquireOfSameNameIsRefusedWithPid) {
  auto a = RuntimeDir::acquire("md0");
  ASSERT_TRUE(a.is_ok());
  auto b = RuntimeDir::acquire("md0");
  ASSERT_FALSE(b.is_ok());
  EXPECT_EQ(b.status().code(), Err::busy);
  EXPECT_EQ(b.status().message(), "md0 is already assembled (pid " + std::to_string(::getpid()) + ")");
  auto other = RuntimeDir::acquire("md1");
  EXPECT_TRUE(other.is_ok());
}

TEST_F(RuntimeDirTest, ReleaseRemovesEverythingAndFreesTheName) {
  auto rd = RuntimeDir::acquire("md0");
  ASSERT_TRUE(rd.is_ok());
  std::string path = (*rd)->path();
  std::ofstream((*rd)->control_socket()) << "x";
  (*rd)->release();
  (*rd)->release();  // idempotent
  EXPECT_FALSE(exists(path));
  EXPECT_EQ(holder_pid("md0"), 0);
  auto again = RuntimeDir::acquire("md0");
  EXPECT_TRUE(again.is_ok());
}

TEST_F(RuntimeDirTest, LockIsHeldByAChildAfterFork) {
  auto rd = RuntimeDir::acquire("md0");
  ASSERT_TRUE(rd.is_ok());
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  pid_t child = ::fork();
  if (child == 0) {
    ::close(p[1]);
    char c;
    (void)!::read(p[0], &c, 1);  // hold until the parent says go
    ::_exit(0);
  }
  ::close(p[0]);
  (*rd)->abandon();  // the parent lets go; the child still holds the lock
  EXPECT_NE(holder_pid("md0"), 0);
  EXPECT_FALSE(RuntimeDir::acquire("md0").is_ok());
  ::close(p[1]);
  ::waitpid(child, nullptr, 0);
  EXPECT_EQ(holder_pid("md0"), 0);
  auto again = RuntimeDir::acquire("md0");
  EXPECT_TRUE(again.is_ok()) << again.status().message();
}

// Waits up to 10 s for `pred`, looking every millisecond.
template <class F>
bool within_10s(F pred) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

char leader_state(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return 0;
  const size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() ? line[paren + 2] : 0;
}

// A process whose leader has exited while another of its threads still runs has not
// exited: its files (a daemon's lock, its members) are still open. `umd --stop` returned
// there once (stop 23's CI: a daemon thread alive after --stop).
TEST(ProcessGone, WaitsForEveryThreadNotOnlyTheLeader) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(p[1]);
    std::thread([fd = p[0]] {
      char c;
      (void)!::read(fd, &c, 1);  // until the parent closes its end
    }).detach();
    // The leader goes, the process lives on in the thread. (SYS_exit ends only the calling
    // thread, with no unwinding through gtest's frames, which pthread_exit would do.)
    ::syscall(SYS_exit, 0);
  }
  ::close(p[0]);
  ASSERT_TRUE(within_10s([&] { return leader_state(child) == 'Z'; })) << "the leader did not exit";
  EXPECT_FALSE(process_gone(child)) << "the leader is a zombie, but a thread still runs";
  ::close(p[1]);
  EXPECT_TRUE(within_10s([&] { return process_gone(child); }));
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_TRUE(process_gone(child));
}

TEST_F(RuntimeDirTest, StaleDirectoryOfDeadDaemonIsTakenOverAndCleaned) {
  const std::string d = dir_ + "/run/md0";
  std::filesystem::create_directories(d);
  std::ofstream(d + "/pid") << "999999\n";
  std::ofstream(d + "/lock") << "";
  std::ofstream(d + "/control") << "";
  EXPECT_EQ(holder_pid("md0"), 0);
  auto rd = RuntimeDir::acquire("md0");
  ASSERT_TRUE(rd.is_ok()) << rd.status().message();
  EXPECT_FALSE(exists(d + "/control"));
  EXPECT_EQ(holder_pid("md0"), ::getpid());
}

TEST_F(RuntimeDirTest, RemoveIfStaleLeavesRunningArraysAlone) {
  auto running = RuntimeDir::acquire("md0");
  ASSERT_TRUE(running.is_ok());
  const std::string stale = dir_ + "/run/md1";
  std::filesystem::create_directories(stale);
  std::ofstream(stale + "/pid") << "999999\n";
  std::ofstream(stale + "/lock") << "";
  EXPECT_EQ(list_runtime_names(), (std::vector<std::string>{"md0", "md1"}));
  EXPECT_FALSE(remove_if_stale("md0"));
  EXPECT_TRUE(remove_if_stale("md1"));
  EXPECT_TRUE(remove_if_stale("md2"));  // never existed
  EXPECT_FALSE(exists(stale));
  EXPECT_TRUE(exists((*running)->path() + "/lock"));
}

}  // namespace
}  // namespace umd::daemon
