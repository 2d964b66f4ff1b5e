// `umd --examine` and `umd --examine-bitmap` on a fuzzed member: the printers of what a
// member's superblock and bitmap say, in text and JSON, as the CLI runs them.
//
// Input: one mode byte, then bytes laid on a 256 KiB zeroed member so every superblock
// location can be reached: mode 0 at byte 0 (1.1 at 0, 1.2 at 4 KiB, their bitmaps
// after), mode 1 at the 0.90 superblock (192 KiB), mode 2 ending at the member's end
// (1.0 at end - 8 KiB, its bitmap before it). The bytes after the mode byte are also
// examined as a bitmap file (-X FILE). The member is allocated once (lent_member.h).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <span>

#include "assemble/superblock_probe.h"
#include "bitmap/bitmap_location.h"
#include "cli/examine_bitmap_report.h"
#include "cli/examine_report.h"
#include "format/superblock0.h"
#include "io/memory_member.h"
#include "lent_member.h"

namespace {

constexpr uint64_t kMemberBytes = 256 << 10;

// The JSON of a bitmap with more runs of dirty chunks, or more cluster nodes, than this
// is not built: a mutated bitmap of a few KiB holds tens of thousands of runs, or claims
// thousands of nodes, whose JSON (numbers only, built by the code a short list also runs)
// was most of this target's time.
constexpr size_t kMaxRangesToPrint = 256;
constexpr size_t kMaxNodesToPrint = 16;

void print_bitmap(const umd::cli::BitmapSource& src, std::span<const uint8_t> region) {
  auto e = umd::cli::examine_bitmap_region(src, region);
  if (!e.is_ok()) return;
  (void)umd::cli::examine_bitmap_text(*e);
  size_t ranges = 0;
  for (const umd::cli::BitmapNode& n : e->nodes) ranges += n.dirty.size();
  if (ranges <= kMaxRangesToPrint && e->nodes.size() <= kMaxNodesToPrint) (void)umd::cli::examine_bitmap_json(*e).dump(2);
}

void examine(std::span<const uint8_t> body, umd::io::MemoryMember& dev) {
  umd::cli::BitmapSource file;
  file.filename = "fuzz.bitmap";
  print_bitmap(file, body);

  auto pm = umd::engine::probe_member(std::make_unique<umd::fuzz::LentMember>(dev));
  if (!pm.is_ok()) return;
  pm->path = "fuzz.img";
  (void)umd::cli::examine_text(*pm, "fuzzhost", [](uint32_t, uint32_t) { return std::string("/dev/fuzz"); });
  (void)umd::cli::examine_json(*pm).dump(2);

  auto sector = umd::bitmap::internal_bitmap_sector(pm->info);
  if (!sector.is_ok() || *sector >= kMemberBytes / 512) return;
  // As cmd_examine_bitmap.cc reads a member's bitmap: the superblock, then the region it
  // asks for (at most kMaxBitmapRegionBytes), clipped to the member.
  const auto raw = dev.raw();
  const std::span<const uint8_t> from(raw.data() + *sector * 512, raw.size() - *sector * 512);
  auto sb = umd::bitmap::decode_bitmap_super(from);
  if (!sb.is_ok()) return;
  const uint64_t want = std::min(umd::cli::bitmap_region_bytes(*sb), umd::cli::kMaxBitmapRegionBytes);
  umd::cli::BitmapSource src;
  src.filename = pm->path;
  src.member = true;
  src.metadata = pm->version();
  src.bitmap_sector = *sector;
  src.bitmap_offset = pm->info.bitmap_offset;
  print_bitmap(src, from.first(std::min<uint64_t>(want, from.size())));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  // One zeroed member for every input (lent_member.h), read-only; the bytes an input lays
  // are zeroed again when it is done.
  static const std::unique_ptr<umd::io::MemoryMember> dev = [] {
    auto m = umd::io::make_memory_member("fuzz.img", kMemberBytes);
    m->set_read_only(true);
    return m;
  }();
  const uint8_t mode = data[0] % 3;
  std::span<const uint8_t> body(data + 1, std::min<size_t>(size - 1, kMemberBytes));
  uint64_t at = 0;
  if (mode == 1) at = umd::superblock0_offset_sectors(kMemberBytes / 512) * 512;
  if (mode == 2) at = kMemberBytes - body.size();
  body = body.first(std::min<size_t>(body.size(), kMemberBytes - at));
  std::memcpy(dev->raw().data() + at, body.data(), body.size());
  examine(body, *dev);
  std::memset(dev->raw().data() + at, 0, body.size());
  return 0;
}
