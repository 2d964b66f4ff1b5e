#define FUSE_USE_VERSION 35
#include "frontend/fuse/fuse_server.h"

#include <fcntl.h>
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <mutex>
#include <set>

#include "frontend/fuse/attr_tree.h"
#include "frontend/fuse/unaligned_io.h"

namespace umd::fusefs {
namespace {

constexpr const char* kData = "/data";
constexpr const char* kMd = "/md";

FuseServer& server() { return *static_cast<FuseServer*>(fuse_get_context()->private_data); }

int errno_of(const Status& s) {
  switch (s.code()) {
    case Err::ok: return 0;
    case Err::invalid: return EINVAL;
    case Err::busy: return EBUSY;
    case Err::not_found: return ENOENT;
    case Err::unsupported: return EOPNOTSUPP;
    case Err::retry: return EAGAIN;
    case Err::no_space: return ENOSPC;
    default: return EIO;
  }
}

// "/md/dev-d1.img/state" -> "dev-d1.img/state"; "/md" -> ""; false outside md/.
bool md_rel(const char* path, std::string* rel) {
  const size_t n = std::strlen(kMd);
  if (std::strncmp(path, kMd, n) != 0 || (path[n] != '\0' && path[n] != '/')) return false;
  *rel = path[n] == '\0' ? "" : path + n + 1;
  return true;
}

// One open attribute file: the value read at the first read() after open().
struct AttrHandle {
  std::string name;
  bool loaded = false;
  std::string text;
};

// Handles still open when the session ends never see release(): the server frees them
// at stop.
std::mutex g_handles_mu;
std::set<AttrHandle*> g_handles;

// libfuse's messages, kept for the error start() returns instead of going to stderr.
std::mutex g_log_mu;
std::string g_last_log;
void capture_log(enum fuse_log_level, const char* fmt, va_list ap) {
  char buf[512];
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  std::string s(buf);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  std::lock_guard lk(g_log_mu);
  g_last_log = s;
}

void* op_init(struct fuse_conn_info*, struct fuse_config* cfg) {
  cfg->direct_io = 1;
  cfg->entry_timeout = 0;
  cfg->attr_timeout = 0;
  cfg->negative_timeout = 0;
  cfg->use_ino = 0;
  return fuse_get_context()->private_data;
}

int op_getattr(const char* path, struct stat* st, struct fuse_file_info*) {
  std::memset(st, 0, sizeof *st);
  st->st_uid = ::getuid();
  st->st_gid = ::getgid();
  st->st_nlink = 1;
  auto dir = [&] {
    st->st_mode = S_IFDIR | 0755;
    st->st_nlink = 2;
    return 0;
  };
  if (std::strcmp(path, "/") == 0) return dir();
  FuseServer& s = server();
  if (std::strcmp(path, kData) == 0) {
    st->st_mode = S_IFREG | (s.target().read_only() ? 0444 : 0644);
    st->st_size = off_t(s.target().size_bytes());
    st->st_blksize = s.target().preferred_block_size();
    st->st_blocks = st->st_size / 512;
    return 0;
  }
  std::string rel;
  if (!md_rel(path, &rel)) return -ENOENT;
  switch (attr_node(s.attrs().attr_names(), rel)) {
    case NodeKind::dir: return dir();
    case NodeKind::file:
      st->st_mode = S_IFREG | 0644;
      st->st_size = 4096;
      return 0;
    case NodeKind::none: break;
  }
  return -ENOENT;
}

int op_readdir(const char* path, void* buf, fuse_fill_dir_t fill, off_t, struct fuse_file_info*,
               enum fuse_readdir_flags) {
  fill(buf, ".", nullptr, 0, FUSE_FILL_DIR_PLUS);
  fill(buf, "..", nullptr, 0, FUSE_FILL_DIR_PLUS);
  if (std::strcmp(path, "/") == 0) {
    fill(buf, kData + 1, nullptr, 0, FUSE_FILL_DIR_PLUS);
    fill(buf, kMd + 1, nullptr, 0, FUSE_FILL_DIR_PLUS);
    return 0;
  }
  std::string rel;
  if (!md_rel(path, &rel)) return -ENOENT;
  const auto names = server().attrs().attr_names();
  if (attr_node(names, rel) != NodeKind::dir) return -ENOTDIR;
  for (const auto& [name, kind] : attr_dir_entries(names, rel)) {
    struct stat st = {};
    st.st_mode = kind == NodeKind::dir ? S_IFDIR : S_IFREG;
    fill(buf, name.c_str(), &st, 0, FUSE_FILL_DIR_PLUS);
  }
  return 0;
}

int op_open(const char* path, struct fuse_file_info* fi) {
  FuseServer& s = server();
  fi->direct_io = 1;
  fi->keep_cache = 0;
  if (std::strcmp(path, kData) == 0) {
    if ((fi->flags & O_ACCMODE) != O_RDONLY && s.target().read_only()) return -EROFS;
    fi->fh = 0;
    return 0;
  }
  std::string rel;
  if (!md_rel(path, &rel)) return -ENOENT;
  switch (attr_node(s.attrs().attr_names(), rel)) {
    case NodeKind::file: break;
    case NodeKind::dir: return -EISDIR;
    case NodeKind::none: return -ENOENT;
  }
  auto* h = new AttrHandle{rel, false, ""};
  {
    std::lock_guard l(g_handles_mu);
    g_handles.insert(h);
  }
  fi->fh = reinterpret_cast<uint64_t>(h);
  return 0;
}

int op_release(const char*, struct fuse_file_info* fi) {
  auto* h = reinterpret_cast<AttrHandle*>(fi->fh);
  if (h) {
    std::lock_guard l(g_handles_mu);
    g_handles.erase(h);
  }
  delete h;
  fi->fh = 0;
  return 0;
}

int op_read(const char*, char* buf, size_t size, off_t off, struct fuse_file_info* fi) {
  if (off < 0) return -EINVAL;
  FuseServer& s = server();
  auto* h = reinterpret_cast<AttrHandle*>(fi->fh);
  if (h == nullptr) {
    auto n = read_at(s.target(), uint64_t(off), {reinterpret_cast<uint8_t*>(buf), size});
    if (!n.is_ok()) return -errno_of(n.status());
    return int(*n);
  }
  if (!h->loaded) {
    auto v = s.attrs().attr(h->name);
    if (!v.is_ok()) return -errno_of(v.status());
    h->text = *v + "\n";
    h->loaded = true;
  }
  if (uint64_t(off) >= h->text.size()) return 0;
  const size_t n = std::min(size, h->text.size() - size_t(off));
  std::memcpy(buf, h->text.data() + off, n);
  return int(n);
}

int op_write(const char*, const char* buf, size_t size, off_t off, struct fuse_file_info* fi) {
  if (off < 0) return -EINVAL;
  FuseServer& s = server();
  auto* h = reinterpret_cast<AttrHandle*>(fi->fh);
  if (h == nullptr) {
    if (s.target().read_only()) return -EROFS;
    auto n = write_at(s.target(), uint64_t(off), {reinterpret_cast<const uint8_t*>(buf), size});
    if (!n.is_ok()) return -errno_of(n.status());
    return int(*n);
  }
  std::string value(buf, size);
  if (!value.empty() && value.back() == '\n') value.pop_back();
  Status st = s.attrs().set_attr(h->name, value);
  if (!st.is_ok()) return -errno_of(st);
  h->loaded = false;  // a later read shows the new value
  return int(size);
}

int op_truncate(const char* path, off_t, struct fuse_file_info*) {
  if (std::strcmp(path, kData) == 0) return server().target().read_only() ? -EROFS : 0;
  std::string rel;
  if (md_rel(path, &rel) && attr_node(server().attrs().attr_names(), rel) == NodeKind::file) return 0;
  return -EACCES;
}

int op_fsync(const char*, int, struct fuse_file_info* fi) {
  if (fi != nullptr && fi->fh != 0) return 0;  // attributes: nothing to make durable
  FuseServer& s = server();
  if (s.target().read_only()) return 0;
  return -errno_of(submit_and_wait(s.target(), engine::BlockOp::flush, 0, 0, nullptr));
}

int op_utimens(const char*, const struct timespec*, struct fuse_file_info*) { return 0; }

struct fuse_operations make_ops() {
  struct fuse_operations ops = {};
  ops.init = op_init;
  ops.getattr = op_getattr;
  ops.readdir = op_readdir;
  ops.open = op_open;
  ops.release = op_release;
  ops.read = op_read;
  ops.write = op_write;
  ops.truncate = op_truncate;
  ops.fsync = op_fsync;
  ops.utimens = op_utimens;
  return ops;
}

}  // namespace

FuseServer::FuseServer(engine::BlockTarget& target, AttrSource& attrs, FuseOptions opts)
    : target_(target), attrs_(attrs), opts_(std::move(opts)) {}

FuseServer::~FuseServer() { stop(); }

Status FuseServer::start() {
  const std::string where = "--fuse " + opts_.mountpoint;
  struct stat st;
  if (::stat(opts_.mountpoint.c_str(), &st) != 0) return Status::from_errno(errno, where);
  if (!S_ISDIR(st.st_mode)) return Status(Err::invalid, where + ": not a directory");
  if (::access("/dev/fuse", R_OK | W_OK) != 0) return Status::from_errno(errno, where + ": /dev/fuse");
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return Status::from_errno(errno, "eventfd");

  fuse_set_log_func(capture_log);
  const std::string opt = "fsname=" + (opts_.fsname.empty() ? std::string("umd") : opts_.fsname) + ",subtype=umd";
  std::vector<std::string> argv_s = {"umd", "-o", opt};
  std::vector<char*> argv;
  for (std::string& a : argv_s) argv.push_back(a.data());
  struct fuse_args args = FUSE_ARGS_INIT(int(argv.size()), argv.data());
  static const struct fuse_operations ops = make_ops();
  {
    std::lock_guard lk(g_log_mu);
    g_last_log.clear();
  }
  fuse_ = fuse_new(&args, &ops, sizeof ops, this);
  fuse_opt_free_args(&args);
  auto libfuse_error = [&](const std::string& what) {
    std::lock_guard lk(g_log_mu);
    return Status(Err::io, where + ": " + what + (g_last_log.empty() ? "" : ": " + g_last_log));
  };
  if (fuse_ == nullptr) return libfuse_error("cannot start FUSE");
  if (fuse_mount(fuse_, opts_.mountpoint.c_str()) != 0) {
    fuse_destroy(fuse_);
    fuse_ = nullptr;
    return libfuse_error("mount failed");
  }
  mounted_ = true;
  int fd = fuse_session_fd(fuse_get_session(fuse_));
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  thread_ = std::thread([this] { loop(); });
  return Status::ok();
}

void FuseServer::loop() {
  struct fuse_session* se = fuse_get_session(fuse_);
  const int fd = fuse_session_fd(se);
  struct fuse_buf buf = {};
  while (!stopping_.load() && !fuse_session_exited(se)) {
    struct pollfd p[2] = {{fd, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    int r = ::poll(p, 2, -1);
    if (r < 0 && errno != EINTR) break;
    if (stopping_.load() || (p[1].revents & POLLIN)) break;
    if (!(p[0].revents & (POLLIN | POLLERR | POLLHUP))) continue;
    int n = fuse_session_receive_buf(se, &buf);
    if (n == -EINTR || n == -EAGAIN) continue;
    if (n <= 0) break;  // 0: unmounted from outside; < 0: the device failed
    fuse_session_process_buf(se, &buf);
  }
  std::free(buf.mem);
}

void FuseServer::stop() {
  if (stopping_.exchange(true)) return;
  if (wake_fd_ >= 0) {
    uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
  }
  if (thread_.joinable()) thread_.join();
  if (fuse_ != nullptr) {
    if (mounted_) fuse_unmount(fuse_);
    fuse_destroy(fuse_);
    fuse_ = nullptr;
  }
  if (wake_fd_ >= 0) ::close(wake_fd_);
  wake_fd_ = -1;
  std::lock_guard l(g_handles_mu);
  for (AttrHandle* h : g_handles) delete h;
  g_handles.clear();
}

}  // namespace umd::fusefs
