#include "assemble/create.h"

#include <fmt/format.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <tuple>
#include <chrono>
#include <cstring>
#include <fstream>
#include <random>

#include "assemble/member_set.h"
#include "assemble/superblock_probe.h"
#include "assemble/superblock_writer.h"
#include "assemble/zero_superblock.h"
#include "format/member_info.h"
#include "bitmap/bitmap_super.h"
#include "bitmap/classic_bits.h"
#include "format/placement.h"
#include "io/member_spec.h"
#include "format/superblock0.h"
#include "format/superblock1.h"
#include "layout/geometry.h"
#include "layout/layout_names.h"
#include "layout/level_limits.h"

namespace umd::engine {
namespace {
enum class BitmapKind : uint8_t { none, internal, lockless, file };
}  // namespace
namespace {

constexpr uint32_t kCreateMaxDev = 128;  // what the kernel writes for small arrays
constexpr int kMinor090 = 90;
constexpr uint64_t kDefaultChunkBytes = 512 * 1024;  // mdadm 4.2

std::array<uint8_t, 16> random_uuid() {
  std::array<uint8_t, 16> u{};
  std::ifstream f("/dev/urandom", std::ios::binary);
  if (!f.read(reinterpret_cast<char*>(u.data()), u.size())) {
    std::random_device rd;
    for (auto& b : u) b = uint8_t(rd());
  }
  return u;
}

bool is_missing(const std::string& m) { return m == "missing"; }

// 0.90 superblocks for the members (roles: slot or -1 for a spare, in member order), as
// mdadm's init_super0 fills them and the kernel's super_90_sync would first rewrite them:
// events 1; the last 8 bytes of the UUID are the SHA-1 of the host's name (mdadm marks
// an array of this host so); the size in KiB; the descriptor table the kernel's rule
// gives (regenerate_table0: members in their slots in sync, spares numbered from
// raid_disks up, absent slots removed); BITMAP_PRESENT with an internal bitmap.
std::vector<std::vector<uint8_t>> superblocks090(const Superblock1& base, std::array<uint8_t, 16>& uuid,
                                                 uint64_t component, bool resync_pending, bool internal_bitmap,
                                                 const std::vector<int>& roles) {
  const std::string host = local_host_name();
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(host.data(), host.size(), md, &len, EVP_sha1(), nullptr) == 1 && len >= 8) {
    std::copy(md, md + 8, uuid.begin() + 8);
  }
  Superblock0 sb;
  sb.set_uuid_bytes(uuid);
  sb.ctime = base.ctime;
  sb.utime = base.ctime;
  sb.level = base.level;
  sb.layout = base.level == layout::kLevelRaid0 ? 0 : base.layout;
  sb.chunk_size = base.chunksize * 512;
  sb.size = uint32_t(component / 2);
  sb.raid_disks = base.raid_disks;
  sb.events = 1;
  if (internal_bitmap) sb.state |= kSb0StateBitmapPresent;
  if (!resync_pending) {
    sb.state |= kSb0StateClean;
    sb.recovery_cp = ~0u;
    sb.cp_events = sb.events;
  }
  std::vector<ArrayState::Member0> members0;
  for (int role : roles) members0.push_back({role, role >= 0, false});
  std::vector<std::vector<uint8_t>> out;
  for (size_t i = 0; i < roles.size(); i++) {
    regenerate_table0(sb, members0, int(i));
    out.push_back(encode_superblock0(sb));
  }
  return out;
}

}  // namespace

std::string local_host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || !buf[0]) return "(none)";
  return buf;
}

