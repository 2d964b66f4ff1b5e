// Array and its size: mdadm --grow --size (md's component_size, update_size and each
// personality's resize) and --array-size (md's array_size).
//
//  - --size=max|N: the space each member gives the array. md grows only to what every
//    member's data_size says; mdadm first raises each member's data_size to what its
//    device holds past the data offset (dev-*/size = 0), so "max" means: the smallest
//    member's device, for 1.1/1.2 superblocks (1.0 keeps its data_size: the superblock
//    sits after the data). Rounded down to the chunk for raid4/5/6/10, as their resize
//    does. Growing, the new part is resynced from the old end (md sets recovery_cp
//    there: member sectors, array sectors for raid10). Shrinking would cut the array, so
//    the visible size must already fit (--array-size first, as mdadm asks before fewer
//    devices).
//  - --array-size=N|max: the size clients see, at most what the geometry holds; not kept
//    in the superblocks (md's array_size is not persistent either). Requests past it
//    fail; a new NBD connection sees the new size.
//  - Refused, changing nothing: read-only, a reshape recorded, a bitmap (umd cannot
//    resize one yet: remove it, grow, add it), a sync or --replace under way, degraded,
//    0.90 members, raid0/linear (md has no resize for them), raid10 far.
#include <fmt/format.h>

#include "array/array.h"
#include "format/member_info.h"
#include "format/superblock0.h"
#include "format/superblock1.h"
#include "layout/layout_names.h"

