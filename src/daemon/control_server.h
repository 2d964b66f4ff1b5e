// ControlServer: listens on the control socket (control_protocol.h) and answers each
// request line with what the handler returns.
//
// Threading: start() spawns an acceptor thread; each connection gets its own thread, so a
// slow client or a long handler (stop waits for the array to drain) holds up no one
// else. Handlers run on connection threads, concurrently. stop() stops accepting, tells
// idle connections to close, waits for every handler still running and its reply, and
// removes the socket file. A handler must therefore not wait for anything that happens
// only after stop() returns.
#pragma once

#include <atomic>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <thread>

#include "daemon/control_protocol.h"

namespace umd::daemon {

class ControlServer {
 public:
  // Returns the response for one request (use ok_response / error_response). Exceptions
  // (a request field of the wrong JSON type) become error responses.
  using Handler = std::function<json(const json& request)>;

  ControlServer(std::string socket_path, Handler handler);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Binds (replacing a stale socket file), chmod 0600, starts accepting.
  Status start();
  void stop();  // idempotent
  const std::string& socket_path() const { return path_; }

 private:
  struct Conn {
    int fd;
    std::thread thread;
    std::atomic<bool> done{false};
  };
  void run_acceptor();
  void serve(Conn* c);
  void reap(bool all);

  std::string path_;
  Handler handler_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: readable once stop() begins
  std::atomic<bool> stopping_{false};
  bool started_ = false;
  std::thread acceptor_;
  std::mutex mu_;  // guards conns_
  std::list<Conn> conns_;
};

}  // namespace umd::daemon
