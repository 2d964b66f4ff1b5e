// Array and its write-intent bitmap (bitmap/write_intent.h): opening it at assembly,
// what it needs of the array (events, flushing the members), and what the sync thread
// asks it (which chunks to visit).
//  - internal bitmaps live on every member that holds data (MemberBitmapStore), at the
//    offset each member's superblock gives; the copies follow the members as they fail
//    and come back (updated with every superblock write).
//  - a bitmap in a file is named at assembly (--bitmap=FILE), as with mdadm.
//  - resync and a --re-add recovery visit only marked chunks; a recovery onto a new member
//    and check/repair visit everything (the lockless bitmap lets them pass over chunks
//    never written: lazy recovery).
#include <fmt/format.h>

#include "bitmap/bitmap_location.h"
#include "bitmap/bitmap_store.h"
#include "bitmap/bitmap_super.h"
#include "bitmap/classic_bitmap.h"
#include "engine/array.h"
#include "util/aligned_buffer.h"

namespace umd::engine {

uint64_t Array::events() const {
  std::lock_guard l(mu_);
  return events_;
}

Status Array::flush_members() {
  std::vector<io::Member*> devs;
  {
    std::lock_guard l(mu_);
    for (uint32_t s : live_slots()) devs.push_back(set_->members[set_->slot_member[s]].dev.get());
  }
  for (io::Member* d : devs) UMD_TRY(d->flush().with_context(d->name()));
  return Status::ok();
}

bool Array::degraded_locked() const {
  for (uint32_t s = 0; s < set_->slot_member.size(); s++) {
    if (set_->slot_member[s] < 0 || failed_[s].load() || personality_->valid_below(s) != ~0ull) return true;
  }
  return false;
}

std::vector<std::pair<io::Member*, uint64_t>> Array::bitmap_copies_locked() const {
  std::vector<std::pair<io::Member*, uint64_t>> out;
  for (size_t i = 0; i < held_.size(); i++) {
    if (held_[i].state != Held::State::active || failed_[held_[i].slot].load()) continue;
    const ProbedMember& m = set_->members[i];
    auto at = bitmap::internal_bitmap_sector(m.info);
    if (at.is_ok() && m.dev) out.emplace_back(m.dev.get(), *at * 512);
  }
  return out;
}

void Array::refresh_bitmap_copies_locked() {
  if (!bitmap_store_) return;
  std::vector<bitmap::MemberBitmapStore::Copy> copies;
  for (const auto& [dev, off] : bitmap_copies_locked()) copies.push_back({dev, off});
  bitmap_store_->set_copies(std::move(copies));
}

Status Array::open_bitmap(const AssembleOptions& opts) {
  std::unique_ptr<bitmap::BitmapStore> store;
  if (!opts.bitmap_file.empty()) {
    UMD_ASSIGN_OR_RETURN(store, bitmap::FileBitmapStore::open(opts.bitmap_file, true));
  } else if (set_->ref.has_internal_bitmap) {
    std::vector<bitmap::MemberBitmapStore::Copy> copies;
    for (const auto& [dev, off] : bitmap_copies_locked()) copies.push_back({dev, off});
    auto ms = std::make_unique<bitmap::MemberBitmapStore>(std::move(copies));
    bitmap_store_ = ms.get();
    store = std::move(ms);
  } else {
    return Status::ok();
  }
  bitmap::ClassicBitmap::Options o;
  o.uuid = set_->ref.array_uuid;
  o.sync_sectors = personality_->sync_sectors(SyncOp::resync);
  o.events = events_;
  auto b = bitmap::ClassicBitmap::open(std::move(store), static_cast<bitmap::BitmapHost&>(*this), o);
  if (!b.is_ok()) {
    bitmap_store_ = nullptr;
    return b.status().with_context(fmt::format("{}: its write-intent bitmap", name_));
  }
  bitmap_ = std::move(b).value();
  bitmap_->set_degraded(degraded_locked());
  if (bitmap_->dirty_chunks() > 0 && resync_offset_ == kMaxSector && !degraded_locked()) {
    // Marked chunks in a clean array: written while a member was away and never synced
    // since, or a crash between the data and the clean superblock. Sync them.
    resync_offset_ = 0;
  }
  return Status::ok();
}

bitmap::SyncKind Array::bitmap_kind_of(SyncOp op) {
  switch (op) {
    case SyncOp::resync: return bitmap::SyncKind::resync;
    case SyncOp::recover: {
      std::lock_guard l(mu_);
      bool guided = false;  // every slot being recovered came back by --re-add
      for (uint32_t s = 0; s < bitmap_recovery_.size(); s++) {
        if (set_->slot_member[s] >= 0 && !failed_[s].load() && personality_->valid_below(s) != ~0ull) {
          if (!bitmap_recovery_[s]) return bitmap::SyncKind::rebuild;
          guided = true;
        }
      }
      return guided ? bitmap::SyncKind::recover : bitmap::SyncKind::rebuild;
    }
    case SyncOp::replace: return bitmap::SyncKind::rebuild;
    case SyncOp::check:
    case SyncOp::repair: return bitmap::SyncKind::check;
  }
  return bitmap::SyncKind::check;
}

uint64_t Array::sync_skip(SyncOp op, uint64_t pos, uint64_t end) {
  if (!bitmap_) return 0;
  return bitmap_->sync_skip(bitmap_kind_of(op), pos, end);
}

uint64_t Array::sync_run(SyncOp op, uint64_t pos, uint64_t end) {
  if (!bitmap_) return ~0ull;
  return bitmap_->sync_run(bitmap_kind_of(op), pos, end);
}

void Array::sync_step_done(SyncOp op, uint64_t lo, uint64_t hi) {
  if (!bitmap_) return;
  if (op == SyncOp::resync || op == SyncOp::recover) {
    bitmap_->sync_done(op == SyncOp::resync ? bitmap::SyncKind::resync : bitmap::SyncKind::recover, lo, hi);
  }
}

}  // namespace umd::engine
