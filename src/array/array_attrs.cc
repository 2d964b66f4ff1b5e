// Array's attributes: md's sysfs names, values and rules (/sys/block/mdX/md/ in Linux),
// read and written through the control socket (umd --attr) and the FUSE view.
//
//   array_state       clean | active | readonly | broken | inactive      (read-only here)
//   level (writing another level changes it in place, as md's level_store: array_takeover.cc),
//   raid_disks, chunk_size (bytes), layout (md's number), metadata_version, uuid,
//   component_size (KiB; writable: --grow --size, array_size.cc), array_size ("default"
//   or KiB; writable: --grow --array-size), degraded (slots without an in-sync member), resync_start
//   ("none" or md's recovery_cp), reshape_position ("none", or the array sector where a recorded reshape is held), safe_mode_delay
//   (seconds), consistency_policy ("none" without redundancy, else "resync")
//   sync_action, last_sync_action, sync_min, sync_max, sync_completed, sync_speed,
//   sync_speed_min, sync_speed_max, mismatch_cnt      (the sync thread: sync_engine.h)
//   suspend_lo, suspend_hi    writes to array sectors in [lo, hi) wait (md: sectors); they are
//                     parked at the door, and other requests go on (array.h); a write that
//                     widens the window returns once no write is in flight (md's quiesce)
//   dev-NAME/state    in_sync | spare | faulty (md's words; a member being rebuilt reads
//                     "spare", as in md); writing "faulty" fails it, "remove" removes it
//   dev-NAME/slot     its slot, or "none";  dev-NAME/recovery_start  "none" or sectors
//   dev-NAME/offset   data offset (sectors);  dev-NAME/size  KiB of data
//   umd/sync_stats    beyond md: "publishes N waited_ms M done_sectors D skipped_sectors S
//                     last_run_us T read_ahead_steps R": sync_completed publications, ms
//                     waited at sync_max, sectors synced and skipped (a bitmap said clean)
//                     since assembly, how long the last run took, from its start to its
//                     superblocks, and the steps whose rows were read while the step
//                     before computed (raid4/5/6)
//   umd/findings      beyond md: blocks a raid6 check/repair traced to one member, one
//                     line each: "slot S sector N sectors K found|fixed"
// Values carry no trailing newline; written values may have one.
#include <fmt/format.h>

#include <charconv>

#include "array/array.h"
#include "block/block_wait.h"
#include "personality/replacing_member.h"
#include "layout/layout_names.h"
#include "util/numbers.h"

