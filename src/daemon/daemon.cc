#include "daemon/daemon.h"

#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "daemon/control_ops.h"
#include "daemon/runtime_dir.h"

namespace umd::daemon {
namespace {

// Where the daemon's startup messages go: straight to the terminal in the foreground,
// else up the pipe to the waiting parent, one line each: "W text", "E text", "R text".
class Reporter {
 public:
  explicit Reporter(int pipe_fd) : fd_(pipe_fd) {}
  ~Reporter() { close(); }
  void warning(const std::string& text) { send('W', text); }
  void error(const std::string& text) { send('E', text); }
  void ready(const std::string& text) {
    send('R', text);
    close();
  }
  bool daemonized() const { return daemonized_; }
  void set_daemonized() { daemonized_ = true; }

 private:
  void send(char kind, std::string text) {
    for (char& c : text) {
      if (c == '\n') c = ' ';
    }
    if (fd_ < 0) {
      if (daemonized_) return;  // after ready: nobody is listening
      if (kind == 'R') {
        std::printf("%s\n", text.c_str());
        std::fflush(stdout);
      } else {
        std::fprintf(stderr, "umd: %s\n", text.c_str());
      }
      return;
    }
    std::string line = std::string(1, kind) + " " + text + "\n";
    (void)!::write(fd_, line.data(), line.size());
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd_;
  bool daemonized_ = false;
};

// The parent of a forked daemon: relays what the child reports; 0 once it is ready.
int wait_for_child(int fd, pid_t child, const std::string& name) {
  FILE* f = ::fdopen(fd, "r");
  char* line = nullptr;
  size_t cap = 0;
  int rc = -1;
  while (rc < 0) {
    ssize_t n = ::getline(&line, &cap, f);
    if (n <= 0) break;
    std::string s(line, size_t(n));
    if (!s.empty() && s.back() == '\n') s.pop_back();
    if (s.size() < 2) continue;
    std::string text = s.substr(2);
    switch (s[0]) {
      case 'W': std::fprintf(stderr, "umd: %s\n", text.c_str()); break;
      case 'E': std::fprintf(stderr, "umd: %s\n", text.c_str()); rc = 1; break;
      case 'R': std::printf("%s\n", text.c_str()); rc = 0; break;
      default: break;
    }
  }
  std::free(line);
  std::fclose(f);
  if (rc != 0) {
    // Reap it, so its runtime directory is released by the time we return.
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (rc < 0) {
      std::fprintf(stderr, "umd: the daemon for %s exited during startup (%s %d)\n", name.c_str(),
                   WIFSIGNALED(status) ? "signal" : "status",
                   WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
      rc = 1;
    }
  }
  return rc;
}

std::vector<std::string> absolute_members(const std::vector<std::string>& members) {
  std::vector<std::string> out;
  for (const std::string& m : members) {
    if (m == "missing" || m.find("://") != std::string::npos || m.rfind("nbd", 0) == 0 || m.empty()) {
      out.push_back(m);
      continue;
    }
    std::error_code ec;
    auto abs = std::filesystem::absolute(m, ec);
    out.push_back(ec ? m : abs.lexically_normal().string());
  }
  return out;
}

// The array's attributes as the FUSE filesystem reads them.
class ServedAttrs final : public fusefs::AttrSource {
 public:
  explicit ServedAttrs(ServedArray& a) : a_(a) {}
  std::vector<std::string> attr_names() const override { return a_.attr_names(); }
  Result<std::string> attr(const std::string& name) const override { return a_.attr(name); }
  Status set_attr(const std::string& name, const std::string& value) override { return a_.set_attr(name, value); }

 private:
  ServedArray& a_;
};

void redirect_stdio_to_null() {
  int fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (fd < 0) return;
  ::dup2(fd, STDIN_FILENO);
  ::dup2(fd, STDOUT_FILENO);
  ::dup2(fd, STDERR_FILENO);
  ::close(fd);
}

// Steps 3-5 of the lifecycle, in the process that stays.
int serve(const DaemonOptions& opts, RuntimeDir& rd, const std::vector<ServeSpec>& serves, Reporter& rep) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  ::pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before any thread exists: all inherit it
  ::signal(SIGPIPE, SIG_IGN);
  // Request payloads (up to 32 MiB each, many in flight) come and go at the I/O rate. By
  // default glibc serves such sizes with fresh mmaps, or trims them back to the kernel,
  // and every request then pays page faults and page zeroing (45% of the daemon's CPU on
  // 1 MiB writes, by perf). Keep them in the heap and keep the heap.
  ::mallopt(M_MMAP_THRESHOLD, 64 << 20);
  ::mallopt(M_TRIM_THRESHOLD, 512 << 20);
  int sfd = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) {
    rep.error(Status::from_errno(errno, "signalfd").message());
    return 1;
  }

