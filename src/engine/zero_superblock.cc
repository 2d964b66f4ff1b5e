#include "engine/zero_superblock.h"

#include <fmt/format.h>

#include "format/superblock0.h"
#include "format/superblock1.h"
#include "io/member.h"
#include "util/aligned_buffer.h"
#include "util/endian.h"

namespace umd::engine {

Status zero_superblock(const std::string& path, bool /*force*/) {
  io::OpenOptions opts;
  opts.direct = false;
  UMD_ASSIGN_OR_RETURN(auto dev, io::open_file_member(path, opts));
  const uint64_t sectors = dev->size() / 512;
  const uint64_t locations[] = {
      superblock1_offset_sectors(2, sectors),
      superblock1_offset_sectors(1, sectors),
      superblock1_offset_sectors(0, sectors),
      sectors >= 2 * kSb0ReservedSectors ? superblock0_offset_sectors(sectors) : kMaxSector,
  };
  int zeroed = 0;
  AlignedBuffer buf(4096), zero(4096);
  for (uint64_t loc : locations) {
    if (loc == kMaxSector || (loc * 512 + 4096) > dev->size()) continue;
    UMD_TRY(dev->read(loc * 512, buf.span()));
    if (get_le32(buf.data()) != kMdMagic) continue;
    UMD_TRY(dev->write(loc * 512, zero.span()));
    zeroed++;
  }
  if (zeroed == 0) return Status(Err::not_found, fmt::format("{}: no md superblock found", path));
  return dev->flush().with_context(path);
}

}  // namespace umd::engine
