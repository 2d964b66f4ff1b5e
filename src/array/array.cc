#include "array/array.h"

#include "array/array_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <string_view>

#include "personality/replacing_member.h"
#include "assemble/superblock_writer.h"
#include "format/superblock1.h"
#include "io/member_spec.h"
#include "io/uring_queue.h"
#include "layout/layout_names.h"
#include "util/fan_in.h"
#include "util/thread_name.h"

namespace umd::engine {

// A client request on its way through the personality: the copy the personality
// completes, and the client's request to complete after it.
struct Array::Tracked {
  Array* array;
  BlockRequest* outer;
  bool is_write;
  BlockRequest inner;
  uint64_t s_lo = 0, s_hi = 0;  // the sync-space range a bitmap marked for it
};

namespace {

bool is_write_op(BlockOp op) { return op != BlockOp::read && op != BlockOp::flush; }

// Whether must_wait_locked's answer is `reason`. The answer is nullptr for a parked
// request that need not wait any more (not yet released): a string_view made of it
// would call strlen(nullptr).
bool waits_for(const char* why, std::string_view reason) { return why != nullptr && reason == why; }

}  // namespace

Result<std::unique_ptr<Array>> Array::assemble(const std::string& name, const std::vector<std::string>& paths,
                                               const AssembleOptions& opts) {
  std::unique_ptr<io::UringQueue> ring;
  std::vector<std::string> warnings;
  io::UringQueue::Options ro;
  ro.depth = 256;
  ro.reaper_thread = true;
  auto r = io::UringQueue::create(ro);
  if (r.is_ok()) {
    ring = std::move(r).value();
  } else {
    warnings.push_back(fmt::format("io_uring unavailable ({}); members use synchronous I/O", r.status().message()));
  }
  std::vector<std::unique_ptr<io::Member>> devs;
  for (const std::string& p : paths) {
    io::OpenOptions oo;
    oo.read_only = opts.read_only;
    oo.direct = true;
    oo.exclusive = true;
    oo.ring = ring.get();
    oo.overlay_dir = opts.overlay_dir;
    UMD_ASSIGN_OR_RETURN(auto dev, io::open_member(p, oo));
    devs.push_back(std::move(dev));
  }
  UMD_ASSIGN_OR_RETURN(auto a, assemble_members(name, std::move(devs), opts));
  a->ring_ = std::move(ring);
  a->warnings_.insert(a->warnings_.begin(), warnings.begin(), warnings.end());
  return a;
}

Result<std::unique_ptr<Array>> Array::assemble_members(const std::string& name,
                                                       std::vector<std::unique_ptr<io::Member>> devs,
                                                       const AssembleOptions& opts) {
  std::unique_ptr<Array> a(new Array());
  a->name_ = name;
  a->read_only_ = opts.read_only;
  a->overlay_dir_ = opts.overlay_dir;
  std::vector<ProbedMember> probed;
  for (auto& dev : devs) {
    UMD_ASSIGN_OR_RETURN(ProbedMember pm, probe_member(std::move(dev)));
    probed.push_back(std::move(pm));
  }
  GatherOptions go;
  go.force = true;  // as mdadm does, stale members are left out with a message
  UMD_ASSIGN_OR_RETURN(MemberSet set, gather_members(std::move(probed), go));
  for (auto& w : set.warnings) a->warnings_.push_back(w);

  const MemberInfo& ref = set.ref;
  // raid4/5/6 keep their bitmap through a reshape (its bits are member sectors, the same in
  // both geometries: reshaping_personality.h); raid10's counts array sectors, which md
  // resizes as the reshape begins, and umd does not yet.
  if (ref.reshape_active && (ref.has_internal_bitmap || !opts.bitmap_file.empty()) &&
      (ref.level == layout::kLevelRaid10 || int(ref.new_level) == layout::kLevelRaid10)) {
    return Result<std::unique_ptr<Array>>(
        Err::unsupported, fmt::format("{}: a raid10 reshape is under way (stopped at array sector {}) on an array "
                                      "with a write-intent bitmap; umd continues one only without a bitmap yet: "
                                      "`umd --dump` reads it, and mdadm --assemble continues it",
                                      name, ref.reshape_position));
  }
  // Members absent now that the freshest superblock still counts as active: the array
  // had them when last written, so starting without them needs --run (as mdadm, whose
  // req_cnt is the superblock's working_disks). A slot no device held then was missing
  // already (stopped degraded, or a level change's new slot a crash left unfilled): the
  // array starts without it, as mdadm starts it.
  std::vector<uint32_t> missing = set.missing_slots();
  const std::vector<uint32_t> all_missing = missing;
  std::erase_if(missing, [&](uint32_t s) {
    return std::none_of(ref.roles_of_dev_numbers.begin(), ref.roles_of_dev_numbers.end(),
                        [&](int role) { return role == int(s); });
  });
  if (!opts.read_only) {  // a member still being rebuilt fills its slot (mdadm counts it as working)
    std::erase_if(missing, [&](uint32_t s) {
      return std::any_of(set.recovering.begin(), set.recovering.end(),
                         [&](const MemberSet::Recovering& r) { return r.slot == s; });
    });
  }
  if (!missing.empty()) {
    std::string slots;
    for (uint32_t s : missing) slots += (slots.empty() ? "" : ", ") + std::to_string(s);
    if (!opts.run) {
      std::string why;
      for (const std::string& w : set.warnings) why += "; " + w;
      return Result<std::unique_ptr<Array>>(
          Err::invalid, fmt::format("{}: {} of {} members missing (slot{} {}){}; use --run to start it degraded", name,
                                    missing.size(), set.slot_member.size(), missing.size() > 1 ? "s" : "", slots, why));
    }
    a->warnings_.push_back(fmt::format("{}: started degraded, slot{} {} missing", name, missing.size() > 1 ? "s" : "",
                                       slots));
  } else if (!all_missing.empty()) {
    std::string slots;
    for (uint32_t s : all_missing) slots += (slots.empty() ? "" : ", ") + std::to_string(s);
    a->warnings_.push_back(fmt::format("{}: degraded as last recorded, slot{} {} empty", name,
                                       all_missing.size() > 1 ? "s" : "", slots));
  }
  if (ref.resync_offset != kMaxSector && !opts.read_only) {
    a->warnings_.push_back(fmt::format("{}: not in sync from sector {} (an unclean stop or a new array); resyncing",
                                       name, ref.resync_offset));
  }

  // Slots: those of the geometry, or of the previous one when a shrink recorded half-way
  // has more (member_set.h).
  const uint32_t n = uint32_t(set.slot_member.size());
  // Room for every slot md can have: a reshape may add slots while the array runs.
  a->failed_ = std::make_unique<std::atomic<bool>[]>(std::max<uint32_t>(n, uint32_t(kSb1MaxDevs)));
  for (uint32_t s = 0; s < n; s++) a->failed_[s].store(set.slot_member[s] < 0);
  // One geometry's personality, or both of a recorded reshape, held where it stopped
  // (array_reader.h, reshaping_personality.h).
  UMD_ASSIGN_OR_RETURN(a->personality_, personality_for(set, a.get()));
  a->reshaping_ = dynamic_cast<ReshapingPersonality*>(a->personality_.get());
  // An in-place reshape inside its critical section (or one that keeps its data disks)
  // moves only under an overseer with a backup file (reshaping_personality.h: IN PLACE).
  // Cut off there while active, its section may be whole only in that file: mdadm refuses
  // it too ("Failed to restore critical section for reshape") unless it restores first.
  bool overseer_needed = false;
  if (a->reshaping_) {
    a->reshaping_->set_host(static_cast<ReshapeHost*>(a.get()));
    overseer_needed = a->reshaping_->in_place() && !a->reshaping_->resumes_alone();
    if (overseer_needed && opts.backup_file.empty() && !ref.clean && !opts.read_only) {
      {
        umd::MutexLock l(a->mu_);
        a->stopped_ = true;  // refused: nothing is written on the way out
      }
      return Result<std::unique_ptr<Array>>(
          Err::unsupported, fmt::format("{}: a reshape that rewrites in place was cut off at array sector {}, inside "
                                        "the section its backup file holds; give that file to restore it from: "
                                        "--assemble --backup-file=FILE (umd's or mdadm's); `umd --dump` reads the "
                                        "members as they are",
                                        name, set.reshape->position));
    }
  }
  if (a->reshaping_) {
    const uint64_t end = std::max(set.reshape->previous.array_sectors(), set.geometry.array_sectors());
    if (!a->reshaping_->can_move()) {
      a->warnings_.push_back(fmt::format("{}: a reshape is under way, stopped at array sector {} of {}; served through "
                                         "both geometries and held there (it {}, which umd cannot move yet; mdadm "
                                         "--assemble does)",
                                         name, set.reshape->position, end,
                                         set.geometry.level() == 10 ? "is a raid10 reshape" : "rewrites in place"));
    } else if (opts.read_only || opts.freeze_reshape) {
      a->warnings_.push_back(fmt::format("{}: a reshape is under way, stopped at array sector {} of {}; held there "
                                         "({}): `umd --action {} reshape` resumes it",
                                         name, set.reshape->position, end,
                                         opts.read_only ? "read-only" : "--freeze-reshape", name));
    } else {
      a->warnings_.push_back(
          fmt::format("{}: a reshape is under way at array sector {} of {}; resuming it", name, set.reshape->position, end));
    }
  }
  a->set_ = std::make_unique<MemberSet>(std::move(set));
  a->events_ = a->set_->ref.events;  // `ref` pointed into `set`, which has moved
  a->resync_offset_ = a->set_->ref.resync_offset;
  a->active_ = false;
  // What each member is: in a slot, being recovered into one, a spare, or left out.
  MemberSet& ms = *a->set_;
  a->held_.resize(ms.members.size());
  for (size_t i = 0; i < ms.members.size(); i++) {
    const MemberInfo& mi = ms.members[i].info;
    int fresh_role = mi.role;
    if (mi.dev_number < ms.ref.roles_of_dev_numbers.size() && ms.ref.metadata_major == 1) {
      fresh_role = ms.ref.roles_of_dev_numbers[mi.dev_number];
    }
    Held& h = a->held_[i];
    if (mi.metadata_major == 1 && (mi.feature_map & kFeatureReplacement)) fresh_role = MemberInfo::kSpare;
    h.state = fresh_role == MemberInfo::kSpare ? Held::State::spare
              : fresh_role == MemberInfo::kFaulty ? Held::State::faulty
                                                  : Held::State::removed;  // stale or foreign: left out
  }
  for (uint32_t s = 0; s < n; s++) {
    if (ms.slot_member[s] >= 0) a->held_[ms.slot_member[s]] = Held{Held::State::active, int(s)};
  }
  if (!a->read_only_ && !ms.reshape) {  // no recovery while a reshape is held
    for (const MemberSet::Recovering& r : ms.recovering) {
      if (ms.slot_member[r.slot] >= 0) continue;
      ProbedMember& m = ms.members[r.member];
      a->personality_->attach(r.slot, Slot{m.dev.get(), m.info.data_offset}, m.info.recovery_offset);
      a->failed_[r.slot].store(false);
      ms.slot_member[r.slot] = int(r.member);
      a->held_[r.member] = Held{Held::State::active, int(r.slot)};
      a->warnings_.push_back(fmt::format("{}: {} resumes its recovery into slot {} from sector {}", name, m.path,
                                         r.slot, m.info.recovery_offset));
    }
  }
  a->bitmap_recovery_.assign(n, false);
  if (!a->read_only_) UMD_TRY(a->open_bitmap(opts));
  if (ms.reshape && a->bitmap_ && std::string_view(a->bitmap_->kind()) != "bitmap") {
    {
      umd::MutexLock l(a->mu_);
      a->stopped_ = true;  // refused: nothing is written on the way out
    }
    return Result<std::unique_ptr<Array>>(
        Err::unsupported, fmt::format("{}: a reshape is under way on an array with a lockless bitmap, which the "
                                      "kernel does not reshape; `umd --dump` reads it", name));
  }
  a->sync_ = std::make_unique<SyncEngine>(static_cast<SyncHost&>(*a));
  if (opts.freeze_reshape && ms.reshape) UMD_TRY(a->sync_->set_attr("sync_action", "frozen"));
  if (a->reshaping_ && !overseer_needed && !opts.backup_file.empty()) a->vet_reshape_backup(opts.backup_file);
  if (overseer_needed && !a->read_only_) {
    if (!opts.backup_file.empty()) {
      if (Status s = a->restore_reshape_backup(opts.backup_file); !s.is_ok()) {
        {
          umd::MutexLock l(a->mu_);
          a->stopped_ = true;  // refused: nothing more is written on the way out
        }
        return Result<std::unique_ptr<Array>>(s);
      }
    }
    // Held where it is, for the overseer (overseer/reshape_overseer.h) to move sync_max.
    if (a->reshaping_->in_place() && !a->reshaping_->resumes_alone()) {
      const uint64_t at = a->reshaping_->progress_of(a->reshaping_->position()) / a->reshaping_->sync_unit();
      UMD_TRY(a->sync_->set_attr("sync_max", std::to_string(at)));
      a->warnings_.push_back(fmt::format("{}: the reshape rewrites in place: held at array sector {} until an "
                                         "overseer backs up what comes next ({})",
                                         name, a->reshaping_->position(),
                                         opts.backup_file.empty() ? "assemble with --backup-file=FILE"
                                                                  : "umd starts it with the backup file"));
    }
  }
  if (!a->read_only_ && a->members_behind()) {
    // A member one event behind took the freshest's story in memory (member_set.cc); the
    // members say it on disk before anything else happens, so the next assembly (umd's,
    // mdadm's, the kernel's) reads one story whatever it picks.
    Status s = a->write_state_locked_marking(true);
    if (!s.is_ok()) a->warnings_.push_back(fmt::format("{}: bringing every member to events {}: {}", name, a->events_,
                                                       s.message()));
  }
  if (!a->read_only_) {
    a->state_thread_ = std::thread([p = a.get()] {
      name_this_thread("md-state");
      p->state_loop();
    });
    a->activate_spares();
    a->sync_->start();
  }
  return a;
}

bool Array::members_behind() const {
  umd::MutexLock l(mu_);
  for (size_t i = 0; i < held_.size(); i++) {
    if (held_[i].state == Held::State::active && set_->members[i].info.events < events_) return true;
  }
  return false;
}

Array::~Array() {
  Status s = stop();
  (void)s;
  if (personality_) personality_.reset();  // before replacing_, which it may point into
}

uint64_t Array::size_bytes() const {
  return std::min(personality_->array_sectors(), array_size_limit_.load()) * 512;
}

bool Array::survives(const std::vector<uint32_t>& missing) const {
  auto below = [&](uint32_t disks) {
    std::vector<uint32_t> v;
    for (uint32_t s : missing) {
      if (s < disks) v.push_back(s);
    }
    return v;
  };
  if (!set_->geometry.survives(below(set_->geometry.raid_disks()))) return false;
  return !reshape_recorded() || set_->reshape->previous.survives(below(set_->reshape->previous.raid_disks()));
}

Status Array::refuse_while_reshaping(const std::string& what) const {
  if (!reshape_recorded()) return Status::ok();
  return Status(Err::busy, fmt::format("{}: {} is refused while a reshape is under way (at array sector {})", what,
                                       name_, reshape_position_now()));
}

uint32_t Array::block_size() const { return personality_->block_size(); }

bool Array::slot_failed(uint32_t slot) const { return failed_[slot].load(std::memory_order_acquire); }

// Records the failure in memory only (it may run on a completion thread): the state
// thread writes the superblocks, and client completions wait for them (complete_client).
void Array::member_failed(uint32_t slot, const Status& why) {
  umd::MutexLock l(mu_);
  if (!record_failure_locked(slot, why)) return;
  failures_++;
  failures_pending_.store(true);
  cv_.notify_all();
}

bool Array::record_failure_locked(uint32_t slot, const Status& why) {
  if (failed_[slot].load()) return false;
  // As md, never fail the member that still holds data nobody else has: the array is
  // broken (I/O there fails), but its superblocks keep a story the kernel can assemble.
  std::vector<uint32_t> after = failed_slots();
  after.push_back(slot);
  if (!survives(after)) {
    if (!broken_) {
      warnings_.push_back(fmt::format("{}: slot {} failed ({}) but holds the last copy of its data: array broken",
                                      name_, slot, why.message()));
    }
    broken_ = true;
    return false;
  }
  failed_[slot].store(true);
  const int idx = set_->slot_member[slot];
  if (idx >= 0) {
    const ProbedMember& m = set_->members[idx];
    warnings_.push_back(fmt::format("{}: {} failed in slot {}: {}", name_, m.path, slot, why.message()));
    held_[idx] = Held{Held::State::faulty, int(slot)};
  }
  if (sync_) sync_->interrupt();  // a recovery onto it, or one that read from it, starts over
  return true;
}

std::vector<uint32_t> Array::live_slots() const {
  std::vector<uint32_t> out;
  for (uint32_t s = 0; s < set_->slot_member.size(); s++) {
    if (set_->slot_member[s] >= 0 && !failed_[s].load()) out.push_back(s);
  }
  return out;
}

std::vector<uint32_t> Array::failed_slots() const {
  std::vector<uint32_t> out;
  for (uint32_t s = 0; s < set_->slot_member.size(); s++) {
    if (failed_[s].load()) out.push_back(s);
  }
  return out;
}

// Requires marking_ held by the caller (so only one thread writes superblocks). A member
// whose superblock cannot be written is failed, and the state written again to record
// that, as long as the array survives.
Status Array::write_state(bool clean) {
  // While a reshape is recorded, the position (or the finished geometry) a member's
  // superblock is about to vouch for must hold on every member: each one's preflush is not
  // enough, as the superblocks land one by one and the freshest is believed. So the
  // position is taken first (every write below it has completed), then every member is
  // flushed, and waited for, then the superblocks say that position. (Taken under
  // marking_, it never goes back: a step's own record waits for marking_ too.)
  std::optional<uint64_t> reshape_at;
  if (reshape_recorded()) {
    reshape_at = reshape_position_now();
    (void)flush_members();
  }
  for (;;) {
    std::vector<SuperblockTarget> targets;
    std::vector<int> target_slot;  // -1: a spare
    ArrayState st;
    {
      umd::MutexLock l(mu_);
      st.events = ++events_;
      st.clean = clean;
      st.resync_offset = resync_offset_;
      st.reshape_position = reshape_at;
      st.reshape_finished = reshape_finishing_;
      const bool v090 = set_->ref.metadata_major == 0;
      for (size_t i = 0; i < held_.size(); i++) {
        const Held& h = held_[i];
        ProbedMember& m = set_->members[i];
        const uint32_t dn = m.info.dev_number;
        // 0.90: every member held is listed in the table each member gets (members0).
        const int index0 = v090 && h.state != Held::State::removed ? int(st.members0.size()) : -1;
        switch (h.state) {
          case Held::State::active: {
            const bool gone = failed_[h.slot].load();
            const uint64_t vb = gone ? 0 : personality_->valid_below(uint32_t(h.slot));
            if (v090) st.members0.push_back({h.slot, vb == ~0ull, gone});
            if (gone) break;
            st.roles.emplace_back(dn, h.slot);
            targets.push_back({&m, vb, false, index0});
            target_slot.push_back(h.slot);
            break;
          }
          case Held::State::spare:
            st.roles.emplace_back(dn, MemberInfo::kSpare);
            if (v090) st.members0.push_back({-1, false, false});
            targets.push_back({&m, ~0ull, false, index0});
            target_slot.push_back(-1);
            break;
          case Held::State::replacement:
            st.roles.emplace_back(dn, h.slot);
            if (v090) st.members0.push_back({-1, false, false});  // 0.90 has no replacement role
            targets.push_back({&m, replacing_ ? replacing_->dev->valid_below() : 0, true, index0});
            target_slot.push_back(-1);
            break;
          case Held::State::faulty:
            if (v090) st.members0.push_back({-1, false, true});
            st.roles.emplace_back(dn, MemberInfo::kFaulty);
            break;
          case Held::State::removed: st.roles.emplace_back(dn, MemberInfo::kFaulty); break;
        }
      }
    }
    // Prepared and committed under mu_ (detail() reads the members' superblocks), written
    // without it (marking_ keeps other writers out, and the member list from changing).
    std::vector<SuperblockUpdate> updates;
    bool degraded = false;
    {
      umd::MutexLock l(mu_);
      for (const SuperblockTarget& t : targets) updates.push_back(prepare_superblock(*t.member, t, st));
      degraded = degraded_locked();
      refresh_bitmap_copies_locked();
    }
    if (bitmap_) {
      // md_update_sb: the bitmap's superblock (its events) before the members' own.
      bitmap_->set_degraded(degraded);
      Status bs = bitmap_->write_super(st.events);
      if (!bs.is_ok()) {
        umd::MutexLock l(mu_);
        warnings_.push_back(fmt::format("{}: writing the bitmap superblock: {}", name_, bs.message()));
      }
    }
    std::vector<Status> res = store_superblocks(targets, updates);
    Status first;
    bool newly_failed = false;
    {
      umd::MutexLock l(mu_);
      for (size_t i = 0; i < targets.size(); i++) {
        targets[i].member->sb = std::move(updates[i].sb);
        targets[i].member->info = std::move(updates[i].info);
      }
      for (size_t i = 0; i < res.size(); i++) {
        if (res[i].is_ok()) continue;
        if (first.is_ok()) first = res[i];
        if (target_slot[i] >= 0) {
          newly_failed |= record_failure_locked(uint32_t(target_slot[i]), res[i]);
        } else {
          const size_t idx = size_t(targets[i].member - set_->members.data());
          held_[idx].state = Held::State::faulty;  // a spare whose superblock cannot be written
          newly_failed = true;
        }
      }
    }
    const bool lost = newly_failed && !survives(failed_slots());
    if (st.reshape_position && reshaping_) {
      if (lost) reshaping_->record_failed(first);
      else reshaping_->recorded(*st.reshape_position);  // on every member that is still there
    }
    if (!newly_failed || lost) return first;
  }
}

void Array::state_loop() {
  umd::MutexLock l(mu_);
  // After stop() begins, it still records failures, so held completions can go.
  while (!stopping_ || failures_on_disk_ < failures_) {
    if (marking_) {  // another thread writes superblocks (a checkpoint, a member change)
      cv_.wait(l);
      continue;
    }
    if (failures_on_disk_ < failures_) {
      // md records a failure in the superblocks before the write that met it is
      // acknowledged, so a crash cannot bring the stale member back as current.
      const uint64_t recording = failures_;
      marking_ = true;
      const bool clean = !active_;
      l.unlock();
      Status s = write_state(clean);
      l.lock();
      marking_ = false;
      if (!s.is_ok()) warnings_.push_back(fmt::format("{}: recording the failure: {}", name_, s.message()));
      failures_on_disk_ = recording;
      failures_pending_.store(failures_on_disk_ < failures_);
      std::vector<HeldCompletion> go;
      const uint64_t on_disk = failures_on_disk_;
      std::erase_if(held_completions_, [&](HeldCompletion& h) {
        if (h.failures > on_disk) return false;
        go.push_back(std::move(h));
        return true;
      });
      cv_.notify_all();
      l.unlock();
      for (HeldCompletion& h : go) complete_client(*h.req, std::move(h.status));
      l.lock();
      continue;
    }
    if (reshape_record_wanted_) {
      // A client write behind the reshape's record waits for the next one
      // (reshaping_personality.h: WRITES BEHIND THE RECORD); write_state takes the live
      // position and tells the personality.
      reshape_record_wanted_ = false;
      l.unlock();
      Status s = write_state_locked_marking(true);
      l.lock();
      if (!s.is_ok()) warnings_.push_back(fmt::format("{}: recording the reshape: {}", name_, s.message()));
      continue;
    }
    if (want_active_) {
      // Parked writes wait for superblocks that say "active" (events + 1), as md marks the
      // array dirty before the first write after clean.
      want_active_ = false;
      marking_ = true;
      l.unlock();
      Status s = write_state(false);
      l.lock();
      marking_ = false;
      if (s.is_ok()) active_ = true;
      cv_.notify_all();
      if (!s.is_ok()) {
        // The writes the door held for this fail; the rest stay parked.
        std::vector<BlockRequest*> failed;
        std::vector<BlockRequest*> keep;
        for (BlockRequest* r : parked_) {
          if (is_write_op(r->op) && waits_for(must_wait_locked(*r), "not active")) failed.push_back(r);
          else keep.push_back(r);
        }
        parked_ = std::move(keep);
        l.unlock();
        for (BlockRequest* r : failed) r->done(s.with_context(fmt::format("{}: marking the array active", name_)));
        l.lock();
        continue;
      }
      l.unlock();
      release_parked();
      l.lock();
      continue;
    }
    const auto delay = std::chrono::milliseconds(safe_mode_delay_ms_.load());
    if (active_ && writes_inflight_ == 0) {
      const auto quiet_until = last_write_done_ + delay;
      if (std::chrono::steady_clock::now() < quiet_until) {
        cv_.wait_until(l, quiet_until);
        continue;
      }
      // New writes park while the clean superblocks are on their way (cleaning_); the
      // array reads "clean" once they are on disk.
      marking_ = true;
      cleaning_ = true;
      l.unlock();
      Status s = write_state(true);
      l.lock();
      if (s.is_ok()) {
        active_ = false;
      } else {
        warnings_.push_back(fmt::format("{}: marking clean: {}", name_, s.message()));  // tried again later
        last_write_done_ = std::chrono::steady_clock::now();
      }
      marking_ = false;
      cleaning_ = false;
      cv_.notify_all();  // writes that parked meanwhile set want_active_
      continue;
    }
    // Writes in flight: the last of them to finish wakes this thread (finish() wakes it only
    // then, not once per request).
    quiet_waiter_ = active_;
    cv_.wait(l);
    quiet_waiter_ = false;
  }
}

const char* Array::must_wait_locked(const BlockRequest& req) const {
  if (paused_) return "paused";
  if (!is_write_op(req.op)) return nullptr;
  const uint64_t lo = req.offset / 512, hi = lo + req.length / 512;
  if (lo < suspend_hi_ && suspend_lo_ < hi) return "suspended";
  if (!active_ || cleaning_) return "not active";
  return nullptr;
}

void Array::release_parked() {
  std::vector<BlockRequest*> again;
  {
    umd::MutexLock l(mu_);
    again.swap(parked_);
  }
  for (BlockRequest* r : again) admit(*r, false);
}

void Array::complete_client(BlockRequest& req, Status s) {
  // The fast path takes no lock: a failure that this request met was recorded (and the
  // flag set, seq_cst) before its completion got here.
  if (failures_pending_.load()) {
    umd::MutexLock l(mu_);
    if (failures_on_disk_ < failures_) {
      held_completions_.push_back({&req, std::move(s), failures_});
      cv_.notify_all();
      return;
    }
  }
  req.done(std::move(s));
}

void Array::submit(BlockRequest& req) { admit(req, true); }

void Array::admit(BlockRequest& req, bool fresh) {
  if (req.op == BlockOp::flush) {
    submit_flush(req, fresh);
    return;
  }
  const bool write = is_write_op(req.op);
  if (write && read_only_) {
    req.done(Status(Err::invalid, fmt::format("{} is read-only", name_)));
    return;
  }
  if (array_size_limit_.load() != ~0ull && req.offset + req.length > size_bytes()) {
    req.done(Status(Err::invalid, fmt::format("{}: bytes {}..{} are past the array's size ({} bytes, --array-size)",
                                              name_, req.offset, req.offset + req.length, size_bytes())));
    return;
  }
  {
    umd::MutexLock l(mu_);
    if (stopping_ || (fresh && closing_)) {
      l.unlock();
      req.done(Status(Err::busy, fmt::format("{} is stopping", name_)));
      return;
    }
    if (const char* why = must_wait_locked(req)) {
      parked_.push_back(&req);
      if (why == std::string_view("not active")) want_active_ = true;
      cv_.notify_all();
      return;
    }
    inflight_++;
    if (write) writes_inflight_++;
  }
  auto* t = new Tracked{this, &req, write, BlockRequest{}};
  t->inner.op = req.op;
  t->inner.fua = req.fua;
  t->inner.offset = req.offset;
  t->inner.length = req.length;
  t->inner.buf = req.buf;
  t->inner.done = [t](Status s) { t->array->finish(t, std::move(s)); };
  if (write && bitmap_ && req.length > 0) {
    // The bits first (write_intent.h): the personality sees the write once they are on disk.
    std::tie(t->s_lo, t->s_hi) = personality_->sync_span(req.offset / 512, (req.offset + req.length) / 512);
    if (req.op == BlockOp::trim) bitmap_->discard(t->s_lo, t->s_hi);
    bitmap_->start_write(t->s_lo, t->s_hi, [this, t] { personality_->submit(t->inner); });
    return;
  }
  personality_->submit(t->inner);
}

// Runs inside t->inner.done: nothing of t may be touched after it is deleted (the
// closure running this call lives in t; like `delete this`, that is fine as long as
// only locals are used afterwards).
void Array::finish(Tracked* t, Status s) {
  BlockRequest* outer = t->outer;
  const bool write = t->is_write;
  Array* self = t->array;
  if (write && self->bitmap_ && t->s_hi > t->s_lo) self->bitmap_->end_write(t->s_lo, t->s_hi);
  delete t;
  bool wake;
  {
    umd::MutexLock l(self->mu_);
    self->inflight_--;
    if (write) {
      self->writes_inflight_--;
      self->last_write_done_ = std::chrono::steady_clock::now();
    }
    // Only a drain (stop, pause_io) and the state thread's wait for quiet look at the
    // counts, and only at zero: a wake per request cost a futex call and a context switch.
    wake = (self->inflight_ == 0 && self->drain_waiters_ > 0) ||
           (write && self->writes_inflight_ == 0 && self->quiet_waiter_);
  }
  if (wake) self->cv_.notify_all();
  self->complete_client(*outer, std::move(s));
}

void Array::submit_flush(BlockRequest& req, bool fresh) {
  {
    umd::MutexLock l(mu_);
    if (stopping_ || (fresh && closing_)) {
      l.unlock();
      req.done(Status(Err::busy, fmt::format("{} is stopping", name_)));
      return;
    }
    if (must_wait_locked(req)) {
      parked_.push_back(&req);
      return;
    }
  }
  flush_live_members([this, &req](Status s) { complete_client(req, std::move(s)); });
}

void Array::flush_live_members(std::function<void(Status)> done) {
  std::vector<std::pair<uint32_t, io::Member*>> devs;
  {
    umd::MutexLock l(mu_);
    inflight_++;
    for (uint32_t slot : live_slots()) {
      if (io::Member* d = personality_->slot_dev(slot)) devs.emplace_back(slot, d);
    }
  }
  auto reqs = std::make_shared<std::vector<io::IoRequest>>(devs.size());
  FanIn* fan = FanIn::start(devs.size(), [this, devs, reqs, done = std::move(done)](std::vector<Status>& st) {
    bool unsupported = false, retry = false;
    Status first;
    for (size_t i = 0; i < st.size(); i++) {
      const Status& s = st[i];
      if (s.is_ok()) continue;
      if (s.code() == Err::io || s.code() == Err::not_found) member_failed(devs[i].first, s);
      if (s.code() == Err::unsupported) unsupported = true;
      else if (s.code() == Err::retry) retry = true;
      if (first.is_ok()) first = s;
    }
    Status result;
    if (unsupported) {
      result = Status(Err::unsupported, "a member does not support flush");
    } else if (retry) {
      result = Status(Err::retry, "a member asked to retry the flush");
    } else if (!first.is_ok()) {
      // Writes survive a member that failed its flush only while redundancy lasts.
      umd::MutexLock l(mu_);
      if (broken_ || !survives(failed_slots())) result = first;
    }
    {
      umd::MutexLock l(mu_);
      inflight_--;
    }
    cv_.notify_all();
    done(std::move(result));
  });
  for (size_t i = 0; i < devs.size(); i++) {
    io::IoRequest& r = (*reqs)[i];
    r.op = io::IoOp::flush;
    r.done = [fan, i](Status s) { fan->arrive(i, std::move(s)); };
    devs[i].second->submit(r);
  }
}

Status Array::stop() {
  {
    umd::MutexLock l(mu_);
    if (stopped_ || !set_) return Status::ok();
  }
  if (sync_) sync_->stop();  // checkpoints where it was
  std::vector<BlockRequest*> parked;
  std::vector<HeldCompletion> held;
  {
    umd::MutexLock l(mu_);
    if (stopped_) return Status::ok();
    // New requests are refused from here; those the door holds for "active" superblocks
    // still go (the state thread goes on), and every one in flight completes.
    closing_ = true;
    cv_.notify_all();
    for (;;) {
      // Waiting for "active" superblocks, or about to be released (no reason to wait any
      // more: it is submitted, then drained like the others).
      bool still_to_go = false;
      for (BlockRequest* r : parked_) {
        const char* why = must_wait_locked(*r);
        if (why == nullptr || waits_for(why, "not active")) still_to_go = true;
      }
      if (inflight_ == 0 && !marking_ && held_completions_.empty() && !want_active_ && !still_to_go) break;
      drain_waiters_++;
      cv_.wait(l);
      drain_waiters_--;
    }
    stopping_ = true;
    cv_.notify_all();
    parked = std::move(parked_);
    held = std::move(held_completions_);
  }
  // What the door still holds never started: it fails as a request sent after the stop.
  for (BlockRequest* r : parked) r->done(Status(Err::busy, fmt::format("{} is stopping", name_)));
  for (HeldCompletion& h : held) h.req->done(std::move(h.status));
  if (state_thread_.joinable()) state_thread_.join();
  if (personality_) personality_->quiesce();
  Status result;
  if (!read_only_) {
    result = FanIn::wait_all(1, [this](FanIn& f) {
               flush_live_members([&f](Status s) { f.arrive(0, std::move(s)); });
             }).front();
    if (bitmap_) {
      Status s = bitmap_->stop();
      if (!s.is_ok() && result.is_ok()) result = s.with_context(fmt::format("{}: bitmap", name_));
    }
    bool was_active;
    {
      umd::MutexLock l(mu_);
      was_active = active_;
    }
    if (was_active || bitmap_) {
      Status s = write_state(true);
      if (s.is_ok()) {
        umd::MutexLock l(mu_);
        active_ = false;
      } else if (result.is_ok()) {
        result = s;
      }
    }
  }
  umd::MutexLock l(mu_);
  stopped_ = true;
  return result;
}

ArrayDetail Array::detail() const {
  umd::MutexLock l(mu_);
  const MemberInfo& ref = set_->ref;
  ArrayDetail d;
  d.name = name_;
  d.set_name = ref.name;
  d.uuid = ref.array_uuid_text();
  d.version = set_->members.empty() ? "" : set_->members.front().version();
  d.level = ref.level;
  d.layout = layout::layout_name(ref.level, ref.layout);
  d.chunk_kib = ref.chunk_sectors / 2;
  d.raid_disks = ref.raid_disks;
  d.array_sectors = size_bytes() / 512;
  d.component_sectors = ref.component_sectors;
  d.state = stopped_ ? "inactive" : broken_ ? "broken" : read_only_ ? "readonly" : active_ ? "active" : "clean";
  d.events = events_;
  d.resync_offset = resync_offset_;
  if (reshape_recorded()) {
    ArrayDetail::Reshape r;
    r.position = reshape_position_now();
    r.end = std::max(set_->reshape->previous.array_sectors(), set_->geometry.array_sectors());
    r.backwards = set_->reshape->backwards;
    r.delta_disks = ref.delta_disks;
    r.new_level = ref.new_level;
    r.new_layout = layout::layout_name(ref.new_level, ref.new_layout);
    r.new_chunk_kib = ref.new_chunk_sectors / 2;
    d.reshape = r;
  }
  for (uint32_t s = 0; s < ref.raid_disks; s++) {
    if (failed_[s].load()) {
      d.failed++;
      d.degraded = true;
    } else if (personality_->valid_below(s) != ~0ull) {
      d.degraded = true;  // md counts a slot under recovery as degraded until it is in sync
    }
  }
  for (size_t i = 0; i < set_->members.size(); i++) {
    const ProbedMember& m = set_->members[i];
    const Held& h = held_[i];
    MemberDetail md;
    md.path = m.path;
    md.name = member_name(i);
    md.events = events_;
    switch (h.state) {
      case Held::State::active:
        md.slot = h.slot;
        md.recovery_offset = personality_->valid_below(uint32_t(h.slot));
        md.state = md.recovery_offset == ~0ull ? "active sync" : "spare rebuilding";
        break;
      case Held::State::spare: md.state = "spare"; break;
      case Held::State::replacement:
        md.slot = h.slot;
        md.state = "replacement";
        md.recovery_offset = replacing_ ? replacing_->dev->valid_below() : 0;
        break;
      case Held::State::faulty:
        md.slot = h.slot;
        md.state = "faulty";
        break;
      case Held::State::removed:
        md.state = "removed";
        md.events = m.info.events;
        break;
    }
    d.members.push_back(md);
  }
  if (sync_) {
    const SyncEngine::Progress pr = sync_->progress();
    d.sync_action = pr.action;
    d.sync_pos = pr.pos;
    d.sync_done = pr.done;
    d.sync_end = pr.end;
    d.sync_speed_kibs = pr.speed_kibs;
    d.mismatch_cnt = pr.mismatch_sectors;
  }
  if (d.reshape) d.reshape->moving = d.sync_action == "reshape";
  return d;
}

}  // namespace umd::engine
