// FileMember: a regular file or block device as an array member (open_file_member()).
//
// Opening
// - O_RDWR (O_RDONLY when read_only), O_CLOEXEC; never creates the file.
// - direct: tries O_DIRECT and probes it with one aligned read at offset 0; if the open or
//   that read fails with EINVAL (file system without direct I/O) the member is reopened
//   buffered. direct() records the outcome.
// - exclusive: O_EXCL on block devices (EBUSY -> Err::busy); flock(LOCK_EX|LOCK_NB) on
//   regular files (held by anyone else, even in this process -> Err::busy).
// - size(): BLKGETSIZE64 for block devices; st_size rounded down to block_size() for files.
// - block_size(): BLKSSZGET for block devices. Files: 512 when buffered; when direct, the
//   file system's direct-I/O offset alignment (statx STATX_DIOALIGN, else probed: 512,
//   then 4096).
// - Other file types (directories, character devices...) -> Err::invalid.
//
// I/O
// - read/write: pread/pwrite loops (short transfers continued, EINTR retried). A buffer
//   not aligned to mem_align() on a direct member is bounced through an aligned copy.
// - write(fua): pwritev2(RWF_DSYNC); if the kernel rejects the flag, pwrite + fdatasync.
// - flush: fdatasync.
// - discard: fallocate(PUNCH_HOLE|KEEP_SIZE) on files (reads then return zeros),
//   BLKDISCARD on block devices (contents then unspecified); ok when unsupported.
// - submit(): through the attached UringQueue when there is one (see uring_queue.h; done()
//   then runs on the queue's reaping thread), else inline (Member::submit). Requests that
//   fail validation, and block-device discards, are completed through the queue too.
// - Memory-backed files (tmpfs, ramfs: memory_backed()) are the exception. Their file
//   systems cannot do non-blocking I/O, so io_uring hands each of their requests to a
//   worker thread, and the reaper is woken for its completion: two thread switches for
//   what is a copy in the kernel. So a read or write of at most kInlineBytes, and a flush
//   (a no-op there), runs synchronously inside submit() and done() runs inline.
//   A larger transfer goes through the queue, but only while the queue has no other one
//   in flight (UringQueue::copies_in_flight()); else it too runs inside submit(). io_uring
//   wakes one worker per submitting thread for copies that never block, so everything
//   queued behind the first would be copied by that one worker, one after another, while
//   the submitter waits: a raid5 check's four reads per step ran on one core (perf: one
//   iou-wrk thread 74% of the samples). Copying the next one here runs it beside the
//   worker's.
//
// Windows
// - restrict_to(offset, bytes, name): the member becomes bytes [offset, offset+bytes) of
//   the file (a partition, member_spec.h), named `name` ("d0.img:p5"); every offset is
//   then relative to the window and range checks use its size. With `exclusive` it takes
//   an OFD lock (write; read when read-only) on just those bytes (open the file without `exclusive`), so two
//   arrays on two partitions of one image can be held at once; a whole-file exclusive
//   open also takes an OFD lock on the whole file, so the two exclude each other.
//
// Thread safety: after open, every method may be called from any number of threads at
// once, except attach(), which must not race with submit().
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "io/member.h"
#include "util/status.h"

namespace umd::io {

class FileMember final : public Member {
 public:
  static Result<std::unique_ptr<FileMember>> open(const std::string& path, const OpenOptions& opts);
  ~FileMember() override;  // closes the fd; no request may be in flight

  const std::string& name() const override { return name_; }
  uint64_t size() const override { return size_; }
  uint32_t block_size() const override { return block_size_; }
  bool read_only() const override { return read_only_; }

  Status read(uint64_t offset, std::span<uint8_t> buf) override;
  Status write(uint64_t offset, std::span<const uint8_t> buf, bool fua = false) override;
  Status flush() override;
  Status discard(uint64_t offset, uint64_t length) override;
  void submit(IoRequest& req) override;

  static constexpr uint64_t kInlineBytes = 64 * 1024;  // see "Memory-backed files" above

  bool direct() const { return direct_; }              // opened with O_DIRECT
  bool memory_backed() const { return memory_backed_; }  // tmpfs or ramfs (fstatfs)
  bool block_device() const { return block_device_; }
  uint32_t mem_align() const { return mem_align_; }    // buffer alignment direct I/O needs (1 if buffered)
  int fd() const { return fd_; }
  // Routes submit() through `ring` (nullptr: synchronous). Not owned; must outlive the
  // member's in-flight requests.
  void attach(UringQueue* ring) { ring_ = ring; }
  // Narrows the member to a window of the file (see above). Before any I/O; offsets are
  // relative to the current window. Err::invalid when not aligned to block_size(),
  // Err::no_space past the end, Err::busy when another opener holds those bytes.
  Status restrict_to(uint64_t offset, uint64_t bytes, std::string name, bool exclusive);
  uint64_t window_offset() const { return base_; }
  UringQueue* ring() const { return ring_; }

 private:
  FileMember() = default;
  Status rw(IoOp op, uint64_t offset, uint8_t* buf, uint64_t len, bool fua);

  std::string name_;
  int fd_ = -1;
  uint64_t base_ = 0;  // byte offset of the window in the file (0: the whole file)
  uint64_t size_ = 0;
  uint32_t block_size_ = 512;
  uint32_t mem_align_ = 1;
  bool read_only_ = false;
  bool direct_ = false;
  bool block_device_ = false;
  bool memory_backed_ = false;
  std::atomic<bool> dsync_ok_{true};  // pwritev2(RWF_DSYNC) accepted so far
  UringQueue* ring_ = nullptr;
};

}  // namespace umd::io
