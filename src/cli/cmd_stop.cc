// --stop NAME: ask the daemon to stop the array cleanly and wait until it has exited.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "cli/commands.h"
#include "daemon/control_protocol.h"
#include "daemon/runtime_dir.h"

namespace umd::cli {
namespace {

using namespace std::chrono_literals;

}  // namespace

static int stop_one(const std::string& name);

int cmd_stop(const Args& a) {
  if (a.scan) {  // every running array
    if (!a.members.empty()) return usage_error("--stop --scan takes no NAME");
    int rc = 0;
    for (const std::string& name : daemon::list_runtime_names()) {
      if (daemon::holder_pid(name) == 0) continue;
      if (stop_one(name) != 0) rc = 1;
    }
    return rc;
  }
  Status name_ok = daemon::check_array_name(a.array_name);
  if (!name_ok.is_ok()) return usage_error(name_ok.message());
  if (!a.members.empty()) return usage_error("--stop takes only the array NAME");
  return stop_one(a.array_name);
}

static int stop_one(const std::string& name) {
  const pid_t pid = daemon::holder_pid(name);
  if (pid == 0) {
    daemon::remove_if_stale(name);
    return fail(Status(Err::not_found, name + " is not assembled"));
  }
  // Stopping drains requests and flushes every member: allow it time.
  auto r = daemon::control_call(name, {{"op", "stop"}}, 600s);
  if (!r.is_ok()) return fail(r.status());
  // The lock is released last; then wait for the process itself.
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (daemon::holder_pid(name) != 0 || !daemon::process_gone(pid)) {
    if (std::chrono::steady_clock::now() > deadline) {
      return fail(Status(Err::busy, name + " stopped, but its daemon (pid " + std::to_string(pid) +
                                        ") has not exited"));
    }
    std::this_thread::sleep_for(20ms);
  }
  std::fprintf(stderr, "umd: stopped %s\n", name.c_str());
  return 0;
}

}  // namespace umd::cli
