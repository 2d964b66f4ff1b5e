#include "bitmap/bitmap_location.h"

#include <fmt/format.h>

namespace umd::bitmap {

Result<uint64_t> internal_bitmap_sector(const MemberInfo& info) {
  using R = Result<uint64_t>;
  if (!info.has_internal_bitmap) {
    if (info.metadata_major == 0)
      return R(Err::not_found,
               "no write-intent bitmap (0.90 superblock without the bitmap-present state bit)");
    return R(Err::not_found,
             fmt::format("no write-intent bitmap (feature map {:#x})", info.feature_map));
  }
  if (info.metadata_major == 0 && info.super_offset == 0)
    return R(Err::invalid,
             "0.90 superblock offset unknown: the member's size is needed to find its bitmap");
  const int64_t sector = int64_t(info.super_offset) + info.bitmap_offset;
  if (sector < 0)
    return R(Err::corrupt,
             fmt::format(
                 "bitmap offset {} sectors from the superblock at sector {} lies before the device",
                 info.bitmap_offset, info.super_offset));
  return uint64_t(sector);
}

}  // namespace umd::bitmap
