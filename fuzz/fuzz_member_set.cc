// Gathering members into an array and reading it (assemble/member_set.h,
// array/array_reader.h): what --dump, --assemble and --examine --scan do with the
// superblocks of several members, recorded reshapes included (both geometries, the
// position, new data offsets). Any set of superblocks must give an array or one error,
// never a crash, a hang or an allocation sized by a wild field; a read of a gathered array
// must end in data or an error.
//
// Input: a count byte (1..6 members), then one 1024-byte piece per member, laid as a 1.2
// superblock 4 KiB into a 1 MiB zeroed member. The harness writes a correct sb_csum into
// each piece (a checksum would turn away nearly every mutation before the gatherer), and a
// member index into the piece's first data sector so reads can be told apart. The members
// are allocated once (lent_member.h) and read-only.
#include <cstdint>
#include <cstring>
#include <vector>

#include "array/array_reader.h"
#include "assemble/superblock_probe.h"
#include "format/superblock1.h"
#include "fuzz_check.h"
#include "lent_member.h"
#include "io/memory_member.h"
#include "util/aligned_buffer.h"

namespace {

constexpr uint64_t kMemberBytes = 1 << 20;
constexpr size_t kPiece = 1024;
constexpr uint64_t kSbAt = 4096;
constexpr size_t kMaxMembers = 6;

// The members, allocated once and lent to each input (lent_member.h): read-only, so
// nothing the gatherer or reader does can carry over to the next input; the harness puts
// back the zeros it wrote when an input is done.
umd::io::MemoryMember& member(size_t i) {
  static std::vector<std::unique_ptr<umd::io::MemoryMember>> all = [] {
    std::vector<std::unique_ptr<umd::io::MemoryMember>> v;
    for (size_t k = 0; k < kMaxMembers; k++) {
      v.push_back(umd::io::make_memory_member("m" + std::to_string(k) + ".img", kMemberBytes));
      v.back()->set_read_only(true);
    }
    return v;
  }();
  return *all[i];
}

// Lays the input's pieces on the members; returns how many it used.
size_t lay_members(const uint8_t* data, size_t size) {
  const size_t n = 1 + data[0] % kMaxMembers;
  size_t used = 0;
  for (size_t i = 0; i < n; i++) {
    const size_t from = 1 + i * kPiece;
    if (from >= size) break;
    const size_t len = std::min(kPiece, size - from);
    uint8_t* sb = member(i).raw().data() + kSbAt;
    std::memcpy(sb, data + from, len);
    const uint32_t max_dev = uint32_t(sb[umd::sb1off::max_dev]) | uint32_t(sb[umd::sb1off::max_dev + 1]) << 8;
    if (256 + 2 * size_t(max_dev) <= kPiece) {
      const uint32_t c = umd::superblock1_checksum(std::span<const uint8_t>(sb, 256 + 2 * size_t(max_dev)));
      for (int b = 0; b < 4; b++) sb[umd::sb1off::sb_csum + b] = uint8_t(c >> (8 * b));
    }
    std::memset(member(i).raw().data() + kSbAt + 4096, int(i + 1), 512);
    used = i + 1;
  }
  return used;
}

void clear_members(size_t used) {
  for (size_t i = 0; i < used; i++) {
    std::memset(member(i).raw().data() + kSbAt, 0, kPiece);
    std::memset(member(i).raw().data() + kSbAt + 4096, 0, 512);
  }
}

// The members the input laid, probed (those without a valid superblock left out).
std::vector<umd::engine::ProbedMember> members_of(size_t used) {
  std::vector<umd::engine::ProbedMember> probed;
  for (size_t i = 0; i < used; i++) {
    std::unique_ptr<umd::io::Member> m = std::make_unique<umd::fuzz::LentMember>(member(i));
    auto p = umd::engine::probe_member_in_place(m);
    if (p.is_ok()) probed.push_back(std::move(p).value());
  }
  return probed;
}

}  // namespace

void run(size_t used) {
  for (bool force : {false, true}) {
    std::vector<umd::engine::ProbedMember> probed = members_of(used);
    if (probed.empty()) return;
    umd::engine::GatherOptions opts;
    opts.force = force;  // forced: stale members left out, and no completeness rule
    opts.require_complete_data = !force;
    auto r = umd::engine::open_array_read_only(std::move(probed), opts);
    if (!r.is_ok()) {
      FUZZ_CHECK(!r.status().message().empty());
      continue;
    }
    // A read at the start, one across the recorded reshape position, and one at the end.
    const uint64_t end = r->array_sectors();
    umd::AlignedBuffer buf(64 * 512);
    std::vector<uint64_t> at = {0};
    if (r->set.reshape) at.push_back(r->set.reshape->position > 16 ? r->set.reshape->position - 16 : 0);
    if (end > 64) at.push_back(end - 64);
    for (uint64_t s : at) {
      if (s >= end) continue;
      (void)r->read(s, std::min<uint64_t>(64, end - s), buf.data());
    }
  }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t used = lay_members(data, size);
  run(used);
  clear_members(used);
  return 0;
}
