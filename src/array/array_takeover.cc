// Array and its level changes: md's level_store, as mdadm --grow --level reaches it. The
// new level reads the old one's blocks where they are (layout/takeover.h has the table),
// so nothing moves on the members: with client I/O drained, every superblock that stays
// takes the new level, layout, chunk, raid_disks and size at once (one event), the slots
// are renumbered as the takeover says, and the personality is rebuilt over them.
//
//  - Refused, changing nothing: read-only, a reshape recorded, a bitmap ("Bitmap must be
//    removed before level can be changed", as mdadm says when the kernel refuses), a
//    --replace or a sync under way, a change the takeover table refuses, and one that
//    would leave the new level without its data.
//  - 0.90 superblocks take the new level, layout, chunk (bytes), raid_disks and size (KiB)
//    as super_90_sync writes them; a restripe chained to the change runs in place, so it
//    needs a --backup-file, which a level change does not take: refused before anything.
//  - New slots (raid6's Q, raid4/5's parity after raid0, raid10's second copies) start
//    empty: spares take them and recovery builds them, as md_check_recovery does after the
//    kernel's takeover. Between parity levels mdadm first wants the spares ("need N spares
//    to avoid degraded array"); --force converts it degraded. From raid0, as mdadm, none.
//  - Members whose slot goes: raid6's Q member stays as a spare (level_store leaves it so);
//    raid4/5's parity member and raid10's second copies leave the array, as mdadm fails
//    and removes them (impose_level, remove_disks_for_takeover); their superblocks keep the
//    old level and an older event count, so a later assembly leaves them out.
//  - Where mdadm also restripes (layout/takeover.h), the reshape is chained: before the
//    takeover (started now; the level changes when it ends) or after it (started when a
//    recovery leaves the new level whole). The chained half lives in memory only, as
//    mdadm's background process does: a stop between leaves the array at the middle step.
//  - Into raid0 every staying member's data_size becomes the component size, so raid0
//    (which sizes each member by its own) keeps the array's size. The raid0-layout feature
//    bit goes, as super_1_sync leaves it (super_1_load refuses it on other levels).
#include <fmt/format.h>

#include "array/array.h"
#include "array/array_reader.h"
#include "format/member_info.h"
#include "format/superblock0.h"
#include "format/superblock1.h"
#include "layout/layout_names.h"
#include "layout/takeover.h"

