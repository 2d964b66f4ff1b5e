// The FUSE filesystem mounted for real on a RAM disk (skipped without /dev/fuse or root).
#include "frontend/fuse/fuse_server.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include "block/memory_target.h"

// libfuse3 keeps nodes for inodes the kernel still referenced when a session is torn
// down right after a lookup; LeakSanitizer reports them from inside libfuse (not ours to
// free). Only ASan builds call this.
extern "C" const char* __lsan_default_suppressions() { return "leak:libfuse3.so\n"; }

namespace umd::fusefs {
namespace {

class FakeAttrs final : public AttrSource {
 public:
  std::vector<std::string> attr_names() const override {
    std::lock_guard lk(mu_);
    std::vector<std::string> out;
    for (auto& [k, v] : values_) out.push_back(k);
    return out;
  }
  Result<std::string> attr(const std::string& name) const override {
    std::lock_guard lk(mu_);
    auto it = values_.find(name);
    if (it == values_.end()) return Result<std::string>(Err::not_found, "no attribute " + name);
    return it->second;
  }
  Status set_attr(const std::string& name, const std::string& value) override {
    std::lock_guard lk(mu_);
    if (name == "level") return Status(Err::unsupported, "level is read-only");
    if (name == "sync_action" && value != "check" && value != "idle") return Status(Err::invalid, "bad action");
    values_[name] = value;
    return Status::ok();
  }
  mutable std::mutex mu_;
  std::map<std::string, std::string> values_ = {
      {"array_state", "clean"}, {"level", "raid5"}, {"sync_action", "idle"}, {"dev-d1.img/state", "in_sync"}};
};

std::string slurp(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return "<open failed: " + std::string(std::strerror(errno)) + ">";
  std::string out;
  char buf[100];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, size_t(n));
  ::close(fd);
  return out;
}

int write_file(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC);
  if (fd < 0) return errno;
  ssize_t n = ::write(fd, text.data(), text.size());
  int e = n < 0 ? errno : 0;
  ::close(fd);
  return e;
}

std::set<std::string> list_dir(const std::string& path) {
  std::set<std::string> out;
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) return out;
  while (auto* e = ::readdir(d)) {
    if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") out.insert(e->d_name);
  }
  ::closedir(d);
  return out;
}

class FuseServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0 || ::access("/dev/fuse", R_OK | W_OK) != 0) GTEST_SKIP() << "needs root and /dev/fuse";
    char tmpl[] = "/tmp/umd-fuse-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    server_ = std::make_unique<FuseServer>(target_, attrs_, FuseOptions{dir_, "umd:test"});
    Status s = server_->start();
    ASSERT_TRUE(s.is_ok()) << s.message();
  }
  void TearDown() override {
    server_.reset();
    if (!dir_.empty()) ::rmdir(dir_.c_str());
  }
  nbd::MemoryTarget target_{1 << 20};
  FakeAttrs attrs_;
  std::string dir_;
  std::unique_ptr<FuseServer> server_;
};

TEST_F(FuseServerTest, TreeAndSizes) {
  EXPECT_EQ(list_dir(dir_), (std::set<std::string>{"data", "md"}));
  EXPECT_EQ(list_dir(dir_ + "/md"), (std::set<std::string>{"array_state", "level", "sync_action", "dev-d1.img"}));
  EXPECT_EQ(list_dir(dir_ + "/md/dev-d1.img"), (std::set<std::string>{"state"}));
  struct stat st;
  ASSERT_EQ(::stat((dir_ + "/data").c_str(), &st), 0);
  EXPECT_EQ(uint64_t(st.st_size), target_.size_bytes());
  EXPECT_TRUE(S_ISREG(st.st_mode));
  ASSERT_EQ(::stat((dir_ + "/md/dev-d1.img").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_NE(::stat((dir_ + "/md/nothing").c_str(), &st), 0);
  // An attribute that appears later is there without remounting.
  EXPECT_TRUE(attrs_.set_attr("dev-d2.img/state", "spare").is_ok());
  EXPECT_TRUE(list_dir(dir_ + "/md").count("dev-d2.img"));
}

TEST_F(FuseServerTest, AttributesReadAndWrite) {
  EXPECT_EQ(slurp(dir_ + "/md/array_state"), "clean\n");
  EXPECT_EQ(slurp(dir_ + "/md/dev-d1.img/state"), "in_sync\n");
  EXPECT_EQ(write_file(dir_ + "/md/sync_action", "check\n"), 0);
  EXPECT_EQ(slurp(dir_ + "/md/sync_action"), "check\n");
  EXPECT_EQ(attrs_.attr("sync_action").value(), "check");  // newline stripped
  EXPECT_EQ(write_file(dir_ + "/md/sync_action", "bogus"), EINVAL);
  EXPECT_EQ(write_file(dir_ + "/md/level", "raid6"), EOPNOTSUPP);
  EXPECT_EQ(slurp(dir_ + "/md/level"), "raid5\n");
}

TEST_F(FuseServerTest, DataAtUnalignedOffsetsAndFsync) {
  const std::string path = dir_ + "/data";
  int fd = ::open(path.c_str(), O_RDWR | O_TRUNC);  // O_TRUNC is ignored, as on a block device
  ASSERT_GE(fd, 0) << std::strerror(errno);
  std::string text = "hello, unaligned world";
  ASSERT_EQ(::pwrite(fd, text.data(), text.size(), 1000), ssize_t(text.size()));
  ASSERT_EQ(::fsync(fd), 0);
  char buf[64] = {};
  ASSERT_EQ(::pread(fd, buf, text.size(), 1000), ssize_t(text.size()));
  EXPECT_EQ(std::string(buf, text.size()), text);
  // The bytes around it are still zero, and the target has it.
  ASSERT_EQ(::pread(fd, buf, 4, 996), 4);
  EXPECT_EQ(std::string(buf, 4), std::string(4, '\0'));
  EXPECT_EQ(std::memcmp(target_.raw().data() + 1000, text.data(), text.size()), 0);
  // Past the end: short read, then nothing.
  ASSERT_EQ(::pread(fd, buf, 64, off_t(target_.size_bytes() - 10)), 10);
  ASSERT_EQ(::pread(fd, buf, 64, off_t(target_.size_bytes())), 0);
  ::close(fd);
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(uint64_t(st.st_size), target_.size_bytes());
}

TEST_F(FuseServerTest, StopUnmounts) {
  server_->stop();
  EXPECT_TRUE(list_dir(dir_).empty());
  server_->stop();  // idempotent
}

}  // namespace
}  // namespace umd::fusefs
