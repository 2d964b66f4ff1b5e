#include "format/member_info.h"

#include <algorithm>

#include <fmt/format.h>

namespace umd {

int role_from_sb1(uint16_t raw) {
  switch (raw) {
    case kRoleSpare: return MemberInfo::kSpare;
    case kRoleFaulty: return MemberInfo::kFaulty;
    case kRoleJournal: return MemberInfo::kJournal;
    default:
      // other values >= kRoleMax are not assigned; the kernel treats them as not a slot
      return raw < kRoleMax ? int(raw) : MemberInfo::kSpare;
  }
}

std::string format_uuid_mdadm(const std::array<uint8_t, 16>& u, int metadata_major) {
  std::string s;
  for (int g = 0; g < 4; g++) {
    if (g) s += ':';
    for (int j = 0; j < 4; j++) {
      int idx = metadata_major == 0 ? 4 * g + (3 - j) : 4 * g + j;
      s += fmt::format("{:02x}", u[size_t(idx)]);
    }
  }
  return s;
}

std::string MemberInfo::array_uuid_text() const { return format_uuid_mdadm(array_uuid, metadata_major); }

MemberInfo from_superblock1(const Superblock1& sb) {
  MemberInfo m;
  m.metadata_major = 1;
  m.metadata_minor = superblock1_minor_from_offset(sb.super_offset);
  m.array_uuid = sb.set_uuid;
  m.device_uuid = sb.device_uuid;
  m.name = sb.name();
  m.level = sb.level;
  m.layout = sb.layout;
  m.chunk_sectors = sb.chunksize;
  m.raid_disks = sb.raid_disks;
  m.component_sectors = sb.size;
  m.data_offset = sb.data_offset;
  m.data_size = sb.data_size;
  m.super_offset = sb.super_offset;
  m.events = sb.events;
  m.resync_offset = sb.resync_offset;
  m.clean = sb.resync_offset == kMaxSector;
  m.dev_number = sb.dev_number;
  m.role = role_from_sb1(sb.role());
  m.feature_map = sb.feature_map;
  m.recovery_offset_valid = (sb.feature_map & kFeatureRecoveryOffset) != 0;
  m.recovery_offset = sb.recovery_offset;
  m.raid0_layout_flag = (sb.feature_map & kFeatureRaid0Layout) != 0;
  m.has_internal_bitmap = (sb.feature_map & kFeatureBitmapOffset) != 0;
  m.bitmap_offset = m.has_internal_bitmap ? sb.bitmap_offset : 0;
  m.reshape_active = (sb.feature_map & kFeatureReshapeActive) != 0;
  if (m.reshape_active) {
    m.reshape_position = sb.reshape_position;
    m.new_level = int32_t(sb.new_level);
    m.new_layout = sb.new_layout;
    m.new_chunk_sectors = sb.new_chunk;
    m.delta_disks = int32_t(sb.delta_disks);
    // As super_1_validate: a shrink always runs backwards; the bit decides only when the
    // number of disks stays (a data offset that moves up).
    m.reshape_backwards = m.delta_disks < 0 || (m.delta_disks == 0 && (sb.feature_map & kFeatureReshapeBackwards));
  } else {
    m.new_level = m.level;
    m.new_layout = m.layout;
    m.new_chunk_sectors = m.chunk_sectors;
  }
  m.new_data_offset = m.data_offset;
  // new_offset is a signed 32-bit delta; added modulo 2^64 (a wild value is caught where
  // the member set checks the new offset against the member).
  if (sb.feature_map & kFeatureNewOffset) m.new_data_offset = sb.data_offset + uint64_t(int64_t(int32_t(sb.new_offset)));
  m.write_mostly = (sb.devflags & kDevflagWriteMostly) != 0;
  m.fail_fast = (sb.devflags & kDevflagFailFast) != 0;
  m.roles_of_dev_numbers.reserve(sb.dev_roles.size());
  for (uint16_t r : sb.dev_roles) m.roles_of_dev_numbers.push_back(role_from_sb1(r));
  m.ctime = sb.ctime & kSb1TimeSecMask;
  m.utime = sb.utime & kSb1TimeSecMask;
  return m;
}

namespace {

// The role a 0.90 descriptor gives its device, as super_90_validate reads it.
int role_from_desc0(const DiskDescriptor0& d, uint32_t minor_version) {
  if (d.state & kDiskFaulty) return MemberInfo::kFaulty;
  if (d.state & kDiskSync) return int(d.raid_disk);
  // active but not in sync: recovering up to the reshape position (0.91 only)
  if ((d.state & kDiskActive) && minor_version >= 91) return int(d.raid_disk);
  if (d.state & kDiskRemoved) return MemberInfo::kRemoved;
  return MemberInfo::kSpare;
}

}  // namespace

MemberInfo from_superblock0(const Superblock0& sb, uint64_t dev_sectors) {
  MemberInfo m;
  m.metadata_major = 0;
  m.metadata_minor = int(sb.minor_version);
  m.preferred_minor = int(sb.md_minor);
  m.array_uuid = sb.uuid_bytes();
  m.level = sb.level;
  m.layout = sb.layout;
  m.chunk_sectors = sb.chunk_size >> 9;
  m.raid_disks = sb.raid_disks;
  m.component_sectors = uint64_t(sb.size) * 2;
  m.data_offset = 0;
  if (dev_sectors) {
    m.super_offset = superblock0_offset_sectors(dev_sectors);
    m.data_size = std::min(m.super_offset, kSb0MaxComponentSectors);
  } else {
    m.data_size = m.component_sectors;
  }
  m.events = sb.events;
  m.clean = (sb.state & kSb0StateClean) != 0;
  // The kernel trusts recovery_cp only when it was written with the current events.
  if (m.clean)
    m.resync_offset = kMaxSector;
  else
    m.resync_offset = sb.events == sb.cp_events ? sb.recovery_cp : 0;
  m.dev_number = sb.this_disk.number;
  const DiskDescriptor0& own = sb.this_disk.number < kSb0Disks ? sb.disks[sb.this_disk.number] : sb.this_disk;
  m.role = role_from_desc0(own, sb.minor_version);
  m.has_internal_bitmap = (sb.state & kSb0StateBitmapPresent) != 0;
  m.bitmap_offset = m.has_internal_bitmap ? 8 : 0;  // 4 KiB after the superblock
  m.reshape_active = sb.minor_version >= 91;
  if (m.reshape_active) {
    m.reshape_position = sb.reshape_position;
    m.new_level = int32_t(sb.new_level);
    m.new_layout = sb.new_layout;
    m.new_chunk_sectors = sb.new_chunk >> 9;
    m.delta_disks = int32_t(sb.delta_disks);
    m.reshape_backwards = m.delta_disks < 0;
  } else {
    m.new_level = m.level;
    m.new_layout = m.layout;
    m.new_chunk_sectors = m.chunk_sectors;
  }
  m.write_mostly = (own.state & kDiskWriteMostly) != 0;
  m.fail_fast = (own.state & kDiskFailFast) != 0;
  // Descriptors past the last one in use are empty: leave them out.
  size_t used = 0;
  for (size_t i = 0; i < kSb0Disks; i++) {
    const DiskDescriptor0& d = sb.disks[i];
    if (d.state || d.number || d.major || d.minor || d.raid_disk) used = i + 1;
  }
  for (size_t i = 0; i < used; i++) m.roles_of_dev_numbers.push_back(role_from_desc0(sb.disks[i], sb.minor_version));
  m.ctime = sb.ctime;
  m.utime = sb.utime;
  return m;
}

}  // namespace umd
