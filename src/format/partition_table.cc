#include "format/partition_table.h"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <set>

#include "util/endian.h"

namespace umd {
namespace {

constexpr uint32_t kMbrEntries = 446;
constexpr uint8_t kTypeProtective = 0xee;
constexpr char kGptSignature[] = "EFI PART";
constexpr uint32_t kGptMinHeader = 92;
constexpr uint32_t kGptMaxEntries = 4096;  // mdadm/parted use 128; be generous, but bounded

bool is_extended(uint8_t type) { return type == 0x05 || type == 0x0f || type == 0x85; }

struct MbrEntry {
  uint8_t boot = 0;
  uint8_t type = 0;
  uint64_t start = 0;  // sectors
  uint64_t count = 0;
  bool empty() const { return type == 0 || count == 0; }
};

std::array<MbrEntry, 4> mbr_entries(const uint8_t* sector) {
  std::array<MbrEntry, 4> e;
  for (int i = 0; i < 4; i++) {
    const uint8_t* p = sector + kMbrEntries + 16 * i;
    e[i] = {p[0], p[4], get_le32(p + 8), get_le32(p + 12)};
  }
  return e;
}

bool has_signature(const uint8_t* sector) { return sector[510] == 0x55 && sector[511] == 0xaa; }

std::string hex_type(uint8_t t) { return fmt::format("0x{:02x}", t); }

// Checks that a partition lies inside [0, limit_bytes) and does not wrap.
Status check_extent(const Partition& p, uint64_t limit_bytes, const std::string& what_limit) {
  if (p.size_bytes == 0) return Status(Err::corrupt, fmt::format("partition {} is empty", p.number));
  if (p.start_byte + p.size_bytes < p.start_byte || p.start_byte + p.size_bytes > limit_bytes) {
    return Status(Err::corrupt, fmt::format("partition {} (bytes {}-{}) runs past the end of {} ({} bytes)", p.number,
                                            p.start_byte, p.start_byte + p.size_bytes, what_limit, limit_bytes));
  }
  return Status::ok();
}

Status decode_mbr(const ReadAt& read, uint64_t image_bytes, const uint8_t* sector0, PartitionTable* out) {
  constexpr uint64_t ss = 512;
  const auto primary = mbr_entries(sector0);
  out->scheme = PartitionScheme::mbr;
  out->disk_id = fmt::format("0x{:08x}", get_le32(sector0 + 440));
  const MbrEntry* ext = nullptr;
  for (uint32_t i = 0; i < 4; i++) {
    const MbrEntry& e = primary[i];
    if (e.empty()) continue;
    Partition p{i + 1, e.start * ss, e.count * ss, hex_type(e.type), "", is_extended(e.type)};
    if (e.start == 0) return Status(Err::corrupt, fmt::format("partition {} starts at sector 0, over the MBR", p.number));
    UMD_TRY(check_extent(p, image_bytes, "the image"));
    if (p.container) {
      if (ext) return Status(Err::corrupt, "the MBR holds more than one extended partition");
      ext = &e;
    }
    out->partitions.push_back(std::move(p));
  }
  if (!ext) return Status::ok();
  // The EBR chain: each EBR's entry 0 is a logical partition (relative to this EBR),
  // entry 1 the next EBR (relative to the extended partition).
  const uint64_t ext_start = ext->start, ext_end = ext->start + ext->count;
  std::set<uint64_t> seen;
  uint64_t ebr = ext_start;
  uint32_t number = 5;
  std::array<uint8_t, ss> buf{};
  for (;;) {
    if (!seen.insert(ebr).second) {
      return Status(Err::corrupt, fmt::format("the EBR chain loops back to sector {}", ebr));
    }
    if (number > kMaxPartitions) {
      return Status(Err::corrupt, fmt::format("the EBR chain runs past {} partitions (a loop?)", kMaxPartitions));
    }
    UMD_TRY(read(ebr * ss, buf).with_context(fmt::format("reading the EBR at sector {}", ebr)));
    if (!has_signature(buf.data())) {
      return Status(Err::corrupt, fmt::format("the EBR at sector {} has no 55 aa signature", ebr));
    }
    const auto e = mbr_entries(buf.data());
    if (!e[0].empty()) {
      if (is_extended(e[0].type)) {
        return Status(Err::corrupt, fmt::format("the EBR at sector {}: its first entry is another extended partition", ebr));
      }
      Partition p{number, (ebr + e[0].start) * ss, e[0].count * ss, hex_type(e[0].type), "", false};
      if (e[0].start == 0) {
        return Status(Err::corrupt, fmt::format("partition {} starts on its own EBR (sector {})", number, ebr));
      }
      UMD_TRY(check_extent(p, ext_end * ss, fmt::format("its extended partition {}", ext - primary.data() + 1)));
      out->partitions.push_back(std::move(p));
      number++;
    }
    if (e[1].empty()) break;
    if (!is_extended(e[1].type)) {
      return Status(Err::corrupt, fmt::format("the EBR at sector {}: its link entry has type {}, not an extended type",
                                              ebr, hex_type(e[1].type)));
    }
    const uint64_t next = ext_start + e[1].start;
    if (next >= ext_end) {
      return Status(Err::corrupt, fmt::format("the EBR at sector {} links to sector {}, past the end of its extended partition",
                                              ebr, next));
    }
    ebr = next;
  }
  return Status::ok();
}

std::string utf16le_name(const uint8_t* p, size_t bytes) {
  std::string s;
  for (size_t i = 0; i + 1 < bytes; i += 2) {
    uint32_t c = get_le16(p + i);
    if (c == 0) break;
    if (c >= 0xd800 && c < 0xe000) c = '?';  // surrogates: not worth decoding for a label
    if (c < 0x80) {
      s += char(c);
    } else if (c < 0x800) {
      s += char(0xc0 | (c >> 6));
      s += char(0x80 | (c & 0x3f));
    } else {
      s += char(0xe0 | (c >> 12));
      s += char(0x80 | ((c >> 6) & 0x3f));
      s += char(0x80 | (c & 0x3f));
    }
  }
  return s;
}

// Decodes the GPT whose header is at LBA 1 of sectors of `ss` bytes. Err::not_found when
// LBA 1 does not hold the signature.
Status decode_gpt(const ReadAt& read, uint64_t image_bytes, uint32_t ss, PartitionTable* out) {
  if (image_bytes < 3 * uint64_t(ss)) return Status(Err::not_found, "too small for a GPT");
  std::vector<uint8_t> hdr(ss);
  UMD_TRY(read(ss, hdr).with_context("reading the GPT header"));
  if (std::memcmp(hdr.data(), kGptSignature, 8) != 0) return Status(Err::not_found, "no GPT header at LBA 1");
  const uint32_t header_size = get_le32(hdr.data() + 12);
  if (header_size < kGptMinHeader || header_size > ss) {
    return Status(Err::corrupt, fmt::format("GPT header: header size {} (want {}-{})", header_size, kGptMinHeader, ss));
  }
  const uint32_t want_crc = get_le32(hdr.data() + 16);
  std::vector<uint8_t> h(hdr.begin(), hdr.begin() + header_size);
  put_le32(h.data() + 16, 0);
  const uint32_t got_crc = crc32_of(h);
  if (got_crc != want_crc) {
    return Status(Err::corrupt, fmt::format("GPT header: CRC32 is 0x{:08x}, the header says 0x{:08x}", got_crc, want_crc));
  }
  const uint64_t last_lba = image_bytes / ss - 1;
  const uint64_t my_lba = get_le64(hdr.data() + 24);
  const uint64_t first_usable = get_le64(hdr.data() + 40), last_usable = get_le64(hdr.data() + 48);
  const uint64_t entries_lba = get_le64(hdr.data() + 72);
  const uint32_t n_entries = get_le32(hdr.data() + 80), entry_size = get_le32(hdr.data() + 84);
  const uint32_t want_entries_crc = get_le32(hdr.data() + 88);
  if (my_lba != 1) return Status(Err::corrupt, fmt::format("GPT header: my_lba {} (want 1)", my_lba));
  if (first_usable > last_usable || last_usable > last_lba) {
    return Status(Err::corrupt, fmt::format("GPT header: usable LBAs {}-{} do not fit the image's {} sectors",
                                            first_usable, last_usable, last_lba + 1));
  }
  if (entry_size < 128 || (entry_size & (entry_size - 1)) != 0 || entry_size > 4096) {
    return Status(Err::corrupt, fmt::format("GPT header: entry size {} (want 128 times a power of two)", entry_size));
  }
  if (n_entries == 0 || n_entries > kGptMaxEntries) {
    return Status(Err::corrupt, fmt::format("GPT header: {} entries (want 1-{})", n_entries, kGptMaxEntries));
  }
  const uint64_t entries_bytes = uint64_t(n_entries) * entry_size;
  if (entries_lba < 2 || entries_lba > last_lba || (entries_lba * ss + entries_bytes) > image_bytes) {
    return Status(Err::corrupt, fmt::format("GPT header: the entries at LBA {} ({} bytes) do not fit the image",
                                            entries_lba, entries_bytes));
  }
  std::vector<uint8_t> ents(entries_bytes);
  UMD_TRY(read(entries_lba * ss, ents).with_context("reading the GPT entries"));
  const uint32_t got_entries_crc = crc32_of(ents);
  if (got_entries_crc != want_entries_crc) {
    return Status(Err::corrupt, fmt::format("GPT entries: CRC32 is 0x{:08x}, the header says 0x{:08x}",
                                            got_entries_crc, want_entries_crc));
  }
  out->scheme = PartitionScheme::gpt;
  out->sector_size = ss;
  out->disk_id = gpt_guid_text(hdr.data() + 56);
  static const uint8_t kZero[16] = {};
  for (uint32_t i = 0; i < n_entries; i++) {
    const uint8_t* e = ents.data() + uint64_t(i) * entry_size;
    if (std::memcmp(e, kZero, 16) == 0) continue;
    const uint64_t first = get_le64(e + 32), last = get_le64(e + 40);
    if (last < first) {
      return Status(Err::corrupt, fmt::format("GPT partition {}: ends at LBA {}, before its start {}", i + 1, last, first));
    }
    if (first < first_usable) {
      return Status(Err::corrupt, fmt::format("GPT partition {}: starts at LBA {}, before the first usable LBA {}", i + 1,
                                              first, first_usable));
    }
    Partition p{i + 1, first * ss, (last - first + 1) * ss, gpt_guid_text(e), utf16le_name(e + 56, std::min<size_t>(72, entry_size - 56)),
                false};
    UMD_TRY(check_extent(p, image_bytes, "the image"));
    out->partitions.push_back(std::move(p));
  }
  return Status::ok();
}

// Two data partitions (or two containers) that share a byte. A logical partition lies
// inside its container by construction.
Status check_overlaps(const PartitionTable& t) {
  for (size_t i = 0; i < t.partitions.size(); i++) {
    for (size_t j = i + 1; j < t.partitions.size(); j++) {
      const Partition& a = t.partitions[i];
      const Partition& b = t.partitions[j];
      if (a.container != b.container && (a.container ? b.number > 4 : a.number > 4)) continue;
      const bool overlap = a.start_byte < b.start_byte + b.size_bytes && b.start_byte < a.start_byte + a.size_bytes;
      if (overlap) {
        return Status(Err::corrupt, fmt::format("partitions {} (bytes {}-{}) and {} (bytes {}-{}) overlap", a.number,
                                                a.start_byte, a.start_byte + a.size_bytes, b.number, b.start_byte,
                                                b.start_byte + b.size_bytes));
      }
    }
  }
  return Status::ok();
}

}  // namespace

const Partition* PartitionTable::find(uint32_t number) const {
  for (const Partition& p : partitions) {
    if (p.number == number) return &p;
  }
  return nullptr;
}

const char* scheme_name(PartitionScheme s) {
  switch (s) {
    case PartitionScheme::mbr: return "mbr";
    case PartitionScheme::gpt: return "gpt";
    default: return "none";
  }
}

std::string gpt_guid_text(const uint8_t* p) {
  return fmt::format("{:08x}-{:04x}-{:04x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}", get_le32(p),
                     get_le16(p + 4), get_le16(p + 6), p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15]);
}