  auto array = opts.make_array ? opts.make_array()
                               : assemble_served_array(opts.name, absolute_members(opts.members), opts.array);
  if (!array.is_ok()) {
    rep.error(array.status().message());
    ::close(sfd);
    return 1;
  }
  for (const std::string& w : (*array)->warnings()) rep.warning(w);
  int rc = 0;
  {
    Daemon d(opts.name, std::move(*array), rd.control_socket());
    Status s = d.start(serves, opts.fuse_dir);
    if (!s.is_ok()) {
      rep.error(s.message());
      ::close(sfd);
      return 1;
    }
    std::string where;
    for (const std::string& e : d.endpoints()) where += (where.empty() ? "" : ", ") + e;
    if (!opts.fuse_dir.empty()) where += ", fuse " + opts.fuse_dir;
    rep.ready(opts.name + " is running (pid " + std::to_string(::getpid()) + "): " + where);
    if (rep.daemonized()) {
      redirect_stdio_to_null();
      (void)!::chdir("/");
    }
    s = d.run(sfd);
    if (!s.is_ok()) {
      std::fprintf(stderr, "umd: stopping %s: %s\n", opts.name.c_str(), s.message().c_str());
      rc = 1;
    }
  }
  ::close(sfd);
  return rc;
}

}  // namespace

json stats_json(const nbd::ServerStats& s) {
  return {{"connections_total", s.connections_total}, {"connections_open", s.connections_open},
          {"connections_refused", s.connections_refused}, {"reads", s.reads}, {"writes", s.writes},
          {"flushes", s.flushes}, {"trims", s.trims}, {"write_zeroes", s.write_zeroes},
          {"other_requests", s.other_requests}, {"errors", s.errors}, {"bytes_read", s.bytes_read},
          {"bytes_written", s.bytes_written}, {"inflight", s.inflight}};
}

Daemon::Daemon(std::string name, std::unique_ptr<ServedArray> array, std::string control_socket)
    : name_(std::move(name)), array_(std::move(array)), control_path_(std::move(control_socket)) {
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  stop_future_ = stop_promise_.get_future().share();
}

Daemon::~Daemon() {
  (void)stop();
  if (stop_fd_ >= 0) ::close(stop_fd_);
}

Status Daemon::start(const std::vector<ServeSpec>& serves, const std::string& fuse_dir) {
  if (stop_fd_ < 0) return Status::from_errno(errno, "eventfd");
  for (const ServeSpec& spec : serves) {
    nbd::ServerOptions so;
    so.export_name = name_;
    so.description = "umd array " + name_;
    if (spec.kind == ServeSpec::Kind::nbd_unix) {
      so.unix_path = spec.path;
    } else {
      so.tcp = true;
      so.tcp_host = spec.host;
      so.tcp_port = spec.port;
    }
    auto server = std::make_unique<nbd::NbdServer>(array_->target(), so);
    Status s = server->start();
    if (!s.is_ok()) {
      (void)stop();
      return s.with_context("--serve " + spec.text);
    }
    servers_.push_back(std::move(server));
    serves_.push_back(spec);
  }
  if (!fuse_dir.empty()) {
    fuse_attrs_ = std::make_unique<ServedAttrs>(*array_);
    fuse_ = std::make_unique<fusefs::FuseServer>(array_->target(), *fuse_attrs_,
                                                 fusefs::FuseOptions{fuse_dir, "umd:" + name_});
    Status s = fuse_->start();
    if (!s.is_ok()) {
      fuse_.reset();
      (void)stop();
      return s;
    }
  }
  control_ = std::make_unique<ControlServer>(control_path_, [this](const json& r) { return handle(r); });
  Status s = control_->start();
  if (!s.is_ok()) {
    (void)stop();
    return s;
  }
  return Status::ok();
}

std::vector<std::string> Daemon::endpoints() const {
  std::vector<std::string> out;
  for (size_t i = 0; i < serves_.size(); i++) out.push_back(serves_[i].uri(name_, servers_[i]->tcp_port()));
  return out;
}

void Daemon::request_stop() {
  uint64_t one = 1;
  (void)!::write(stop_fd_, &one, sizeof one);
}

Status Daemon::run(int signal_fd) {
  for (;;) {
    struct pollfd p[2] = {{stop_fd_, POLLIN, 0}, {signal_fd, POLLIN, 0}};
    int r = ::poll(p, signal_fd >= 0 ? 2 : 1, -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if ((p[0].revents & POLLIN) || (signal_fd >= 0 && (p[1].revents & POLLIN))) break;
  }
  return stop();
}

Status Daemon::stop() {
  std::lock_guard lk(stop_mu_);
  if (stopped_) return stop_status_;
  for (auto& server : servers_) server->stop();
  if (fuse_) fuse_->stop();
  stop_status_ = array_->stop();
  stopped_ = true;
  stop_promise_.set_value(stop_status_);
  if (control_) control_->stop();  // waits for the "stop" requests to be answered
  return stop_status_;
}

json Daemon::handle(const json& request) {
  auto op_it = request.find("op");
  if (op_it == request.end() || !op_it->is_string()) return error_response("request has no \"op\" string");
  const std::string op = op_it->get<std::string>();
  if (op == "ping") return ok_response({{"name", name_}, {"pid", ::getpid()}});
  if (op == "detail") return detail_response();
  if (op == "stop") {
    request_stop();
    Status s = stop_future_.get();
    if (!s.is_ok()) return error_response("stopping " + name_ + ": " + s.message());
    return ok_response({{"name", name_}});
  }
  if (auto r = handle_array_op(*array_, op, request)) return *r;
  if (op == "fault") {
    auto action = request.find("action");
    const std::string act = action != request.end() && action->is_string() ? action->get<std::string>() : "";
    Status s = array_->inject_fault(request.value("member", json()), act);
    if (!s.is_ok()) return error_response(s.message());
    return ok_response();
  }
  return error_response("unknown op \"" + op + "\"");
}

json Daemon::detail_response() const {
  json nbd = json::array();
  for (size_t i = 0; i < servers_.size(); i++) {
    nbd.push_back({{"spec", serves_[i].text}, {"uri", serves_[i].uri(name_, servers_[i]->tcp_port())},
                   {"stats", stats_json(servers_[i]->stats())}});
  }
  json r = {{"name", name_}, {"pid", ::getpid()}, {"array", array_->detail()}, {"nbd", nbd}};
  if (fuse_) r["fuse"] = fuse_->mountpoint();
  return ok_response(r);
}

int run_assemble(const DaemonOptions& opts) {
  auto rd = RuntimeDir::acquire(opts.name);
  if (!rd.is_ok()) {
    std::fprintf(stderr, "umd: %s\n", rd.status().message().c_str());
    return 1;
  }
  std::vector<ServeSpec> serves = opts.serves;
  if (serves.empty()) {
    auto def = parse_serve_spec("nbd:unix:" + (*rd)->default_nbd_socket());
    if (!def.is_ok()) {
      std::fprintf(stderr, "umd: %s\n", def.status().message().c_str());
      return 1;
    }
    serves.push_back(*def);
  }
  int report_fd = -1;
  if (!opts.foreground) {
    std::fflush(stdout);
    std::fflush(stderr);
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) {
      std::fprintf(stderr, "umd: pipe: %s\n", std::strerror(errno));
      return 1;
    }
    pid_t pid = ::fork();
    if (pid < 0) {
      std::fprintf(stderr, "umd: fork: %s\n", std::strerror(errno));
      return 1;
    }
    if (pid > 0) {
      ::close(p[1]);
      (*rd)->abandon();
      return wait_for_child(p[0], pid, opts.name);
    }
    ::close(p[0]);
    ::setsid();
    report_fd = p[1];
    Status s = (*rd)->write_pid(::getpid());
    if (!s.is_ok()) {
      Reporter(report_fd).error(s.message());
      return 1;
    }
  }
  Reporter rep(report_fd);
  if (!opts.foreground) rep.set_daemonized();
  int rc = serve(opts, **rd, serves, rep);
  (*rd)->release();
  return rc;
}

}  // namespace umd::daemon
