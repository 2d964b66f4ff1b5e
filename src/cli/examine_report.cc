#include "cli/examine_report.h"

#include <fmt/format.h>

#include <ctime>
#include <nlohmann/json.hpp>

#include "assemble/member_set.h"
#include "bitmap/bitmap_location.h"
#include "bitmap/bitmap_super.h"
#include "layout/geometry.h"
#include "layout/layout_names.h"
#include "util/printable.h"
#include "util/units.h"

namespace umd::cli {
namespace {

std::string ctime_text(uint64_t secs) {
  time_t t = time_t(secs);
  char buf[64];
  struct tm tm;
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%a %b %e %H:%M:%S %Y", &tm);
  return buf;
}

// mdadm's wording of the layout word for the levels that print one ("" for none).
std::string layout_text(const MemberInfo& i) {
  if (i.level == 10) {
    const uint32_t near = i.layout & 0xff, far = (i.layout >> 8) & 0xff;
    const bool offset = i.layout & (1u << 16);
    std::string s, sep;
    if (near != 1) { s += fmt::format("near={}", near); sep = ", "; }
    if (far != 1) s += fmt::format("{}{}={}", sep, offset ? "offset" : "far", far);
    if (near * far == 1) s = "NO REDUNDANCY";
    return s;
  }
  if (i.level == 0) {
    if (!i.raid0_layout_flag && i.metadata_major == 1) return "";
    return layout::layout_name(0, i.layout);
  }
  if (i.level == 4 || i.level == 5 || i.level == 6) return layout::layout_name(i.level, i.layout);
  return "";
}

uint64_t array_sectors_of(const MemberInfo& i) {
  std::vector<const MemberInfo*> none(i.raid_disks, nullptr);
  auto geo = layout::make_geometry(engine::geometry_params(i, none));
  return geo.is_ok() ? geo->array_sectors() : 0;
}

std::string array_state(const MemberInfo& i) {
  std::string s(i.raid_disks, '.');
  for (size_t d = 0; d < i.roles_of_dev_numbers.size(); d++) {
    int r = i.roles_of_dev_numbers[d];
    if (r >= 0 && uint32_t(r) < i.raid_disks) s[r] = 'A';
  }
  return s;
}

// The sectors of an internal bitmap as mdadm's calc_bitmap_size counts them: its 256-byte
// superblock and one bit per chunk, rounded up to 4 KiB. 0 when the bitmap superblock
// does not read or decode (mdadm would use whatever it read; umd prints no guess).
uint64_t internal_bitmap_sectors(const engine::ProbedMember& m) {
  auto at = bitmap::internal_bitmap_sector(m.info);
  if (!at.is_ok() || !m.dev || *at >= m.dev_sectors) return 0;
  std::vector<uint8_t> buf(std::max<uint32_t>(m.dev->block_size(), 512));
  if (!m.dev->read(*at * 512, buf).is_ok()) return 0;
  auto sb = bitmap::decode_bitmap_super(buf);
  if (!sb.is_ok()) return 0;
  const uint64_t bytes = (sb->chunks() + 7) / 8 + bitmap::kBitmapSuperBytes;
  return (bytes + 4095) / 4096 * 8;
}

}  // namespace

// mdadm's "Unused Space" of a 1.x member (getinfo_super1): for 1.1/1.2, before = the data
// offset less the end of what sits between superblock and data (72 sectors past the
// superblock at least, the bitmap, the bad block log), after = the device past the data;
// for 1.0, before = the data offset, after = the gap between the data and the first of
// bitmap, bad block log and superblock. The data counted is the component size for
// levels above 0 (data_size below). Both 0 is shown as no line (mdadm's space_after 1).
std::optional<UnusedSpace> unused_space(const engine::ProbedMember& m) {
  const Superblock1* sb = m.sb1();
  if (!sb || (sb->feature_map & kFeatureNewOffset)) return std::nullopt;
  const bool has_bitmap = sb->feature_map & kFeatureBitmapOffset;
  const uint64_t data = sb->level <= 0 ? sb->data_size : sb->size;
  const uint64_t so = sb->super_offset;
  UnusedSpace u;
  if (sb->data_offset < so) {
    u.before = sb->data_offset;
    uint64_t end = so;
    if (sb->bblog_offset && sb->bblog_size) end = std::min(end, so + int64_t(sb->bblog_offset));
    if (has_bitmap) end = std::min(end, so + int64_t(sb->bitmap_offset));
    u.after = sb->data_offset + data < end ? end - data - sb->data_offset : 0;
  } else {
    uint64_t earliest = so + (32 + 4) * 2;  // the kernel's reserve past the superblock
    // mdadm measures the bitmap's end from the device's start, not from the superblock.
    if (has_bitmap && sb->bitmap_offset > 0) {
      earliest = std::max(earliest, uint64_t(sb->bitmap_offset) + internal_bitmap_sectors(m));
    }
    if (sb->bblog_offset && sb->bblog_size) {
      earliest = std::max(earliest, so + int64_t(sb->bblog_offset) + sb->bblog_size);
    }
    u.before = earliest < sb->data_offset ? sb->data_offset - earliest : 0;
    u.after = m.dev_sectors - data - sb->data_offset;  // wraps when the device is too small
  }
  if (u.before == 0 && u.after == 0) return std::nullopt;
  return u;
}

namespace {

nlohmann::json role_json(int role) {
  switch (role) {
    case MemberInfo::kSpare: return "spare";
    case MemberInfo::kFaulty: return "faulty";
    case MemberInfo::kJournal: return "journal";
    case MemberInfo::kRemoved: return "removed";
    default: return role;
  }
}

std::string role_text(int role) {
  switch (role) {
    case MemberInfo::kSpare: return "spare";
    case MemberInfo::kFaulty: return "faulty";
    case MemberInfo::kJournal: return "Journal";
    case MemberInfo::kRemoved: return "removed";
    default: return fmt::format("Active device {}", role);
  }
}

bool has_chunk(int level) { return level == 0 || level == 4 || level == 5 || level == 6 || level == 10; }

// mdadm's block for a member whose superblock records a reshape (examine_super1 and
// examine_super0 word it alike; 0.90 prints the new chunk in bytes).
std::string reshape_text(const MemberInfo& i, bool v1) {
  std::string o;
  auto line = [&](const char* key, const std::string& v) { o += fmt::format("{:>15} : {}\n", key, v); };
  line("Reshape pos'n", fmt::format("{}{}", i.reshape_position / 2, mdadm_human_size(i.reshape_position)));
  if (i.delta_disks != 0) {
    line("Delta Devices", fmt::format("{} ({}->{})", i.delta_disks, int64_t(i.raid_disks) - i.delta_disks,
                                      i.raid_disks));
  }
  if (i.new_level != i.level) line("New Level", layout::level_name(i.new_level));
  if (i.new_layout != i.layout) {
    if (i.level == 10) {
      MemberInfo n = i;
      n.layout = i.new_layout;
      line("New Layout", layout_text(n));
    } else if (i.level == 5 || i.level == 6) {
      line("New Layout", layout::layout_name(i.level, i.new_layout));
    }
  }
  if (i.new_chunk_sectors != i.chunk_sectors) {
    line("New Chunksize", v1 ? fmt::format("{}K", i.new_chunk_sectors / 2) : std::to_string(i.new_chunk_sectors * 512));
  }
  return o + "\n";
}

nlohmann::json reshape_json(const MemberInfo& i) {
  nlohmann::json r;
  r["position_sectors"] = i.reshape_position;
  r["backwards"] = i.reshape_backwards;
  r["delta_disks"] = i.delta_disks;
  r["previous_raid_devices"] = int64_t(i.raid_disks) - i.delta_disks;
  r["new_level"] = layout::level_name(i.new_level);
  r["new_layout_word"] = i.new_layout;
  if (has_chunk(i.new_level)) r["new_chunk_kib"] = i.new_chunk_sectors / 2;
  r["new_data_offset"] = int64_t(i.new_data_offset);
  return r;
}


}  // namespace

nlohmann::json examine_json(const engine::ProbedMember& m) {
  const MemberInfo& i = m.info;
  nlohmann::json j;
  j["path"] = printable(m.path);
  j["version"] = m.version();
  j["array_uuid"] = i.array_uuid_text();
  j["name"] = printable(i.name);  // 32 bytes from disk: any bytes at all
  j["raid_level"] = layout::level_name(i.level);
  j["raid_devices"] = i.raid_disks;
  if (std::string l = layout_text(i); !l.empty()) j["layout"] = l;
  j["layout_word"] = i.layout;
  if (has_chunk(i.level)) j["chunk_kib"] = i.chunk_sectors / 2;
  j["events"] = i.events;
  j["data_offset"] = i.data_offset;
  j["super_offset"] = i.super_offset;
  if (auto u = unused_space(m)) {
    // Sectors; "after" is negative when the device ends before the data does.
    j["unused_space"] = {{"before", u->before}, {"after", u->truncated() ? -int64_t(~u->after + 1) : int64_t(u->after)}};
  }
  j["avail_dev_sectors"] = i.data_size;
  j["used_dev_sectors"] = i.component_sectors;
  j["array_sectors"] = array_sectors_of(i);
  j["state"] = i.clean ? "clean" : "active";
  j["resync_offset"] = i.resync_offset;
  j["feature_map"] = i.feature_map;
  j["role"] = role_json(i.role);
  j["dev_number"] = i.dev_number;
  j["array_state"] = array_state(i);
  if (i.reshape_active) j["reshape"] = reshape_json(i);
  j["creation_time"] = i.ctime;
  j["update_time"] = i.utime;
  if (const Superblock1* sb = m.sb1()) {
    j["device_uuid"] = format_uuid_mdadm(i.device_uuid);
    j["checksum"] = fmt::format("{:08x}", sb->sb_csum);
  } else if (const Superblock0* sb = m.sb0()) {
    j["checksum"] = fmt::format("{:08x}", sb->sb_csum);
  }
  return j;
}

std::string examine_text(const engine::ProbedMember& m, const std::string& homehost) {
  const MemberInfo& i = m.info;
  std::string o;
  auto line = [&](const char* key, const std::string& v) { o += fmt::format("{:>15} : {}\n", key, v); };
  o += printable(m.path) + ":\n";
  line("Magic", "a92b4efc");
  line("Version", m.version());
  line("Feature Map", fmt::format("{:#x}", i.feature_map));
  line("Array UUID", i.array_uuid_text());
  if (m.sb1()) {
    // mdadm's match_home1: the name begins "HOMEHOST:".
    const size_t l = homehost.size();
    const bool local = l > 0 && l < 32 && i.name.size() > l && i.name[l] == ':' && i.name.compare(0, l, homehost) == 0;
    line("Name", printable(i.name) + (local ? fmt::format("  (local to host {})", printable(homehost)) : ""));
  }
  line("Creation Time", ctime_text(i.ctime));
  line("Raid Level", layout::level_name(i.level));
  line("Raid Devices", std::to_string(i.raid_disks));
  o += "\n";
  line("Avail Dev Size", fmt::format("{} sectors{}", i.data_size, mdadm_human_size(i.data_size)));
  const uint64_t as = array_sectors_of(i);
  line("Array Size", fmt::format("{} KiB{}", as / 2, mdadm_human_size(as)));
  // mdadm prints the used size of a 1.x member only when it differs from what is available.
  if ((i.level >= 1 || i.level == -1) && (!m.sb1() || i.component_sectors != i.data_size)) {
    line("Used Dev Size", fmt::format("{} sectors{}", i.component_sectors, mdadm_human_size(i.component_sectors)));
  }
  if (m.sb1()) {
    if (i.data_offset) line("Data Offset", fmt::format("{} sectors", i.data_offset));
    if ((i.feature_map & kFeatureNewOffset) && i.new_data_offset != i.data_offset) {
      line("New Offset", fmt::format("{} sectors", int64_t(i.new_data_offset)));
    }
    line("Super Offset", fmt::format("{} sectors", i.super_offset));
  }
  if (i.recovery_offset_valid) line("Recovery Offset", fmt::format("{} sectors", i.recovery_offset));
  const std::optional<UnusedSpace> unused = unused_space(m);
  if (unused) {
    line("Unused Space", unused->truncated() ? fmt::format("before={} sectors, after=-{} sectors DEVICE TOO SMALL",
                                                           unused->before, ~unused->after + 1)
                                             : fmt::format("before={} sectors, after={} sectors", unused->before,
                                                           unused->after));
  }
  line("State", std::string(i.clean ? "clean" : "active") + (unused && unused->truncated() ? " TRUNCATED DEVICE" : ""));
  if (const Superblock0* sb = m.sb0(); sb && (sb->state & kSb0StateBitmapPresent)) line("Internal Bitmap", "present");
  if (m.sb1()) line("Device UUID", format_uuid_mdadm(i.device_uuid));
  o += "\n";
  if (const Superblock1* sb = m.sb1(); sb && (sb->feature_map & kFeatureBitmapOffset)) {
    line("Internal Bitmap", fmt::format("{} sectors from superblock", int32_t(sb->bitmap_offset)));
  }
  if (i.reshape_active) o += reshape_text(i, m.sb1() != nullptr);
  if (const Superblock1* sb = m.sb1(); sb && sb->devflags) {
    std::string f;
    if (sb->devflags & kDevflagWriteMostly) f += " write-mostly";
    if (sb->devflags & kDevflagFailFast) f += " failfast";
    o += fmt::format("{:>15} :{}\n", "Flags", f);
  }
  line("Update Time", ctime_text(i.utime));
  if (const Superblock1* sb = m.sb1(); sb && sb->bblog_size && sb->bblog_offset) {
    line("Bad Block Log", fmt::format("{} entries available at offset {} sectors{}", sb->bblog_size * 512 / 8,
                                      sb->bblog_offset,
                                      (sb->feature_map & kFeatureBadBlocks) ? " - bad blocks present." : ""));
  }
  uint32_t csum = m.sb1() ? m.sb1()->sb_csum : m.sb0()->sb_csum;
  line("Checksum", fmt::format("{:08x} - correct", csum));
  line("Events", std::to_string(i.events));
  o += "\n";
  if (std::string l = layout_text(i); !l.empty()) line("Layout", l);
  if (has_chunk(i.level)) line("Chunk Size", fmt::format("{}K", i.chunk_sectors / 2));
  if (i.level == -1) line("Rounding", fmt::format("{}K", i.chunk_sectors / 2));
  o += "\n";
  // mdadm prints these two one column to the left.
  o += fmt::format("{:>14} : {}\n", "Device Role", role_text(i.role));
  o += fmt::format("{:>14} : {}\n", "Array State", array_state(i) + " ('A' == active, '.' == missing, 'R' == replacing)");
  return o;
}

}  // namespace umd::cli