Result<CreateReport> create_array(const CreateSpec& spec) {
  // 1. The request itself.
  UMD_ASSIGN_OR_RETURN(const int level, layout::parse_level(spec.level));
  UMD_ASSIGN_OR_RETURN(const layout::LevelLimits limits, layout::level_limits(level));
  const std::string lname = layout::level_name(level);
  if (spec.raid_devices == 0) return Result<CreateReport>(Err::invalid, "--raid-devices is required");
  if (spec.members.size() != size_t(spec.raid_devices) + spec.spare_devices) {
    return Result<CreateReport>(
        Err::invalid, fmt::format("{} raid devices and {} spares need {} members, {} given", spec.raid_devices,
                                  spec.spare_devices, spec.raid_devices + spec.spare_devices, spec.members.size()));
  }
  if (spec.raid_devices < limits.min_disks) {
    return Result<CreateReport>(Err::invalid, fmt::format("{} needs at least {} raid devices, {} given", lname,
                                                          limits.min_disks, spec.raid_devices));
  }
  int minor;
  if (spec.metadata == "1.2" || spec.metadata == "1" || spec.metadata == "default") {
    minor = 2;
  } else if (spec.metadata == "1.1") {
    minor = 1;
  } else if (spec.metadata == "1.0") {
    minor = 0;
  } else if (spec.metadata == "0.90" || spec.metadata == "0.9" || spec.metadata == "0") {
    minor = kMinor090;
  } else {
    return Result<CreateReport>(Err::invalid,
                                fmt::format("--metadata: unknown version '{}' (1.2, 1.1, 1.0, 0.90)", spec.metadata));
  }
  const bool v090 = minor == kMinor090;
  const BitmapKind bitmap_kind = spec.bitmap == "none"       ? BitmapKind::none
                                 : spec.bitmap == "internal" ? BitmapKind::internal
                                 : spec.bitmap == "lockless" ? BitmapKind::lockless
                                                             : BitmapKind::file;
  if (v090 && bitmap_kind == BitmapKind::lockless) {
    return Result<CreateReport>(Err::unsupported, "--bitmap=lockless with --metadata=0.90: the lockless bitmap is "
                                                  "for 1.x arrays (internal or a file serve 0.90)");
  }
  if (v090 && spec.members.size() > kSb0Disks) {
    return Result<CreateReport>(Err::invalid, fmt::format("{} members: a 0.90 superblock records at most {}",
                                                          spec.members.size(), kSb0Disks));
  }
  if (bitmap_kind == BitmapKind::file && spec.bitmap.find('/') == std::string::npos) {
    return Result<CreateReport>(Err::invalid, fmt::format("--bitmap={}: none, internal, lockless, or a file path "
                                                          "(with a '/')", spec.bitmap));
  }
  if (bitmap_kind != BitmapKind::none && (level == layout::kLevelLinear || level == layout::kLevelRaid0)) {
    return Result<CreateReport>(Err::invalid, fmt::format("--bitmap={}: a {} has no redundancy for a bitmap to track",
                                                          spec.bitmap, level == layout::kLevelRaid0 ? "raid0" : "linear"));
  }
  if (bitmap_kind == BitmapKind::file && ::access(spec.bitmap.c_str(), F_OK) == 0 && !spec.force) {
    return Result<CreateReport>(Err::busy, fmt::format("--bitmap={}: the file exists; use --force to overwrite it",
                                                       spec.bitmap));
  }
  uint32_t layout_word = layout::default_layout(level);
  if (spec.layout) {
    auto l = layout::parse_layout(level, *spec.layout);
    if (!l.is_ok()) return l.status().with_context("--layout");
    layout_word = *l;
  }
  uint32_t chunk_sectors = 0;
  const bool has_chunk = level != layout::kLevelRaid1;
  if (has_chunk) {
    uint64_t chunk = spec.chunk_bytes.value_or(level == layout::kLevelLinear ? 0 : kDefaultChunkBytes);
    if (chunk % 512 != 0 || (chunk && (chunk & (chunk - 1)) != 0) || chunk > (1ull << 30)) {
      return Result<CreateReport>(Err::invalid, fmt::format("--chunk={}K: the chunk must be a power of two of at least 4K",
                                                            double(chunk) / 1024));
    }
    if (chunk && chunk < 4096 && level != layout::kLevelLinear) {
      return Result<CreateReport>(Err::invalid, fmt::format("--chunk={}: the chunk must be at least 4K", chunk));
    }
    chunk_sectors = uint32_t(chunk / 512);
  } else if (spec.chunk_bytes) {
    return Result<CreateReport>(Err::invalid, "--chunk has no meaning for raid1");
  }
  uint64_t size_hint = 0;
  if (spec.size_bytes) size_hint = *spec.size_bytes / 512;

  // 2. Members: open each, refuse foreign superblocks unless forced, place the data.
  struct Planned {
    std::string path;
    std::unique_ptr<io::Member> dev;
    Placement place;
    int role;  // slot, or -1 for a spare
  };
  std::vector<Planned> planned;
  std::vector<std::tuple<dev_t, ino_t, uint32_t>> seen;
  const uint32_t rounding = level == layout::kLevelRaid1 ? 0 : chunk_sectors;
  for (size_t i = 0; i < spec.members.size(); i++) {
    const std::string& path = spec.members[i];
    const int role = i < spec.raid_devices ? int(i) : -1;
    if (is_missing(path)) {
      if (role < 0) return Result<CreateReport>(Err::invalid, "a spare cannot be 'missing'");
      continue;
    }
    // The same file or device twice would get two superblocks, the last one winning; so
    // would a partition and the whole disk holding it (PATH:pN, io/member_spec.h).
    auto ms = io::parse_member_spec(path);
    struct stat st {};
    if (ms.is_ok() && ::stat(ms->path.c_str(), &st) == 0) {
      const std::tuple<dev_t, ino_t, uint32_t> id{st.st_dev, st.st_ino, ms->partition};
      for (const auto& [dev, ino, part] : seen) {
        if (dev == st.st_dev && ino == st.st_ino && (part == ms->partition || part == 0 || ms->partition == 0)) {
          return Result<CreateReport>(Err::invalid, fmt::format("{} is given more than once (or with a partition of it)", path));
        }
      }
      seen.push_back(id);
    }
    io::OpenOptions opts;
    opts.direct = false;
    auto dev = io::open_member(path, opts);
    if (!dev.is_ok()) return dev.status();
    // Size first: a member too small for any superblock is "too small", whatever the
    // probe makes of it (it calls such a device corrupt).
    const uint64_t dev_sectors = (*dev)->size() / 512;
    const bool internal = bitmap_kind == BitmapKind::internal || bitmap_kind == BitmapKind::lockless;
    auto place = v090 ? mdadm_placement090(dev_sectors, rounding, internal, size_hint)
                      : mdadm_placement(minor, dev_sectors, rounding, internal, size_hint);
    if (!place.is_ok()) {
      return Result<CreateReport>(place.status().code(),
                                  fmt::format("{} is too small for a {} member ({} sectors): {}", path, lname,
                                              dev_sectors, place.status().message()));
    }
    auto probed = probe_member(std::move(dev).value());
    if (probed.is_ok()) {
      if (!spec.force) {
        return Result<CreateReport>(
            Err::busy, fmt::format("{} already holds an md {} superblock of array {}; use --force to overwrite it",
                                   path, probed->version(), probed->info.array_uuid_text()));
      }
    } else if (probed.status().code() != Err::not_found && !spec.force) {
      return Result<CreateReport>(Err::busy, fmt::format("{}; use --force to overwrite it", probed.status().message()));
    }
    // Reopen: probe took the handle.
    auto dev2 = io::open_member(path, opts);
    if (!dev2.is_ok()) return dev2.status();
    planned.push_back({path, std::move(dev2).value(), *place, role});
  }
  if (planned.empty()) return Result<CreateReport>(Err::invalid, "every member is 'missing'");
  if (!v090 && planned.size() > kSb1MaxDevs) {
    return Result<CreateReport>(Err::invalid, fmt::format("{} members: a 1.x superblock records at most {}",
                                                          planned.size(), kSb1MaxDevs));
  }

  // 3. The array's shape: one component size for levels with equal members.
  uint64_t component = UINT64_MAX;
  for (const Planned& p : planned) component = std::min(component, p.place.component_sectors);
  std::vector<uint64_t> member_sectors;
  const bool per_member = level == layout::kLevelLinear || level == layout::kLevelRaid0;
  if (per_member) {
    for (uint32_t s = 0; s < spec.raid_devices; s++) {
      auto it = std::find_if(planned.begin(), planned.end(), [&](const Planned& p) { return p.role == int(s); });
      if (it == planned.end()) {
        return Result<CreateReport>(Err::invalid, fmt::format("{} cannot have a missing member", lname));
      }
      member_sectors.push_back(it->place.data_size);
    }
  } else {
    member_sectors.push_back(component);
  }
  layout::GeometryParams gp{level, layout_word, chunk_sectors, spec.raid_devices, member_sectors};
  auto geo = layout::make_geometry(gp);
  if (!geo.is_ok()) return geo.status().with_context(lname);
  std::vector<uint32_t> missing;
  for (uint32_t s = 0; s < spec.raid_devices; s++) {
    if (std::none_of(planned.begin(), planned.end(), [&](const Planned& p) { return p.role == int(s); })) {
      missing.push_back(s);
    }
  }
  if (!missing.empty() && !geo->survives(missing)) {
    return Result<CreateReport>(Err::invalid, fmt::format("{} cannot run with {} of {} members missing", lname,
                                                          missing.size(), spec.raid_devices));
  }
  if (geo->array_sectors() == 0) {
    return Result<CreateReport>(Err::no_space, "the members are too small to hold one chunk of data");
  }
  // 0.90 has no raid0 layout word to tell the kernel how zones of unequal members are laid
  // out (mdadm's write_init_super0 refuses them too).
  if (v090 && level == layout::kLevelRaid0 && chunk_sectors &&
      std::any_of(member_sectors.begin(), member_sectors.end(),
                  [&](uint64_t m) { return m / chunk_sectors != member_sectors[0] / chunk_sectors; })) {
    return Result<CreateReport>(Err::invalid, "a 0.90 raid0 needs members of equal size (in chunks); use 1.x, whose "
                                              "superblock records the raid0 layout");
  }

  // 4. Superblocks.
  CreateReport report;
  const bool redundant = level != layout::kLevelLinear && level != layout::kLevelRaid0;
  // mdadm writes a raid4/5 missing a member, or a raid6 missing two, clean: there is no
  // redundancy to resync (and the kernel will not start a dirty degraded raid5/6).
  const bool nothing_to_resync = ((level == 4 || level == 5) && !missing.empty()) || (level == 6 && missing.size() >= 2);
  report.resync_pending = redundant && !spec.assume_clean && !nothing_to_resync;
  report.array_sectors = geo->array_sectors();
  report.component_sectors = per_member ? 0 : component;
  auto uuid = random_uuid();  // 0.90: its last 8 bytes become the host's (superblocks090)
  const uint64_t now =
      uint64_t(std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  Superblock1 base;
  base.feature_map = 0;
  base.set_uuid = uuid;
  // As mdadm: a name that already says its host ("nas:data") is stored as given.
  base.set_name_str(spec.array_name.find(':') != std::string::npos ? spec.array_name
                                                                   : local_host_name() + ":" + spec.array_name);
  base.ctime = now & kSb1TimeSecMask;
  base.utime = base.ctime;
  base.level = level;
  base.layout = layout_word;
  if (level == layout::kLevelRaid0) base.feature_map |= kFeatureRaid0Layout;
  base.size = per_member ? 0 : component;  // mdadm leaves it 0 where members differ in size
  base.chunksize = chunk_sectors;
  base.raid_disks = spec.raid_devices;
  base.events = 0;
  base.resync_offset = report.resync_pending ? 0 : kMaxSector;
  // One dev_roles entry per member at least: planned[i] is device number i.
  base.max_dev = std::max<uint32_t>(kCreateMaxDev, uint32_t(planned.size()));
  base.dev_roles.assign(base.max_dev, kRoleSpare);
  for (size_t i = 0; i < planned.size(); i++) {
    base.dev_roles[i] = planned[i].role >= 0 ? uint16_t(planned[i].role) : kRoleSpare;
  }
  std::vector<std::vector<uint8_t>> images;
  if (v090) {
    std::vector<int> roles;
    for (const Planned& p : planned) roles.push_back(p.role);
    images = superblocks090(base, uuid, component, report.resync_pending, bitmap_kind == BitmapKind::internal, roles);
  }
  for (size_t i = 0; i < planned.size() && !v090; i++) {
    Superblock1 sb = base;
    const Placement& pl = planned[i].place;
    sb.data_offset = pl.data_offset;
    sb.data_size = pl.data_size;
    sb.super_offset = pl.super_offset;
    sb.bblog_shift = 0;
    sb.bblog_size = pl.bblog_size;
    sb.bblog_offset = pl.bblog_offset;
    sb.dev_number = uint32_t(i);
    sb.device_uuid = random_uuid();
    if (pl.bitmap_offset != 0) {
      sb.feature_map |= kFeatureBitmapOffset;
      sb.bitmap_offset = pl.bitmap_offset;
    }
    images.push_back(encode_superblock1(sb));
  }
  // The bitmap: every bit set when a resync is pending (so it visits everything), none
  // with --assume-clean, as mdadm writes it. The lockless one is only a header: the
  // kernel (and umd) lay out its state bytes at first assembly.
  std::vector<uint8_t> bitmap_image;
  if (bitmap_kind != BitmapKind::none) {
    bitmap::BitmapSuper bs;
    bs.uuid = uuid;
    // The superblocks' events (0.90 starts at 1, as mdadm's): a bitmap behind them is stale
    // and costs a full resync (md_bitmap_read_sb).
    bs.events = v090 ? 1 : 0;
    bs.events_cleared = bs.events;
    bs.sync_size = level == layout::kLevelRaid10 ? geo->array_sectors() : component;
    bs.daemon_sleep = 5;
    const uint64_t reserve = planned.front().place.bitmap_sectors
                                 ? planned.front().place.bitmap_sectors
                                 : mdadm_bitmap_reserve_sectors(planned.front().place.data_size);
    bs.sectors_reserved = uint32_t(reserve);
    if (bitmap_kind == BitmapKind::lockless) {
      bs.version = bitmap::kVersionLockless;
      bs.set_state(bitmap::kStateFirstUse, true);
      if (!report.resync_pending) bs.set_state(bitmap::kStateClean, true);
      bs.chunksize = 0;  // chosen at first assembly
      auto enc = bitmap::encode_bitmap_super(bs);
      bitmap_image.assign(enc.begin(), enc.end());
      bitmap_image.resize(4096, 0);
    } else {
      uint64_t chunk = spec.bitmap_chunk_bytes.value_or(planned.front().place.bitmap_chunk_bytes);
      if (chunk == 0) chunk = 64ull << 20;
      if (chunk < 4096 || (chunk & (chunk - 1)) != 0) {
        return Result<CreateReport>(Err::invalid, fmt::format("--bitmap-chunk={}: a power of two of at least 4K", chunk));
      }
      // The bits must fit the reserved room (internal bitmaps): double the chunk until they do.
      while (bitmap_kind == BitmapKind::internal && bitmap::classic_bitmap_bytes(bitmap::classic_chunk_count(
                                                        bs.sync_size, chunk)) > reserve * 512) {
        chunk *= 2;
      }
      bs.version = bitmap::kVersionLittleEndian;
      bs.chunksize = uint32_t(chunk);
      if (bitmap_kind == BitmapKind::file || v090) bs.sectors_reserved = 0;  // 0.90: mdadm writes none
      const uint64_t chunks = bitmap::classic_chunk_count(bs.sync_size, chunk);
      const uint64_t bytes = bitmap::classic_bitmap_bytes(chunks);
      bitmap_image.assign((bytes + 4095) / 4096 * 4096, 0);
      auto enc = bitmap::encode_bitmap_super(bs);
      std::copy(enc.begin(), enc.end(), bitmap_image.begin());
      if (report.resync_pending) {
        for (uint64_t c = 0; c < chunks; c++) {
          bitmap_image[bitmap::kClassicBitsOffset + c / 8] |= uint8_t(1u << (c % 8));
        }
      }
    }
  }
  if (bitmap_kind == BitmapKind::file) {
    const int fd = ::open(spec.bitmap.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return Result<CreateReport>(Err::io, fmt::format("--bitmap={}: {}", spec.bitmap, std::strerror(errno)));
    const ssize_t w = ::pwrite(fd, bitmap_image.data(), bitmap_image.size(), 0);
    const int e = errno;
    const bool ok = w == ssize_t(bitmap_image.size()) && ::fsync(fd) == 0;
    ::close(fd);
    if (!ok) return Result<CreateReport>(Err::io, fmt::format("--bitmap={}: {}", spec.bitmap, std::strerror(e)));
  }
  for (size_t i = 0; i < planned.size(); i++) {
    Planned& p = planned[i];
    // As mdadm: otherwise an old 1.2 superblock would be found before a new 1.0 one.
    auto erased = erase_superblocks(*p.dev, p.place.super_offset);
    if (!erased.is_ok()) return erased.status().with_context(p.path);
    UMD_TRY(p.dev->write(p.place.super_offset * 512, images[i]).with_context(p.path));
    if (p.place.bitmap_offset != 0 && !bitmap_image.empty()) {
      const uint64_t at = uint64_t(int64_t(p.place.super_offset) + p.place.bitmap_offset) * 512;
      UMD_TRY(p.dev->write(at, bitmap_image).with_context(fmt::format("{}: writing the bitmap", p.path)));
    }
  }
  for (Planned& p : planned) UMD_TRY(p.dev->flush().with_context(p.path));
  report.array_uuid = format_uuid_mdadm(uuid, v090 ? 0 : 1);
  if (report.resync_pending) report.notes.push_back("the array needs an initial resync before its redundancy counts");
  return report;
}

}  // namespace umd::engine
