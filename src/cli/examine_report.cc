#include "cli/examine_report.h"

#include <fmt/format.h>

#include <openssl/evp.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "assemble/member_set.h"
#include "bitmap/bitmap_location.h"
#include "bitmap/bitmap_super.h"
#include "cli/examine_bitmap_report.h"
#include "layout/geometry.h"
#include "layout/layout_names.h"
#include "layout/level_limits.h"
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

std::string r10_layout_text(uint32_t layout);  // below, with the 0.90 printer

// mdadm's wording of the layout word for the levels that print one ("" for none).
std::string layout_text(const MemberInfo& i) {
  if (i.level == 10) {  // print_r10_layout's words without the space it puts after the colon
    std::string s = r10_layout_text(i.layout);
    return s.starts_with(' ') ? s.substr(1) : s;
  }
  if (i.level == 0) {
    if (!i.raid0_layout_flag && i.metadata_major == 1) return "";
    return layout::layout_name(0, i.layout);
  }
  if (i.level == 4 || i.level == 5 || i.level == 6) return layout::layout_name(i.level, i.layout);
  return "";
}

// The array's size as mdadm's --examine reckons it from one member's used bytes: data
// members times the size (raid10: raid disks over the copies), not rounded to whole
// stripes as the array is: "KiB[unit] (human)" (unit: " KiB" for 1.x, none for 0.90).
// None for the levels it does not size. In 128 bits: a corrupt raid_disks overflows
// mdadm's long long, not this.
std::optional<std::string> mdadm_array_size(int level, uint64_t member_bytes, uint32_t raid_disks,
                                            uint32_t layout, const char* unit) {
  int64_t data_disks = 0, denom = 1;
  switch (level) {
    case 1: data_disks = 1; break;
    case 4: case 5: data_disks = int64_t(raid_disks) - 1; break;
    case 6: data_disks = int64_t(raid_disks) - 2; break;
    case 10:
      data_disks = raid_disks;
      denom = int64_t(layout & 255) * ((layout >> 8) & 255);
      break;
    default: return std::nullopt;
  }
  if (data_disks == 0 || denom == 0) return std::nullopt;
  const __int128 bytes = __int128(member_bytes) * data_disks / denom;
  const bool human = bytes >= 0 && bytes <= __int128(UINT64_MAX);
  return fmt::format("{}{}{}", int64_t(bytes >> 10), unit, human ? cli::mdadm_human_size(uint64_t(bytes)) : "");
}

// 0 when the superblock's numbers make no array (raid_disks is 32 bits from the disk: it
// sizes nothing before it is held to what the level takes).
uint64_t array_sectors_of(const MemberInfo& i) {
  auto lim = layout::level_limits(i.level);
  if (!lim.is_ok() || i.raid_disks < lim->min_disks || i.raid_disks > lim->max_disks) return 0;
  std::vector<const MemberInfo*> none(i.raid_disks, nullptr);
  auto geo = layout::make_geometry(engine::geometry_params(i, none));
  return geo.is_ok() ? geo->array_sectors() : 0;
}