uint32_t crc32_of(std::span<const uint8_t> bytes) {
  uLong c = ::crc32(0L, Z_NULL, 0);
  // zlib takes uInt lengths: feed large spans in pieces.
  size_t off = 0;
  while (off < bytes.size()) {
    const size_t n = std::min<size_t>(bytes.size() - off, 1u << 30);
    c = ::crc32(c, bytes.data() + off, uInt(n));
    off += n;
  }
  return uint32_t(c);
}

Result<PartitionTable> decode_partition_table(const ReadAt& read, uint64_t image_bytes) {
  PartitionTable t;
  if (image_bytes < 512) return t;
  std::array<uint8_t, 512> s0{};
  UMD_TRY(read(0, s0).with_context("reading the MBR"));
  const auto primary = mbr_entries(s0.data());
  const bool mbr = has_signature(s0.data());
  const bool protective =
      mbr && std::any_of(primary.begin(), primary.end(), [](const MbrEntry& e) { return e.type == kTypeProtective; });
  if (protective || !mbr) {
    // A protective MBR means GPT; with no MBR at all a GPT header is still honoured (a
    // recovery tool meets disks whose sector 0 was wiped). Sector size 512, then 4096.
    for (uint32_t ss : {512u, 4096u}) {
      PartitionTable g;
      Status s = decode_gpt(read, image_bytes, ss, &g);
      if (s.is_ok()) {
        UMD_TRY(check_overlaps(g));
        return g;
      }
      if (s.code() != Err::not_found) return s;
    }
    if (protective) return Result<PartitionTable>(Err::corrupt, "protective MBR (type 0xee), but no GPT header at LBA 1");
    return t;
  }
  // As Linux: a boot flag other than 0x00/0x80 means sector 0 is no partition table (a
  // FAT or NTFS boot sector also ends in 55 aa).
  if (std::any_of(primary.begin(), primary.end(), [](const MbrEntry& e) { return e.boot != 0 && e.boot != 0x80; })) {
    return t;
  }
  Status s = decode_mbr(read, image_bytes, s0.data(), &t);
  if (!s.is_ok()) return s;
  UMD_TRY(check_overlaps(t));
  std::sort(t.partitions.begin(), t.partitions.end(),
            [](const Partition& a, const Partition& b) { return a.number < b.number; });
  if (t.partitions.empty()) t.scheme = PartitionScheme::none;
  return t;
}

Result<PartitionTable> decode_partition_table(std::span<const uint8_t> image) {
  auto read = [image](uint64_t offset, std::span<uint8_t> buf) -> Status {
    if (offset > image.size() || buf.size() > image.size() - offset) {
      return Status(Err::no_space, fmt::format("read at byte {} ({} bytes) beyond the image", offset, buf.size()));
    }
    std::memcpy(buf.data(), image.data() + offset, buf.size());
    return Status::ok();
  };
  return decode_partition_table(read, image.size());
}

}  // namespace umd
