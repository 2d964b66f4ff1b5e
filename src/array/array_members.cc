// Array: members coming and going (mdadm --manage) and spares taking over.
//
// RULES (md's, as the kernel's md.c and mdadm's Manage.c apply them)
//  - --fail marks an active member or a spare faulty; never the member holding the last
//    copy of some data (refused, nothing changes). A faulty member stays until --remove.
//  - --remove takes out a faulty member or a spare (an active one is refused: busy). Its
//    file is closed. Its role entry in the others' superblocks reads faulty (6.1's md).
//  - --add: a device without a superblock of any array gets one (copied from the array's,
//    with its own device UUID, dev_number, offsets) and becomes a spare. A device with
//    this array's superblock is re-added: back into its old slot if that slot is free
//    (in sync when its event count is current, else rebuilt from sector 0; with a
//    write-intent bitmap only what changed -- issue 5), else as a spare. A device of
//    another array is refused.
//  - A spare goes into a missing or failed slot as soon as there is one (at assembly,
//    after --fail, after --add); recovery then rebuilds it, and superblocks record its
//    progress (recovery_offset) so a restart resumes.
//  - Every change is written to the superblocks (events + 1) before the call returns.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <random>

#include "array/array.h"
#include "personality/replacing_member.h"
#include "assemble/superblock_writer.h"
#include "format/superblock0.h"
#include "format/superblock1.h"
#include "io/member_spec.h"
#include "io/uring_queue.h"
#include "util/aligned_buffer.h"
#include <cstring>

