// OverlayMember: a member whose writes go to a copy-on-write overlay in a directory,
// never to the member underneath (opened read-only). What the md recovery guides build
// by hand with dmsetup snapshots before anyone experiments on a failed array's disks.
//
// Files, per member, in DIR (NAME is the member's file name, ':' kept: d0.img:p5)
//   NAME.cow  sparse, the member's size: the blocks written so far, at their own offsets
//   NAME.map  header + one bit per 4 KiB block, set when the block's current content is
//             in NAME.cow:
//               0  "UMDCOW1\0"      8  le32 block size (4096)   12 le32 0
//               16 le64 member size 24 le32 origin length       28 origin path (absolute)
//               4096  the bits (bit b of byte i: block 8*i+b)
//   The origin path ties the overlay to its member: another member with the same file
//   name (from another directory) is refused, not mixed in.
//
// Protocol
// - read: runs of blocks whose bit is set come from NAME.cow, the rest from the member.
// - write: whole blocks go to NAME.cow; a write that covers part of a block first copies
//   the block in (from the member, or from NAME.cow when its bit is set), so a block's
//   bit always means "NAME.cow holds all of it". Bits set by a write are kept in memory
//   until flush (or the write's FUA): NAME.cow is made durable first, then the bits are
//   written to NAME.map and made durable. A crash therefore loses at most unflushed
//   writes (reads then see the member's old blocks), never mixes a bit with a block
//   whose data did not reach the disk.
// - discard: a no-op (allowed by the Member contract); the member is never touched.
// - The overlay persists: a later open of the same DIR and member sees its writes.
//   Throwing it away is deleting NAME.cow and NAME.map.
// - NAME.map is flock()ed: one writer, or any number of readers. A writable open makes
//   DIR when its parent exists.
//
// Thread safety: as Member's. Writes are serialised by one mutex (recovery, not speed).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "io/member.h"
#include "util/status.h"

namespace umd::io {

class OverlayMember final : public Member {
 public:
  static constexpr uint32_t kBlock = 4096;
  static constexpr uint64_t kBitsOffset = 4096;

  // `base` should be open read-only; the overlay is writable unless read_only.
  static Result<std::unique_ptr<OverlayMember>> open(std::unique_ptr<Member> base, const std::string& dir,
                                                     const std::string& origin, bool read_only);
  ~OverlayMember() override;

  const std::string& name() const override { return base_->name(); }
  uint64_t size() const override { return base_->size(); }
  uint32_t block_size() const override { return 512; }
  bool read_only() const override { return read_only_; }

  Status read(uint64_t offset, std::span<uint8_t> buf) override;
  Status write(uint64_t offset, std::span<const uint8_t> buf, bool fua = false) override;
  Status flush() override;
  Status discard(uint64_t offset, uint64_t length) override;

  // Blocks held in the overlay (tests, --examine of an overlay).
  uint64_t blocks_written() const;
  const std::string& cow_path() const { return cow_path_; }

 private:
  OverlayMember() = default;
  bool bit(uint64_t block) const { return (bits_[block / 8] >> (block % 8)) & 1; }
  Status read_block_range(uint64_t first, uint64_t n, uint8_t* out);  // whole blocks, merged
  Status flush_locked();

  std::unique_ptr<Member> base_;
  bool read_only_ = false;
  int cow_fd_ = -1;
  int map_fd_ = -1;
  std::string cow_path_, map_path_;
  uint64_t blocks_ = 0;
  mutable std::mutex mu_;
  std::vector<uint8_t> bits_;           // what reads see (set at write time)
  std::vector<uint8_t> durable_bits_;   // what NAME.map holds
};

// DIR/NAME.cow and DIR/NAME.map for a member spec ("/x/d0.img:p5" -> "d0.img:p5").
std::string overlay_file_name(const std::string& spec);

}  // namespace umd::io
