#include "assemble/superblock_writer.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "format/superblock0.h"
#include "format/superblock1.h"
#include "util/fan_in.h"

namespace umd::engine {
namespace {

uint64_t now_seconds() {
  return uint64_t(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

uint16_t sb1_role(int role) {
  return role >= 0 ? uint16_t(role) : role == MemberInfo::kSpare ? kRoleSpare : kRoleFaulty;
}

std::vector<uint8_t> update_sb1(Superblock1& sb, const ArrayState& st, const SuperblockTarget& t) {
  if (st.reshape_finished && (sb.feature_map & kFeatureReshapeActive)) finish_reshape_sb1(sb);
  if (st.reshape_position && (sb.feature_map & kFeatureReshapeActive)) sb.reshape_position = *st.reshape_position;
  sb.events = st.events;
  sb.utime = now_seconds() & kSb1TimeSecMask;
  sb.resync_offset = st.clean ? st.resync_offset : 0;
  for (const auto& [dn, role] : st.roles) {
    if (dn < sb.dev_roles.size()) sb.dev_roles[dn] = sb1_role(role);
  }
  if (t.recovery_offset != ~0ull) {
    sb.feature_map |= kFeatureRecoveryOffset;
    sb.recovery_offset = t.recovery_offset;
  } else {
    sb.feature_map &= ~kFeatureRecoveryOffset;
    sb.recovery_offset = 0;
  }
  if (t.replacement) sb.feature_map |= kFeatureReplacement;
  else sb.feature_map &= ~kFeatureReplacement;
  return encode_superblock1(sb);
}

std::vector<uint8_t> update_sb0(Superblock0& sb, const ArrayState& st) {
  sb.events = st.events;
  sb.cp_events = st.events;  // the kernel trusts recovery_cp only with matching events
  sb.utime = uint32_t(now_seconds());
  if (st.clean) sb.state |= kSb0StateClean;
  else sb.state &= ~kSb0StateClean;
  sb.recovery_cp = st.clean && st.resync_offset != ~0ull ? uint32_t(st.resync_offset) : (st.clean ? ~0u : 0u);
  for (const auto& [dn, role] : st.roles) {
    if (role != MemberInfo::kFaulty) continue;  // 0.90 arrays: only failures are recorded
    if (dn < sb.disks.size()) {
      sb.disks[dn].state = kDiskFaulty;
      if (sb.this_disk.number == dn) sb.this_disk.state = kDiskFaulty;
    }
  }
  return encode_superblock0(sb);
}

}  // namespace

void finish_reshape_sb1(Superblock1& sb) {
  if (sb.feature_map & kFeatureNewOffset) {
    const int64_t moved = int32_t(sb.new_offset);
    sb.data_offset = uint64_t(int64_t(sb.data_offset) + moved);
    sb.data_size = uint64_t(int64_t(sb.data_size) - moved);
  }
  sb.level = int32_t(sb.new_level);
  sb.layout = sb.new_layout;
  sb.chunksize = sb.new_chunk;
  sb.feature_map &= ~(kFeatureReshapeActive | kFeatureReshapeBackwards | kFeatureNewOffset);
}

SuperblockUpdate prepare_superblock(const ProbedMember& m, const SuperblockTarget& t, const ArrayState& state) {
  SuperblockUpdate u;
  u.sb = m.sb;
  if (Superblock1* sb = std::get_if<Superblock1>(&u.sb)) {
    u.bytes = update_sb1(*sb, state, t);
    u.offset = sb->super_offset * 512;
    u.info = from_superblock1(*sb);
  } else {
    Superblock0& sb0 = std::get<Superblock0>(u.sb);
    u.bytes = update_sb0(sb0, state);
    u.offset = superblock0_offset_sectors(m.dev_sectors) * 512;
    u.info = from_superblock0(sb0, m.dev_sectors);
  }
  return u;
}

// Every member at once (md_super_write issues them all, then md_super_wait). Each member
// gets what md's REQ_PREFLUSH | REQ_FUA give its superblock write: a flush first, so
// that everything written before (the blocks a recovery checkpoint or a bitmap clear
// vouches for) is durable before the superblock that says so can be; then the write;
// then a flush, so the superblock is durable when the caller goes on. Chained on each
// completion; the caller waits for all.
std::vector<Status> store_superblocks(const std::vector<SuperblockTarget>& targets,
                                      const std::vector<SuperblockUpdate>& updates) {
  std::vector<io::IoRequest> preflushes(targets.size()), writes(targets.size()), flushes(targets.size());
  return FanIn::wait_all(targets.size(), [&](FanIn& fan) {
    for (size_t i = 0; i < targets.size(); i++) {
      ProbedMember* m = targets[i].member;
      io::IoRequest& f = flushes[i];
      f.op = io::IoOp::flush;
      f.done = [&fan, i, m](Status s) {
        fan.arrive(i, s.with_context(fmt::format("{}: flushing superblock", m->path)));
      };
      io::IoRequest& w = writes[i];
      w.op = io::IoOp::write;
      w.offset = updates[i].offset;
      w.length = updates[i].bytes.size();
      w.buf = const_cast<uint8_t*>(updates[i].bytes.data());
      w.done = [&fan, &f, i, m](Status s) {
        if (!s.is_ok()) {
          fan.arrive(i, s.with_context(fmt::format("{}: writing superblock", m->path)));
          return;
        }
        m->dev->submit(f);
      };
      io::IoRequest& p = preflushes[i];
      p.op = io::IoOp::flush;
      p.done = [&fan, &w, i, m](Status s) {
        if (!s.is_ok()) {
          fan.arrive(i, s.with_context(fmt::format("{}: flushing before the superblock", m->path)));
          return;
        }
        m->dev->submit(w);
      };
      m->dev->submit(p);
    }
  });
}

std::vector<Status> write_superblocks(const std::vector<SuperblockTarget>& targets, const ArrayState& state) {
  std::vector<SuperblockUpdate> updates;
  for (const SuperblockTarget& t : targets) updates.push_back(prepare_superblock(*t.member, t, state));
  std::vector<Status> result = store_superblocks(targets, updates);
  for (size_t i = 0; i < targets.size(); i++) {
    targets[i].member->sb = std::move(updates[i].sb);
    targets[i].member->info = std::move(updates[i].info);
  }
  return result;
}

}  // namespace umd::engine
