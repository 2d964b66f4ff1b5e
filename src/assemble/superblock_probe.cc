#include "assemble/superblock_probe.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "io/member_spec.h"
#include "util/aligned_buffer.h"
#include "util/endian.h"

namespace umd::engine {
namespace {

// Reads one 4 KiB superblock area, or what the device holds of it when it ends inside
// (so a truncated superblock is reported as such); Err::no_space when nothing is there.
Result<AlignedBuffer> read_area(io::Member& dev, uint64_t sector) {
  const uint64_t off = sector * 512;
  const uint64_t avail = dev.size() > off ? (dev.size() - off) / 512 * 512 : 0;
  if (avail == 0) return Result<AlignedBuffer>(Err::no_space, "beyond the end");
  AlignedBuffer buf(size_t(std::min<uint64_t>(4096, avail)));
  UMD_TRY(dev.read(off, buf.span()));
  return buf;
}

}  // namespace

std::array<SuperblockLocation, 4> superblock_locations(uint64_t dev_sectors) {
  return {{
      {"1.2", 2, superblock1_offset_sectors(2, dev_sectors)},
      {"1.1", 1, superblock1_offset_sectors(1, dev_sectors)},
      {"1.0", 0, superblock1_offset_sectors(0, dev_sectors)},
      {"0.90", 90, dev_sectors >= 2 * kSb0ReservedSectors ? superblock0_offset_sectors(dev_sectors) : kMaxSector},
  }};
}

std::string ProbedMember::version() const {
  if (sb0()) return "0.90";
  return fmt::format("1.{}", info.metadata_minor);
}

Result<ProbedMember> probe_member(std::unique_ptr<io::Member> dev) { return probe_member_in_place(dev); }

Result<ProbedMember> probe_member_in_place(std::unique_ptr<io::Member>& dev) {
  const std::string path = dev->name();
  const uint64_t dev_sectors = dev->size() / 512;
  const auto candidates = superblock_locations(dev_sectors);
  std::optional<Status> first_error;
  bool truncated = false;
  for (const SuperblockLocation& c : candidates) {
    if (c.sector == kMaxSector) {
      truncated = true;
      continue;
    }
    auto area = read_area(*dev, c.sector);
    if (!area.is_ok()) {
      if (area.status().code() == Err::no_space) {
        truncated = true;
        continue;
      }
      return area.status().with_context(path);
    }
    const auto bytes = area->span();
    if (c.minor == 90 && bytes.size() < kSb0Bytes) continue;
    const uint32_t magic = get_le32(bytes.data());
    if (c.minor == 90 && magic == __builtin_bswap32(kMdMagic)) {
      // A 0.90 superblock written by a big-endian host: recognised, and refused as
      // unsupported (decode_superblock0 says so) rather than reported as absent.
      auto sb = decode_superblock0(bytes);
      if (!sb.is_ok() && !first_error) {
        first_error = sb.status().with_context(fmt::format("{}: 0.90 superblock at sector {}", path, c.sector));
      }
      continue;
    }
    if (magic != kMdMagic) continue;
    const uint32_t major = get_le32(bytes.data() + 4);
    ProbedMember pm;
    if (c.minor == 90) {
      if (major != 0) continue;
      auto sb = decode_superblock0(bytes);
      if (!sb.is_ok()) {
        if (!first_error) first_error = sb.status().with_context(fmt::format("{}: 0.90 superblock at sector {}", path, c.sector));
        continue;
      }
      pm.info = from_superblock0(*sb, dev_sectors);
      pm.sb = std::move(sb).value();
    } else {
      if (major != 1) continue;
      auto sb = decode_superblock1(bytes);
      if (!sb.is_ok()) {
        if (!first_error) first_error = sb.status().with_context(fmt::format("{}: {} superblock at sector {}", path, c.version, c.sector));
        continue;
      }
      if (sb->super_offset != c.sector) {
        // A 1.x superblock that says it lives elsewhere was copied (e.g. the image was
        // cut from a larger disk): the kernel refuses it, and so do we.
        if (!first_error) {
          first_error = Status(Err::corrupt, fmt::format("{}: {} superblock at sector {} says it lives at sector {}",
                                                         path, c.version, c.sector, sb->super_offset));
        }
        continue;
      }
      pm.info = from_superblock1(*sb);
      if (pm.info.data_offset + pm.info.data_size > dev_sectors && c.minor != 0) {
        if (!first_error) {
          first_error = Status(Err::corrupt, fmt::format("{}: superblock data area ends at sector {}, but the device has only {} sectors",
                                                         path, pm.info.data_offset + pm.info.data_size, dev_sectors));
        }
        continue;
      }
      if (c.minor == 0 && pm.info.data_size > c.sector) {
        // 1.0: the data lies before the superblock; the kernel (super_1_load) refuses a
        // data_size beyond sb_start.
        if (!first_error) {
          first_error = Status(Err::corrupt, fmt::format("{}: 1.0 superblock at sector {} gives data_size {}, which runs into it",
                                                         path, c.sector, pm.info.data_size));
        }
        continue;
      }
      pm.sb = std::move(sb).value();
    }
    pm.path = path;
    pm.dev_sectors = dev_sectors;
    pm.dev = std::move(dev);
    return pm;
  }
  if (first_error) return *first_error;
  if (truncated && dev_sectors < 16) {
    return Result<ProbedMember>(Err::corrupt, fmt::format("{}: too small ({} bytes) to hold an md superblock", path, dev->size()));
  }
  return Result<ProbedMember>(Err::not_found, fmt::format("{}: no md superblock found", path));
}

Result<ProbedMember> open_and_probe(const std::string& path, bool writable) {
  io::OpenOptions opts;
  opts.read_only = !writable;
  opts.direct = false;
  UMD_ASSIGN_OR_RETURN(auto dev, io::open_member(path, opts));
  return probe_member(std::move(dev));
}

}  // namespace umd::engine
