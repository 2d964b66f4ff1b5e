// FuseServer: serves a BlockTarget and md's attributes as a small filesystem (libfuse3):
//
//   DIR/data            the array's contents: a regular file of the array's size, read and
//                       written at any offset and length (a file losetup can attach).
//   DIR/md/ATTR         one file per attribute (AttrSource), as /sys/block/mdX/md/: a read
//                       gives the value and "\n"; each write() sets the attribute to what
//                       was written, less one trailing newline ("echo check >
//                       md/sync_action"). "dev-NAME/state" appears as md/dev-NAME/state.
//
// PROTOCOL
//  - Every file is opened direct_io: reads and writes go straight to the target or the
//    attribute, no page cache, so DIR/data stays coherent with the NBD clients of the same
//    array, and attribute values are fresh. Attribute files report size 4096 (as sysfs).
//  - DIR/data: I/O at offsets and lengths that are not multiples of the target's
//    block_size() is done by read-modify-write of the partial blocks at either end
//    (through a 4 KiB-aligned bounce buffer). Reads past the end return 0 bytes; a write
//    past the end is cut short (ENOSPC when nothing fits). fsync() (and fdatasync) sends
//    a FLUSH to the target, so it returns once everything written before is durable on
//    every member. truncate and O_TRUNC are accepted and ignored, as for a block device
//    (so `dd of=DIR/data` works without conv=notrunc). A read-only target refuses
//    opening for write with EROFS.
//  - DIR/md/ATTR: the value is read when the file is first read after open (one snapshot
//    per open, like sysfs); errors map from Status to errno (invalid EINVAL, busy EBUSY,
//    not_found ENOENT, unsupported EOPNOTSUPP, retry EAGAIN, no_space ENOSPC, else EIO).
//  - Entries and attributes are not cached by the kernel (timeouts 0): dev-NAME/
//    directories follow members added and removed.
//
// THREADING
//  - start() mounts (fuse_mount: mount(2) as root, else fusermount3) and runs the request
//    loop on its own thread: one request at a time, each I/O submitted to the target and
//    waited for. One thread keeps the read-modify-write of partial blocks free of races
//    between FUSE clients; a concurrent NBD write to the same block may still interleave
//    with it (as buffered I/O against a block device another host writes).
//  - stop() wakes the loop (an eventfd beside /dev/fuse in its poll), joins it, then
//    unmounts (lazily: files still open get ENOTCONN) and frees the session. Idempotent;
//    the destructor calls it. The filesystem unmounted from outside (fusermount3 -u) ends
//    the loop too.
//  - AttrSource methods are called on the loop thread.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "block/block_target.h"
#include "util/status.h"

struct fuse;

namespace umd::fusefs {

// md's attributes, as engine::Array offers them (array/array.h).
class AttrSource {
 public:
  virtual ~AttrSource() = default;
  virtual std::vector<std::string> attr_names() const = 0;
  virtual Result<std::string> attr(const std::string& name) const = 0;
  virtual Status set_attr(const std::string& name, const std::string& value) = 0;
};

struct FuseOptions {
  std::string mountpoint;  // an existing directory
  std::string fsname;      // shown in /proc/mounts: "umd:md0"
};

class FuseServer {
 public:
  FuseServer(engine::BlockTarget& target, AttrSource& attrs, FuseOptions opts);
  ~FuseServer();
  FuseServer(const FuseServer&) = delete;
  FuseServer& operator=(const FuseServer&) = delete;

  // Mounts and starts the loop. Errors name the mountpoint (one line).
  Status start();
  void stop();
  const std::string& mountpoint() const { return opts_.mountpoint; }

  // Used by the FUSE callbacks (fuse_server.cc).
  engine::BlockTarget& target() { return target_; }
  AttrSource& attrs() { return attrs_; }

 private:
  void loop();

  engine::BlockTarget& target_;
  AttrSource& attrs_;
  FuseOptions opts_;
  struct ::fuse* fuse_ = nullptr;
  bool mounted_ = false;
  int wake_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace umd::fusefs
