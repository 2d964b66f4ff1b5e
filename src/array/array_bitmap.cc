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
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "bitmap/bitmap_location.h"
#include "bitmap/bitmap_store.h"
#include "bitmap/bitmap_super.h"
#include "bitmap/classic_bitmap.h"
#include "bitmap/classic_bits.h"
#include "bitmap/lockless_bitmap.h"
#include "format/member_info.h"
#include "format/superblock0.h"
#include "format/superblock1.h"
#include "array/array.h"
#include "util/fan_in.h"
#include "util/aligned_buffer.h"

namespace umd::engine {

uint64_t Array::events() const {
  umd::MutexLock l(mu_);
  return events_;
}

// The client's flush, before bits are cleared: every member that takes a slot's data.
Status Array::flush_members() {
  return FanIn::wait_all(1, [this](FanIn& f) {
           flush_live_members([&f](Status s) { f.arrive(0, std::move(s)); });
         }).front();
}

void Array::sync_needed() {
  if (bitmap_resync_wanted_.exchange(true)) return;
  if (sync_) sync_->kick();
}

bool Array::degraded_locked() const {
  for (uint32_t s = 0; s < set_->slot_member.size(); s++) {
    if (set_->slot_member[s] < 0 || failed_[s].load() || personality_->valid_below(s) != ~0ull) return true;
  }
  return false;
}

// Members in sync first: reads take the first copy that reads.
std::vector<std::pair<io::Member*, uint64_t>> Array::bitmap_copies_locked() const {
  std::vector<std::pair<io::Member*, uint64_t>> out;
  for (int pass = 0; pass < 2; pass++) {
    for (size_t i = 0; i < held_.size(); i++) {
      if (held_[i].state != Held::State::active || failed_[held_[i].slot].load()) continue;
      const bool in_sync = personality_->valid_below(uint32_t(held_[i].slot)) == ~0ull;
      if (in_sync != (pass == 0)) continue;
      const ProbedMember& m = set_->members[i];
      auto at = bitmap::internal_bitmap_sector(m.info);
      if (at.is_ok() && m.dev) out.emplace_back(m.dev.get(), *at * 512);
    }
  }
  return out;
}

void Array::refresh_bitmap_copies_locked() {
  if (!bitmap_store_) return;
  std::vector<bitmap::MemberBitmapStore::Copy> copies;
  for (const auto& [dev, off] : bitmap_copies_locked()) copies.push_back({dev, off});
  for (io::Member* dev : bitmap_store_->set_copies(std::move(copies))) {
    bitmap_copy_failed_locked(dev, Status(Err::io, fmt::format("{}: its bitmap copy could not be seeded", dev->name())));
  }
}

// md fails a member whose bitmap write fails: the bit is not on its copy, so the member
// may not take the data either. In memory at once; the superblocks follow (state thread).
void Array::bitmap_copy_failed_locked(io::Member* dev, const Status& why) {
  for (size_t i = 0; i < held_.size(); i++) {
    if (held_[i].state != Held::State::active || set_->members[i].dev.get() != dev) continue;
    if (record_failure_locked(uint32_t(held_[i].slot), why)) {
      failures_++;
      failures_pending_.store(true);
      cv_.notify_all();
    }
  }
}

std::unique_ptr<bitmap::MemberBitmapStore> Array::make_member_bitmap_store_locked() {
  std::vector<bitmap::MemberBitmapStore::Copy> copies;
  for (const auto& [dev, off] : bitmap_copies_locked()) copies.push_back({dev, off});
  return std::make_unique<bitmap::MemberBitmapStore>(std::move(copies), [this](io::Member* dev, const Status& why) {
    umd::MutexLock l(mu_);
    bitmap_copy_failed_locked(dev, why);
  });
}

// The kind the bitmap superblock names: version 6 is the lockless bitmap, 3/4 the classic.
Result<std::unique_ptr<bitmap::WriteIntent>> Array::open_bitmap_kind(std::unique_ptr<bitmap::BitmapStore> store,
                                                                   uint64_t events) {
  AlignedBuffer head(4096);
  UMD_TRY(store->read(0, head.span()));
  UMD_ASSIGN_OR_RETURN(bitmap::BitmapSuper sb, bitmap::decode_bitmap_super(head.span().first(bitmap::kBitmapSuperBytes)));
  const int level = set_->ref.level;
  bitmap::BitmapOptions base;
  base.uuid = set_->ref.array_uuid;
  // During a reshape the bitmap keeps the space it was made for (reshaping_personality.h:
  // BITMAP), which no resync walks until the reshape is done.
  base.sync_sectors = reshaping_ && !reshaping_->collapsed() ? reshaping_->bitmap_space_sectors()
                                                             : personality_->sync_sectors(SyncOp::resync);
  base.events = events;
  if (sb.lockless()) {
    bitmap::LocklessBitmap::Options o;
    static_cast<bitmap::BitmapOptions&>(o) = base;
    o.raid456 = level == 4 || level == 5 || level == 6;
    o.offset_sectors = set_->ref.has_internal_bitmap ? set_->ref.bitmap_offset : 0;
    UMD_ASSIGN_OR_RETURN(auto b, bitmap::LocklessBitmap::open(std::move(store), *this, o));
    return std::unique_ptr<bitmap::WriteIntent>(std::move(b));
  }
  UMD_ASSIGN_OR_RETURN(auto b, bitmap::ClassicBitmap::open(std::move(store), *this, base));
  return std::unique_ptr<bitmap::WriteIntent>(std::move(b));
}

Status Array::open_bitmap(const AssembleOptions& opts) {
  std::unique_ptr<bitmap::BitmapStore> store;
  if (!opts.bitmap_file.empty()) {
    UMD_ASSIGN_OR_RETURN(store, bitmap::FileBitmapStore::open(opts.bitmap_file, true));
  } else if (set_->ref.has_internal_bitmap) {
    auto ms = make_member_bitmap_store_locked();
    bitmap_store_ = ms.get();
    store = std::move(ms);
  } else {
    return Status::ok();
  }
  auto b = open_bitmap_kind(std::move(store), events_);
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
      umd::MutexLock l(mu_);
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
    case SyncOp::repair:
    case SyncOp::reshape: return bitmap::SyncKind::check;
  }
  return bitmap::SyncKind::check;
}

