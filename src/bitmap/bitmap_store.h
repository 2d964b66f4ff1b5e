// BitmapStore: where a bitmap's bytes live, so one bitmap implementation serves both
// places md keeps one:
//  - MemberBitmapStore: md's internal bitmap, a copy in the reserved area of every
//    member (at each member's own byte offset). Reads come from the first copy that
//    reads; writes go to every copy, with FUA, and the write is done when each is durable.
//  - FileBitmapStore (seed 003): a regular file, on another filesystem, opened with
//    O_DIRECT and written straight to its own blocks with FUA: never through a
//    page-cache copy that could go stale, so `umd --examine-bitmap FILE` (which reads it
//    with O_DIRECT too) sees what is on disk while the array runs.
// Writes are whole blocks of block_bytes() (512 or 4096: the largest logical block size
// of the devices underneath), aligned to it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <vector>

#include "io/member.h"
#include "util/status.h"

namespace umd::bitmap {

class BitmapStore {
 public:
  virtual ~BitmapStore() = default;
  virtual Status read(uint64_t offset, std::span<uint8_t> out) = 0;
  virtual Status write(uint64_t offset, std::span<const uint8_t> data) = 0;
  virtual uint32_t block_bytes() const = 0;
  virtual std::string where() const = 0;  // for messages and attributes ("internal", a path)
};

class MemberBitmapStore final : public BitmapStore {
 public:
  struct Copy {
    io::Member* dev = nullptr;
    uint64_t offset = 0;  // bytes: where the bitmap superblock starts on this member
  };
  // A copy whose write failed: the member is for the array to fail (as md fails a member
  // whose bitmap write fails). Called with no lock of the store held.
  using CopyFailed = std::function<void(io::Member*, const Status&)>;
  explicit MemberBitmapStore(std::vector<Copy> copies, CopyFailed failed = {}) : failed_(std::move(failed)) {
    (void)set_copies(std::move(copies));
  }
  // The members holding a copy now (after a failure, an add, a removal). A member new to
  // the list first gets the whole bitmap copied from one already in it, while no write
  // is in flight, so every copy holds every bit from then on. A member whose copy cannot
  // be seeded is left out and returned (for the caller to fail: its copy lacks bits).
  [[nodiscard]] std::vector<io::Member*> set_copies(std::vector<Copy> copies);
  Status read(uint64_t offset, std::span<uint8_t> out) override;
  // Every copy, each with FUA. A copy that fails is reported (CopyFailed) and dropped
  // before this returns, so the write is durable on every copy that is left: ok when at
  // least one copy took it, else the first error.
  Status write(uint64_t offset, std::span<const uint8_t> data) override;
  uint32_t block_bytes() const override;
  std::string where() const override { return "internal"; }

 private:
  mutable std::mutex mu_;
  std::shared_mutex io_mu_;  // writes share it; set_copies takes it alone
  std::vector<Copy> copies_;
  CopyFailed failed_;
};

class FileBitmapStore final : public BitmapStore {
 public:
  static Result<std::unique_ptr<FileBitmapStore>> open(const std::string& path, bool writable);
  Status read(uint64_t offset, std::span<uint8_t> out) override;
  Status write(uint64_t offset, std::span<const uint8_t> data) override;
  uint32_t block_bytes() const override { return 4096; }
  std::string where() const override { return path_; }

 private:
  std::string path_;
  std::unique_ptr<io::Member> file_;
};

}  // namespace umd::bitmap
