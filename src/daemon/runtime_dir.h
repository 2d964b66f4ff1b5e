// The runtime directory of a running array (../../shared/CLI.md): where its daemon keeps
// the control socket, the default NBD socket, its pid and its lock.
//
//   BASE       $UMD_RUNTIME_DIR, else /run/umd as root, else $XDG_RUNTIME_DIR/umd, else
//              /tmp/umd-UID. Created 0700.
//   BASE/NAME  one array's directory, 0700:
//     lock       flock()ed (exclusive) by the daemon for as long as it holds NAME. The lock,
//                not the pid file, says whether NAME is running: it dies with the process.
//     pid        the holder's pid, for messages and for `--stop` to wait on.
//     control    the control socket (control_protocol.h).
//     nbd.sock   the NBD socket when --serve names none.
//
// Whoever takes the lock first cleans up what a dead daemon left behind. The lock file is
// unlinked on release; acquire() checks that the file it locked is still the one at the
// path (a releasing daemon may unlink it between our open and our flock) and retries.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "util/status.h"

namespace umd::daemon {

std::string runtime_base();
std::string runtime_dir_of(const std::string& name);

// NAME must be usable as one path component: not empty, no '/', not "." or "..", at most
// 64 characters. Err::invalid names the problem.
Status check_array_name(const std::string& name);

// The pid of the daemon holding NAME; 0 when none does (no directory, or its lock is
// free: a dead daemon's leftovers); -1 when one holds it but has not written its pid yet.
pid_t holder_pid(const std::string& name);

// True when process `pid` has exited: gone, or every one of its threads a zombie (its
// parent has not reaped it yet). On exit the leader turns zombie first while the other
// threads are still running down, and the process's files (its lock, its members) are
// released with the last of them; so the leader's state alone is not enough.
bool process_gone(pid_t pid);

// Names of the directories under the runtime base (running or stale), sorted.
std::vector<std::string> list_runtime_names();

// Removes NAME's directory when no daemon holds it. True when it is gone (or was).
bool remove_if_stale(const std::string& name);

class RuntimeDir {
 public:
  // Creates the directories, takes NAME's lock and writes our pid. Err::busy "md0 is
  // already assembled (pid N)" when a live daemon holds it; Err::io naming the path when
  // a directory cannot be made.
  static Result<std::unique_ptr<RuntimeDir>> acquire(const std::string& name);
  ~RuntimeDir();  // release()
  RuntimeDir(const RuntimeDir&) = delete;
  RuntimeDir& operator=(const RuntimeDir&) = delete;

  const std::string& name() const { return name_; }
  const std::string& path() const { return path_; }
  std::string control_socket() const { return path_ + "/control"; }
  std::string default_nbd_socket() const { return path_ + "/nbd.sock"; }

  // Rewrites the pid file (the daemon child after fork()).
  Status write_pid(pid_t pid);
  // Removes the pid file, the control socket and the lock, drops the lock, removes the
  // directory when empty. Idempotent.
  void release();
  // Closes our descriptor without removing anything: the parent of a forked daemon, whose
  // child holds the same lock and will release it.
  void abandon();

 private:
  RuntimeDir(std::string name, std::string path, int lock_fd)
      : name_(std::move(name)), path_(std::move(path)), lock_fd_(lock_fd) {}
  std::string name_, path_;
  int lock_fd_ = -1;
};

}  // namespace umd::daemon
