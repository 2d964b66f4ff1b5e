#include "cli/cmd_examine_bitmap.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "bitmap/bitmap_location.h"
#include "cli/examine_bitmap_report.h"
#include "assemble/superblock_probe.h"
#include "util/aligned_buffer.h"
#include "util/endian.h"

namespace umd::cli {
namespace {

uint64_t region_to_read(const bitmap::BitmapSuper& sb) {
  return std::min(bitmap_region_bytes(sb), kMaxBitmapRegionBytes);
}

// Bytes [offset, offset + length) of a member, clipped to its end; reads whole
// logical blocks around them.
Result<std::vector<uint8_t>> read_member_bytes(io::Member& dev, uint64_t offset, uint64_t length) {
  const uint64_t bs = dev.block_size();
  const uint64_t end = std::min(offset + length, dev.size());
  if (offset >= end) return std::vector<uint8_t>{};
  const uint64_t start = offset / bs * bs;
  const uint64_t stop = std::min((end + bs - 1) / bs * bs, dev.size() / bs * bs);
  if (stop <= start) return std::vector<uint8_t>{};
  AlignedBuffer buf(size_t(stop - start));
  UMD_TRY(dev.read(start, buf.span()));
  const auto first = buf.span().begin() + ptrdiff_t(offset - start);
  return std::vector<uint8_t>(first, first + ptrdiff_t(std::min(end, stop) - offset));
}

Result<BitmapExamination> examine_member(engine::ProbedMember& pm) {
  auto sector = bitmap::internal_bitmap_sector(pm.info);
  if (!sector.is_ok()) return sector.status().with_context(pm.path);
  BitmapSource src;
  src.filename = pm.path;
  src.member = true;
  src.metadata = pm.version();
  src.bitmap_sector = *sector;
  src.bitmap_offset = pm.info.bitmap_offset;
  const uint64_t at = *sector * 512;
  UMD_ASSIGN_OR_RETURN(auto head, read_member_bytes(*pm.dev, at, bitmap::kBitmapSuperBytes));
  auto sb = bitmap::decode_bitmap_super(head);
  if (!sb.is_ok())
    return sb.status().with_context(fmt::format("{}: bitmap at sector {}", pm.path, *sector));
  UMD_ASSIGN_OR_RETURN(auto region, read_member_bytes(*pm.dev, at, region_to_read(*sb)));
  return examine_bitmap_region(src, region);
}

// A bitmap file: the superblock at byte 0, the bits after it, read with O_DIRECT (seed
// 003: the array writes the file's blocks directly, so a page-cache copy could be stale
// while it runs). Err::not_found when the file does not start with the bitmap magic.
Result<BitmapExamination> examine_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
  if (fd < 0 && errno == EINVAL) fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);  // no direct I/O here
  if (fd < 0) return Result<BitmapExamination>(Err::not_found, fmt::format("{}: cannot open", path));
  struct stat st {};
  ::fstat(fd, &st);
  // mdadm writes exactly the bytes the bitmap needs: read whole 4 KiB blocks and take
  // the short read at the end of the file.
  AlignedBuffer buf(size_t((uint64_t(st.st_size) + 4095) / 4096 * 4096));
  ssize_t got = buf.size() ? ::pread(fd, buf.data(), buf.size(), 0) : 0;
  const int e = errno;
  ::close(fd);
  if (got < 0) return Result<BitmapExamination>(Err::io, fmt::format("{}: {}", path, std::strerror(e)));
  std::vector<uint8_t> head(buf.data(), buf.data() + std::min<size_t>(size_t(got), bitmap::kBitmapSuperBytes));
  if (head.size() < 4 || get_le32(head.data()) != bitmap::kBitmapMagic)
    return Result<BitmapExamination>(Err::not_found,
                                     fmt::format("{}: no bitmap magic at byte 0", path));
  auto sb = bitmap::decode_bitmap_super(head);
  if (!sb.is_ok()) return sb.status().with_context(path);
  std::vector<uint8_t> region(buf.data(), buf.data() + std::min<size_t>(size_t(got), size_t(region_to_read(*sb))));
  BitmapSource src;
  src.filename = path;
  return examine_bitmap_region(src, region);
}

Result<BitmapExamination> examine_path(const std::string& path) {
  auto pm = engine::open_and_probe(path, false);
  if (pm.is_ok()) return examine_member(*pm);
  if (!std::ifstream(path, std::ios::binary)) return pm.status();  // cannot open: say why
  auto file = examine_file(path);
  if (file.is_ok() || file.status().code() != Err::not_found) return file;
  if (pm.status().code() == Err::not_found)
    return Result<BitmapExamination>(Err::not_found,
                                     fmt::format("{}: neither an md member nor a bitmap file (no "
                                                 "md superblock, no bitmap magic at byte 0)",
                                                 path));
  return pm.status();
}

// As cli/commands.h's fail() and usage_error(), which live with main().
int report_error(const std::string& message, int rc) {
  std::fprintf(stderr, "umd: %s\n", message.c_str());
  return rc;
}

}  // namespace

int cmd_examine_bitmap(const std::vector<std::string>& paths, bool json) {
  if (paths.empty())
    return report_error("--examine-bitmap needs at least one MEMBER or bitmap FILE", 2);
  nlohmann::json all = nlohmann::json::array();
  std::string text;
  for (const std::string& path : paths) {
    auto e = examine_path(path);
    if (!e.is_ok()) return report_error(e.status().message(), 1);
    auto warn_short = [&](uint64_t held) {
      std::fprintf(stderr, "umd: warning: %s: the bitmap holds only %llu of its chunks\n",
                   path.c_str(), static_cast<unsigned long long>(held));
    };
    for (const BitmapNode& n : e->nodes)
      if (n.count.truncated) warn_short(n.count.total);
    if (e->ll.truncated) warn_short(e->ll.total);
    if (json)
      all.push_back(examine_bitmap_json(*e));
    else
      text += examine_bitmap_text(*e);
  }
  if (json)
    std::printf("%s\n", all.dump(2).c_str());
  else
    std::fputs(text.c_str(), stdout);
  return 0;
}

}  // namespace umd::cli
