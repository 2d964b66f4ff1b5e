#include "cli/examine_bitmap_report.h"

#include <fmt/format.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "format/member_info.h"
#include "util/printable.h"

namespace umd::cli {
namespace {

using bitmap::BitmapSuper;
using bitmap::LlState;

// mdadm prints a 1.x member's UUID and a bitmap file's as bytes in order, and a 0.90
// member's as four little-endian words (super0 does not swap, super1 does).
std::string uuid_text(const BitmapExamination& e) {
  const bool v090 = e.source.member && e.source.metadata == "0.90";
  return format_uuid_mdadm(e.sb.uuid, v090 ? 0 : 1);
}

// mdadm's human_chunksize(): whole units only ("64 KB", "1 MB").
std::string human_chunk(uint64_t bytes) {
  static const char* const kSuffix[] = {"B", "KB", "MB", "GB", "TB", "PB", "EB"};
  int i = 0;
  while (bytes >> 10) {
    bytes >>= 10;
    i++;
  }
  return fmt::format("{} {}", bytes, kSuffix[i]);
}

// mdadm maps the whole state word: 0 is OK, 2 (the stale bit alone) out of date.
std::string classic_state_text(uint32_t state) {
  if (state == 0) return "OK";
  if (state == 1u << bitmap::kStateStale) return "Out of date";
  return "Unknown";
}

std::string lockless_state_text(uint32_t state) {
  if (state == 0) return "OK";
  if (state == 1u << bitmap::kStateStale) return "Out of date";
  return bitmap::state_flag_names(state);
}

std::string percent(uint64_t part, uint64_t whole) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%2.1f", 100.0 * double(part) / double(whole ? whole : 1));
  return buf;
}

BitmapNode examine_node(int slot, std::span<const uint8_t> bytes) {
  BitmapNode n;
  n.slot = slot;
  auto sb = bitmap::decode_bitmap_super(bytes);
  if (!sb.is_ok()) {
    n.readable = false;
    n.read_error = sb.status().message();
    return n;
  }
  n.sb = *sb;
  const auto bits = bytes.subspan(bitmap::kClassicBitsOffset);
  n.count = bitmap::count_dirty(bits, n.sb.chunks());
  n.dirty = bitmap::dirty_ranges(bits, n.sb.chunks(), kMaxDirtyRanges + 1);
  n.dirty_truncated = n.dirty.size() > kMaxDirtyRanges;
  if (n.dirty_truncated) n.dirty.pop_back();
  return n;
}

nlohmann::json ranges_json(const std::vector<bitmap::ChunkRange>& ranges) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& r : ranges) a.push_back({r.first, r.last});
  return a;
}

}  // namespace

std::string mdadm_human_size(uint64_t bytes) {
  using W = unsigned __int128;  // mdadm's long long overflows above 41 PiB; this does not
  const W b = bytes;
  auto two = [](W centi) {
    return fmt::format("{}.{:02}", uint64_t(centi / 100), uint64_t(centi % 100));
  };
  if (bytes < 5000 * 1024ull) return "";
  if (bytes < (2ull << 30)) {
    const W cmib = (b * 200 / (W(1) << 20) + 1) / 2, cmb = (b / (1000000 / 200) + 1) / 2;
    return fmt::format(" ({} MiB {} MB)", two(cmib), two(cmb));
  }
  if (bytes < (2ull << 40)) {
    const W cgib = (b * 200 / (W(1) << 30) + 1) / 2, cgb = (b / (1000000000ull / 200) + 1) / 2;
    return fmt::format(" ({} GiB {} GB)", two(cgib), two(cgb));
  }
  const W ctib = (b * 200 / (W(1) << 40) + 1) / 2, ctb = (b / (1000000000000ull / 200) + 1) / 2;
  return fmt::format(" ({} TiB {} TB)", two(ctib), two(ctb));
}

