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

std::vector<uint8_t> update_sb0(Superblock0& sb, const ArrayState& st, const SuperblockTarget& t) {
  // minor 91 records a reshape (super_90_sync); the table below reads it, so it goes first
  if (st.reshape_finished && sb.minor_version >= 91) finish_reshape_sb0(sb);
  if (st.reshape_position && sb.minor_version >= 91) sb.reshape_position = *st.reshape_position;
  sb.events = st.events;
  sb.cp_events = st.events;  // the kernel trusts recovery_cp only with matching events
  sb.utime = uint32_t(now_seconds());
  if (st.clean) sb.state |= kSb0StateClean;
  else sb.state &= ~kSb0StateClean;
  sb.recovery_cp = st.clean && st.resync_offset != ~0ull ? uint32_t(st.resync_offset) : (st.clean ? ~0u : 0u);
  if (!st.members0.empty() && t.index0 >= 0) {
    regenerate_table0(sb, st.members0, t.index0);
    return encode_superblock0(sb);
  }
  for (const auto& [dn, role] : st.roles) {
    if (role != MemberInfo::kFaulty) continue;  // without members0: only failures are recorded
    if (dn < sb.disks.size()) {
      sb.disks[dn].state = kDiskFaulty;
      if (sb.this_disk.number == dn) sb.this_disk.state = kDiskFaulty;
    }
  }
  return encode_superblock0(sb);
}

}  // namespace

// Major and minor numbers are kept from the table being replaced where a member keeps its
// number (umd opens files, not device numbers; the kernel only reports them).
void regenerate_table0(Superblock0& sb, const std::vector<ArrayState::Member0>& members0, int self) {
  const bool reshaping = sb.minor_version >= 91;
  std::array<DiskDescriptor0, kSb0Disks> disks{};
  disks[0].state = kDiskRemoved;
  uint32_t next_spare = sb.raid_disks, nr = 0, active = 0, working = 0, failed = 0, spare = 0;
  int own = -1;
  for (size_t i = 0; i < members0.size(); i++) {
    const ArrayState::Member0& m = members0[i];
    bool is_active = m.role >= 0 && (m.in_sync || reshaping) && !m.faulty;
    const uint32_t number = is_active ? uint32_t(m.role) : next_spare++;
    if (number >= kSb0Disks) continue;  // 0.90 has room for 27 descriptors
    DiskDescriptor0& d = disks[number];
    nr++;
    d.number = number;
    d.raid_disk = is_active ? uint32_t(m.role) : number;
    if (m.faulty) {
      d.state = kDiskFaulty;
    } else if (is_active) {
      d.state = kDiskActive | (m.in_sync ? kDiskSync : 0);
      active++;
      working++;
    } else {
      d.state = 0;
      spare++;
      working++;
    }
    if (int(i) == self) own = int(number);
  }
  for (uint32_t i = 0; i < sb.raid_disks && i < kSb0Disks; i++) {
    DiskDescriptor0& d = disks[i];
    if (d.state == 0 && d.number == 0) {
      d.number = i;
      d.raid_disk = i;
      d.state = kDiskRemoved | kDiskFaulty;
      failed++;
    }
  }
  for (DiskDescriptor0& d : disks) {  // device numbers: kept where the slot's member is
    const DiskDescriptor0& was = sb.disks[d.number < kSb0Disks ? d.number : 0];
    if (d.state & (kDiskActive | kDiskSync)) {
      d.major = was.major;
      d.minor = was.minor;
    }
  }
  sb.disks = disks;
  sb.nr_disks = nr;
  sb.active_disks = active;
  sb.working_disks = working;
  sb.failed_disks = failed;
  sb.spare_disks = spare;
  if (own >= 0) sb.this_disk = sb.disks[size_t(own)];
}

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

void finish_reshape_sb0(Superblock0& sb) {
  sb.minor_version = 90;
  sb.level = int32_t(sb.new_level);
  sb.layout = sb.new_layout;
  sb.chunk_size = sb.new_chunk;
  sb.reshape_position = 0;
  sb.new_level = 0;
  sb.delta_disks = 0;
  sb.new_layout = 0;
  sb.new_chunk = 0;
}

void catch_up_sb0(Superblock0& sb, const Superblock0& fresh) {
  sb.minor_version = fresh.minor_version;
  sb.level = fresh.level;
  sb.layout = fresh.layout;
  sb.chunk_size = fresh.chunk_size;
  sb.size = fresh.size;
  sb.raid_disks = fresh.raid_disks;
  sb.reshape_position = fresh.reshape_position;
  sb.new_level = fresh.new_level;
  sb.delta_disks = fresh.delta_disks;
  sb.new_layout = fresh.new_layout;
  sb.new_chunk = fresh.new_chunk;
  sb.state = (sb.state & ~kSb0StateBitmapPresent) | (fresh.state & kSb0StateBitmapPresent);
}

void catch_up_sb1(Superblock1& sb, const Superblock1& fresh) {
  const bool was = sb.feature_map & kFeatureReshapeActive;
  const bool now = fresh.feature_map & kFeatureReshapeActive;
  if (was && !now) finish_reshape_sb1(sb);
  if (!was && now) {
    sb.feature_map &= ~kFeatureNewOffset;
    if (fresh.feature_map & kFeatureNewOffset) {
      sb.feature_map |= kFeatureNewOffset;
      sb.new_offset = fresh.new_offset;
    }
  }
  constexpr uint32_t kOwn = kFeatureRecoveryOffset | kFeatureBadBlocks | kFeatureReplacement | kFeatureNewOffset;
  sb.feature_map = (sb.feature_map & kOwn) | (fresh.feature_map & ~kOwn);
  sb.level = fresh.level;
  sb.layout = fresh.layout;
  sb.size = fresh.size;
  sb.chunksize = fresh.chunksize;
  sb.raid_disks = fresh.raid_disks;
  sb.bitmap_offset = fresh.bitmap_offset;
  sb.new_level = fresh.new_level;
  sb.reshape_position = fresh.reshape_position;
  sb.delta_disks = fresh.delta_disks;
  sb.new_layout = fresh.new_layout;
  sb.new_chunk = fresh.new_chunk;
  sb.resync_offset = fresh.resync_offset;
  sb.max_dev = fresh.max_dev;
  sb.dev_roles = fresh.dev_roles;
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
    u.bytes = update_sb0(sb0, state, t);
    u.offset = superblock0_offset_sectors(m.dev_sectors) * 512;
    u.info = from_superblock0(sb0, m.dev_sectors);
  }
  return u;
}

