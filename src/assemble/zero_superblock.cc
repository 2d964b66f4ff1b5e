#include "assemble/zero_superblock.h"

#include <fmt/format.h>

#include "assemble/superblock_probe.h"
#include "format/superblock1.h"
#include "io/member_spec.h"
#include "util/aligned_buffer.h"
#include "util/endian.h"

namespace umd::engine {

Result<int> erase_superblocks(io::Member& dev, uint64_t keep) {
  int zeroed = 0;
  AlignedBuffer buf(4096), zero(4096);
  for (const SuperblockLocation& loc : superblock_locations(dev.size() / 512)) {
    if (loc.sector == kMaxSector || loc.sector == keep || loc.sector * 512 + 4096 > dev.size()) continue;
    UMD_TRY(dev.read(loc.sector * 512, buf.span()));
    const uint32_t magic = get_le32(buf.data());
    if (magic != kMdMagic && magic != __builtin_bswap32(kMdMagic)) continue;
    UMD_TRY(dev.write(loc.sector * 512, zero.span()));
    zeroed++;
  }
  return zeroed;
}

Status zero_superblock(const std::string& path) {
  io::OpenOptions opts;
  opts.direct = false;
  UMD_ASSIGN_OR_RETURN(auto dev, io::open_member(path, opts));
  UMD_ASSIGN_OR_RETURN(const int zeroed, erase_superblocks(*dev));
  if (zeroed == 0) return Status(Err::not_found, fmt::format("{}: no md superblock found", path));
  return dev->flush().with_context(path);
}

}  // namespace umd::engine