namespace umd::engine {

Status Array::change_level(const ReshapeRequest& rq) {
  const int level = *rq.level;
  const std::string what = fmt::format("{}: --grow --level={}", name_, layout::level_name(level));
  if (read_only_) return Status(Err::invalid, what + ": the array is read-only");
  UMD_TRY(refuse_while_reshaping("--grow --level"));
  if (bitmap_) {
    return Status(Err::busy, what + ": Bitmap must be removed before level can be changed (umd --grow NAME "
                                    "--bitmap=none)");
  }
  const layout::Geometry old_geo = set_->geometry;
  layout::TakeoverRequest tr;
  tr.level = level;
  tr.layout = rq.layout;
  tr.preserve = rq.preserve_layout;
  tr.chunk_sectors = rq.chunk_sectors;
  tr.raid_disks = rq.raid_disks;
  std::vector<bool> working(old_geo.raid_disks());
  size_t spares = 0;
  {
    umd::MutexLock l(mu_);
    if (replacing_) return Status(Err::busy, what + ": a --replace is under way");
    for (uint32_t s = 0; s < working.size(); s++) {
      working[s] = set_->slot_member[s] >= 0 && !failed_[s].load() && personality_->valid_below(s) == ~0ull;
    }
    for (size_t i = 0; i < held_.size(); i++) {
      if (held_[i].state == Held::State::spare && set_->members[i].dev) spares++;
    }
  }
  if (sync_->progress().running && !on_sync_thread()) {  // the sync thread: chained at a reshape's end
    return Status(Err::busy,
                  fmt::format("{} is performing {} and cannot change level", name_, sync_->progress().action));
  }
  auto plan = layout::plan_takeover(old_geo, working, tr);
  if (!plan.is_ok()) return plan.status().with_context(what);
  if (set_->ref.metadata_major == 0 && (plan->restripe_before || plan->restripe_after)) {
    return Status(Err::unsupported,
                  what + ": with 0.90 superblocks the restripe mdadm chains to this change rewrites the data in place "
                         "and needs a backup file; change the level with --layout=preserve, then the layout with "
                         "--grow --layout=L --backup-file=F");
  }
  if (plan->restripe_before) {
    // mdadm restripes first, then takes over: the reshape of this level's layout now, the
    // level change when it ends (planned again then, over the restriped layout).
    ReshapeRequest first;
    first.layout = *plan->restripe_before;
    UMD_TRY(start_reshape(first).with_context(what));
    umd::MutexLock l(mu_);
    level_after_reshape_ = rq;
    warnings_.push_back(fmt::format("{}: restriping to {} first; the level changes to {} when that ends", name_,
                                    layout::layout_name(old_geo.level(), *plan->restripe_before),
                                    layout::level_name(level)));
    return Status::ok();
  }
  auto ng = layout::make_geometry(plan->params);
  if (!ng.is_ok()) return ng.status().with_context(what);
  std::vector<uint32_t> missing;
  size_t fresh = 0;
  for (uint32_t s = 0; s < plan->from_slot.size(); s++) {
    const int from = plan->from_slot[s];
    if (from < 0) fresh++;
    if (from < 0 || !working[size_t(from)]) missing.push_back(s);
  }
  if (!ng->survives(missing)) {
    return Status(Err::invalid, fmt::format("{}: {} would be missing {} of its {} members", what,
                                            layout::level_name(level), missing.size(), ng->raid_disks()));
  }
  if (old_geo.level() > 1 && level > 1 && fresh > spares && !rq.force) {
    return Status(Err::invalid, fmt::format("{}: need {} spare{} to avoid degraded array, and only have {} (--force "
                                            "converts it degraded)",
                                            what, fresh, fresh == 1 ? "" : "s", spares));
  }

  // Nothing has changed so far. Now the superblocks, with client I/O drained and the state
  // thread's superblock writes kept out (marking_), as start_reshape does.
  pause_io();
  Status st;
  bool clean = false;
  std::vector<std::unique_ptr<io::Member>> closing;
  {
    umd::MutexLock l(mu_);
    while (marking_) cv_.wait(l);
    marking_ = true;
    clean = !active_;
    const uint32_t n = ng->raid_disks();
    std::vector<int> slot_member(n, -1);
    std::vector<bool> failed(n, true);
    for (uint32_t s = 0; s < n; s++) {
      const int from = plan->from_slot[s];
      if (from < 0) continue;
      slot_member[s] = set_->slot_member[size_t(from)];
      failed[s] = failed_[size_t(from)].load();
    }
    // The personality first: the data offsets stay, so it needs nothing changed yet.
    std::vector<Slot> slots(n);
    for (uint32_t s = 0; s < n; s++) {
      if (slot_member[s] < 0) continue;
      const ProbedMember& m = set_->members[size_t(slot_member[s])];
      slots[s] = Slot{m.dev.get(), m.info.data_offset};
    }
    auto p = make_personality(*ng, std::move(slots), this);
    if (!p.is_ok()) {
      st = p.status();
    } else {
      for (uint32_t old_slot : plan->leaving) {
        const int idx = set_->slot_member[old_slot];
        if (idx < 0) continue;
        Held& h = held_[size_t(idx)];
        if (h.state != Held::State::active) continue;  // a failed member there stays as it is
        if (plan->leaving_as_spares) {
          h = Held{Held::State::spare, -1};
        } else {
          h = Held{Held::State::removed, -1};
          closing.push_back(std::move(set_->members[size_t(idx)].dev));
        }
      }
      for (uint32_t s = 0; s < n; s++) {
        if (slot_member[s] >= 0) held_[size_t(slot_member[s])].slot = int(s);
      }
      for (size_t i = 0; i < held_.size(); i++) {
        const Held::State hs = held_[i].state;
        if (hs != Held::State::active && hs != Held::State::spare) continue;
        ProbedMember& m = set_->members[i];
        if (Superblock0* sb0 = std::get_if<Superblock0>(&m.sb)) {
          // super_90_sync writes the array's shape; the table is rebuilt with the state
          // below (members0). A 0.90 member's data runs to its superblock whatever the
          // level (super_90_load sizes raid0 members so), so there is no data_size to cut.
          sb0->level = plan->params.level;
          sb0->layout = plan->params.layout;
          sb0->chunk_size = plan->params.chunk_sectors << 9;
          sb0->raid_disks = n;
          sb0->size = uint32_t(plan->component_sectors / 2);
          m.info = from_superblock0(*sb0, m.dev_sectors);
          continue;
        }
        Superblock1& sb = std::get<Superblock1>(m.sb);
        sb.level = plan->params.level;
        sb.layout = plan->params.layout;
        sb.chunksize = plan->params.chunk_sectors;
        sb.raid_disks = n;
        sb.size = plan->component_sectors;
        // super_1_load refuses the raid0-layout bit on any other level; super_1_sync clears
        // it into raid0 too (layout 0: one zone, nothing for a layout to say).
        sb.feature_map &= ~kFeatureRaid0Layout;
        if (plan->data_size_is_component && hs == Held::State::active) sb.data_size = plan->component_sectors;
        m.info = from_superblock1(sb);
      }
      for (uint32_t s = 0; s < n; s++) failed_[s].store(failed[s]);
      for (uint32_t s = n; s < old_geo.raid_disks(); s++) failed_[s].store(false);
      set_->slot_member = std::move(slot_member);
      set_->geometry = *ng;
      // A finished reshape's record goes with its personality: this one is plain.
      set_->reshape.reset();
      reshaping_ = nullptr;
      bitmap_recovery_.assign(n, false);
      for (int idx : set_->slot_member) {
        if (idx >= 0 && held_[size_t(idx)].state == Held::State::active) {
          set_->ref = set_->members[size_t(idx)].info;
          break;
        }
      }
      retired_.push_back(std::move(personality_));
      personality_ = std::move(p).value();
      warnings_.push_back(fmt::format("{}: level changed from {} to {} ({} devices, layout {}, chunk {}K){}", name_,
                                      layout::level_name(old_geo.level()), layout::level_name(level), n,
                                      layout::layout_name(level, plan->params.layout),
                                      plan->params.chunk_sectors / 2,
                                      plan->restripe_after ? fmt::format("; restripes to {} once recovered",
                                                                         layout::layout_name(level, *plan->restripe_after))
                                                           : std::string()));
      restripe_after_recovery_ = plan->restripe_after;
    }
  }
  if (st.is_ok()) st = write_state(clean);
  {
    umd::MutexLock l(mu_);
    marking_ = false;
    cv_.notify_all();
  }
  resume_io();
  closing.clear();  // closes the files (and their locks) of the members that left
  if (!st.is_ok()) return st.with_context(what);
  activate_spares();
  sync_->kick();
  return Status::ok();
}

// The chained halves, on the sync thread at the end of the sync they waited for.
void Array::run_chained_level_change() {
  std::optional<ReshapeRequest> rq;
  {
    umd::MutexLock l(mu_);
    rq.swap(level_after_reshape_);
  }
  if (!rq) return;
  Status s = change_level(*rq);
  if (!s.is_ok()) {
    umd::MutexLock l(mu_);
    warnings_.push_back(fmt::format("{}: the level change after the restripe: {}", name_, s.message()));
  }
}

void Array::run_chained_restripe() {
  ReshapeRequest rq;
  {
    umd::MutexLock l(mu_);
    if (!restripe_after_recovery_ || degraded_locked()) return;  // a later recovery may complete it
    rq.layout = *restripe_after_recovery_;
    restripe_after_recovery_.reset();
  }
  Status s = start_reshape(rq);
  if (!s.is_ok()) {
    umd::MutexLock l(mu_);
    warnings_.push_back(fmt::format("{}: the restripe after the level change: {}", name_, s.message()));
  }
}

}  // namespace umd::engine
