// Array as the sync thread's host (sync_engine.h): what needs syncing, and recording
// progress in the superblocks as md does -- resync_offset (md's recovery_cp) for a
// resync, each rebuilt member's own recovery_offset for a recovery. check and repair
// record nothing.
#include <fmt/format.h>

#include "array/array.h"
#include "personality/replacing_member.h"

namespace umd::engine {

std::optional<SyncHost::Need> Array::needed() {
  umd::MutexLock l(mu_);
  if (broken_ || stopping_ || read_only_) return std::nullopt;
  // A reshape recorded: md starts no resync or recovery before it is done. It moves when
  // it can (reshaping_personality.h), else it stays held.
  if (reshape_recorded()) {
    if (!reshaping_->can_move()) return std::nullopt;
    return Need{SyncOp::reshape, reshaping_->progress_of(reshaping_->position())};
  }
  uint64_t from = ~0ull;
  for (uint32_t s = 0; s < set_->slot_member.size(); s++) {
    if (set_->slot_member[s] < 0 || failed_[s].load()) continue;
    from = std::min(from, personality_->valid_below(s));
  }
  if (from != ~0ull) return Need{SyncOp::recover, from};
  if (replacing_) return Need{SyncOp::replace, replacing_->dev->valid_below()};
  // A resync the bitmap asked for; degraded, there is nothing to resync against (a
  // recovery will visit those chunks).
  if (bitmap_resync_wanted_.exchange(false) && resync_offset_ == kMaxSector && !degraded_locked()) {
    resync_offset_ = 0;
  }
  if (resync_offset_ != kMaxSector) return Need{SyncOp::resync, resync_offset_};
  return std::nullopt;
}

bool Array::on_sync_thread() const { return sync_ && sync_->is_sync_thread(); }

bool Array::client_busy() const {
  umd::MutexLock l(mu_);
  return inflight_ > 0;
}

SyncHost::Shape Array::sync_shape() const {
  umd::MutexLock l(mu_);  // the personality is replaced under it
  return {personality_->sync_granule(), personality_->sync_unit(), personality_->sync_sectors(SyncOp::check),
          reshape_recorded() && reshaping_ && reshaping_->can_move()};
}

bool Array::sync_checkpoint(SyncOp op, uint64_t pos) {
  if (op == SyncOp::check || op == SyncOp::repair) return true;
  {
    umd::MutexLock l(mu_);
    if (op == SyncOp::resync && resync_offset_ != kMaxSector) resync_offset_ = std::max(resync_offset_, pos);
  }
  Status s = write_state_locked_marking(true);
  if (!s.is_ok()) {
    umd::MutexLock l(mu_);
    warnings_.push_back(fmt::format("{}: recording {} progress: {}", name_, sync_op_name(op), s.message()));
  }
  return s.is_ok();
}

void Array::sync_finished(SyncOp op, uint64_t pos, bool complete, const Status& err) {
  {
    umd::MutexLock l(mu_);
    if (!err.is_ok()) warnings_.push_back(fmt::format("{}: {} stopped at {}: {}", name_, sync_op_name(op), pos, err.message()));
    else if (complete) warnings_.push_back(fmt::format("{}: {} finished", name_, sync_op_name(op)));
    if (op == SyncOp::recover && complete) std::fill(bitmap_recovery_.begin(), bitmap_recovery_.end(), false);
    if (op == SyncOp::resync) {
      if (complete) resync_offset_ = kMaxSector;
      else if (resync_offset_ != kMaxSector) resync_offset_ = std::max(resync_offset_, pos);
    }
  }
  if (op == SyncOp::check || op == SyncOp::repair) return;
  if (op == SyncOp::reshape && complete && err.is_ok()) {
    finish_reshape();
    run_chained_level_change();
    return;
  }
  if (op == SyncOp::replace) {
    bool failed_new = false, broken = false;
    {
      umd::MutexLock l(mu_);
      failed_new = replacing_ && replacing_->dev->new_failed();
      broken = broken_;
    }
    if (complete && !failed_new) {
      end_replace(true);
      return;
    }
    if (failed_new || broken) {
      end_replace(false);
      return;
    }
  }
  sync_checkpoint(op, pos);
  if (op == SyncOp::recover && complete && err.is_ok()) run_chained_restripe();
}

}  // namespace umd::engine