// Where the sync walks another space than the bitmap's (raid10's recovery and --replace:
// member sectors, Personality::bitmap_ranges), the bitmap is asked about the array
// sectors each chunk of the step holds on the slots it rebuilds.
// Member sectors from pos (before end) whose chunks all need a visit (need: true) or
// all need none (need: false), in the bitmap's words about the array sectors they hold.
uint64_t Array::member_run(SyncOp op, uint64_t pos, uint64_t end, bool need) {
  const bitmap::SyncKind kind = bitmap_kind_of(op);
  const uint64_t chunk = personality_->sync_granule();
  uint64_t at = pos;
  while (at < end) {
    const uint64_t next = std::min(end, (at / chunk + 1) * chunk);
    bool visit = false;
    for (const auto& [a, b] : personality_->bitmap_ranges(op, at, next, false)) {
      if (bitmap_->sync_skip(kind, a, b) < b - a) visit = true;
    }
    if (visit != need) break;
    at = next;
  }
  return at - pos;
}

// A reshape moves every row whatever the bitmap says; its positions are array sectors.
uint64_t Array::sync_skip(SyncOp op, uint64_t pos, uint64_t end) {
  if (!bitmap_ || op == SyncOp::reshape) return 0;
  if (!personality_->positions_are_bitmap_space(op)) return member_run(op, pos, end, false);
  return bitmap_->sync_skip(bitmap_kind_of(op), pos, end);
}

uint64_t Array::sync_run(SyncOp op, uint64_t pos, uint64_t end) {
  if (!bitmap_ || op == SyncOp::reshape) return ~0ull;
  if (!personality_->positions_are_bitmap_space(op)) return member_run(op, pos, end, true);
  return bitmap_->sync_run(bitmap_kind_of(op), pos, end);
}

void Array::sync_step_done(SyncOp op, uint64_t lo, uint64_t hi) {
  if (!bitmap_ || op == SyncOp::reshape) return;
  const bitmap::SyncKind kind = bitmap_kind_of(op);
  if (kind == bitmap::SyncKind::check) return;
  // Only what the step made consistent: on raid10 a recovery of one slot says nothing of
  // the chunks of other slots in the same member rows.
  for (const auto& [a, b] : personality_->bitmap_ranges(op, lo, hi, true)) bitmap_->sync_done(kind, a, b);
}

}  // namespace umd::engine

