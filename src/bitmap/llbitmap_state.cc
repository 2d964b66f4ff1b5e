#include "bitmap/llbitmap_state.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstring>

namespace umd::bitmap {

bool is_ll_state(uint8_t raw) { return raw < kLlStateCount; }

std::optional<LlState> next_state(LlState s, LlAction a) {
  const uint8_t n = kLlTransitions[size_t(s)][size_t(a)];
  if (n == kLlNone) return std::nullopt;
  return LlState(n);
}

std::optional<LlState> next_state_in(uint8_t raw, LlAction a, LlArrayKind kind) {
  // The daemon never runs on a degraded array: its dirty chunks must stay dirty until a
  // member is back and synced.
  if (kind.degraded && a == LlAction::daemon) return std::nullopt;
  std::optional<LlState> n;
  if (!is_ll_state(raw))
    n = LlState::need_sync;  // garbage: resync that chunk
  else
    n = next_state(LlState(raw), a);
  if (kind.degraded) {
    if (n == LlState::dirty && a == LlAction::startwrite)
      n = LlState::need_sync;
    else if (raw == uint8_t(LlState::dirty) && a == LlAction::startsync)
      n = LlState::syncing;
  } else if (kind.raid456 && raw == uint8_t(LlState::unwritten) && a == LlAction::startwrite &&
             n == LlState::dirty) {
    n = LlState::need_sync;
  }
  return n;
}

std::optional<LlState> infect_state(uint8_t raw, bool raid456) {
  if (raw == uint8_t(LlState::unwritten)) return raid456 ? LlState::need_sync : LlState::dirty;
  if (raw == uint8_t(LlState::clean)) return LlState::dirty;
  return std::nullopt;
}

const char* ll_state_name(LlState s) {
  switch (s) {
    case LlState::unwritten:
      return "unwritten";
    case LlState::clean:
      return "clean";
    case LlState::dirty:
      return "dirty";
    case LlState::need_sync:
      return "need sync";
    case LlState::syncing:
      return "syncing";
  }
  return "?";
}

const char* ll_action_name(LlAction a) {
  switch (a) {
    case LlAction::startwrite:
      return "startwrite";
    case LlAction::startsync:
      return "startsync";
    case LlAction::endsync:
      return "endsync";
    case LlAction::abortsync:
      return "abortsync";
    case LlAction::reload:
      return "reload";
    case LlAction::daemon:
      return "daemon";
    case LlAction::discard:
      return "discard";
    case LlAction::stale:
      return "stale";
  }
  return "?";
}

uint64_t ll_chunk_count(uint64_t sync_sectors, uint64_t chunk_sectors) {
  if (chunk_sectors == 0) return 0;
  return (sync_sectors + chunk_sectors - 1) / chunk_sectors;
}

uint32_t ll_initial_chunk_sectors(uint64_t sync_sectors, uint32_t reserved_sectors) {
  const uint64_t room = uint64_t(reserved_sectors) * 512;
  uint64_t chunk = kLlMinChunkSectors;
  while (ll_chunk_count(sync_sectors, chunk) > room && chunk < (uint64_t{1} << 31)) chunk <<= 1;
  return uint32_t(chunk);
}

uint8_t ll_state_byte(std::span<const uint8_t> region, uint64_t chunk) {
  const uint64_t at = kLlDataOffset + chunk;
  return at < region.size() ? region[at] : uint8_t(LlState::unwritten);
}

LlCounts count_ll_states(std::span<const uint8_t> region, uint64_t chunks) {
  LlCounts c;
  c.total = chunks;
  const uint64_t held = region.size() > kLlDataOffset ? region.size() - kLlDataOffset : 0;
  if (held < chunks) {
    c.total = held;
    c.truncated = true;
  }
  for (uint64_t i = 0; i < c.total; i++) {
    const uint8_t b = region[kLlDataOffset + i];
    if (is_ll_state(b))
      c.per_state[b]++;
    else
      c.invalid++;
  }
  return c;
}

std::string format_ll_bits_show(const LlCounts& c) {
  return fmt::format("unwritten {}\nclean {}\ndirty {}\nneed sync {}\nsyncing {}\n",
                     c.of(LlState::unwritten), c.of(LlState::clean), c.of(LlState::dirty),
                     c.of(LlState::need_sync), c.of(LlState::syncing));
}

LlMetadata ll_metadata(const BitmapSuper& sb, int64_t bitmap_offset_sectors) {
  LlMetadata m;
  m.chunksize = sb.chunksize;
  m.chunkshift = sb.chunksize ? uint64_t(std::countr_zero(sb.chunksize)) : 0;
  m.chunks = ll_chunk_count(sb.sync_size, sb.chunksize);
  m.offset = bitmap_offset_sectors;
  m.daemon_sleep = sb.daemon_sleep;
  return m;
}

std::string format_ll_metadata_show(const LlMetadata& m) {
  // The kernel prints the (signed) offset with %llu.
  return fmt::format("chunksize {}\nchunkshift {}\nchunks {}\noffset {}\ndaemon_sleep {}\n",
                     m.chunksize, m.chunkshift, m.chunks, uint64_t(m.offset), m.daemon_sleep);
}

std::vector<uint8_t> encode_ll_region(const BitmapSuper& sb, std::span<const LlState> states) {
  std::vector<uint8_t> out(ll_region_bytes(states.size()), 0);
  const auto head = encode_bitmap_super(sb);
  std::memcpy(out.data(), head.data(), head.size());
  std::transform(states.begin(), states.end(), out.begin() + kLlDataOffset,
                 [](LlState s) { return uint8_t(s); });
  return out;
}

}  // namespace umd::bitmap
