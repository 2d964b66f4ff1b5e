// Array and its reshape: starting one (mdadm --grow --raid-devices/--chunk/--layout),
// recording its position, and finishing it. The moving itself is the personality's
// (personality/reshaping_personality.h), driven by the sync thread as SyncOp::reshape.
//
// STARTING (what mdadm 4.2's Grow.c and the kernel's raid5_start_reshape do between them)
//  - raid4/5/6, or raid10 near (more devices, or another chunk), nothing syncing, not
//    degraded. 0.90 superblocks have no data offset to move: their arrays reshape in
//    place only (--backup-file), and record it as super_90_sync does (minor 91).
//    raid4/5/6 keep a classic write-intent bitmap (the data moves no lower than its end);
//    raid10 and a lockless bitmap refuse one (mdadm: "Bitmap must be removed before shape
//    can be changed"). As mdadm, a new chunk must divide the component size (else the
//    new geometry would cut the array's end off).
//  - More disks need that many spares ("Need N spares to avoid degraded array, and only
//    have M"). Fewer disks need the array cut to what they hold first (--array-size, as
//    mdadm asks), and room after the data on every member: the reshape walks backwards
//    from the end and the data moves up by min_offset_change (md's update_raid_disks
//    takes only new_offset >= data_offset for fewer devices); the leaving slots become
//    spares at the end.
//  - The data offset moves, so no backup file is needed: by mdadm's min_offset_change, the
//    least common multiple of the two geometries' data rows over the old data disks. With
//    more disks every member's data moves down by exactly that (set_new_data_offset);
//    with the same disks it moves down to mdadm's choose_offset pick, the middle of the
//    room before the data aligned to a power of two up to 1 MiB. The room before the data
//    ends where the kernel's super_1_allow_new_offset says: 36 KiB past the superblock's
//    start, and past the bad block log.
//  - The superblocks then say what the kernel's would: reshape_position 0, delta_disks,
//    new level/layout/chunk, raid_disks the new count, new_offset per member, the feature
//    bits; spares take the new slots. Then the personality becomes a ReshapingPersonality
//    and the sync thread moves it.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <numeric>
#include <string_view>

#include "array/array.h"
#include "array/array_reader.h"
#include "format/member_info.h"
#include "format/superblock0.h"
#include "format/superblock1.h"
#include "layout/layout_names.h"

