// NbdServer: serves one BlockTarget as one NBD export to many clients at once, over a Unix
// socket and/or TCP. The wire rules live in protocol.h; the per-connection threading in
// connection.h.
//
// Threading: start() spawns one acceptor thread (poll on the listening sockets and a wake
// eventfd); it accepts, refuses past max_connections, and reaps finished connections. Each
// connection runs a reader and a writer thread. The target's `done` callbacks may run on any
// thread. All public methods are thread-safe; stop() is idempotent and also run by the
// destructor. The target must outlive the server.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "block/block_target.h"
#include "frontend/nbd/handshake.h"
#include "frontend/nbd/protocol.h"
#include "frontend/nbd/stats.h"
#include "util/status.h"

namespace umd::nbd {

class Connection;

struct ServerOptions {
  std::string export_name = "umd";  // "" (the default export) is always accepted as well
  std::string description{};
  std::string unix_path{};    // listen here when non-empty (a stale socket file is replaced)
  bool tcp = false;           // listen on tcp_host:tcp_port
  std::string tcp_host{};     // "" = 127.0.0.1
  uint16_t tcp_port = 10809;  // 0 = any free port; see NbdServer::tcp_port()
  uint32_t max_payload = kDefaultMaxPayload;
  uint32_t max_inflight_per_connection = 256;  // the reader pauses beyond this (back pressure)
  uint32_t max_connections = 64;               // further connections are closed at once
};

class NbdServer {
 public:
  NbdServer(engine::BlockTarget& target, ServerOptions opts);
  ~NbdServer();
  NbdServer(const NbdServer&) = delete;
  NbdServer& operator=(const NbdServer&) = delete;

  // Validates the target's geometry, opens the listeners and starts accepting.
  // Err::invalid for a block size NBD cannot advertise (not a power of two, > 64 KiB).
  Status start();
  // Serves an already-connected stream socket (socketpair, inherited fd); takes ownership.
  // Requires start().
  Status adopt(int fd);
  // Stops accepting, ends every connection after its in-flight requests are answered, closes
  // the listeners and removes the Unix socket file. Blocks until all of that is done.
  void stop();

  uint16_t tcp_port() const { return tcp_port_; }
  ServerStats stats() const { return counters_.snapshot(); }
  ExportInfo export_info() const;  // what a client is told right now

 private:
  void run_acceptor();
  void reap_finished();
  Status add_connection(int fd);

  engine::BlockTarget& target_;
  ServerOptions opts_;
  ServerCounters counters_;
  std::atomic<bool> stopping_{false};
  bool started_ = false;
  bool stopped_ = false;
  int unix_fd_ = -1, tcp_fd_ = -1, wake_fd_ = -1;
  uint16_t tcp_port_ = 0;
  std::thread acceptor_;

  std::mutex mu_;  // guards conns_ and the started/stopped transitions
  std::list<std::shared_ptr<Connection>> conns_;
};

}  // namespace umd::nbd
