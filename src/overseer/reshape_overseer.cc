#include "overseer/reshape_overseer.h"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>
#include <optional>
#include <vector>

#include "util/aligned_buffer.h"
#include "util/numbers.h"

namespace umd::overseer {
namespace {

uint64_t step_sectors(const ReshapePlan& p) { return std::max(p.old_chunk, p.new_chunk) * p.new_data_disks; }

}  // namespace

uint64_t backup_blocks(const ReshapePlan& p) {
  uint64_t blocks = std::lcm(p.old_chunk * p.old_data_disks, p.new_chunk * p.new_data_disks);
  blocks = std::lcm(blocks, step_sectors(p));  // whole reshape steps
  if (p.old_data_disks == p.new_data_disks) {
    while (blocks * 32 < p.component_sectors && blocks < 16 * 1024 * 2) blocks *= 2;
  }
  return blocks;
}

uint64_t backup_end(const ReshapePlan& p) {
  if (p.new_data_disks <= p.old_data_disks) return p.end;
  // More data disks: the first step [pos, pos + step) whose new rows end below the old
  // row that holds pos (Grow_restart's last_block), in whole sections.
  const uint64_t step = step_sectors(p), old_row = p.old_chunk * p.old_data_disks,
                 new_row = p.new_chunk * p.new_data_disks, blocks = backup_blocks(p);
  uint64_t pos = 0;
  while (pos < p.end) {
    const uint64_t old_below = pos / old_row * p.old_chunk;                       // member sector
    const uint64_t new_end = (pos + step + new_row - 1) / new_row * p.new_chunk;  // member sector
    if (new_end <= old_below) break;
    pos += step;
  }
  return std::min(p.end, (pos + blocks - 1) / blocks * blocks);
}

Result<std::unique_ptr<ReshapeOverseer>> ReshapeOverseer::start(OverseenArray& array, const ReshapePlan& plan,
                                                                const std::string& backup_path, bool restart) {
  if (!plan.old_data_disks || !plan.new_data_disks || !plan.old_chunk || !plan.new_chunk || !plan.end) {
    return Result<std::unique_ptr<ReshapeOverseer>>(Err::invalid, "reshape overseer: no reshape to oversee");
  }
  if (plan.new_data_disks < plan.old_data_disks) {
    return Result<std::unique_ptr<ReshapeOverseer>>(
        Err::unsupported, "reshape overseer: fewer data disks in place (backwards) are not overseen yet");
  }
  UMD_ASSIGN_OR_RETURN(BackupFile file, BackupFile::create(backup_path, plan.uuid, backup_blocks(plan), restart));
  std::unique_ptr<ReshapeOverseer> o(new ReshapeOverseer(array, plan, std::move(file)));
  o->thread_ = std::thread([p = o.get()] { p->run(); });
  return o;
}

ReshapeOverseer::ReshapeOverseer(OverseenArray& array, const ReshapePlan& plan, BackupFile file)
    : array_(array), plan_(plan), file_(std::move(file)) {}

ReshapeOverseer::~ReshapeOverseer() { stop(); }

void ReshapeOverseer::stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

bool ReshapeOverseer::wait_ended(std::chrono::milliseconds timeout) {
  std::unique_lock l(mu_);
  return cv_.wait_for(l, timeout, [&] { return ended_; });
}

bool ReshapeOverseer::ended() const {
  std::lock_guard l(mu_);
  return ended_;
}

Status ReshapeOverseer::status() const {
  std::lock_guard l(mu_);
  return status_;
}

void ReshapeOverseer::run() {
  Status s = loop();
  std::lock_guard l(mu_);
  ended_ = true;
  status_ = s;
  cv_.notify_all();
}

Result<std::optional<uint64_t>> ReshapeOverseer::done_sectors() {
  UMD_ASSIGN_OR_RETURN(std::string c, array_.attr("sync_completed"));
  if (c != "none") {
    const std::optional<uint64_t> done = parse_u64(c.substr(0, c.find(' ')));
    if (!done) return Result<std::optional<uint64_t>>(Err::corrupt, "sync_completed: \"" + c + "\"");
    last_done_ = *done * plan_.new_data_disks;
    return last_done_;
  }
  // Not running: "none" at the end. Otherwise reshape_position is where the reshape is,
  // which is what the superblocks say only before it has moved (at the start, or after an
  // assembly): once it has run, it may be ahead of the last record (a step that failed
  // after moving), so the last sync_completed seen stands.
  UMD_ASSIGN_OR_RETURN(std::string r, array_.attr("reshape_position"));
  if (r == "none") return std::optional<uint64_t>();
  if (last_done_) return last_done_;
  const std::optional<uint64_t> at = parse_u64(r);
  if (!at) return Result<std::optional<uint64_t>>(Err::corrupt, "reshape_position: \"" + r + "\"");
  return at;
}

Status ReshapeOverseer::finish() {
  // mdadm's order: the window is never wider on the way to empty.
  UMD_TRY(array_.set_attr("suspend_lo", std::to_string((uint64_t(1) << 63) - 1)));
  UMD_TRY(array_.set_attr("suspend_hi", "0"));
  UMD_TRY(array_.set_attr("suspend_lo", "0"));
  UMD_TRY(array_.set_attr("sync_max", "max"));
  return file_.remove();
}

Status ReshapeOverseer::loop() {
  const uint64_t blocks = backup_blocks(plan_), need = backup_end(plan_), unit = plan_.new_data_disks;
  struct Part {
    uint64_t lo = 0, hi = 0;
  } parts[2];
  std::optional<uint64_t> backed;  // the end of what is saved (the next section's start)
  uint64_t suspend_lo = 0, suspend_hi = 0, sync_max = 0;
  uint64_t seen = 0;
  AlignedBuffer buf(blocks * 512);
  while (!stop_.load()) {
    UMD_ASSIGN_OR_RETURN(std::optional<uint64_t> done, done_sectors());
    if (!done) return finish();  // the reshape is over
    if (!backed) {
      backed = *done;
      suspend_lo = suspend_hi = *done;
      UMD_TRY(array_.set_attr("suspend_hi", std::to_string(*done)));
      UMD_TRY(array_.set_attr("suspend_lo", std::to_string(*done)));
    }
    for (int i = 0; i < 2; i++) {
      if (parts[i].hi > parts[i].lo && parts[i].hi <= *done) {
        UMD_TRY(file_.forget(i));
        parts[i] = {};
      }
    }
    if (*done >= need) return finish();  // past what needs a backup: the reshape goes on alone
    // Writes stay suspended over every saved section until it is forgotten: a restore
    // puts the whole section back, so a write below `done` inside it would be undone.
    uint64_t lo = *done;
    for (const Part& p : parts) {
      if (p.hi > p.lo) lo = std::min(lo, p.lo);
    }
    if (lo > suspend_lo) {
      suspend_lo = lo;
      UMD_TRY(array_.set_attr("suspend_lo", std::to_string(suspend_lo)));
    }
    while (*backed < need && !stop_.load()) {
      const int free = parts[0].hi == parts[0].lo ? 0 : parts[1].hi == parts[1].lo ? 1 : -1;
      if (free < 0) break;
      const uint64_t lo = *backed, hi = std::min(lo + blocks, need);
      if (hi > suspend_hi) {
        suspend_hi = hi;
        UMD_TRY(array_.set_attr("suspend_hi", std::to_string(suspend_hi)));
      }
      UMD_TRY(array_.read_sectors(lo, hi - lo, buf.data())
                  .with_context(fmt::format("reshape overseer: reading array sectors {}..{} to back them up", lo, hi)));
      UMD_TRY(file_.save(free, lo, std::span<const uint8_t>(buf.data(), (hi - lo) * 512)));
      parts[free] = {lo, hi};
      saved_.fetch_add(1);
      backed = hi;
    }
    // sync_max in member sectors, a whole step below what is saved (the last section of
    // the same data disks may end off a step: the end itself then).
    const uint64_t step = step_sectors(plan_);
    uint64_t to = *backed >= plan_.end ? plan_.end : *backed / step * step;
    if (to > sync_max) {
      sync_max = to;
      UMD_TRY(array_.set_attr("sync_max", to >= plan_.end ? std::string("max") : std::to_string(to / unit)));
    }
    seen = array_.wait_sync_event(seen, std::chrono::milliseconds(500));
  }
  return Status::ok();
}

}  // namespace umd::overseer
