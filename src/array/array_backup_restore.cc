// Array and a reshape backup file at assembly: mdadm's Grow_restart (Assemble with
// --backup-file), before any other thread of the array exists.
//  - The block at byte 0 must be mdadm's (magic, checksums), name this array (set uuid),
//    be close in time to the superblocks (mtime against utime, MDADM_GROW_ALLOW_OLD lifts
//    it) and hold a section the reshape still needs: backup_matches, format/backup_super.h.
//    A backup that holds nothing needed is left alone; one of another array, or a file
//    that is not a backup, is refused and nothing is written.
//  - Each filled part is written through the NEW geometry at its array sectors (what
//    restore_stripes does with the new chunk, level and layout); the members are flushed;
//    the position moves to where backup_restored_progress says (the end of the sections)
//    and the superblocks record it (mdadm's update_super "_reshape_progress").
//  - A reshape past its critical section goes on by itself: a file given then is read and
//    checked the same way (vet_reshape_backup) and what that found is a warning; nothing
//    is written from it.
#include <fmt/format.h>

#include <cstdlib>

#include "array/array.h"
#include "format/backup_super.h"
#include "overseer/backup_file.h"

namespace umd::engine {

BackupRestartState Array::backup_restart_state() const {
  BackupRestartState st;
  st.array_uuid = set_->ref.array_uuid;
  st.array_utime = set_->ref.utime;
  st.reshape_progress = reshaping_->position();
  st.increasing = !set_->reshape->backwards;
  st.allow_old = std::getenv("MDADM_GROW_ALLOW_OLD") != nullptr;
  return st;
}

void Array::vet_reshape_backup(const std::string& path) {
  const std::string what = fmt::format("{}: --backup-file={}", name_, path);
  if (!reshaping_ || !set_->reshape) {
    warnings_.push_back(what + ": no reshape is under way; not read");
    return;
  }
  const BackupRestartState st = backup_restart_state();
  auto plan = overseer::plan_restore(path, st);
  if (!plan.is_ok()) {
    warnings_.push_back(fmt::format("{}: {}; not used: the reshape at array sector {} is past what a backup holds "
                                    "and goes on without one",
                                    what, plan.status().message(), st.reshape_progress));
  } else if (plan->needed) {
    warnings_.push_back(fmt::format("{}: it holds sections the reshape at array sector {} is already past; not "
                                    "restored", what, st.reshape_progress));
  } else {
    warnings_.push_back(fmt::format("{}: nothing in it is needed at array sector {}", what, st.reshape_progress));
  }
}

Status Array::restore_reshape_backup(const std::string& path) {
  const std::string what = fmt::format("{}: --backup-file={}", name_, path);
  if (!reshaping_ || !set_->reshape) return Status(Err::invalid, what + ": no reshape is under way");
  const BackupRestartState st = backup_restart_state();
  const bool increasing = st.increasing;
  const uint64_t progress = st.reshape_progress;
  auto plan = overseer::plan_restore(path, st);
  if (!plan.is_ok()) {
    return plan.status().code() == Err::invalid ? plan.status().with_context(what + ": not this reshape's backup")
                                                : plan.status();
  }
  if (!plan->needed) {
    warnings_.push_back(fmt::format("{}: nothing in it is needed at array sector {}", what, progress));
    return Status::ok();
  }
  const BackupSuper& bsb = plan->bsb;
  std::string restored;
  for (const auto& [lo, data] : plan->parts) {
    UMD_TRY(reshaping_->restore(lo, data).with_context(what));
    restored += fmt::format("{}{}..{}", restored.empty() ? "" : ", ", lo, lo + data.size() / 512);
  }
  UMD_TRY(flush_members().with_context(what));
  const uint64_t to = backup_restored_progress(bsb, progress, increasing);
  reshaping_->restored_to(to);
  set_->reshape->position = to;
  warnings_.push_back(fmt::format("{}: restored the critical section (array sectors {}); the reshape goes on from "
                                  "array sector {}",
                                  what, restored, to));
  {
    umd::MutexLock l(mu_);
    marking_ = true;
  }
  Status s = write_state(true);
  {
    umd::MutexLock l(mu_);
    marking_ = false;
  }
  return s.with_context(what);
}

std::optional<overseer::ReshapePlan> Array::overseer_plan() const {
  umd::MutexLock l(mu_);
  if (!reshaping_ || reshaping_->collapsed() || !set_->reshape || !reshaping_->in_place()) return std::nullopt;
  if (reshaping_->resumes_alone()) return std::nullopt;
  const auto* o = set_->reshape->previous.as<layout::Raid456Geometry>();
  const auto* n = set_->geometry.as<layout::Raid456Geometry>();
  if (!o || !n) return std::nullopt;
  overseer::ReshapePlan p;
  p.uuid = set_->ref.array_uuid;
  p.old_data_disks = o->data_disks();
  p.new_data_disks = n->data_disks();
  p.old_chunk = o->chunk_sectors();
  p.new_chunk = n->chunk_sectors();
  p.component_sectors = set_->ref.component_sectors;
  p.end = n->array_sectors();
  return p;
}

}  // namespace umd::engine