namespace umd::engine {

Status Array::set_component_size(std::optional<uint64_t> want) {
  const std::string what = fmt::format("{}: --grow --size", name_);
  if (read_only_) return Status(Err::invalid, what + ": the array is read-only");
  UMD_TRY(refuse_while_reshaping("--grow --size"));
  if (bitmap_) {
    return Status(Err::busy, what + ": the array has a write-intent bitmap, which umd cannot resize yet; remove it "
                                    "(--grow --bitmap=none), change the size, add it again");
  }
  const layout::Geometry old_geo = set_->geometry;
  const int level = old_geo.level();
  const auto* r10 = old_geo.as<layout::Raid10Geometry>();
  if (level != layout::kLevelRaid1 && !old_geo.as<layout::Raid456Geometry>() && !r10) {
    return Status(Err::invalid, fmt::format("{}: {} has no component size to change", what, layout::level_name(level)));
  }
  if (r10 && r10->far_copies() > 1) return Status(Err::unsupported, what + ": raid10 far layouts cannot change size");
  if (sync_->progress().running) {
    return Status(Err::busy, fmt::format("{} is performing {}; its size cannot change now", name_,
                                         sync_->progress().action));
  }
  uint64_t avail = ~0ull;
  std::string smallest;
  {
    umd::MutexLock l(mu_);
    if (replacing_) return Status(Err::busy, what + ": a --replace is under way");
    if (degraded_locked()) return Status(Err::busy, what + ": the array is degraded; recover it first");
    for (size_t i = 0; i < held_.size(); i++) {
      const Held::State hs = held_[i].state;
      if (hs != Held::State::active && hs != Held::State::spare) continue;
      const ProbedMember& m = set_->members[i];
      const Superblock1* sb = m.sb1();
      // 0.90: from sector 0 to the superblock, at most 2 TiB (MemberInfo::data_size)
      const uint64_t can = !sb                                 ? m.info.data_size
                           : sb->super_offset < sb->data_offset ? m.dev_sectors - sb->data_offset
                                                                : sb->data_size;
      if (can < avail) {
        avail = can;
        smallest = m.path;
      }
    }
  }
  const uint32_t chunk = level == layout::kLevelRaid1 ? 0 : old_geo.chunk_sectors();
  auto round = [&](uint64_t s) { return chunk ? s / chunk * chunk : s; };
  const uint64_t old = set_->ref.component_sectors;
  uint64_t size = round(avail);
  if (want) {
    if (*want > avail) {
      return Status(Err::invalid, fmt::format("{}={}K: {} holds only {}K past its data offset", what, *want / 2,
                                              smallest, avail / 2));
    }
    size = round(*want);
  }
  if (size == 0) return Status(Err::invalid, what + ": that leaves no space on the members");
  if (size == old) return Status::ok();  // mdadm: "component size ... unchanged"
  layout::GeometryParams p;
  p.level = level;
  p.layout = old_geo.layout();
  p.chunk_sectors = old_geo.chunk_sectors();
  p.raid_disks = old_geo.raid_disks();
  p.member_sectors = {size};
  auto made = layout::make_geometry(p);
  if (!made.is_ok()) return made.status().with_context(what);
  const layout::Geometry ng = std::move(made).value();
  const uint64_t visible = size_bytes() / 512;
  if (ng.array_sectors() < visible) {
    return Status(Err::invalid, fmt::format("{}: {}K per member would cut the array from {}K to {}K; set "
                                            "--array-size={}K first (after shrinking what is on it)",
                                            what, size / 2, visible / 2, ng.array_sectors() / 2,
                                            ng.array_sectors() / 2));
  }

  pause_io();
  Status st;
  bool clean = false;
  {
    umd::MutexLock l(mu_);
    while (marking_) cv_.wait(l);
    marking_ = true;
    clean = !active_;
    std::vector<Slot> slots(ng.raid_disks());
    for (uint32_t s = 0; s < slots.size(); s++) {
      if (set_->slot_member[s] < 0) continue;
      const ProbedMember& m = set_->members[size_t(set_->slot_member[s])];
      slots[s] = Slot{m.dev.get(), m.info.data_offset};
    }
    auto np = make_personality(ng, std::move(slots), this);
    if (!np.is_ok()) {
      st = np.status();
    } else {
      for (size_t i = 0; i < held_.size(); i++) {
        const Held::State hs = held_[i].state;
        if (hs != Held::State::active && hs != Held::State::spare) continue;
        ProbedMember& m = set_->members[i];
        if (Superblock0* sb0 = std::get_if<Superblock0>(&m.sb)) {
          sb0->size = uint32_t(size / 2);  // KiB
          m.info = from_superblock0(*sb0, m.dev_sectors);
          if (hs == Held::State::active) set_->ref = m.info;
          continue;
        }
        Superblock1& sb = std::get<Superblock1>(m.sb);
        if (sb.super_offset < sb.data_offset) sb.data_size = std::max(sb.data_size, m.dev_sectors - sb.data_offset);
        sb.size = size;
        m.info = from_superblock1(sb);
        if (hs == Held::State::active) set_->ref = m.info;
      }
      const uint64_t old_end = level == layout::kLevelRaid10 ? old_geo.array_sectors() : old;
      if (size > old && resync_offset_ > old_end) resync_offset_ = old_end;  // the new part is not in sync
      set_->geometry = ng;
      retired_.push_back(std::move(personality_));
      personality_ = std::move(np).value();
      warnings_.push_back(fmt::format("{}: component size {}K -> {}K; the array holds {}K", name_, old / 2, size / 2,
                                      ng.array_sectors() / 2));
    }
  }
  if (st.is_ok()) st = write_state(clean);
  {
    umd::MutexLock l(mu_);
    marking_ = false;
    cv_.notify_all();
  }
  resume_io();
  if (!st.is_ok()) return st.with_context(what);
  sync_->kick();
  return Status::ok();
}

Status Array::set_array_size(std::optional<uint64_t> sectors) {
  const uint64_t holds = personality_->array_sectors();
  if (!sectors) {
    array_size_limit_.store(~0ull);
    return Status::ok();
  }
  if (*sectors == 0 || *sectors > holds) {
    return Status(Err::invalid, fmt::format("{}: --array-size={}K: the geometry holds {}K", name_, *sectors / 2,
                                            holds / 2));
  }
  array_size_limit_.store(*sectors);
  return Status::ok();
}

}  // namespace umd::engine