namespace umd::engine {
namespace {

// mdadm's choose_offset: near the middle of [lo, hi], within [min, max], preferring a big
// power-of-two alignment (stops at 1 MiB).
uint64_t choose_offset(uint64_t lo, uint64_t hi, uint64_t min, uint64_t max) {
  uint64_t choice = (lo + hi) / 2;
  for (uint64_t bit = 1; bit < 2048; bit <<= 1) {
    if (!(choice & bit)) continue;
    const uint64_t bigger = choice + bit, smaller = choice - bit;
    if (bigger > max && smaller < min) break;
    if (bigger > max) choice = smaller;
    else if (smaller < min) choice = bigger;
    else if (hi - bigger > smaller - lo) choice = bigger;
    else choice = smaller;
  }
  return choice;
}

// Sectors before a 1.1/1.2 member's data that the data may move into: past the
// superblock's 36 KiB, the bad block log and an internal bitmap that lies after the
// superblock (bitmap_sectors long; mdadm's space_before, the kernel's
// super_1_allow_new_offset).
uint64_t space_before(const Superblock1& sb, uint64_t bitmap_sectors) {
  uint64_t floor = sb.super_offset + 72;  // 36 KiB past the superblock
  if (sb.bblog_size) floor = std::max<uint64_t>(floor, uint64_t(int64_t(sb.super_offset) + sb.bblog_offset) + sb.bblog_size);
  if ((sb.feature_map & kFeatureBitmapOffset) && sb.bitmap_offset > 0) {
    floor = std::max<uint64_t>(floor, sb.super_offset + uint64_t(sb.bitmap_offset) + bitmap_sectors);
  }
  return sb.data_offset > floor ? sb.data_offset - floor : 0;
}

// What an internal bitmap of `chunks` chunks takes on a member: its 256-byte superblock
// and a bit per chunk, in whole 4 KiB pages (md's bitmap storage).
uint64_t bitmap_sectors(uint64_t chunks) { return (256 + (chunks + 7) / 8 + 4095) / 4096 * 8; }

}  // namespace

Status Array::start_reshape(const ReshapeRequest& rq) {
  if (rq.level && *rq.level != set_->geometry.level()) return change_level(rq);
  const std::string what = fmt::format("{}: --grow", name_);
  if (read_only_) return Status(Err::invalid, what + ": the array is read-only");
  UMD_TRY(refuse_while_reshaping("--grow"));
  const layout::Geometry old_geo = set_->geometry;
  const auto* o = old_geo.as<layout::Raid456Geometry>();
  const auto* o10 = old_geo.as<layout::Raid10Geometry>();
  // raid4/5/6 keep a classic bitmap through the reshape (reshaping_personality.h: BITMAP);
  // raid10's would need resizing, and the kernel reshapes no lockless bitmap.
  if (bitmap_ && (o10 || std::string_view(bitmap_->kind()) != "bitmap")) {
    return Status(Err::busy, what + ": the array has a write-intent bitmap; it must be removed before the shape can "
                                    "change (umd --grow NAME --bitmap=none)");
  }
  const uint64_t bitmap_room =
      bitmap_ ? bitmap_sectors((set_->ref.component_sectors + bitmap_->chunk_sectors() - 1) / bitmap_->chunk_sectors())
              : 0;
  if (o10 && o10->far_copies() > 1) {
    return Status(Err::unsupported, what + ": reshaping raid10 far and offset layouts is not supported yet (near is)");
  }
  if (!o && !o10) {
    return Status(Err::unsupported, fmt::format("{}: reshaping {} is not supported yet (raid4, raid5, raid6 and raid10 "
                                                "near are)",
                                                what, layout::level_name(old_geo.level())));
  }
  std::vector<size_t> spares;
  const bool v090 = set_->ref.metadata_major == 0;
  {
    umd::MutexLock l(mu_);
    if (replacing_) return Status(Err::busy, what + ": a --replace is under way");
    if (degraded_locked()) return Status(Err::busy, what + ": the array is degraded; recover it first");
    for (size_t i = 0; i < held_.size(); i++) {
      if (held_[i].state == Held::State::spare) spares.push_back(i);
    }
  }
  if (v090 && !rq.in_place) {
    return Status(Err::invalid, what + ": a 0.90 superblock records no data offset to move, so the reshape rewrites "
                                       "the data in place: give --backup-file=FILE (on another disk), as mdadm does");
  }
  if (sync_->progress().running && !on_sync_thread()) {  // the sync thread: a step chained at a sync's end
    return Status(Err::busy, fmt::format("{} is performing {} and cannot be reshaped", name_, sync_->progress().action));
  }
  const uint32_t disks = rq.raid_disks.value_or(old_geo.raid_disks());
  const bool fewer = disks < old_geo.raid_disks();
  if (o10 && fewer) return Status(Err::unsupported, what + ": fewer raid10 devices is not supported yet");
  if (rq.in_place && fewer) {
    return Status(Err::unsupported, what + ": fewer devices with --backup-file is not supported yet (without it the "
                                           "data moves up into the room after it)");
  }
  if (o10 && rq.layout && *rq.layout != old_geo.layout()) {
    return Status(Err::invalid, what + ": Cannot change number of copies when reshaping RAID10");
  }
  const uint32_t add = fewer ? 0 : disks - old_geo.raid_disks();
  if (add > spares.size()) {
    return Status(Err::invalid, fmt::format("{}: need {} spare{} to avoid degraded array, and only have {}", what, add,
                                            add == 1 ? "" : "s", spares.size()));
  }
  layout::GeometryParams np;
  np.level = old_geo.level();
  np.layout = rq.layout.value_or(old_geo.layout());
  np.chunk_sectors = rq.chunk_sectors.value_or(old_geo.chunk_sectors());
  np.raid_disks = disks;
  np.member_sectors = {set_->ref.component_sectors};
  if (np.layout == old_geo.layout() && np.chunk_sectors == old_geo.chunk_sectors() && disks == old_geo.raid_disks()) {
    return Status(Err::invalid, what + ": no change requested");
  }
  // mdadm's rule (Grow.c): the new chunk must divide the component size.
  if (np.chunk_sectors && set_->ref.component_sectors % np.chunk_sectors) {
    const uint64_t comp = set_->ref.component_sectors;
    return Status(Err::invalid, fmt::format("{}: new chunk size ({}K) does not evenly divide device size ({}K); after "
                                            "shrinking any filesystem, --grow {} --size={}K shrinks the array so the "
                                            "given chunk size works",
                                            what, np.chunk_sectors / 2, comp / 2, name_,
                                            comp / np.chunk_sectors * np.chunk_sectors / 2));
  }
  auto ng = layout::make_geometry(np);
  if (!ng.is_ok()) return ng.status().with_context(what);
  const auto* n = ng->as<layout::Raid456Geometry>();
  // mdadm's min_offset_change: a stripe of both geometries over the old data disks; for
  // raid10 (no stripes to keep whole) the larger chunk.
  uint64_t min = std::max(old_geo.chunk_sectors(), ng->chunk_sectors());
  if (o) {
    const uint64_t old_row = uint64_t(o->chunk_sectors()) * o->data_disks();
    const uint64_t new_row = uint64_t(n->chunk_sectors()) * n->data_disks();
    min = std::lcm(old_row, new_row) / o->data_disks();
  }

  // Members taking part: the slots in order, then the spares that take the new slots.
  std::vector<size_t> part;
  for (int m : set_->slot_member) part.push_back(size_t(m));
  for (uint32_t k = 0; k < add; k++) part.push_back(spares[k]);
  // Their superblocks as they are now: the state thread commits new ones under mu_.
  std::vector<Superblock1> sbs;  // 1.x (0.90 reshapes in place, from the members' info)
  std::vector<MemberInfo> infos;
  {
    umd::MutexLock l(mu_);
    for (size_t i : part) {
      if (const Superblock1* sb = set_->members[i].sb1()) sbs.push_back(*sb);
      infos.push_back(set_->members[i].info);
    }
  }
  std::vector<uint64_t> new_off(part.size());
  if (fewer) {
    // Backwards from the end, the data moving up (md's update_raid_disks wants new_offset
    // >= data_offset for fewer devices): the room is after the data. Where a member lacks
    // it, the component must shrink first (--size), and the array must already be cut to
    // what the fewer devices hold (mdadm: "use --grow --array-size first"). One message
    // names both steps.
    uint64_t after = ~0ull;
    std::string tight;
    for (size_t k = 0; k < part.size(); k++) {
      const ProbedMember& m = set_->members[part[k]];
      const Superblock1& sb = sbs[k];
      const uint64_t end = sb.super_offset < sb.data_offset ? m.dev_sectors : sb.data_offset + sb.data_size;
      const uint64_t room = end - sb.data_offset - std::min(end - sb.data_offset, set_->ref.component_sectors);
      if (room < after) {
        after = room;
        tight = m.path;
      }
      new_off[k] = sb.data_offset + min;
    }
    const uint64_t comp = set_->ref.component_sectors;
    const uint64_t chunk = o->chunk_sectors();
    const uint64_t fits = after >= min ? comp : (comp - std::min(comp, min - after)) / chunk * chunk;
    const uint64_t holds = fits * n->data_disks();
    const uint64_t visible = size_bytes() / 512;
    std::vector<std::string> steps;
    if (visible > holds) steps.push_back(fmt::format("--array-size={}K", holds / 2));
    if (fits < comp) steps.push_back(fmt::format("--size={}K", fits / 2));
    if (!steps.empty()) {
      std::string why = fmt::format("{} devices hold {}K and the array has {}K", disks, holds / 2, visible / 2);
      if (fits < comp) {
        why += fmt::format("; the data moves {} sectors up and {} has {} free after it", min, tight, after);
      }
      return Status(Err::invalid, fmt::format("{}: first --grow {} ({}; shrink what is on the array first)", what,
                                              fmt::join(steps, ", then --grow "), why));
    }
  } else if (rq.in_place) {
    // mdadm with --backup-file: the data stays; the overseer backs up what is rewritten
    // over itself (reshaping_personality.h: IN PLACE).
    if (!o) return Status(Err::unsupported, what + ": --backup-file: only raid4/5/6 reshape in place (raid10 moves its data offset)");
    for (size_t k = 0; k < part.size(); k++) {
      const ProbedMember& m = set_->members[part[k]];
      new_off[k] = infos[k].data_offset;
      const uint64_t end = infos[k].super_offset < infos[k].data_offset ? m.dev_sectors : infos[k].super_offset;
      if (new_off[k] + set_->ref.component_sectors > end) {
        return Status(Err::invalid, fmt::format("{}: {} is too small: {} sectors of data from sector {} do not fit in "
                                                "its {} sectors",
                                                what, m.path, set_->ref.component_sectors, new_off[k], m.dev_sectors));
      }
    }
  } else {
  uint64_t before = ~0ull;
  for (const Superblock1& sb : sbs) before = std::min(before, space_before(sb, bitmap_room));
  if (before < min) {
    return Status(Err::unsupported, fmt::format("{}: insufficient head-space for reshape: the data must move {} sectors "
                                                "down and only {} are free before it; that needs a backup file, which "
                                                "umd does not write yet",
                                                what, min, before));
  }
  for (size_t k = 0; k < part.size(); k++) {
    const ProbedMember& m = set_->members[part[k]];
    const uint64_t off = sbs[k].data_offset;
    new_off[k] = add > 0 ? off - min : choose_offset(off - before, off, off - before, off - min);
    if (new_off[k] + set_->ref.component_sectors > m.dev_sectors) {
      return Status(Err::invalid, fmt::format("{}: {} is too small: {} sectors of data from sector {} do not fit in its "
                                              "{} sectors",
                                              what, m.path, set_->ref.component_sectors, new_off[k], m.dev_sectors));
    }
  }
  }

  // In place: held at the start for the overseer, which moves sync_max once it has a
  // backup; set before the reshape exists, so no step can begin past it.
  std::string sync_max_before;
  if (rq.in_place) {
    UMD_ASSIGN_OR_RETURN(sync_max_before, sync_->attr("sync_max"));
    UMD_TRY(sync_->set_attr("sync_max", "0").with_context(what));
  }
  // Nothing has changed so far (but that). Now the superblocks, with client I/O drained.
  // marking_ keeps the state thread's superblock writes out: one begun before would put
  // back the superblocks it read (write_state commits what it prepared).
  pause_io();
  Status st;
  bool clean = false;
  {
    umd::MutexLock l(mu_);
    while (marking_) cv_.wait(l);
    marking_ = true;
    clean = !active_;
    for (size_t k = 0; k < part.size(); k++) {
      ProbedMember& m = set_->members[part[k]];
      if (Superblock0* sb0 = std::get_if<Superblock0>(&m.sb)) {
        // super_90_sync while a reshape is recorded: minor 91, the new count in raid_disks,
        // the new shape in the words after the position (the chunk in bytes)
        sb0->minor_version = 91;
        sb0->reshape_position = 0;
        sb0->delta_disks = uint32_t(int32_t(disks) - int32_t(old_geo.raid_disks()));
        sb0->new_level = uint32_t(np.level);
        sb0->new_layout = np.layout;
        sb0->new_chunk = np.chunk_sectors << 9;
        sb0->raid_disks = disks;
        m.info = from_superblock0(*sb0, m.dev_sectors);
        if (k >= old_geo.raid_disks()) held_[part[k]] = Held{Held::State::active, int(k)};
        continue;
      }
      Superblock1& sb = std::get<Superblock1>(m.sb);
      sb.feature_map |= kFeatureReshapeActive;
      // In place, the kernel's superblock has no new offset (super_1_sync sets the bit only
      // when new_data_offset differs).
      if (new_off[k] != sb.data_offset) sb.feature_map |= kFeatureNewOffset;
      else sb.feature_map &= ~kFeatureNewOffset;
      sb.feature_map &= ~kFeatureReshapeBackwards;  // md sets it only for the same disks; fewer walk back anyway
      sb.new_offset = uint32_t(int32_t(int64_t(new_off[k]) - int64_t(sb.data_offset)));
      sb.reshape_position = fewer ? ng->array_sectors() : 0;  // raid5_start_reshape: backwards from the end
      sb.delta_disks = uint32_t(int32_t(disks) - int32_t(old_geo.raid_disks()));
      sb.new_level = uint32_t(np.level);
      sb.new_layout = np.layout;
      sb.new_chunk = np.chunk_sectors;
      sb.raid_disks = disks;
      m.info = from_superblock1(sb);
      if (k >= old_geo.raid_disks()) held_[part[k]] = Held{Held::State::active, int(k)};
    }
    for (uint32_t k = old_geo.raid_disks(); k < disks; k++) {
      set_->slot_member.push_back(int(part[k]));
      failed_[k].store(false);
    }
    set_->reshape = fewer ? RecordedReshape{old_geo, ng->array_sectors(), true} : RecordedReshape{old_geo, 0, false};
    set_->geometry = *ng;
    set_->ref = set_->members[part[0]].info;
    auto p = personality_for(*set_, this);
    if (!p.is_ok()) {
      st = p.status();
    } else {
      retired_.push_back(std::move(personality_));
      personality_ = std::move(p).value();
      reshaping_ = static_cast<ReshapingPersonality*>(personality_.get());
      reshaping_->set_host(static_cast<ReshapeHost*>(this));
      warnings_.push_back(fmt::format("{}: reshape started: {} to {} disks, chunk {}K to {}K, layout {} to {}", name_,
                                      old_geo.raid_disks(), disks, old_geo.chunk_sectors() / 2, np.chunk_sectors / 2,
                                      layout::layout_name(np.level, old_geo.layout()),
                                      layout::layout_name(np.level, np.layout)));
    }
  }
  if (st.is_ok()) st = write_state(clean);
  {
    umd::MutexLock l(mu_);
    marking_ = false;
    cv_.notify_all();
  }
  resume_io();
  if (!st.is_ok()) {
    if (rq.in_place) (void)sync_->set_attr("sync_max", sync_max_before);
    return st.with_context(what);
  }
  sync_->kick();
  return Status::ok();
}

Status Array::record_reshape_position(uint64_t position) {
  Status s = write_state_locked_marking(true);
  if (!s.is_ok()) return s.with_context(fmt::format("{}: recording the reshape at array sector {}", name_, position));
  return s;
}

std::pair<uint64_t, uint64_t> Array::reshape_suspended() const {
  umd::MutexLock l(mu_);
  return {suspend_lo_, suspend_hi_};
}

void Array::record_reshape_position_soon() {
  umd::MutexLock l(mu_);
  reshape_record_wanted_ = true;
  cv_.notify_all();
}

// md's end_reshape / md_finish_reshape: with client I/O drained, every superblock takes
// the new geometry (superblock_writer.h), and the personality serves through it alone.
void Array::finish_reshape() {
  pause_io();
  {
    umd::MutexLock l(mu_);
    reshape_finishing_ = true;
    // A shrink's leaving slots: their members become spares (md_finish_reshape's callers
    // remove them from the array; mdadm leaves them as spares).
    const uint32_t keep = set_->geometry.raid_disks();
    for (uint32_t s = keep; s < set_->slot_member.size(); s++) {
      if (set_->slot_member[s] >= 0) held_[size_t(set_->slot_member[s])] = Held{Held::State::spare, -1};
    }
    if (set_->slot_member.size() > keep) set_->slot_member.resize(keep);
  }
  Status s = write_state_locked_marking(true);
  {
    umd::MutexLock l(mu_);
    reshape_finishing_ = false;
    if (!broken_) {
      reshaping_->collapse();
      for (size_t i = 0; i < held_.size(); i++) {
        if (held_[i].state == Held::State::active && !failed_[held_[i].slot].load()) {
          set_->ref = set_->members[i].info;  // the geometry the superblocks now describe
          break;
        }
      }
      warnings_.push_back(fmt::format("{}: reshape finished: {} sectors in {} disks", name_,
                                      personality_->array_sectors(), set_->geometry.raid_disks()));
    }
    if (!s.is_ok()) warnings_.push_back(fmt::format("{}: finishing the reshape: {}", name_, s.message()));
  }
  resume_io();
  activate_spares();
}

}  // namespace umd::engine
