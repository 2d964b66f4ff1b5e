// Drives one NBD server connection in-process: the fuzzer's bytes are what the client
// sends over a socketpair (after `prefix`), a RAM target (MemoryTarget) sits behind,
// and whatever the server answers is read and thrown away until it closes.
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <span>
#include <thread>
#include <vector>

#include "block/memory_target.h"
#include "frontend/nbd/connection.h"
#include "frontend/nbd/stats.h"
#include "fuzz_check.h"

namespace umd::fuzz {

inline void send_all(int fd, std::span<const uint8_t> bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;  // libFuzzer's SIGALRM (its -timeout watchdog)
    if (n <= 0) return;  // the server closed: the rest would not be read anyway
    bytes = bytes.subspan(size_t(n));
  }
}

inline void run_nbd_connection(std::span<const uint8_t> prefix, std::span<const uint8_t> client_bytes) {
  static nbd::MemoryTarget target(1 << 20);  // one per process: requests only touch RAM
  static nbd::ServerCounters counters;
  static std::atomic<bool> stopping{false};
  int sv[2];
  FUZZ_CHECK(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  nbd::ExportInfo ex;
  ex.name = "md0";
  ex.limits.size = target.size_bytes();
  ex.limits.min_block = target.block_size();
  ex.limits.max_payload = 1 << 20;  // keeps a fuzzed length from costing 32 MiB per request
  auto conn = std::make_shared<nbd::Connection>(sv[0], target, ex, 16, counters, stopping, [] {});
  conn->start();
  std::thread client([&] {
    send_all(sv[1], prefix);
    send_all(sv[1], client_bytes);
    ::shutdown(sv[1], SHUT_WR);
  });
  std::vector<uint8_t> sink(64 << 10);
  // Read until the server closes. EINTR (libFuzzer's SIGALRM) must not end the loop:
  // a server still writing replies to an unread socket never stops, and the client
  // writing requests to it never returns.
  for (;;) {
    const ssize_t n = ::recv(sv[1], sink.data(), sink.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
  }
  client.join();
  conn->join();
  ::close(sv[1]);
}

}  // namespace umd::fuzz