namespace {

struct SuperblockWrite {
  ProbedMember* member;
  uint64_t offset;                    // bytes
  const std::vector<uint8_t>* bytes;
};

// Each member gets what md's REQ_PREFLUSH | REQ_FUA give its superblock write: a flush
// first, so that everything written before (the blocks a recovery checkpoint or a bitmap
// clear vouches for) is durable before the superblock that says so can be; then the
// write; then a flush, so the superblock is durable when the caller goes on. Every member
// at once (md_super_write issues them all, then md_super_wait), chained on each
// completion; returns when all are done, one Status per write.
std::vector<Status> store_wave(const std::vector<SuperblockWrite>& wave) {
  std::vector<io::IoRequest> preflushes(wave.size()), writes(wave.size()), flushes(wave.size());
  return FanIn::wait_all(wave.size(), [&](FanIn& fan) {
    for (size_t k = 0; k < wave.size(); k++) {
      ProbedMember* m = wave[k].member;
      io::IoRequest& f = flushes[k];
      f.op = io::IoOp::flush;
      f.done = [&fan, k, m](Status s) {
        fan.arrive(k, s.with_context(fmt::format("{}: flushing superblock", m->path)));
      };
      io::IoRequest& w = writes[k];
      w.op = io::IoOp::write;
      w.offset = wave[k].offset;
      w.length = wave[k].bytes->size();
      w.buf = const_cast<uint8_t*>(wave[k].bytes->data());
      w.done = [&fan, &f, k, m](Status s) {
        if (!s.is_ok()) {
          fan.arrive(k, s.with_context(fmt::format("{}: writing superblock", m->path)));
          return;
        }
        m->dev->submit(f);
      };
      io::IoRequest& p = preflushes[k];
      p.op = io::IoOp::flush;
      p.done = [&fan, &w, k, m](Status s) {
        if (!s.is_ok()) {
          fan.arrive(k, s.with_context(fmt::format("{}: flushing before the superblock", m->path)));
          return;
        }
        m->dev->submit(w);
      };
      m->dev->submit(p);
    }
  });
}

// The update's superblock with another event count.
std::vector<uint8_t> encode_at_events(const SuperblockUpdate& u, uint64_t events) {
  if (const Superblock1* sb = std::get_if<Superblock1>(&u.sb)) {
    Superblock1 c = *sb;
    c.events = events;
    return encode_superblock1(c);
  }
  Superblock0 c = std::get<Superblock0>(u.sb);
  c.events = events;
  c.cp_events = events;
  return encode_superblock0(c);
}

uint64_t events_of(const SuperblockUpdate& u) {
  return std::visit([](const auto& sb) { return uint64_t(sb.events); }, u.sb);
}

}  // namespace

// CATCHING UP. Assembly accepts a member one event behind the freshest (mdadm's
// event_margin, the kernel's ++ev1 in super_1_validate): a crash between two superblock
// writes leaves one. Such a member must reach the freshest count before any member goes
// past it: were the next count written to all at once, a crash could land it on the
// freshest alone and leave the others two behind, stale to mdadm, the kernel and umd. So
// the members behind first take the new superblock at the freshest count (a story as
// true as the freshest's: what it vouches for was made durable before), and only once
// those are durable every member takes the new count. No member is ever more than one
// event behind another. When every member has the same count (the usual case) there is
// one wave; a member whose catching up failed is not written again (the caller fails it).
std::vector<Status> store_superblocks(const std::vector<SuperblockTarget>& targets,
                                      const std::vector<SuperblockUpdate>& updates) {
  uint64_t freshest = 0;
  for (const SuperblockTarget& t : targets) freshest = std::max(freshest, t.member->info.events);
  std::vector<Status> out(targets.size());
  // Targets `which` take `bytes[i]` each, in one wave; their results go to out.
  auto store = [&](const std::vector<size_t>& which, const auto& bytes) {
    std::vector<SuperblockWrite> wave;
    for (size_t i : which) wave.push_back({targets[i].member, updates[i].offset, &bytes(i)});
    std::vector<Status> res = store_wave(wave);
    for (size_t k = 0; k < which.size(); k++) out[which[k]] = std::move(res[k]);
  };
  std::vector<std::vector<uint8_t>> at_freshest(targets.size());
  std::vector<size_t> behind;
  for (size_t i = 0; i < targets.size(); i++) {
    if (targets[i].member->info.events < freshest && events_of(updates[i]) > freshest) {
      at_freshest[i] = encode_at_events(updates[i], freshest);
      behind.push_back(i);
    }
  }
  if (!behind.empty()) store(behind, [&](size_t i) -> const std::vector<uint8_t>& { return at_freshest[i]; });
  std::vector<size_t> all;
  for (size_t i = 0; i < targets.size(); i++) {
    if (out[i].is_ok()) all.push_back(i);
  }
  store(all, [&](size_t i) -> const std::vector<uint8_t>& { return updates[i].bytes; });
  return out;
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
