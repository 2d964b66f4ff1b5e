// The daemon's control protocol (daemon/control_protocol.h): the fuzzer's bytes arrive
// on a control socket; each line read is decoded, answered by the array ops against a
// ServedArray that holds a RAM target (daemon/control_ops.h), and read back as the CLI
// reads a response. Oracle: a decoded message survives encode -> decode unchanged.
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "block/memory_target.h"
#include "daemon/control_ops.h"
#include "daemon/control_protocol.h"
#include "daemon/served_array.h"
#include "fuzz_check.h"

namespace {

using umd::daemon::json;

class RamArray final : public umd::daemon::ServedArray {
 public:
  umd::engine::BlockTarget& target() override { return target_; }
  umd::Status stop() override { return umd::Status::ok(); }
  json detail() const override { return json{{"name", "md0"}}; }
  std::vector<std::string> warnings() const override { return {}; }

 private:
  umd::nbd::MemoryTarget target_{1 << 16};
};

void answer(umd::daemon::ServedArray& array, std::string_view line) {
  auto msg = umd::daemon::decode_message(line);
  if (!msg.is_ok()) return;
  auto back = umd::daemon::decode_message(umd::daemon::encode_message(*msg));
  FUZZ_CHECK(back.is_ok() && *back == *msg);
  (void)umd::daemon::response_result(*msg);
  const auto op = msg->find("op");
  if (op == msg->end() || !op->is_string()) return;
  if (auto r = umd::daemon::handle_array_op(array, op->get<std::string>(), *msg)) {
    auto resp = umd::daemon::decode_message(umd::daemon::encode_message(*r));
    FUZZ_CHECK(resp.is_ok());
    (void)umd::daemon::response_result(*resp);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static RamArray array;
  if (size > (64 << 10)) return 0;  // stays inside the socket's buffer: no writer thread
  int sv[2];
  FUZZ_CHECK(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  FUZZ_CHECK(::send(sv[1], data, size, MSG_NOSIGNAL) == ssize_t(size));
  ::shutdown(sv[1], SHUT_WR);
  std::string pending, line;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (umd::daemon::read_line(sv[0], &pending, &line, deadline).is_ok()) answer(array, line);
  ::close(sv[0]);
  ::close(sv[1]);
  return 0;
}
