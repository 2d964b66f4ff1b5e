// Partition tables (MBR with extended/logical partitions, GPT): a pure codec. It reads
// through a callback the caller gives (a member, a buffer in a test) and never opens
// anything itself; it turns a disk image's first sectors into the list of partitions
// Linux would register, numbered as Linux numbers them (block/partitions/msdos.c, efi.c).
//
// MBR (sector 0, signature 55 aa at byte 510)
// - Four 16-byte entries at byte 446: boot flag (0x00 or 0x80), CHS, type, CHS, start LBA
//   (le32), sector count (le32). Entry i (0-3) is partition i+1; an empty entry (type 0
//   or count 0) leaves its number unused.
// - Type 0x05, 0x0f or 0x85 is an extended partition: a container whose first sector is
//   an EBR, an MBR-shaped sector whose entry 0 is one logical partition (start relative
//   to that EBR) and whose entry 1 points at the next EBR (start relative to the
//   extended partition's start). Logical partitions are numbered 5, 6, ... in chain
//   order. The container itself is listed (container = true) but holds no data.
// - An entry of type 0xee is a protective MBR: the disk is GPT.
// - Sectors are 512 bytes (image files; disks with 4 KiB logical sectors use GPT here).
//
// GPT (header at LBA 1, sector size 512, or 4096 when 512 finds no header)
// - Header: "EFI PART", revision, header_size (92..sector), header CRC32 (over
//   header_size bytes with the field zeroed), my_lba (must be 1), alternate LBA, first
//   and last usable LBA, disk GUID, entries' LBA, number of entries, entry size
//   (128 * 2^k), entries' CRC32 (over number * size bytes).
// - Entry i (0-based) is partition i+1 when its type GUID is not zero: type GUID,
//   unique GUID, first LBA, last LBA (inclusive), attributes, name (UTF-16LE).
// - Only the primary header is read; the backup at the last LBA is not required (an
//   image cut short, or a disk whose tail died, still opens).
//
// What is refused, each with one line naming the problem: a GPT header or entry array
// whose CRC32 does not match, a header field out of range, a partition that starts
// after it ends or runs past the end of the image (or of its extended container), two
// partitions that overlap, an EBR chain that loops or runs longer than Linux follows,
// more than one extended partition in the MBR.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "util/status.h"

namespace umd {

enum class PartitionScheme : uint8_t { none, mbr, gpt };

struct Partition {
  uint32_t number = 0;       // as Linux numbers it: MBR 1-4 primary, 5+ logical; GPT 1-128...
  uint64_t start_byte = 0;
  uint64_t size_bytes = 0;
  std::string type;          // MBR: "0xfd"; GPT: the type GUID, "a19d880f-05fc-4d3b-a006-743f0f84911e"
  std::string name;          // GPT partition name (UTF-8); empty for MBR
  bool container = false;    // an MBR extended partition: holds EBRs, not data
};

struct PartitionTable {
  PartitionScheme scheme = PartitionScheme::none;
  uint32_t sector_size = 512;
  std::string disk_id;       // MBR: "0x1234abcd"; GPT: the disk GUID
  std::vector<Partition> partitions;  // by number

  const Partition* find(uint32_t number) const;
};

// Reads `buf.size()` bytes at byte `offset` of the image into buf.
using ReadAt = std::function<Status(uint64_t offset, std::span<uint8_t> buf)>;

// Linux follows at most this many partitions on one disk (DISK_MAX_PARTS); a longer
// EBR chain is refused as a loop.
inline constexpr uint32_t kMaxPartitions = 256;

// The partition table of an image of `image_bytes` bytes. No table (no 55 aa signature,
// or an MBR with no entries) is PartitionScheme::none, not an error. Errors: Err::corrupt
// for what is listed above, naming the partition or field; read errors as `read` gave them.
Result<PartitionTable> decode_partition_table(const ReadAt& read, uint64_t image_bytes);

// The same on an image held in memory (tests, fixtures).
Result<PartitionTable> decode_partition_table(std::span<const uint8_t> image);

// "mbr", "gpt", "none".
const char* scheme_name(PartitionScheme s);

// A GUID as GPT stores it (first three fields little-endian) -> lowercase text.
std::string gpt_guid_text(const uint8_t* p);

// CRC32 as GPT and zlib compute it.
uint32_t crc32_of(std::span<const uint8_t> bytes);

}  // namespace umd
