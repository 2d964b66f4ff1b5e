#include "daemon/control_protocol.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <future>

#include "daemon/control_server.h"
#include "daemon/daemon_test_util.h"
#include "daemon/runtime_dir.h"

namespace umd::daemon {
namespace {

using namespace std::chrono_literals;

TEST(ControlProtocolTest, MessagesAreOneLineOfJson) {
  json m = {{"op", "detail"}, {"note", "a\nb"}};
  std::string wire = encode_message(m);
  EXPECT_EQ(wire.back(), '\n');
  EXPECT_EQ(wire.find('\n'), wire.size() - 1);
  auto back = decode_message(std::string_view(wire).substr(0, wire.size() - 1));
  ASSERT_TRUE(back.is_ok());
  EXPECT_EQ(*back, m);
}

TEST(ControlProtocolTest, InvalidUtf8IsReplacedNotThrown) {
  json m = {{"path", std::string("d\xff.img")}};
  std::string wire;
  EXPECT_NO_THROW(wire = encode_message(m));
  EXPECT_TRUE(decode_message(wire.substr(0, wire.size() - 1)).is_ok());
}

TEST(ControlProtocolTest, DecodeRefusesWhatIsNotAnObject) {
  for (const char* bad : {"", "nonsense", "[1,2]", "42", "\"op\"", "{\"op\":"}) {
    auto r = decode_message(bad);
    ASSERT_FALSE(r.is_ok()) << bad;
    EXPECT_EQ(r.status().code(), Err::invalid);
  }
}

TEST(ControlProtocolTest, ResponsesCarryOkAndError) {
  json ok = ok_response({{"pid", 7}});
  EXPECT_EQ(ok["ok"], true);
  EXPECT_EQ(ok["pid"], 7);
  EXPECT_TRUE(response_result(ok).is_ok());
  json err = error_response("md0 is busy");
  EXPECT_EQ(err, (json{{"ok", false}, {"error", "md0 is busy"}}));
  auto r = response_result(err);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().message(), "md0 is busy");
  auto malformed = response_result(json{{"pid", 1}});
  ASSERT_FALSE(malformed.is_ok());
  EXPECT_EQ(malformed.status().code(), Err::corrupt);
}

TEST(ControlProtocolTest, ReadLineSplitsAndKeepsTheRest) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  std::string data = "{\"a\":1}\n{\"b\":2}\n{\"c\"";
  ASSERT_EQ(::write(sv[0], data.data(), data.size()), ssize_t(data.size()));
  std::string pending, line;
  auto deadline = std::chrono::steady_clock::now() + 2s;
  ASSERT_TRUE(read_line(sv[1], &pending, &line, deadline).is_ok());
  EXPECT_EQ(line, "{\"a\":1}");
  ASSERT_TRUE(read_line(sv[1], &pending, &line, deadline).is_ok());
  EXPECT_EQ(line, "{\"b\":2}");
  Status timeout = read_line(sv[1], &pending, &line, std::chrono::steady_clock::now() + 50ms);
  EXPECT_EQ(timeout.code(), Err::retry);
  ::close(sv[0]);
  Status eof = read_line(sv[1], &pending, &line, deadline);
  EXPECT_EQ(eof.code(), Err::not_found);
  ::close(sv[1]);
}

class ControlServerTest : public testing::TempRuntime {
 protected:
  std::string sock() const { return dir_ + "/control"; }
};

TEST_F(ControlServerTest, AnswersRequestsThroughTheHandler) {
  std::atomic<int> calls{0};
  ControlServer server(sock(), [&](const json& req) {
    calls++;
    if (req.value("op", "") == "ping") return ok_response({{"pong", true}});
    if (req.value("op", "") == "throw") return json(req.at("missing").get<int>());
    return error_response("unknown op");
  });
  ASSERT_TRUE(server.start().is_ok());
  struct stat st;
  ASSERT_EQ(::stat(sock().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto pong = control_call_socket(sock(), {{"op", "ping"}}, 5s);
  ASSERT_TRUE(pong.is_ok()) << pong.status().message();
  EXPECT_EQ((*pong)["pong"], true);
  EXPECT_EQ((*pong)["ok"], true);

  auto unknown = control_call_socket(sock(), {{"op", "x"}}, 5s);
  ASSERT_TRUE(unknown.is_ok());
  EXPECT_EQ((*unknown)["ok"], false);

  auto thrown = control_call_socket(sock(), {{"op", "throw"}}, 5s);
  ASSERT_TRUE(thrown.is_ok());
  EXPECT_EQ((*thrown)["ok"], false);
  EXPECT_NE((*thrown)["error"].get<std::string>().find("bad request"), std::string::npos);
  EXPECT_EQ(calls.load(), 3);

  server.stop();
  EXPECT_NE(::stat(sock().c_str(), &st), 0);  // socket removed
  auto gone = control_call_socket(sock(), {{"op", "ping"}}, 1s);
  EXPECT_EQ(gone.status().code(), Err::not_found);
}

TEST_F(ControlServerTest, ManyRequestsOnOneConnectionAndGarbage) {
  ControlServer server(sock(), [](const json& req) { return ok_response({{"echo", req}}); });
  ASSERT_TRUE(server.start().is_ok());
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strcpy(a.sun_path, sock().c_str());
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  std::string req = "{\"n\":1}\nnot json\n{\"n\":2}\n";
  ASSERT_EQ(::write(fd, req.data(), req.size()), ssize_t(req.size()));
  std::string pending, line;
  auto deadline = std::chrono::steady_clock::now() + 5s;
  ASSERT_TRUE(read_line(fd, &pending, &line, deadline).is_ok());
  EXPECT_EQ(json::parse(line)["echo"]["n"], 1);
  ASSERT_TRUE(read_line(fd, &pending, &line, deadline).is_ok());
  EXPECT_EQ(json::parse(line)["ok"], false);
  ASSERT_TRUE(read_line(fd, &pending, &line, deadline).is_ok());
  EXPECT_EQ(json::parse(line)["echo"]["n"], 2);
  ::close(fd);
}

TEST_F(ControlServerTest, StopWaitsForARunningHandler) {
  std::promise<void> entered;
  std::promise<void> release;
  auto release_f = release.get_future().share();
  ControlServer server(sock(), [&](const json&) {
    entered.set_value();
    release_f.wait();
    return ok_response({{"late", true}});
  });
  ASSERT_TRUE(server.start().is_ok());
  auto call = std::async(std::launch::async, [&] { return control_call_socket(sock(), {{"op", "slow"}}, 10s); });
  entered.get_future().wait();
  auto stopped = std::async(std::launch::async, [&] { server.stop(); });
  EXPECT_EQ(stopped.wait_for(100ms), std::future_status::timeout);
  release.set_value();
  stopped.wait();
  auto r = call.get();
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ((*r)["late"], true);  // the reply went out before stop() returned
}

TEST_F(ControlServerTest, ControlCallByNameSaysNotAssembled) {
  auto r = control_call("md0", {{"op", "ping"}}, 1s);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Err::not_found);
  EXPECT_EQ(r.status().message(), "md0 is not assembled");

  auto rd = RuntimeDir::acquire("md0");
  ASSERT_TRUE(rd.is_ok());
  ControlServer server((*rd)->control_socket(), [](const json&) { return error_response("no such thing"); });
  ASSERT_TRUE(server.start().is_ok());
  auto e = control_call("md0", {{"op", "x"}}, 5s);
  ASSERT_FALSE(e.is_ok());
  EXPECT_EQ(e.status().message(), "no such thing");
}

}  // namespace
}  // namespace umd::daemon
