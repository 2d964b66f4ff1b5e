// nbd_serve_test_target: serves a RAM disk over NBD until SIGINT/SIGTERM, for integration
// tests with real clients (tests/nbd/nbd_clients_test.py) and for trying clients by hand.
//
//   nbd_serve_test_target --socket PATH [--size BYTES] [--block-size N] [--preferred N]
//                         [--name NAME] [--read-only] [--no-trim] [--delay-us N] [--tcp PORT]
//
// Prints "ready" (and "tcp-port N") on stdout once it accepts connections; on exit prints the
// server's counters on stderr.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "block/memory_target.h"
#include "frontend/nbd/server.h"

using namespace umd::nbd;

int main(int argc, char** argv) {
  uint64_t size = 64ull << 20;
  MemoryTargetOptions topts;
  ServerOptions sopts;
  sopts.export_name = "ram";
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--socket")
      sopts.unix_path = next();
    else if (a == "--size")
      size = std::strtoull(next(), nullptr, 0);
    else if (a == "--block-size")
      topts.block_size = uint32_t(std::strtoul(next(), nullptr, 0));
    else if (a == "--preferred")
      topts.preferred_block_size = uint32_t(std::strtoul(next(), nullptr, 0));
    else if (a == "--name")
      sopts.export_name = next();
    else if (a == "--read-only")
      topts.read_only = true;
    else if (a == "--no-trim")
      topts.trim = false;
    else if (a == "--delay-us")
      topts.max_delay_us = uint32_t(std::strtoul(next(), nullptr, 0));
    else if (a == "--tcp") {
      sopts.tcp = true;
      sopts.tcp_port = uint16_t(std::strtoul(next(), nullptr, 0));
    } else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  if (sopts.unix_path.empty() && !sopts.tcp) {
    std::fprintf(stderr, "need --socket PATH or --tcp PORT\n");
    return 2;
  }
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);  // before any thread starts

  MemoryTarget target(size, topts);
  NbdServer server(target, sopts);
  if (umd::Status s = server.start(); !s.is_ok()) {
    std::fprintf(stderr, "cannot start: %s\n", s.message().c_str());
    return 1;
  }
  std::printf("ready\n");
  if (sopts.tcp) std::printf("tcp-port %u\n", server.tcp_port());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&sigs, &sig);
  server.stop();
  ServerStats st = server.stats();
  std::fprintf(stderr,
               "connections %llu reads %llu writes %llu flushes %llu trims %llu zeroes %llu "
               "errors %llu bytes_read %llu bytes_written %llu\n",
               (unsigned long long)st.connections_total, (unsigned long long)st.reads,
               (unsigned long long)st.writes, (unsigned long long)st.flushes,
               (unsigned long long)st.trims, (unsigned long long)st.write_zeroes,
               (unsigned long long)st.errors, (unsigned long long)st.bytes_read,
               (unsigned long long)st.bytes_written);
  return 0;
}
