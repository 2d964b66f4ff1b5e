// The serving core on a RAM disk: NBD socket up, control ops, graceful stop order.
#include "daemon/daemon.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <future>

#include "daemon/daemon_test_util.h"
#include "block/memory_target.h"

namespace umd::daemon {
namespace {

using namespace std::chrono_literals;

// A RAM disk that records when it was stopped and whether NBD servers were still up.
class FakeArray final : public ServedArray {
 public:
  explicit FakeArray(std::atomic<int>* stops) : target_(1 << 20), stops_(stops) {}
  engine::BlockTarget& target() override { return target_; }
  Status stop() override {
    (*stops_)++;
    return stop_result;
  }
  nlohmann::json detail() const override { return {{"level", 1}, {"state", "clean"}}; }
  std::vector<std::string> warnings() const override { return {}; }
  Status stop_result;

 private:
  nbd::MemoryTarget target_;
  std::atomic<int>* stops_;
};

bool exists(const std::string& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0;
}

std::string read_greeting(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strcpy(a.sun_path, path.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return "";
  }
  char buf[8];
  ssize_t n = ::read(fd, buf, 8);
  ::close(fd);
  return n == 8 ? std::string(buf, 8) : "";
}

class DaemonTest : public testing::TempRuntime {
 protected:
  ServeSpec unix_spec(const std::string& file) {
    auto s = parse_serve_spec("nbd:unix:" + dir_ + "/" + file);
    EXPECT_TRUE(s.is_ok());
    return *s;
  }
  std::atomic<int> stops_{0};
};

TEST_F(DaemonTest, ServesNbdAnswersDetailAndStopsInOrder) {
  const std::string control = dir_ + "/control";
  Daemon d("md0", std::make_unique<FakeArray>(&stops_), control);
  ASSERT_TRUE(d.start({unix_spec("a.sock"), unix_spec("b.sock")}).is_ok());
  EXPECT_EQ(d.endpoints(), (std::vector<std::string>{"nbd+unix:///md0?socket=" + dir_ + "/a.sock",
                                                     "nbd+unix:///md0?socket=" + dir_ + "/b.sock"}));
  EXPECT_EQ(read_greeting(dir_ + "/a.sock"), "NBDMAGIC");

  auto runner = std::async(std::launch::async, [&] { return d.run(-1); });
  auto ping = control_call_socket(control, {{"op", "ping"}}, 5s);
  ASSERT_TRUE(ping.is_ok());
  EXPECT_EQ((*ping)["pid"], ::getpid());
  auto detail = control_call_socket(control, {{"op", "detail"}}, 5s);
  ASSERT_TRUE(detail.is_ok());
  EXPECT_EQ((*detail)["name"], "md0");
  EXPECT_EQ((*detail)["array"]["state"], "clean");
  ASSERT_EQ((*detail)["nbd"].size(), 2u);
  EXPECT_EQ((*detail)["nbd"][0]["uri"], d.endpoints()[0]);
  EXPECT_GE((*detail)["nbd"][0]["stats"]["connections_total"].get<int>(), 1);
  auto unknown = control_call_socket(control, {{"op", "frobnicate"}}, 5s);
  ASSERT_TRUE(unknown.is_ok());
  EXPECT_EQ((*unknown)["error"], "unknown op \"frobnicate\"");
  auto noop = control_call_socket(control, {{"x", 1}}, 5s);
  EXPECT_EQ((*noop)["ok"], false);

  auto stop = control_call_socket(control, {{"op", "stop"}}, 10s);
  ASSERT_TRUE(stop.is_ok()) << stop.status().message();
  EXPECT_EQ((*stop)["ok"], true);
  ASSERT_EQ(runner.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(runner.get().is_ok());
  EXPECT_EQ(stops_.load(), 1);
  EXPECT_FALSE(exists(dir_ + "/a.sock"));
  EXPECT_FALSE(exists(dir_ + "/b.sock"));
  EXPECT_FALSE(exists(control));
  EXPECT_TRUE(d.stop().is_ok());  // idempotent
  EXPECT_EQ(stops_.load(), 1);
}

TEST_F(DaemonTest, StopFailureIsReported) {
  const std::string control = dir_ + "/control";
  auto fake = std::make_unique<FakeArray>(&stops_);
  fake->stop_result = Status(Err::io, "writing superblock of d1.img: I/O error");
  Daemon d("md0", std::move(fake), control);
  ASSERT_TRUE(d.start({unix_spec("a.sock")}).is_ok());
  auto runner = std::async(std::launch::async, [&] { return d.run(-1); });
  auto stop = control_call_socket(control, {{"op", "stop"}}, 10s);
  ASSERT_TRUE(stop.is_ok());
  EXPECT_EQ((*stop)["ok"], false);
  EXPECT_EQ((*stop)["error"], "stopping md0: writing superblock of d1.img: I/O error");
  EXPECT_FALSE(runner.get().is_ok());
}

TEST_F(DaemonTest, RequestStopEndsRun) {
  Daemon d("md0", std::make_unique<FakeArray>(&stops_), dir_ + "/control");
  ASSERT_TRUE(d.start({unix_spec("a.sock")}).is_ok());
  auto runner = std::async(std::launch::async, [&] { return d.run(-1); });
  d.request_stop();
  ASSERT_EQ(runner.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(stops_.load(), 1);
}

TEST_F(DaemonTest, FailedListenerStopsWhatStarted) {
  Daemon d("md0", std::make_unique<FakeArray>(&stops_), dir_ + "/control");
  Status s = d.start({unix_spec("a.sock"), unix_spec("no/such/dir/b.sock")});
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("--serve nbd:unix:"), std::string::npos) << s.message();
  EXPECT_EQ(stops_.load(), 1);
  EXPECT_FALSE(exists(dir_ + "/a.sock"));
}

TEST_F(DaemonTest, TcpPortZeroReportsTheBoundPort) {
  auto spec = parse_serve_spec("nbd:tcp:127.0.0.1:0");
  ASSERT_TRUE(spec.is_ok());
  Daemon d("md0", std::make_unique<FakeArray>(&stops_), dir_ + "/control");
  ASSERT_TRUE(d.start({*spec}).is_ok());
  ASSERT_EQ(d.endpoints().size(), 1u);
  EXPECT_EQ(d.endpoints()[0].rfind("nbd://127.0.0.1:", 0), 0u);
  EXPECT_EQ(d.endpoints()[0].find(":0/"), std::string::npos) << d.endpoints()[0];
}

}  // namespace
}  // namespace umd::daemon