namespace umd::engine {

std::string Array::member_name(size_t i) const {
  return std::filesystem::path(set_->members[i].path).filename().string();
}

int Array::find_member_locked(const std::string& name) const {
  std::string want = name;
  if (want.rfind("dev-", 0) == 0) want = want.substr(4);
  std::error_code ec;
  const std::string abs = std::filesystem::absolute(name, ec).lexically_normal().string();
  for (size_t i = 0; i < set_->members.size(); i++) {
    if (held_[i].state == Held::State::removed) continue;
    const std::string& p = set_->members[i].path;
    if (p == name || p == abs || member_name(i) == want) return int(i);
    std::error_code e2;
    if (std::filesystem::absolute(p, e2).lexically_normal().string() == abs) return int(i);
  }
  return -1;
}

// Client requests wait at the door and drain; then the sync thread finishes its step and
// waits too (its step mutex), so the personality's slots can change under nobody.
void Array::pause_io() {
  {
    umd::MutexLock l(mu_);
    while (paused_) cv_.wait(l);
    paused_ = true;
    drain_waiters_++;
    while (inflight_ != 0) cv_.wait(l);
    drain_waiters_--;
  }
  if (sync_ && !on_sync_thread()) sync_->step_mutex().lock();
}

void Array::resume_io() {
  if (sync_ && !on_sync_thread()) sync_->step_mutex().unlock();
  {
    umd::MutexLock l(mu_);
    paused_ = false;
    cv_.notify_all();
  }
  release_parked();
}

Status Array::write_state_locked_marking(bool clean_if_quiet) {
  umd::MutexLock l(mu_);
  while (marking_) cv_.wait(l);
  marking_ = true;
  const bool clean = clean_if_quiet && !active_;
  l.unlock();
  Status s = write_state(clean);
  l.lock();
  marking_ = false;
  cv_.notify_all();
  return s;
}

void Array::activate_spares() {
  if (read_only_ || reshape_recorded()) return;  // spares wait while a reshape is recorded (md starts no recovery)
  struct Move {
    uint32_t slot;
    size_t member;
  };
  std::vector<Move> moves;
  {
    umd::MutexLock l(mu_);
    if (broken_ || stopping_) return;
    std::vector<bool> taken(held_.size());
    for (uint32_t s = 0; s < set_->slot_member.size(); s++) {
      if (set_->slot_member[s] >= 0 && !failed_[s].load()) continue;
      for (size_t i = 0; i < held_.size(); i++) {
        if (held_[i].state == Held::State::spare && !taken[i] && set_->members[i].dev) {
          taken[i] = true;
          moves.push_back({s, i});
          break;
        }
      }
    }
  }
  if (moves.empty()) return;
  pause_io();
  {
    umd::MutexLock l(mu_);
    for (const Move& m : moves) {
      ProbedMember& pm = set_->members[m.member];
      personality_->attach(m.slot, Slot{pm.dev.get(), pm.info.data_offset}, 0);
      bitmap_recovery_[m.slot] = false;
      set_->slot_member[m.slot] = int(m.member);
      held_[m.member] = Held{Held::State::active, int(m.slot)};
      failed_[m.slot].store(false);
      warnings_.push_back(fmt::format("{}: {} takes slot {}; recovery starts", name_, pm.path, m.slot));
    }
  }
  resume_io();
  Status s = write_state_locked_marking(true);
  if (!s.is_ok()) {
    umd::MutexLock l(mu_);
    warnings_.push_back(fmt::format("{}: recording the spare: {}", name_, s.message()));
  }
  if (sync_) sync_->kick();
}

Status Array::fail_member(const std::string& member) {
  if (read_only_) return Status(Err::invalid, fmt::format("{} is read-only", name_));
  {
    umd::MutexLock l(mu_);
    const int idx = find_member_locked(member);
    if (idx < 0) return Status(Err::not_found, fmt::format("{} is not a member of {}", member, name_));
    Held& h = held_[idx];
    if (h.state == Held::State::faulty) return Status::ok();
    if (h.state == Held::State::spare) {
      h.state = Held::State::faulty;
    } else {
      const uint32_t slot = uint32_t(h.slot);
      std::vector<uint32_t> after = failed_slots();
      after.push_back(slot);
      // A slot still being recovered holds no data anyone depends on.
      if (personality_->valid_below(slot) == ~0ull && !survives(after)) {
        return Status(Err::busy, fmt::format("cannot fail {}: slot {} holds the last copy of some of {}'s data",
                                             member, slot, name_));
      }
      record_failure_locked(slot, Status(Err::io, "failed by --fail"));
    }
  }
  UMD_TRY(write_state_locked_marking(true).with_context(fmt::format("{}: recording the failure", name_)));
  activate_spares();
  return Status::ok();
}

Status Array::remove_member(const std::string& member) {
  if (read_only_) return Status(Err::invalid, fmt::format("{} is read-only", name_));
  int idx;
  {
    umd::MutexLock l(mu_);
    idx = find_member_locked(member);
    if (idx < 0) return Status(Err::not_found, fmt::format("{} is not a member of {}", member, name_));
    const Held& h = held_[idx];
    if (h.state == Held::State::active) {
      return Status(Err::busy, fmt::format("cannot remove {}: it is active in slot {} of {}; --fail it first", member,
                                           h.slot, name_));
    }
  }
  pause_io();
  std::unique_ptr<io::Member> closing;
  {
    umd::MutexLock l(mu_);
    while (marking_) cv_.wait(l);
    Held& h = held_[idx];
    if (h.state == Held::State::faulty && h.slot >= 0 && set_->slot_member[h.slot] == idx) {
      personality_->detach(uint32_t(h.slot));
      set_->slot_member[h.slot] = -1;
    }
    h = Held{Held::State::removed, -1};
    closing = std::move(set_->members[idx].dev);
  }
  resume_io();
  closing.reset();  // closes the file (and its lock) for good
  return write_state_locked_marking(true).with_context(fmt::format("{}: recording the removal", name_));
}

Status Array::add_member(const std::string& path, bool re_add) {
  io::OpenOptions oo;
  oo.direct = true;
  oo.exclusive = true;
  oo.ring = ring_.get();
  oo.overlay_dir = overlay_dir_;  // an overlaid array's new members are overlaid too
  UMD_ASSIGN_OR_RETURN(auto dev, io::open_member(path, oo));
  return add_member(std::move(dev), path, re_add);
}

namespace {

std::array<uint8_t, 16> random_uuid() {
  std::random_device rd;
  std::array<uint8_t, 16> u{};
  for (auto& b : u) b = uint8_t(rd());
  return u;
}

}  // namespace

Status Array::add_member(std::unique_ptr<io::Member> dev, const std::string& path, bool re_add) {
  if (read_only_) return Status(Err::invalid, fmt::format("{} is read-only", name_));
  if (re_add) UMD_TRY(refuse_while_reshaping("--re-add " + path));
  // The array's own superblock, as a template.
  std::optional<Superblock1> tmpl;
  std::optional<Superblock0> tmpl0;
  {
    umd::MutexLock l(mu_);
    for (size_t i = 0; i < held_.size() && !tmpl && !tmpl0; i++) {
      if (held_[i].state != Held::State::active || !set_->members[i].dev) continue;
      if (set_->members[i].sb1()) tmpl = *set_->members[i].sb1();
      else if (set_->members[i].sb0()) tmpl0 = *set_->members[i].sb0();
    }
    if (!tmpl && !tmpl0) return Status(Err::unsupported, fmt::format("{}: no member to take a superblock from", name_));
    if (find_member_locked(path) >= 0) return Status(Err::busy, fmt::format("{} is already a member of {}", path, name_));
  }
  ProbedMember pm;
  int old_slot = -1;
  bool in_sync = false;
  auto probed = probe_member_in_place(dev);
  if (probed.is_ok() && probed->info.array_uuid == set_->ref.array_uuid) {
    pm = std::move(probed).value();
    pm.path = path;
    umd::MutexLock l(mu_);
    const int role = pm.info.role;
    if (role >= 0 && uint32_t(role) < set_->ref.raid_disks &&
        (set_->slot_member[role] < 0 || failed_[role].load())) {
      old_slot = role;
      in_sync = pm.info.events == events_ && !pm.info.recovery_offset_valid;
    }
  } else if (probed.is_ok()) {
    return Status(Err::invalid, fmt::format("{} belongs to array {}, not {} ({}); --zero-superblock it first", path,
                                            probed->info.array_uuid_text(), name_, set_->ref.array_uuid_text()));
  } else if (probed.status().code() != Err::not_found) {
    return probed.status().with_context(fmt::format("cannot add {}", path));
  } else if (re_add) {
    return Status(Err::invalid, fmt::format("cannot re-add {}: it holds no superblock of {} (use --add)", path, name_));
  } else if (tmpl0) {
    // A new member of a 0.90 array: its superblock sits in the last 64 KiB-aligned 64 KiB
    // of the device, the data from sector 0. The table and its own entry are the array's
    // (write_state below lists it as a spare, as super_90_sync does).
    Superblock0 sb = *tmpl0;
    const uint64_t dev_sectors = dev->size() / 512;
    const uint64_t sb_at = superblock0_offset_sectors(dev_sectors);
    const uint64_t need = uint64_t(sb.size) * 2;
    if (sb_at < need) {
      return Status(Err::no_space, fmt::format("{} is too small: {} sectors, {} needs {} before its 0.90 superblock",
                                               path, dev_sectors, name_, need));
    }
    sb.events = events();
    sb.cp_events = sb.events;
    uint32_t number = sb.raid_disks;  // a spare's number until the next write renumbers
    while (number < kSb0Disks && sb.disks[number].state != 0) number++;
    if (number >= kSb0Disks) return Status(Err::no_space, fmt::format("{}: a 0.90 array has room for 27 devices", name_));
    sb.this_disk = DiskDescriptor0{number, 0, 0, number, 0};
    sb.disks[number] = sb.this_disk;
    const std::vector<uint8_t> bytes = encode_superblock0(sb);
    UMD_TRY(dev->write(sb_at * 512, bytes).with_context(fmt::format("{}: writing its superblock", path)));
    UMD_TRY(dev->flush().with_context(path));
    pm.path = path;
    pm.dev_sectors = dev_sectors;
    pm.info = from_superblock0(sb, dev_sectors);
    pm.sb = sb;
    pm.dev = std::move(dev);
  } else {
    // A new member: the array's superblock with this device's own fields.
    Superblock1 sb = *tmpl;
    const uint64_t dev_sectors = dev->size() / 512;
    const uint64_t need = set_->ref.component_sectors;
    if (sb.super_offset > sb.data_offset) {  // 1.0: at the end
      sb.super_offset = (dev_sectors - 16) & ~uint64_t(7);
      sb.data_offset = 0;
      if (dev_sectors < 16 || sb.super_offset < need) {
        return Status(Err::no_space, fmt::format("{} is too small: {} sectors, {} needs {} plus its superblock", path,
                                                 dev_sectors, name_, need));
      }
      sb.data_size = sb.super_offset;
    } else {
      if (dev_sectors < sb.data_offset + need) {
        return Status(Err::no_space, fmt::format("{} is too small: {} sectors, {} needs {} (data offset {} + {})", path,
                                                 dev_sectors, name_, sb.data_offset + need, sb.data_offset, need));
      }
      sb.data_size = dev_sectors - sb.data_offset;
    }
    sb.device_uuid = random_uuid();
    sb.feature_map &= ~(kFeatureRecoveryOffset | kFeatureReplacement | kFeatureBadBlocks);
    sb.recovery_offset = 0;
    std::vector<bool> used(sb.dev_roles.size());
    {
      umd::MutexLock l(mu_);
      for (size_t i = 0; i < held_.size(); i++) {
        const uint32_t dn = set_->members[i].info.dev_number;
        if (held_[i].state != Held::State::removed && dn < used.size()) used[dn] = true;
      }
    }
    // The lowest device number no held member uses and the table does not give a slot
    // (a member missing now keeps its entry).
    uint32_t dn = 0;
    while (dn < used.size() && (used[dn] || tmpl->dev_roles[dn] < kRoleFaulty)) dn++;
    if (dn >= used.size()) {
      return Status(Err::no_space, fmt::format("{}: no free device number (max_dev {})", name_, sb.dev_roles.size()));
    }
    sb.dev_number = dn;
    sb.dev_roles[dn] = kRoleSpare;
    sb.events = events();  // under the lock
    // Clear the bad block log area: the new device's old bytes there mean nothing.
    if (sb.bblog_size > 0 && sb.bblog_offset != 0) {
      AlignedBuffer ff(size_t(sb.bblog_size) * 512);
      std::memset(ff.data(), 0xff, ff.size());
      UMD_TRY(dev->write((sb.super_offset + int64_t(sb.bblog_offset)) * 512, ff.span())
                  .with_context(fmt::format("{}: clearing the bad block log", path)));
    }
    const std::vector<uint8_t> bytes = encode_superblock1(sb);
    UMD_TRY(dev->write(sb.super_offset * 512, bytes).with_context(fmt::format("{}: writing its superblock", path)));
    UMD_TRY(dev->flush().with_context(path));
    pm.path = path;
    pm.dev_sectors = dev_sectors;
    pm.info = from_superblock1(sb);
    pm.sb = sb;
    pm.dev = std::move(dev);
  }
  size_t idx;
  {
    umd::MutexLock l(mu_);
    while (marking_) cv_.wait(l);
    set_->members.push_back(std::move(pm));
    held_.push_back(Held{Held::State::spare, -1});
    idx = held_.size() - 1;
  }
  if (old_slot >= 0) {
    pause_io();
    {
      umd::MutexLock l(mu_);
      ProbedMember& m = set_->members[idx];
      personality_->attach(uint32_t(old_slot), Slot{m.dev.get(), m.info.data_offset}, in_sync ? ~0ull : 0);
      // With a bitmap, a member that left after the bits were last cleared misses only
      // the chunks still marked: recovery visits those alone.
      bitmap_recovery_[old_slot] = bitmap_ && !in_sync && m.info.events >= bitmap_->events_cleared();
      set_->slot_member[old_slot] = int(idx);
      held_[idx] = Held{Held::State::active, old_slot};
      failed_[old_slot].store(false);
      warnings_.push_back(fmt::format("{}: {} re-added to slot {}{}", name_, path, old_slot,
                                      in_sync                    ? " (in sync)"
                                      : bitmap_recovery_[old_slot] ? "; recovery of the chunks the bitmap marks starts"
                                                                   : "; recovery starts"));
    }
    resume_io();
  }
  UMD_TRY(write_state_locked_marking(true).with_context(fmt::format("{}: recording {}", name_, path)));
  activate_spares();
  if (sync_) sync_->kick();
  return Status::ok();
}

Status Array::replace_member(const std::string& member, const std::string& with) {
  if (read_only_) return Status(Err::invalid, fmt::format("{} is read-only", name_));
  UMD_TRY(refuse_while_reshaping("--replace " + member));
  if (personality_->sync_sectors(SyncOp::replace) == 0) {
    return Status(Err::invalid, fmt::format("--replace {}: {} has no redundancy to copy with", member, name_));
  }
  int spare = -1;
  if (!with.empty()) {
    int w;
    {
      umd::MutexLock l(mu_);
      w = find_member_locked(with);
    }
    if (w < 0) UMD_TRY(add_member(with, false));
    umd::MutexLock l(mu_);
    spare = find_member_locked(with);
    if (spare < 0 || held_[spare].state != Held::State::spare) {
      return Status(Err::busy, fmt::format("--replace {} --with {}: {} is not a spare of {}", member, with, with, name_));
    }
  }
  uint32_t slot;
  size_t old_idx;
  {
    umd::MutexLock l(mu_);
    const int idx = find_member_locked(member);
    if (idx < 0) return Status(Err::not_found, fmt::format("{} is not a member of {}", member, name_));
    const Held& h = held_[idx];
    if (h.state != Held::State::active || failed_[h.slot].load() ||
        personality_->valid_below(uint32_t(h.slot)) != ~0ull) {
      return Status(Err::busy, fmt::format("cannot replace {}: it is not an in-sync member of {}", member, name_));
    }
    if (replacing_) {
      return Status(Err::busy, fmt::format("cannot replace {}: slot {} is being replaced already", member,
                                           replacing_->slot));
    }
    if (spare < 0) {
      for (size_t i = 0; i < held_.size() && spare < 0; i++) {
        if (held_[i].state == Held::State::spare && set_->members[i].dev) spare = int(i);
      }
    }
    if (spare < 0) {
      return Status(Err::not_found, fmt::format("cannot replace {}: {} has no spare (--add one, or give --with)",
                                                member, name_));
    }
    slot = uint32_t(h.slot);
    old_idx = size_t(idx);
  }
  if (sync_) sync_->interrupt();  // whatever runs restarts from its checkpoint afterwards
  pause_io();
  {
    umd::MutexLock l(mu_);
    ProbedMember& o = set_->members[old_idx];
    ProbedMember& n = set_->members[size_t(spare)];
    auto r = std::make_unique<Replacing>();
    r->slot = slot;
    r->old_member = old_idx;
    r->new_member = size_t(spare);
    r->dev = std::make_unique<ReplacingMember>(o.dev.get(), n.dev.get(),
                                               (int64_t(n.info.data_offset) - int64_t(o.info.data_offset)) * 512);
    personality_->attach(slot, Slot{r->dev.get(), o.info.data_offset}, ~0ull);
    held_[size_t(spare)] = Held{Held::State::replacement, int(slot)};
    replacing_ = std::move(r);
    warnings_.push_back(fmt::format("{}: {} is being copied onto {}", name_, o.path, n.path));
  }
  resume_io();
  UMD_TRY(write_state_locked_marking(true).with_context(fmt::format("{}: recording the replacement", name_)));
  if (sync_) sync_->kick();
  return Status::ok();
}

// The copy finished (complete) or stopped for good: put a plain member back in the slot.
void Array::end_replace(bool complete) {
  pause_io();
  {
    umd::MutexLock l(mu_);
    if (!replacing_) {
      l.unlock();
      resume_io();
      return;
    }
    Replacing& r = *replacing_;
    ProbedMember& o = set_->members[r.old_member];
    ProbedMember& n = set_->members[r.new_member];
    if (complete) {
      personality_->attach(r.slot, Slot{n.dev.get(), n.info.data_offset}, ~0ull);
      set_->slot_member[r.slot] = int(r.new_member);
      held_[r.new_member] = Held{Held::State::active, int(r.slot)};
      held_[r.old_member] = Held{Held::State::faulty, int(r.slot)};  // md marks the replaced member faulty
      warnings_.push_back(fmt::format("{}: {} replaced {} in slot {}", name_, n.path, o.path, r.slot));
    } else {
      personality_->attach(r.slot, Slot{o.dev.get(), o.info.data_offset}, ~0ull);
      held_[r.new_member] = Held{r.dev->new_failed() ? Held::State::faulty : Held::State::spare, -1};
      warnings_.push_back(fmt::format("{}: replacing {} stopped", name_, o.path));
    }
  }
  std::unique_ptr<Replacing> gone;
  {
    umd::MutexLock l(mu_);
    gone = std::move(replacing_);
  }
  // The superblocks say who holds the slot before any write reaches the new holder alone
  // (I/O stays paused until then): a crash in between must not assemble the old member,
  // which no longer gets the writes, as the slot's (found by umd_torture, --replace).
  Status s = write_state_locked_marking(true);
  if (!s.is_ok()) {
    umd::MutexLock l(mu_);
    warnings_.push_back(fmt::format("{}: recording the replacement: {}", name_, s.message()));
  }
  resume_io();
  gone.reset();  // no request can hold it: I/O was paused while the slot changed
}

}  // namespace umd::engine
