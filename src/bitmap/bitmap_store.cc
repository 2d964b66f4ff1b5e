#include "bitmap/bitmap_store.h"

#include <fmt/format.h>

#include <algorithm>

#include "bitmap/bitmap_super.h"
#include "bitmap/classic_bits.h"
#include "bitmap/llbitmap_state.h"
#include "util/aligned_buffer.h"

namespace umd::bitmap {

namespace {

// The bytes of the bitmap whose superblock starts at `offset` of `dev` (4 KiB units).
uint64_t region_bytes(io::Member& dev, uint64_t offset) {
  AlignedBuffer head(4096);
  if (!dev.read(offset, head.span()).is_ok()) return 0;
  auto sb = decode_bitmap_super(head.span().first(kBitmapSuperBytes));
  if (!sb.is_ok()) return 0;
  const uint64_t bytes = sb->lockless() ? ll_region_bytes(sb->chunks())
                                        : classic_bitmap_bytes(classic_chunk_count(sb->sync_size, sb->chunk_bytes()));
  return (bytes + 4095) / 4096 * 4096;
}

}  // namespace

std::vector<io::Member*> MemberBitmapStore::set_copies(std::vector<Copy> copies) {
  std::vector<io::Member*> unseeded;
  {
    std::lock_guard l(mu_);
    const bool same = copies.size() == copies_.size() &&
                      std::equal(copies.begin(), copies.end(), copies_.begin(),
                                 [](const Copy& a, const Copy& b) { return a.dev == b.dev && a.offset == b.offset; });
    if (same) return unseeded;
  }
  std::unique_lock io(io_mu_);
  std::vector<Copy> old;
  {
    std::lock_guard l(mu_);
    old = copies_;
  }
  if (!old.empty()) {
    const uint64_t bytes = region_bytes(*old.front().dev, old.front().offset);
    AlignedBuffer region(bytes);
    const bool have = bytes > 0 && old.front().dev->read(old.front().offset, region.span()).is_ok();
    std::erase_if(copies, [&](const Copy& c) {
      const bool known = std::any_of(old.begin(), old.end(), [&](const Copy& o) { return o.dev == c.dev; });
      if (known || !have || c.dev->write(c.offset, region.span(), true).is_ok()) return false;
      unseeded.push_back(c.dev);
      return true;
    });
  }
  std::lock_guard l(mu_);
  copies_ = std::move(copies);
  return unseeded;
}

Status MemberBitmapStore::read(uint64_t offset, std::span<uint8_t> out) {
  std::vector<Copy> copies;
  {
    std::lock_guard l(mu_);
    copies = copies_;
  }
  Status last(Err::not_found, "the bitmap has no copy left");
  for (const Copy& c : copies) {
    last = c.dev->read(c.offset + offset, out).with_context(fmt::format("{}: reading the bitmap", c.dev->name()));
    if (last.is_ok()) return last;
  }
  return last;
}

Status MemberBitmapStore::write(uint64_t offset, std::span<const uint8_t> data) {
  std::shared_lock io(io_mu_);
  std::vector<Copy> copies;
  {
    std::lock_guard l(mu_);
    copies = copies_;
  }
  Status first;
  bool any = false;
  std::vector<std::pair<io::Member*, Status>> bad;
  for (const Copy& c : copies) {
    Status s = c.dev->write(c.offset + offset, data, true)
                   .with_context(fmt::format("{}: writing the bitmap", c.dev->name()));
    any |= s.is_ok();
    if (s.is_ok()) continue;
    if (first.is_ok()) first = s;
    bad.emplace_back(c.dev, s);
  }
  if (bad.empty()) return first;
  {
    std::lock_guard l(mu_);
    std::erase_if(copies_, [&](const Copy& c) {
      return std::any_of(bad.begin(), bad.end(), [&](const auto& b) { return b.first == c.dev; });
    });
  }
  io.unlock();  // set_copies may be waiting, under the array's lock, which failed_ takes
  if (failed_) {
    for (const auto& [dev, s] : bad) failed_(dev, s);
  }
  return any ? Status::ok() : first;
}

uint32_t MemberBitmapStore::block_bytes() const {
  std::lock_guard l(mu_);
  uint32_t b = 512;
  for (const Copy& c : copies_) b = std::max(b, c.dev->block_size());
  return b;
}

Result<std::unique_ptr<FileBitmapStore>> FileBitmapStore::open(const std::string& path, bool writable) {
  io::OpenOptions oo;
  oo.read_only = !writable;
  oo.direct = true;  // seed 003: the file's own blocks, not a page-cache copy
  auto f = io::open_file_member(path, oo);
  if (!f.is_ok()) return f.status().with_context("bitmap file");
  auto s = std::unique_ptr<FileBitmapStore>(new FileBitmapStore());
  s->path_ = path;
  s->file_ = std::move(f).value();
  return s;
}

Status FileBitmapStore::read(uint64_t offset, std::span<uint8_t> out) {
  return file_->read(offset, out).with_context(fmt::format("{}: reading the bitmap", path_));
}

Status FileBitmapStore::write(uint64_t offset, std::span<const uint8_t> data) {
  return file_->write(offset, data, true).with_context(fmt::format("{}: writing the bitmap", path_));
}

}  // namespace umd::bitmap