uint64_t bitmap_region_bytes(const BitmapSuper& sb) {
  const uint64_t chunks = sb.chunks();
  if (sb.lockless())
    return sb.has_state(bitmap::kStateFirstUse) ? bitmap::kLlDataOffset
                                                : bitmap::ll_region_bytes(chunks);
  if (sb.nodes > 0) {
    const uint64_t stride = bitmap::classic_node_stride_bytes(chunks);
    return stride > UINT64_MAX / sb.nodes ? UINT64_MAX : stride * sb.nodes;  // saturates, never wraps
  }
  return bitmap::classic_bitmap_bytes(chunks);
}

Result<BitmapExamination> examine_bitmap_region(const BitmapSource& source,
                                                std::span<const uint8_t> region) {
  auto sb = bitmap::decode_bitmap_super(region);
  if (!sb.is_ok()) return sb.status().with_context(source.filename);
  BitmapExamination e;
  e.source = source;
  e.sb = *sb;
  if (e.sb.lockless()) {
    if (!e.sb.has_state(bitmap::kStateFirstUse))
      e.ll = bitmap::count_ll_states(region, e.sb.chunks());
    return e;
  }
  if (e.sb.nodes == 0) {
    e.nodes.push_back(examine_node(0, region));
    return e;
  }
  if (e.sb.nodes > kMaxClusterNodes)
    return Result<BitmapExamination>(
        Err::corrupt, fmt::format("{}: bitmap claims {} cluster nodes; at most {} node bitmaps fit in the {} MiB "
                                  "umd reads",
                                  source.filename, e.sb.nodes, kMaxClusterNodes, kMaxBitmapRegionBytes >> 20));
  const uint64_t stride = bitmap::classic_node_stride_bytes(e.sb.chunks());
  e.nodes.reserve(e.sb.nodes);
  for (uint32_t i = 0; i < e.sb.nodes; i++) {
    const unsigned __int128 at = static_cast<unsigned __int128>(stride) * i;  // a huge stride must not wrap
    if (at >= region.size()) {
      BitmapNode n;
      n.slot = int(i);
      n.readable = false;
      n.read_error = "beyond the bytes read";
      e.nodes.push_back(std::move(n));
      continue;
    }
    e.nodes.push_back(
        examine_node(int(i), region.subspan(size_t(at), std::min<uint64_t>(stride, region.size() - size_t(at)))));
  }
  return e;
}

std::string examine_bitmap_text(const BitmapExamination& e) {
  std::string o;
  auto line = [&](const char* key, const std::string& v) {
    o += fmt::format("{:>16} : {}\n", key, v);
  };
  const BitmapSuper& sb = e.sb;
  const bool clustered = !sb.lockless() && sb.nodes > 0;
  line("Filename", printable(e.source.filename));
  line("Magic", fmt::format("{:08x}", sb.magic));
  line("Version",
       sb.lockless() ? fmt::format("{} (lockless)", sb.version) : std::to_string(sb.version));
  line("UUID", uuid_text(e));
  if (!clustered) {
    line("Events", std::to_string(sb.events));
    line("Events Cleared", std::to_string(sb.events_cleared));
    line("State", sb.lockless() ? lockless_state_text(sb.state) : classic_state_text(sb.state));
  }
  line("Chunksize", human_chunk(sb.chunk_bytes()));
  line("Daemon", fmt::format("{}s flush period", sb.daemon_sleep));
  line("Write Mode",
       sb.write_behind ? fmt::format("Allow write behind, max {}", sb.write_behind) : "Normal");
  line("Sync Size", fmt::format("{}{}", sb.sync_size / 2, mdadm_human_size(sb.sync_size * 512)));
  auto bitmap_line = [&](const BitmapNode& n) {
    line("Bitmap", fmt::format("{} bits (chunks), {} dirty ({}%)", n.count.total, n.count.dirty,
                               percent(n.count.dirty, n.count.total)));
  };
  if (sb.lockless()) {
    if (sb.has_state(bitmap::kStateFirstUse)) {
      line("Bitmap", fmt::format("not initialised yet: the kernel writes every chunk as {} when it "
                                 "first assembles the array",
                                 sb.has_state(bitmap::kStateClean) ? "clean" : "unwritten"));
      return o;
    }
    line("Bitmap", fmt::format("{} chunks, one state byte each", e.ll.total));
    for (size_t s = 0; s < bitmap::kLlStateCount; s++) {
      std::string name = bitmap::ll_state_name(LlState(s));
      name[0] = char(std::toupper(name[0]));
      if (const size_t sp = name.find(' '); sp != std::string::npos)
        name[sp + 1] = char(std::toupper(name[sp + 1]));
      line(name.c_str(), std::to_string(e.ll.per_state[s]));
    }
    if (e.ll.invalid) line("Invalid", std::to_string(e.ll.invalid));
    return o;
  }
  if (!clustered) {
    bitmap_line(e.nodes.at(0));
    return o;
  }
  line("Cluster nodes", std::to_string(sb.nodes));
  line("Cluster name", fmt::format("{:<64}", printable(sb.cluster_name_str())));  // from disk
  for (const BitmapNode& n : e.nodes) {
    if (!n.readable) {
      o += fmt::format("   Unable to read bitmap on node: {}\n", n.slot);
      continue;
    }
    line("Node Slot", std::to_string(n.slot));
    line("Events", std::to_string(n.sb.events));
    line("Events Cleared", std::to_string(n.sb.events_cleared));
    line("State", classic_state_text(n.sb.state));
    bitmap_line(n);
  }
  return o;
}

