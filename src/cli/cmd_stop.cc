// --stop NAME: ask the daemon to stop the array cleanly and wait until it has exited.
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "cli/commands.h"
#include "daemon/control_protocol.h"
#include "daemon/runtime_dir.h"

namespace umd::cli {
namespace {

using namespace std::chrono_literals;

// State letter of /proc/PID/task/TID/stat, or 0 when the thread is gone.
char thread_state(const std::string& stat_path) {
  std::ifstream stat(stat_path);
  std::string line;
  if (!std::getline(stat, line)) return 0;
  size_t paren = line.rfind(')');
  if (paren == std::string::npos || paren + 2 >= line.size()) return 0;
  return line[paren + 2];
}

// Gone, or a zombie nobody has reaped yet (its parent is the one who started it) -- but
// only once every thread is one. On exit the leader turns zombie first while the other
// threads may still be running down; the members' files close with the last of them.
bool process_gone(pid_t pid) {
  if (pid <= 0) return true;
  if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = ::opendir(tasks.c_str());
  if (!d) return true;
  bool running = false;
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    const char st = thread_state(tasks + "/" + e->d_name + "/stat");
    if (st != 0 && st != 'Z' && st != 'X') {
      running = true;
      break;
    }
  }
  ::closedir(d);
  return !running;
}

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
  while (daemon::holder_pid(name) != 0 || !process_gone(pid)) {
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
