// What the scan family reads: the config (--config, default /etc/umd/umd.conf) and the
// PATHs to search (given, else the config's DEVICE lines, else every partition in
// /proc/partitions, as mdadm's `DEVICE partitions` default), and --uuid/--name as a
// recovery::Selector.
#pragma once

#include <string>
#include <vector>

#include "cli/args.h"
#include "format/mdadm_conf.h"
#include "recovery/build.h"
#include "recovery/scan.h"

namespace umd::cli {

inline constexpr const char* kDefaultConfig = "/etc/umd/umd.conf";

// The config: --config FILE must exist; the default may be absent (an empty config).
// Errors name FILE:LINE.
Result<MdadmConf> load_config(const Args& a);

// PATHs given, else the config's DEVICE words (globs expanded; `partitions` is
// /proc/partitions' devices), else /proc/partitions'. The kernel lists partitions
// itself: devices from /proc/partitions are not searched for partitions again.
struct Sources {
  std::vector<std::string> paths;
  bool search_partitions = true;
};
Sources scan_sources(const Args& a, const MdadmConf& conf);

// --uuid (normalized; a usage error when it is no uuid) and --name.
Result<recovery::Selector> selector_of(const Args& a);

// The members' specs, in scan order.
std::vector<std::string> member_specs(const recovery::ScanResult& s, const recovery::FoundArray& f);

// --build's array from --level, --raid-devices, --chunk, --layout, --data-offset,
// --size, --overlay and the MEMBERs; a usage error as Err::invalid.
Result<recovery::BuildSpec> build_spec_of(const Args& a);

// Absolute, normalized (the daemon leaves our cwd).
std::string absolute_path(const std::string& p);

}  // namespace umd::cli