nlohmann::json examine_bitmap_json(const BitmapExamination& e) {
  const BitmapSuper& sb = e.sb;
  nlohmann::json j;
  j["filename"] = printable(e.source.filename);
  j["source"] = e.source.member ? "member" : "file";
  if (e.source.member) {
    j["metadata"] = e.source.metadata;
    j["bitmap_sector"] = e.source.bitmap_sector;
    j["bitmap_offset"] = e.source.bitmap_offset;
  }
  j["magic"] = fmt::format("{:08x}", sb.magic);
  j["version"] = sb.version;
  j["kind"] = sb.lockless() ? "lockless" : sb.nodes > 0 ? "clustered" : "classic";
  j["uuid"] = uuid_text(e);
  j["events"] = sb.events;
  j["events_cleared"] = sb.events_cleared;
  j["state"] = sb.state;
  j["state_flags"] = sb.state ? bitmap::state_flag_names(sb.state) : "";
  j["chunk_bytes"] = sb.chunk_bytes();
  j["daemon_sleep"] = sb.daemon_sleep;
  j["write_behind"] = sb.write_behind;
  j["sync_size"] = sb.sync_size;
  j["sectors_reserved"] = sb.sectors_reserved;
  if (sb.lockless()) {
    j["initialised"] = !sb.has_state(bitmap::kStateFirstUse);
    j["chunks"] = e.ll.total;
    nlohmann::json states;
    states["unwritten"] = e.ll.of(LlState::unwritten);
    states["clean"] = e.ll.of(LlState::clean);
    states["dirty"] = e.ll.of(LlState::dirty);
    states["need_sync"] = e.ll.of(LlState::need_sync);
    states["syncing"] = e.ll.of(LlState::syncing);
    j["states"] = states;
    j["invalid"] = e.ll.invalid;
    j["truncated"] = e.ll.truncated;
    return j;
  }
  auto node_json = [](const BitmapNode& n) {
    nlohmann::json nj;
    nj["chunks"] = n.count.total;
    nj["dirty"] = n.count.dirty;
    nj["dirty_ranges"] = ranges_json(n.dirty);
    nj["dirty_ranges_truncated"] = n.dirty_truncated;
    nj["truncated"] = n.count.truncated;
    return nj;
  };
  if (sb.nodes == 0) {
    j.update(node_json(e.nodes.at(0)));
    return j;
  }
  j["cluster_name"] = printable(sb.cluster_name_str());
  nlohmann::json nodes = nlohmann::json::array();
  for (const BitmapNode& n : e.nodes) {
    nlohmann::json nj = {{"slot", n.slot}, {"readable", n.readable}};
    if (!n.readable) {
      nj["error"] = n.read_error;
    } else {
      nj["events"] = n.sb.events;
      nj["events_cleared"] = n.sb.events_cleared;
      nj["state"] = n.sb.state;
      nj.update(node_json(n));
    }
    nodes.push_back(nj);
  }
  j["nodes"] = nodes;
  return j;
}

}  // namespace umd::cli
