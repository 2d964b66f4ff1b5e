#include "bitmap/bitmap_super.h"

#include <fmt/format.h>

#include <cstring>

#include "util/endian.h"

namespace umd::bitmap {
namespace {

bool is_power_of_two(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

}  // namespace

uint64_t BitmapSuper::chunks() const {
  const uint64_t chunk = chunk_bytes();
  if (chunk == 0) return 0;
  // In bytes, as mdadm counts: the same as the kernel's count in sectors for any chunk
  // the kernel accepts (a power of two of at least 512 bytes).
  return (sync_size * 512 + chunk - 1) / chunk;
}

std::string BitmapSuper::cluster_name_str() const {
  size_t n = 0;
  while (n < cluster_name.size() && cluster_name[n] != 0) n++;
  return std::string(reinterpret_cast<const char*>(cluster_name.data()), n);
}

Result<BitmapSuper> decode_bitmap_super(std::span<const uint8_t> bytes) {
  using R = Result<BitmapSuper>;
  if (bytes.size() < kBitmapSuperBytes)
    return R(Err::corrupt, fmt::format("bitmap superblock truncated: need {} bytes, have {}",
                                       kBitmapSuperBytes, bytes.size()));
  const uint8_t* p = bytes.data();
  BitmapSuper sb;
  sb.magic = get_le32(p + bmsoff::magic);
  if (sb.magic != kBitmapMagic)
    return R(Err::not_found, fmt::format("bitmap magic mismatch: expected 0x{:08x}, found 0x{:08x}",
                                         kBitmapMagic, sb.magic));
  sb.version = get_le32(p + bmsoff::version);
  std::memcpy(sb.uuid.data(), p + bmsoff::uuid, sb.uuid.size());
  sb.events = get_le64(p + bmsoff::events);
  sb.events_cleared = get_le64(p + bmsoff::events_cleared);
  sb.sync_size = get_le64(p + bmsoff::sync_size);
  sb.state = get_le32(p + bmsoff::state);
  sb.chunksize = get_le32(p + bmsoff::chunksize);
  sb.daemon_sleep = get_le32(p + bmsoff::daemon_sleep);
  sb.write_behind = get_le32(p + bmsoff::write_behind);
  sb.sectors_reserved = get_le32(p + bmsoff::sectors_reserved);
  sb.nodes = get_le32(p + bmsoff::nodes);
  std::memcpy(sb.cluster_name.data(), p + bmsoff::cluster_name, sb.cluster_name.size());
  std::memcpy(sb.pad.data(), p + bmsoff::pad, sb.pad.size());

  if (sb.version < kVersionHostEndian || sb.version > kVersionLockless)
    return R(Err::unsupported,
             fmt::format("bitmap superblock version {} is unknown (md knows 3, 4, 5 and 6)",
                         sb.version));
  if (sb.lockless() && sb.has_state(kStateFirstUse)) return sb;  // the kernel fills in the rest
  if (sb.lockless()) {
    if (!is_power_of_two(sb.chunksize))
      return R(Err::corrupt,
               fmt::format("bitmap chunksize {} sectors is not a power of two", sb.chunksize));
  } else {
    if (sb.chunksize < 512)
      return R(Err::corrupt, fmt::format("bitmap chunksize {} bytes is below 512", sb.chunksize));
    if (!is_power_of_two(sb.chunksize))
      return R(Err::corrupt,
               fmt::format("bitmap chunksize {} bytes is not a power of two", sb.chunksize));
    if (sb.write_behind > kMaxWriteBehind)
      return R(Err::corrupt, fmt::format("bitmap write_behind {} is above the limit {}",
                                         sb.write_behind, kMaxWriteBehind));
  }
  if (sb.daemon_sleep == 0) return R(Err::corrupt, "bitmap daemon_sleep is 0 seconds");
  return sb;
}

std::array<uint8_t, kBitmapSuperBytes> encode_bitmap_super(const BitmapSuper& sb) {
  std::array<uint8_t, kBitmapSuperBytes> out{};
  uint8_t* p = out.data();
  put_le32(p + bmsoff::magic, sb.magic);
  put_le32(p + bmsoff::version, sb.version);
  std::memcpy(p + bmsoff::uuid, sb.uuid.data(), sb.uuid.size());
  put_le64(p + bmsoff::events, sb.events);
  put_le64(p + bmsoff::events_cleared, sb.events_cleared);
  put_le64(p + bmsoff::sync_size, sb.sync_size);
  put_le32(p + bmsoff::state, sb.state);
  put_le32(p + bmsoff::chunksize, sb.chunksize);
  put_le32(p + bmsoff::daemon_sleep, sb.daemon_sleep);
  put_le32(p + bmsoff::write_behind, sb.write_behind);
  put_le32(p + bmsoff::sectors_reserved, sb.sectors_reserved);
  put_le32(p + bmsoff::nodes, sb.nodes);
  std::memcpy(p + bmsoff::cluster_name, sb.cluster_name.data(), sb.cluster_name.size());
  std::memcpy(p + bmsoff::pad, sb.pad.data(), sb.pad.size());
  return out;
}

std::string state_flag_names(uint32_t state) {
  static constexpr struct {
    int bit;
    const char* name;
  } kNames[] = {
      {kStateStale, "stale"}, {kStateWriteError, "write-error"}, {kStateFirstUse, "first-use"},
      {kStateClean, "clean"}, {kStateDaemonBusy, "daemon-busy"}, {kStateHostEndian, "host-endian"}};
  std::string out;
  uint32_t known = 0;
  for (const auto& n : kNames) {
    known |= 1u << n.bit;
    if (!((state >> n.bit) & 1u)) continue;
    if (!out.empty()) out += ',';
    out += n.name;
  }
  for (int bit = 0; bit < 32; bit++) {
    if ((known >> bit) & 1u || !((state >> bit) & 1u)) continue;
    if (!out.empty()) out += ',';
    out += fmt::format("bit{}", bit);
  }
  return out;
}

}  // namespace umd::bitmap
