// The daemon behind `umd --assemble`: holds a running array, serves it over NBD, and
// answers the control socket until it is told to stop.
//
// LIFECYCLE
//   1. The runtime directory's lock is taken (a second --assemble of NAME fails here).
//   2. Without --foreground the process forks; the parent waits on a pipe for the child to
//      report warnings, then "ready" or an error, prints them and exits 0 or 1. The child
//      setsid()s and, once ready, points stdin/stdout/stderr at /dev/null.
//   3. SIGTERM, SIGINT and SIGHUP are blocked in every thread and read from a signalfd.
//   4. The array is assembled; one NbdServer per --serve starts (default: an NBD socket in
//      the runtime directory), export name NAME; then the FUSE filesystem with --fuse DIR
//      (frontend/fuse/fuse_server.h, its loop on its own thread); then the control server.
//   5. A "stop" request or a signal starts the graceful stop, in this order:
//        a. every NbdServer::stop() (no new requests; in-flight ones answered), then the
//           FUSE loop ends and DIR is unmounted,
//        b. ServedArray::stop() (drain, flush members, clean superblocks),
//        c. the waiting "stop" requests get their answer,
//        d. the control server stops, the runtime directory is released,
//        e. exit 0 (1 when the array did not stop cleanly).
#pragma once

#include <functional>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "daemon/control_server.h"
#include "daemon/serve_spec.h"
#include "daemon/served_array.h"
#include "frontend/fuse/fuse_server.h"
#include "frontend/nbd/server.h"

namespace umd::daemon {

struct DaemonOptions {
  std::string name;
  std::vector<std::string> members;
  std::vector<ServeSpec> serves;  // empty: nbd:unix:RUNDIR/nbd.sock
  ServeArrayOptions array;
  std::string fuse_dir;  // --fuse DIR (absolute); empty: none
  bool foreground = false;
  // When set, the array to serve comes from here (in the daemon process, after the fork)
  // instead of being assembled from `members`: --assemble --build (recovery/).
  std::function<Result<std::unique_ptr<ServedArray>>()> make_array;
};

// The serving core, apart from process matters (fork, signals, runtime directory), so
// tests can run it on a RAM disk.
class Daemon {
 public:
  Daemon(std::string name, std::unique_ptr<ServedArray> array, std::string control_socket);
  ~Daemon();  // stop() when still running

  // Starts the NBD servers, the FUSE filesystem at fuse_dir (when not empty), then the
  // control server. On error everything started is stopped again (the array too).
  Status start(const std::vector<ServeSpec>& serves, const std::string& fuse_dir = "");
  // The URIs clients use, one per --serve.
  std::vector<std::string> endpoints() const;
  // Waits for a "stop" request, or a signal on signal_fd (a signalfd; -1: none), then
  // runs the graceful stop. Returns its result.
  Status run(int signal_fd);
  // The graceful stop (steps a-d above, without the runtime directory). Idempotent.
  Status stop();
  // Makes run() return after a stop; safe from any thread.
  void request_stop();

  // Answers one control request (control_protocol.h). "stop" asks run() to stop and waits
  // for the result, so it needs run() going.
  json handle(const json& request);

 private:
  json detail_response() const;

  std::string name_;
  std::unique_ptr<ServedArray> array_;
  std::string control_path_;
  std::vector<ServeSpec> serves_;
  std::vector<std::unique_ptr<nbd::NbdServer>> servers_;
  std::unique_ptr<fusefs::AttrSource> fuse_attrs_;
  std::unique_ptr<fusefs::FuseServer> fuse_;
  std::unique_ptr<ControlServer> control_;
  int stop_fd_ = -1;  // eventfd
  std::mutex stop_mu_;
  bool stopped_ = false;
  Status stop_status_;
  std::promise<Status> stop_promise_;
  std::shared_future<Status> stop_future_;
};

// `umd --assemble`: the whole lifecycle. Returns the process exit status (in the parent
// when daemonizing, in the daemon itself when it finally exits).
int run_assemble(const DaemonOptions& opts);

// The array's NBD export name and the JSON of one server's counters.
json stats_json(const nbd::ServerStats& s);

}  // namespace umd::daemon