// One letter per raid disk, as far as a 1.x superblock can give roles (kSb1MaxDevs): a
// corrupt raid_disks does not become a string of gigabytes.
std::string array_state(const MemberInfo& i) {
  std::string s(std::min<uint32_t>(i.raid_disks, kSb1MaxDevs), '.');
  for (size_t d = 0; d < i.roles_of_dev_numbers.size(); d++) {
    int r = i.roles_of_dev_numbers[d];
    if (r >= 0 && uint32_t(r) < s.size()) s[r] = 'A';
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
  line("Reshape pos'n", fmt::format("{}{}", i.reshape_position / 2, umd::mdadm_human_size(i.reshape_position)));
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

std::string device_name_in_dev(uint32_t maj, uint32_t min) {
  if (maj == 0 && min == 0) return "";
  struct Node {
    dev_t rdev;
    std::string path;
  };
  // Every block device under /dev, a link counting as what it points to; directories
  // reached through links are not entered.
  static const std::vector<Node> nodes = [] {
    std::vector<Node> v;
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::recursive_directory_iterator it("/dev", fs::directory_options::skip_permission_denied, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      struct stat st;
      const std::string p = it->path().string();
      if (::stat(p.c_str(), &st) == 0 && S_ISBLK(st.st_mode)) v.push_back({st.st_rdev, p});
    }
    return v;
  }();
  const dev_t want = makedev(maj, min);
  std::string regular, preferred;
  for (const Node& n : nodes) {
    if (n.rdev != want) continue;
    std::string& best = n.path.starts_with("/dev/md/") ? preferred : regular;
    if (best.empty() || n.path.size() < best.size() || (n.path.size() == best.size() && n.path < best)) {
      best = n.path;
    }
  }
  return preferred.empty() ? regular : preferred;
}

namespace {

// mdadm's match_home0: the last 8 bytes of a 0.90 array's UUID (set_uuid2 and set_uuid3 as
// they lie on disk) are the first 8 of the SHA-1 of the host's name.
bool uuid_is_local_090(const Superblock0& sb, const std::string& homehost) {
  if (homehost.empty()) return false;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(homehost.data(), homehost.size(), md, &len, EVP_sha1(), nullptr) != 1 || len < 8) return false;
  const std::array<uint8_t, 16> u = sb.uuid_bytes();
  return std::equal(u.begin() + 8, u.end(), md);
}

// mdadm's names of levels (map_num(pers, ...)) and of raid5/6 layouts (r5layout, r6layout).
std::string level_text_090(int32_t level) {
  switch (level) {
    case -1: case 0: case 1: case 4: case 5: case 6: case 10: case -4: case -5: return layout::level_name(level);
    case -100: return "container";
    default: return "-unknown-";
  }
}

std::string parity_layout_text_090(int level, uint32_t layout) {
  const bool known = layout <= 5 || (level == 6 && ((layout >= 8 && layout <= 10) || (layout >= 16 && layout <= 20)));
  return known ? layout::layout_name(level, layout) : "-unknown-";
}

// mdadm's print_r10_layout, for 0.90 and 1.x alike: " near=N", ", far=N" or ", offset=N",
// or "NO REDUNDANCY" (no space before it).
std::string r10_layout_text(uint32_t layout) {
  const uint32_t near = layout & 255, far = (layout >> 8) & 255;
  std::string s, sep;
  if (near != 1) {
    s += fmt::format(" near={}", near);
    sep = ",";
  }
  if (far != 1) s += fmt::format("{} {}={}", sep, (layout & 0x10000) ? "offset" : "far", far);
  if (near * far == 1) s += "NO REDUNDANCY";
  return s;
}

// What mdadm 4.2's examine_super0 prints for a 0.90 member, line for line. Numbers the
// superblock holds as 32-bit words print as signed, as mdadm's %d prints them.
std::string examine_text_090(const engine::ProbedMember& m, const Superblock0& sb, const std::string& homehost,
                             const DeviceNamer& dev_name) {
  std::string o;
  auto line = [&](const char* key, const std::string& v) { o += fmt::format("{:>15} : {}\n", key, v); };
  auto num = [](uint32_t v) { return std::to_string(int32_t(v)); };
  o += printable(m.path) + ":\n";
  line("Magic", fmt::format("{:08x}", sb.md_magic));
  line("Version", fmt::format("{}.{:02}.{:02}", int32_t(sb.major_version), int32_t(sb.minor_version),
                              int32_t(sb.patch_version)));
  line("UUID", fmt::format("{:08x}:{:08x}:{:08x}:{:08x}{}", sb.set_uuid0, sb.set_uuid1, sb.set_uuid2, sb.set_uuid3,
                           uuid_is_local_090(sb, homehost)
                               ? fmt::format(" (local to host {})", printable(homehost))
                               : ""));
  if (sb.not_persistent) line("Eedk", "not persistent");
  line("Creation Time", ctime_text(sb.ctime));
  line("Raid Level", level_text_090(sb.level));
  if (sb.level > 0) {
    line("Used Dev Size", fmt::format("{}{}", num(sb.size), umd::mdadm_human_size(uint64_t(sb.size) * 2)));
    if (auto t = mdadm_array_size(sb.level, uint64_t(sb.size) << 10, sb.raid_disks, sb.layout, "")) {
      line("Array Size", *t);
    }
  }
  line("Raid Devices", num(sb.raid_disks));
  line("Total Devices", num(sb.nr_disks));
  line("Preferred Minor", num(sb.md_minor));
  o += "\n";
  uint32_t shrink_extra = 0;  // the rows a shrinking reshape still shows past raid_disks
  if (sb.minor_version > 90 && sb.reshape_position != kMaxSector) {
    line("Reshape pos'n", fmt::format("{}{}", sb.reshape_position / 2, umd::mdadm_human_size(sb.reshape_position)));
    if (sb.delta_disks) {
      line("Delta Devices", fmt::format("{} ({}->{})", num(sb.delta_disks), num(sb.raid_disks - sb.delta_disks),
                                        num(sb.raid_disks)));
      if (int32_t(sb.delta_disks) < 0) shrink_extra = 0u - sb.delta_disks;
    }
    if (sb.new_level != uint32_t(sb.level)) line("New Level", level_text_090(int32_t(sb.new_level)));
    if (sb.new_layout != sb.layout) {
      if (sb.level == 5 || sb.level == 6) line("New Layout", parity_layout_text_090(sb.level, sb.new_layout));
      if (sb.level == 10) {
        line("New Layout", fmt::format("near={}, {}={}", sb.new_layout & 255,
                                       (sb.new_layout & 0x10000) ? "offset" : "far", (sb.new_layout >> 8) & 255));
      }
    }
    if (sb.new_chunk != sb.chunk_size) line("New Chunksize", num(sb.new_chunk));
    o += "\n";
  }
  line("Update Time", ctime_text(sb.utime));
  line("State", (sb.state & kSb0StateClean) ? "clean" : "active");
  if (sb.state & kSb0StateBitmapPresent) line("Internal Bitmap", "present");
  line("Active Devices", num(sb.active_disks));
  line("Working Devices", num(sb.working_disks));
  line("Failed Devices", num(sb.failed_disks));
  line("Spare Devices", num(sb.spare_disks));
  // The full 32-bit sum over the block as it lies on the member (decoding accepts a sum
  // whose 16-bit fold matches, as the kernel does; mdadm wants all 32 bits).
  uint32_t expected = sb.sb_csum;
  if (m.dev && m.info.super_offset != 0 && m.info.super_offset < m.dev_sectors) {
    std::vector<uint8_t> raw(kSb0Bytes);
    if (m.dev->read(m.info.super_offset * 512, raw).is_ok()) expected = superblock0_checksum(raw);
  }
  line("Checksum", expected == sb.sb_csum ? fmt::format("{:x} - correct", sb.sb_csum)
                                          : fmt::format("{:x} - expected {:x}", sb.sb_csum, expected));
  line("Events", std::to_string(sb.events));
  o += "\n";
  if (sb.level == 5 || sb.level == 6) line("Layout", parity_layout_text_090(sb.level, sb.layout));
  if (sb.level == 10) o += fmt::format("{:>15} :{}\n", "Layout", r10_layout_text(sb.layout));
  switch (sb.level) {
    case 0: case 4: case 5: case 6: case 10: line("Chunk Size", fmt::format("{}K", num(sb.chunk_size / 1024))); break;
    case -1: line("Rounding", fmt::format("{}K", num(sb.chunk_size / 1024))); break;
    default: break;
  }
  o += "\n";
  // The disk table: this member's own descriptor, then descriptors 0 .. raid disks +
  // spares (+ those a shrink is dropping), as far as the superblock holds them.
  o += "      Number   Major   Minor   RaidDevice State\n";
  const int64_t rows = std::min<int64_t>(int64_t(sb.raid_disks) + shrink_extra + sb.spare_disks, kSb0Disks);
  for (int64_t d = -1; d < rows; d++) {
    const DiskDescriptor0& dp = d < 0 ? sb.this_disk : sb.disks[d];
    o += fmt::format("{:>4} {:>5}   {:>5}    {:>5}    {:>5}     ", d < 0 ? std::string("this") : std::to_string(d),
                     num(dp.number), num(dp.major), num(dp.minor), num(dp.raid_disk));
    const uint32_t flags = dp.state & (kDiskWriteMostly | kDiskFailFast);
    const uint32_t state = dp.state & ~flags;
    if (state & kDiskFaulty) o += " faulty";
    if (state & kDiskActive) o += " active";
    if (state & kDiskSync) o += " sync";
    if (state & kDiskRemoved) o += " removed";
    if (flags & kDiskWriteMostly) o += " write-mostly";
    if (flags & kDiskFailFast) o += " failfast";
    if (state == 0) o += " spare";
    const std::string name = dev_name ? dev_name(dp.major, dp.minor) : device_name_in_dev(dp.major, dp.minor);
    if (!name.empty()) o += "   " + printable(name);
    o += "\n";
    if (d < 0) o += "\n";
  }
  return o;
}

}  // namespace

std::string examine_text(const engine::ProbedMember& m, const std::string& homehost, const DeviceNamer& dev_name) {
  if (const Superblock0* sb = m.sb0()) return examine_text_090(m, *sb, homehost, dev_name);
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
  line("Avail Dev Size", fmt::format("{} sectors{}", i.data_size, umd::mdadm_human_size(i.data_size)));
  // mdadm's examine_super1 sizes the array only for the levels with redundancy (raid0 and
  // linear get no line), and prints the used size only when it differs from what is
  // available. Its test of the level is unsigned: linear (-1) passes it, raid0 does not.
  if (i.level != 0) {
    if (auto t = mdadm_array_size(i.level, m.sb1()->size * 512, m.sb1()->raid_disks, m.sb1()->layout, " KiB")) {
      line("Array Size", *t);
    }
    if (i.component_sectors != i.data_size) {
      line("Used Dev Size",
           fmt::format("{} sectors{}", i.component_sectors, umd::mdadm_human_size(i.component_sectors)));
    }
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
  line("Checksum", fmt::format("{:x} - correct", m.sb1()->sb_csum));  // mdadm's %x
  line("Events", std::to_string(i.events));
  o += "\n";
  // examine_super1 words the layout of raid5, raid6 and raid10, and of a raid0 that
  // records one (feature bit 12); not raid4's.
  if (i.level == 10) {
    o += fmt::format("{:>15} :{}\n", "Layout", r10_layout_text(i.layout));  // mdadm's print_r10_layout
  } else if (std::string l = layout_text(i); !l.empty() && i.level != 4) {
    line("Layout", l);
  }
  if (has_chunk(i.level)) line("Chunk Size", fmt::format("{}K", i.chunk_sectors / 2));
  if (i.level == -1) line("Rounding", fmt::format("{}K", i.chunk_sectors / 2));
  o += "\n";
  // mdadm prints these two one column to the left.
  o += fmt::format("{:>14} : {}\n", "Device Role", role_text(i.role));
  o += fmt::format("{:>14} : {}\n", "Array State", array_state(i) + " ('A' == active, '.' == missing, 'R' == replacing)");
  return o;
}

}  // namespace umd::cli
