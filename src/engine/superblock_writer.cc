#include "engine/superblock_writer.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "format/superblock0.h"
#include "format/superblock1.h"

namespace umd::engine {
namespace {

uint64_t now_seconds() {
  return uint64_t(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

std::vector<uint8_t> update_sb1(Superblock1& sb, const ArrayState& st) {
  sb.events = st.events;
  sb.utime = now_seconds() & kSb1TimeSecMask;
  sb.resync_offset = st.clean ? st.resync_offset : 0;
  for (uint32_t dn : st.faulty_dev_numbers) {
    if (dn < sb.dev_roles.size()) sb.dev_roles[dn] = kRoleFaulty;
  }
  return encode_superblock1(sb);
}

std::vector<uint8_t> update_sb0(Superblock0& sb, const ArrayState& st) {
  sb.events = st.events;
  sb.cp_events = st.events;  // the kernel trusts recovery_cp only with matching events
  sb.utime = uint32_t(now_seconds());
  if (st.clean) sb.state |= kSb0StateClean;
  else sb.state &= ~kSb0StateClean;
  sb.recovery_cp = st.clean && st.resync_offset != ~0ull ? uint32_t(st.resync_offset) : (st.clean ? ~0u : 0u);
  for (uint32_t dn : st.faulty_dev_numbers) {
    if (dn < sb.disks.size()) {
      sb.disks[dn].state = kDiskFaulty;
      if (sb.this_disk.number == dn) sb.this_disk.state = kDiskFaulty;
    }
  }
  return encode_superblock0(sb);
}

}  // namespace

std::vector<Status> write_superblocks(const std::vector<ProbedMember*>& live, const ArrayState& state) {
  std::vector<Status> result(live.size());
  for (size_t i = 0; i < live.size(); i++) {
    ProbedMember* m = live[i];
    std::vector<uint8_t> bytes;
    uint64_t at;
    if (Superblock1* sb = std::get_if<Superblock1>(&m->sb)) {
      bytes = update_sb1(*sb, state);
      at = sb->super_offset;
      m->info = from_superblock1(*sb);
    } else {
      Superblock0& sb0 = std::get<Superblock0>(m->sb);
      bytes = update_sb0(sb0, state);
      at = superblock0_offset_sectors(m->dev_sectors);
      m->info = from_superblock0(sb0, m->dev_sectors);
    }
    result[i] = m->dev->write(at * 512, bytes).with_context(fmt::format("{}: writing superblock", m->path));
  }
  for (size_t i = 0; i < live.size(); i++) {
    if (result[i].is_ok()) {
      result[i] = live[i]->dev->flush().with_context(fmt::format("{}: flushing superblock", live[i]->path));
    }
  }
  return result;
}

}  // namespace umd::engine