namespace umd::engine {
namespace {

const char* const kArrayAttrs[] = {
    "array_state", "level", "raid_disks", "chunk_size", "layout", "metadata_version", "uuid", "component_size",
    "degraded", "resync_start", "reshape_position", "safe_mode_delay", "consistency_policy", "sync_action",
    "last_sync_action", "sync_min", "sync_max", "sync_completed", "sync_speed", "sync_speed_min", "sync_speed_max",
    "mismatch_cnt", "suspend_lo", "suspend_hi", "array_size", "umd/sync_stats", "umd/findings"};
const char* const kDevAttrs[] = {"state", "slot", "recovery_start", "offset", "size"};

std::string trim(std::string v) {
  while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
  return v;
}

}  // namespace

std::vector<std::string> Array::attr_names() const {
  std::vector<std::string> out(std::begin(kArrayAttrs), std::end(kArrayAttrs));
  out.push_back("bitmap_type");
  if (bitmap_) {
    for (const std::string& n : bitmap_->attr_names()) out.push_back(n);
  }
  umd::MutexLock l(mu_);
  for (size_t i = 0; i < held_.size(); i++) {
    if (held_[i].state == Held::State::removed) continue;
    for (const char* a : kDevAttrs) out.push_back(fmt::format("dev-{}/{}", member_name(i), a));
  }
  return out;
}

Result<std::string> Array::attr(const std::string& name) const {
  if (auto r = sync_->attr(name); r.is_ok() || r.status().code() != Err::not_found) return r;
  if (name == "bitmap_type") {
    // md 6.18: the kinds it knows, the one in use in brackets.
    const std::string k = bitmap_ ? bitmap_->kind() : "none";
    std::string out;
    for (const char* kind : {"none", "bitmap", "llbitmap"}) {
      out += (out.empty() ? "" : " ") + (k == kind ? "[" + std::string(kind) + "]" : std::string(kind));
    }
    return out;
  }
  if (bitmap_ && (name.rfind("bitmap/", 0) == 0 || name.rfind("llbitmap/", 0) == 0)) return bitmap_->attr(name);
  const ArrayDetail d = detail();
  umd::MutexLock l(mu_);
  const MemberInfo& ref = set_->ref;
  if (name == "array_state") return d.state;
  if (name == "level") return layout::level_name(ref.level);
  if (name == "raid_disks") return std::to_string(ref.raid_disks);
  if (name == "chunk_size") return std::to_string(uint64_t(ref.chunk_sectors) * 512);
  if (name == "layout") return std::to_string(ref.layout);
  if (name == "metadata_version") return d.version;
  if (name == "uuid") return d.uuid;
  if (name == "component_size") return std::to_string(ref.component_sectors / 2);
  if (name == "array_size") {
    return array_size_limit_.load() == ~0ull ? std::string("default") : std::to_string(array_size_limit_.load() / 2);
  }
  if (name == "degraded") {
    uint32_t n = 0;
    for (uint32_t s = 0; s < ref.raid_disks; s++) {
      if (set_->slot_member[s] < 0 || failed_[s].load() || personality_->valid_below(s) != ~0ull) n++;
    }
    return std::to_string(n);
  }
  if (name == "resync_start") return resync_offset_ == kMaxSector ? std::string("none") : std::to_string(resync_offset_);
  if (name == "reshape_position") {
    return reshape_recorded() ? std::to_string(reshape_position_now()) : std::string("none");
  }
  if (name == "safe_mode_delay") return fmt::format("{:.3f}", double(safe_mode_delay_ms_.load()) / 1000);
  if (name == "consistency_policy") {
    return std::string(bitmap_ ? "bitmap" : personality_->sync_sectors(SyncOp::check) ? "resync" : "none");
  }
  if (name == "suspend_lo") return std::to_string(suspend_lo_);
  if (name == "suspend_hi") return std::to_string(suspend_hi_);
  if (name == "umd/findings") {
    std::string out;
    for (const SyncFinding& f : sync_->findings()) {
      out += fmt::format("{}slot {} sector {} sectors {} {}", out.empty() ? "" : "\n", f.slot, f.dev_sector, f.sectors,
                         f.fixed ? "fixed" : "found");
    }
    return out;
  }
  if (name.rfind("dev-", 0) == 0 && name.find('/') != std::string::npos) {
    const std::string dev = name.substr(4, name.find('/') - 4);
    const std::string what = name.substr(name.find('/') + 1);
    const int idx = find_member_locked(dev);
    if (idx >= 0) {
      const Held& h = held_[idx];
      const ProbedMember& m = set_->members[idx];
      // A --replace's new member shows how far its copy has come, as md's rdev does.
      const uint64_t vb = h.state == Held::State::active ? personality_->valid_below(uint32_t(h.slot))
                          : h.state == Held::State::replacement && replacing_ ? replacing_->dev->valid_below()
                                                                              : ~0ull;
      if (what == "state") {
        return std::string(h.state == Held::State::faulty                  ? "faulty"
                           : h.state == Held::State::active && vb == ~0ull ? "in_sync"
                                                                           : "spare");
      }
      if (what == "slot") return h.state == Held::State::active ? std::to_string(h.slot) : std::string("none");
      if (what == "recovery_start") return vb == ~0ull ? std::string("none") : std::to_string(vb);
      if (what == "offset") return std::to_string(m.info.data_offset);
      if (what == "size") return std::to_string(ref.component_sectors / 2);
    }
  }
  return Result<std::string>(Err::not_found, fmt::format("{} has no attribute {}", name_, name));
}

Status Array::set_attr(const std::string& name, const std::string& raw) {
  const std::string v = trim(raw);
  if (name == "sync_action" && v != "idle" && v != "frozen" && v != "reshape") {
    UMD_TRY(refuse_while_reshaping("sync_action " + v));
  }
  if (Status s = sync_->set_attr(name, v); s.code() != Err::not_found) {
    if (s.is_ok() && name == "sync_action" && read_only_) {
      return Status(Err::invalid, fmt::format("{} is read-only", name_));
    }
    return s;
  }
  if (bitmap_ && (name.rfind("bitmap/", 0) == 0 || name.rfind("llbitmap/", 0) == 0)) {
    return bitmap_->set_attr(name, v);
  }
  if (name == "suspend_lo" || name == "suspend_hi") {
    const std::optional<uint64_t> n = parse_u64(v);
    if (!n) return Status(Err::invalid, fmt::format("{}: \"{}\" is not a sector number", name, v));
    const uint64_t x = *n;
    bool wider = false;
    {
      umd::MutexLock l(mu_);
      uint64_t& at = name == "suspend_lo" ? suspend_lo_ : suspend_hi_;
      wider = name == "suspend_lo" ? x < at && x < suspend_hi_ : x > at && x > suspend_lo_;
      at = x;
    }
    // md's suspend stores quiesce the array: once the window covers more, no write into it
    // is still in flight when this returns (an overseer reads those sectors next).
    if (wider) {
      pause_io();
      resume_io();
    }
    release_parked();  // writes the window no longer covers go; the rest park again
    return Status::ok();
  }
  if (name == "safe_mode_delay") {
    const std::optional<double> secs = parse_seconds(v);
    if (!secs) return Status(Err::invalid, fmt::format("safe_mode_delay: \"{}\" is not seconds", v));
    safe_mode_delay_ms_.store(int64_t(*secs * 1000));
    cv_.notify_all();
    return Status::ok();
  }
  if (name == "component_size" || name == "array_size") {
    // md: KiB; array_size also "default" (all the geometry holds). "max" for both, as mdadm
    // --grow --size=max means.
    std::optional<uint64_t> sectors;
    if (v != "max" && v != "default") {
      const std::optional<uint64_t> kib = parse_u64(v);
      if (!kib || *kib > (~0ull >> 11)) return Status(Err::invalid, fmt::format("{}: \"{}\" is not a size in KiB", name, v));
      sectors = *kib * 2;
    }
    return name == "array_size" ? set_array_size(sectors) : set_component_size(sectors);
  }
  if (name == "level") {
    // md's level_store: the kernel's takeover, with whatever layout needs no restripe and
    // no question of spares (mdadm asks those before it writes here).
    UMD_ASSIGN_OR_RETURN(const int level, layout::parse_level(v));
    ReshapeRequest rq;
    rq.level = level;
    rq.preserve_layout = true;
    rq.force = true;
    if (level == set_->geometry.level()) return Status::ok();
    return change_level(rq);
  }
  if (name.rfind("dev-", 0) == 0 && name.size() > 6 && name.substr(name.find('/') + 1) == "state") {
    const std::string dev = name.substr(4, name.find('/') - 4);
    if (v == "faulty") return fail_member(dev);
    if (v == "remove") return remove_member(dev);
    return Status(Err::invalid, fmt::format("{}: \"{}\" is not supported (faulty, remove)", name, v));
  }
  for (const std::string& known : attr_names()) {
    if (known == name) return Status(Err::invalid, fmt::format("{} is read-only", name));
  }
  return Status(Err::not_found, fmt::format("{} has no attribute {}", name_, name));
}

Status Array::read_sectors(uint64_t sector, uint64_t sectors, uint8_t* out) {
  return submit_and_wait(*this, BlockOp::read, sector * 512, sectors * 512, out);
}

uint64_t Array::wait_sync_event(uint64_t seen, std::chrono::milliseconds timeout) {
  return sync_->wait_event(seen, timeout);
}

}  // namespace umd::engine
