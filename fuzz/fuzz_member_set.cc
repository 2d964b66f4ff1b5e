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
// member index into the piece's first data sector so reads can be told apart.
#include <cstdint>
#include <cstring>
#include <vector>

#include "array/array_reader.h"
#include "assemble/superblock_probe.h"
#include "format/superblock1.h"
#include "fuzz_check.h"
#include "io/memory_member.h"
#include "util/aligned_buffer.h"

namespace {

constexpr uint64_t kMemberBytes = 1 << 20;
constexpr size_t kPiece = 1024;
constexpr uint64_t kSbAt = 4096;

// The members the input describes, probed (those without a valid superblock left out).
std::vector<umd::engine::ProbedMember> members_of(const uint8_t* data, size_t size) {
  std::vector<umd::engine::ProbedMember> probed;
  const size_t n = 1 + data[0] % 6;
  for (size_t i = 0; i < n; i++) {
    const size_t from = 1 + i * kPiece;
    if (from >= size) break;
    const size_t len = std::min(kPiece, size - from);
    auto dev = umd::io::make_memory_member("m" + std::to_string(i) + ".img", kMemberBytes);
    uint8_t* sb = dev->raw().data() + kSbAt;
    std::memcpy(sb, data + from, len);
    const uint32_t max_dev = uint32_t(sb[umd::sb1off::max_dev]) | uint32_t(sb[umd::sb1off::max_dev + 1]) << 8;
    if (256 + 2 * size_t(max_dev) <= kPiece) {
      const uint32_t c = umd::superblock1_checksum(std::span<const uint8_t>(sb, 256 + 2 * size_t(max_dev)));
      for (int b = 0; b < 4; b++) sb[umd::sb1off::sb_csum + b] = uint8_t(c >> (8 * b));
    }
    std::memset(dev->raw().data() + kSbAt + 4096, int(i + 1), 512);
    std::unique_ptr<umd::io::Member> m = std::move(dev);
    auto p = umd::engine::probe_member_in_place(m);
    if (p.is_ok()) probed.push_back(std::move(p).value());
  }
  return probed;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  for (bool force : {false, true}) {
    std::vector<umd::engine::ProbedMember> probed = members_of(data, size);
    if (probed.empty()) return 0;
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
  return 0;
}
