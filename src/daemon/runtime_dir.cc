#include "daemon/runtime_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <signal.h>
#include <thread>

namespace umd::daemon {
namespace {

constexpr const char* kLeftovers[] = {"control", "nbd.sock", "pid"};

Status make_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) == 0) return Status::ok();
  if (errno != EEXIST) return Status::from_errno(errno, "creating runtime directory " + path);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Status::from_errno(errno, "checking runtime directory " + path);
  if (!S_ISDIR(st.st_mode)) return Status(Err::invalid, "runtime directory " + path + " is not a directory");
  return Status::ok();
}

// mkdir -p for the base (its parents may be missing, e.g. /run/umd on a fresh boot).
Status make_dirs(const std::string& path) {
  for (size_t pos = 1; (pos = path.find('/', pos)) != std::string::npos; pos++) {
    std::string parent = path.substr(0, pos);
    if (::mkdir(parent.c_str(), 0755) != 0 && errno != EEXIST) {
      return Status::from_errno(errno, "creating runtime directory " + parent);
    }
  }
  return make_dir(path);
}

pid_t read_pid(const std::string& dir) {
  int fd = ::open((dir + "/pid").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[32] = {};
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return -1;
  long v = std::strtol(buf, nullptr, 10);
  return v > 0 ? pid_t(v) : -1;
}

bool process_alive(pid_t pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }

// True when fd is still the file at path (not unlinked or replaced since we opened it).
bool same_file(int fd, const std::string& path) {
  struct stat a, b;
  if (::fstat(fd, &a) != 0 || ::stat(path.c_str(), &b) != 0) return false;
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

void remove_leftovers(const std::string& dir) {
  for (const char* f : kLeftovers) ::unlink((dir + "/" + f).c_str());
}

}  // namespace

std::string runtime_base() {
  if (const char* d = std::getenv("UMD_RUNTIME_DIR"); d && *d) return d;
  if (::geteuid() == 0) return "/run/umd";
  if (const char* x = std::getenv("XDG_RUNTIME_DIR"); x && *x) return std::string(x) + "/umd";
  return "/tmp/umd-" + std::to_string(::geteuid());
}

std::string runtime_dir_of(const std::string& name) { return runtime_base() + "/" + name; }

Status check_array_name(const std::string& name) {
  if (name.empty()) return Status(Err::invalid, "array name is empty");
  if (name == "." || name == "..") return Status(Err::invalid, "array name \"" + name + "\" is not allowed");
  if (name.size() > 64) return Status(Err::invalid, "array name \"" + name + "\" is longer than 64 characters");
  for (char c : name) {
    if (c == '/' || c == '\0' || c == '\n' || (unsigned char)c < 0x20) {
      return Status(Err::invalid, "array name \"" + name + "\" may not contain '/' or control characters");
    }
  }
  return Status::ok();
}

namespace {

// State letter of /proc/PID/task/TID/stat, or 0 when the thread is gone.
char thread_state(const std::string& stat_path) {
  std::ifstream stat(stat_path);
  std::string line;
  if (!std::getline(stat, line)) return 0;
  size_t paren = line.rfind(')');
  if (paren == std::string::npos || paren + 2 >= line.size()) return 0;
  return line[paren + 2];
}

}  // namespace

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

pid_t holder_pid(const std::string& name) {
  const std::string dir = runtime_dir_of(name);
  int fd = ::open((dir + "/lock").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  pid_t pid = 0;
  if (::flock(fd, LOCK_SH | LOCK_NB) == 0) {
    ::flock(fd, LOCK_UN);
  } else {
    pid = read_pid(dir);
  }
  ::close(fd);
  return pid;
}

std::vector<std::string> list_runtime_names() {
  std::vector<std::string> names;
  DIR* d = ::opendir(runtime_base().c_str());
  if (!d) return names;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN) continue;
    if (!check_array_name(n).is_ok()) continue;
    names.push_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

bool remove_if_stale(const std::string& name) {
  const std::string dir = runtime_dir_of(name);
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return errno == ENOENT;
  const std::string lock = dir + "/lock";
  int fd = ::open(lock.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd);
      return false;  // held: running
    }
    if (same_file(fd, lock)) {
      remove_leftovers(dir);
      ::unlink(lock.c_str());
    }
    ::close(fd);
  } else if (errno == ENOENT) {
    remove_leftovers(dir);
  }
  return ::rmdir(dir.c_str()) == 0 || errno == ENOENT;
}

Result<std::unique_ptr<RuntimeDir>> RuntimeDir::acquire(const std::string& name) {
  UMD_TRY(check_array_name(name));
  const std::string base = runtime_base();
  const std::string dir = base + "/" + name;
  const std::string lock = dir + "/lock";
  for (int attempt = 0; attempt < 100; attempt++) {
    UMD_TRY(make_dirs(base));
    UMD_TRY(make_dir(dir));
    int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
      if (errno == ENOENT) continue;  // a releasing daemon removed the directory under us
      return Status::from_errno(errno, "opening lock file " + lock);
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int e = errno;
      ::close(fd);
      if (e != EWOULDBLOCK) return Status::from_errno(e, "locking " + lock);
      pid_t pid = read_pid(dir);
      // The holder is exiting, or it is a client cleaning up a dead daemon's directory
      // (remove_if_stale holds the lock and has removed the pid file), or a daemon so new
      // it has not written its pid yet: ask again shortly, for up to ~0.5 s.
      if ((pid > 0 && !process_alive(pid)) || (pid <= 0 && attempt < 50)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      return Status(Err::busy, name + " is already assembled" +
                                   (pid > 0 ? " (pid " + std::to_string(pid) + ")" : std::string()));
    }
    if (!same_file(fd, lock)) {
      ::close(fd);  // locked a file that was unlinked meanwhile
      continue;
    }
    remove_leftovers(dir);  // what a dead daemon left
    std::unique_ptr<RuntimeDir> rd(new RuntimeDir(name, dir, fd));
    UMD_TRY(rd->write_pid(::getpid()));
    return rd;
  }
  return Status(Err::busy, "cannot take the lock of " + name + " in " + dir + ": it keeps changing");
}

RuntimeDir::~RuntimeDir() { release(); }

Status RuntimeDir::write_pid(pid_t pid) {
  const std::string tmp = path_ + "/pid.tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::from_errno(errno, "writing " + tmp);
  const std::string text = std::to_string(pid) + "\n";
  bool ok = ::write(fd, text.data(), text.size()) == ssize_t(text.size());
  ok = (::close(fd) == 0) && ok;
  if (!ok || ::rename(tmp.c_str(), (path_ + "/pid").c_str()) != 0) {
    Status s = Status::from_errno(errno, "writing " + path_ + "/pid");
    ::unlink(tmp.c_str());
    return s;
  }
  return Status::ok();
}

void RuntimeDir::release() {
  if (lock_fd_ < 0) return;
  remove_leftovers(path_);
  ::unlink((path_ + "/lock").c_str());
  ::close(lock_fd_);
  lock_fd_ = -1;
  ::rmdir(path_.c_str());
}

void RuntimeDir::abandon() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
  lock_fd_ = -1;
}

}  // namespace umd::daemon