namespace umd::engine {

Status Array::set_bitmap(const std::string& kind) {
  if (read_only_) return Status(Err::invalid, fmt::format("{} is read-only", name_));
  UMD_TRY(refuse_while_reshaping("--bitmap=" + kind));
  if (personality_->sync_sectors(SyncOp::resync) == 0) {
    return Status(Err::invalid, fmt::format("--bitmap={}: {} has no redundancy for a bitmap to track", kind, name_));
  }
  const bool file = kind.find('/') != std::string::npos;
  const bool lockless = kind == "lockless";
  if (kind != "none" && kind != "internal" && !lockless && !file) {
    return Status(Err::invalid, fmt::format("--bitmap={}: none, internal, lockless, or an absolute file path", kind));
  }
  if (kind == "none") {
    if (!bitmap_) return Status::ok();
    pause_io();
    Status s = bitmap_->stop();
    {
      umd::MutexLock l(mu_);
      bitmap_.reset();
      bitmap_store_ = nullptr;
      for (ProbedMember& m : set_->members) {
        if (Superblock1* sb = std::get_if<Superblock1>(&m.sb)) {
          sb->feature_map &= ~kFeatureBitmapOffset;
          sb->bitmap_offset = 0;
          m.info = from_superblock1(*sb);
        } else if (Superblock0* sb0 = std::get_if<Superblock0>(&m.sb)) {
          sb0->state &= ~kSb0StateBitmapPresent;
          m.info = from_superblock0(*sb0, m.dev_sectors);
        }
      }
      set_->ref.has_internal_bitmap = false;
    }
    resume_io();
    UMD_TRY(s);
    return write_state_locked_marking(true).with_context(fmt::format("{}: removing the bitmap", name_));
  }
  if (bitmap_) return Status(Err::busy, fmt::format("{} has a bitmap already; --grow --bitmap=none first", name_));
  if (lockless && set_->ref.metadata_major == 0) {
    return Status(Err::unsupported, fmt::format("--bitmap=lockless: {} has 0.90 superblocks; the lockless bitmap is "
                                                "for 1.x arrays (internal or a file serve 0.90)", name_));
  }

  // The image: the bitmap superblock and clear bits (every bit set while a resync is
  // pending, so it visits everything).
  bitmap::BitmapSuper bs;
  bs.uuid = set_->ref.array_uuid;
  bs.sync_size = personality_->sync_sectors(SyncOp::resync);
  bs.daemon_sleep = 5;
  uint64_t room_sectors = 0;
  int32_t offset = 0;
  if (!file) {
    umd::MutexLock l(mu_);
    for (size_t i = 0; i < held_.size(); i++) {
      if (held_[i].state != Held::State::active) continue;
      const Superblock1* sb = set_->members[i].sb1();
      // 1.1/1.2: between the superblock's 4 KiB and the data; 1.0: before the superblock,
      // after the data; 0.90: after the superblock's 4 KiB, in the rest of its 64 KiB.
      uint64_t room;
      int32_t off;
      if (!sb) {
        off = 8;
        room = kSb0ReservedSectors - 8;
      } else if (sb->super_offset < sb->data_offset) {
        off = 8;
        const uint64_t bblog_end = sb->bblog_offset > 0 ? uint64_t(sb->bblog_offset) : ~0ull;
        room = std::min(sb->data_offset - sb->super_offset, bblog_end) - 8;
      } else {
        const uint64_t data_end = sb->data_offset + set_->ref.component_sectors;
        room = sb->super_offset > data_end ? sb->super_offset - data_end : 0;
        room = std::min<uint64_t>(room, 128 * 2) / 8 * 8;  // mdadm uses at most 128 KiB there
        off = -int32_t(room);
      }
      if (room_sectors == 0 || room < room_sectors) room_sectors = room;
      if (offset == 0) offset = off;
      if (off != offset) {
        return Status(Err::unsupported, fmt::format("{}: the members place a bitmap differently", name_));
      }
    }
    if (room_sectors < 8) {
      return Status(Err::no_space, fmt::format("{}: no room for an internal bitmap between superblock and data ({} "
                                               "sectors); use a bitmap file", name_, room_sectors));
    }
  } else {
    room_sectors = 1 << 20;  // a file grows as needed
  }
  uint64_t chunk = 64ull << 20;
  while (bitmap::classic_bitmap_bytes(bitmap::classic_chunk_count(bs.sync_size, chunk)) > room_sectors * 512) chunk *= 2;
  bs.version = bitmap::kVersionLittleEndian;
  bs.chunksize = uint32_t(chunk);
  bs.sectors_reserved = file || set_->ref.metadata_major == 0 ? 0 : uint32_t(room_sectors);  // 0.90: as mdadm
  const uint64_t chunks = bitmap::classic_chunk_count(bs.sync_size, chunk);
  AlignedBuffer img((bitmap::classic_bitmap_bytes(chunks) + 4095) / 4096 * 4096);
  pause_io();
  Status st;
  {
    umd::MutexLock l(mu_);
    bs.events = events_;
    if (lockless) {
      // A header only: the state bytes are laid out when it is opened (first use).
      bs.version = bitmap::kVersionLockless;
      bs.chunksize = 0;
      bs.set_state(bitmap::kStateFirstUse, true);
      if (resync_offset_ == kMaxSector) bs.set_state(bitmap::kStateClean, true);
    }
    const auto enc = bitmap::encode_bitmap_super(bs);
    std::memcpy(img.data(), enc.data(), enc.size());
    if (resync_offset_ != kMaxSector && !lockless) {
      for (uint64_t c = 0; c < chunks; c++) img.data()[bitmap::kClassicBitsOffset + c / 8] |= uint8_t(1u << (c % 8));
    }
  }
  std::unique_ptr<bitmap::BitmapStore> store;
  if (file) {
    const int fd = ::open(kind.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
      st = Status(Err::io, fmt::format("--bitmap={}: {}", kind, std::strerror(errno)));
    } else {
      const bool ok = ::pwrite(fd, img.data(), img.size(), 0) == ssize_t(img.size()) && ::fsync(fd) == 0;
      ::close(fd);
      if (!ok) st = Status(Err::io, fmt::format("--bitmap={}: writing it failed", kind));
    }
    if (st.is_ok()) {
      auto fs = bitmap::FileBitmapStore::open(kind, true);
      if (fs.is_ok()) store = std::move(fs).value();
      else st = fs.status();
    }
  } else {
    umd::MutexLock l(mu_);
    for (size_t i = 0; i < held_.size() && st.is_ok(); i++) {
      if (held_[i].state != Held::State::active && held_[i].state != Held::State::spare) continue;
      ProbedMember& m = set_->members[i];
      if (!m.dev) continue;
      if (Superblock0* sb0 = std::get_if<Superblock0>(&m.sb)) {
        st = m.dev->write((superblock0_offset_sectors(m.dev_sectors) + uint64_t(offset)) * 512, img.span(), true)
                 .with_context(fmt::format("{}: writing the bitmap", m.path));
        sb0->state |= kSb0StateBitmapPresent;
        m.info = from_superblock0(*sb0, m.dev_sectors);
        continue;
      }
      Superblock1* sb = std::get_if<Superblock1>(&m.sb);
      if (!sb) continue;
      st = m.dev->write(uint64_t(int64_t(sb->super_offset) + offset) * 512, img.span(), true)
               .with_context(fmt::format("{}: writing the bitmap", m.path));
      sb->feature_map |= kFeatureBitmapOffset;
      sb->bitmap_offset = offset;
      m.info = from_superblock1(*sb);
    }
    set_->ref.has_internal_bitmap = true;
    auto ms = make_member_bitmap_store_locked();
    bitmap_store_ = ms.get();
    store = std::move(ms);
  }
  if (st.is_ok()) {
    auto b = open_bitmap_kind(std::move(store), events());
    if (b.is_ok()) {
      umd::MutexLock l(mu_);
      bitmap_ = std::move(b).value();
      bitmap_->set_degraded(degraded_locked());
    } else {
      st = b.status();
    }
  }
  if (!st.is_ok()) bitmap_store_ = nullptr;
  resume_io();
  UMD_TRY(st.with_context(fmt::format("{}: adding a bitmap", name_)));
  return write_state_locked_marking(true).with_context(fmt::format("{}: recording the bitmap", name_));
}

}  // namespace umd::engine
