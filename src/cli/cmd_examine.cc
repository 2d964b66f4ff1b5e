// --examine MEMBER...: each member's superblock, as mdadm --examine prints it. A whole
// disk image with a partition table shows its table and the superblocks found in its
// partitions. --examine --scan [PATH...]: one ARRAY line per array found (mdadm.conf
// syntax, format/mdadm_conf.h); --verbose adds level, num-devices and devices=.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "assemble/create.h"
#include "cli/commands.h"
#include "cli/examine_report.h"
#include "cli/scan_sources.h"
#include "format/mdadm_conf.h"
#include "layout/layout_names.h"
#include "io/member_spec.h"

namespace umd::cli {
namespace {

std::string table_text(const std::string& path, const PartitionTable& t) {
  std::string o = path + ":\n";
  o += fmt::format("{:>15} : {}{}\n", "Partition Table", t.scheme == PartitionScheme::gpt ? "GPT" : "MBR",
                   t.disk_id.empty() ? "" : ", disk " + t.disk_id);
  for (const Partition& p : t.partitions) {
    o += fmt::format("{:>15} : {} sectors at {} (type {}){}{}\n", fmt::format("{}:p{}", path, p.number),
                     p.size_bytes / 512, p.start_byte / 512, p.type, p.container ? " extended" : "",
                     p.name.empty() ? "" : " \"" + p.name + "\"");
  }
  return o + "\n";
}

// The partition table of a whole PATH, when it has one (errors are the scan's to report).
std::optional<PartitionTable> table_of(const std::string& path) {
  auto spec = io::parse_member_spec(path);
  if (!spec.is_ok() || spec->partition != 0) return std::nullopt;
  io::OpenOptions oo;
  oo.read_only = true;
  oo.direct = false;
  auto whole = io::open_member(path, oo);
  if (!whole.is_ok()) return std::nullopt;
  auto t = io::read_partition_table(**whole);
  if (!t.is_ok() || t->scheme == PartitionScheme::none) return std::nullopt;
  return *t;
}

int examine_scan(const Args& a) {
  auto conf = load_config(a);
  if (!conf.is_ok()) return fail(conf.status());
  const Sources src = scan_sources(a, *conf);
  recovery::ScanOptions so;
  so.search_partitions = src.search_partitions;
  auto s = recovery::scan(src.paths, so);
  if (!s.is_ok()) return fail(s.status());
  for (const std::string& w : s->warnings) std::fprintf(stderr, "umd: %s\n", w.c_str());
  nlohmann::json all = nlohmann::json::array();
  std::string text;
  auto arrays = recovery::group_arrays(*s);
  std::reverse(arrays.begin(), arrays.end());  // mdadm prints the last array found first
  for (const recovery::FoundArray& f : arrays) {
    const auto devices = member_specs(*s, f);
    text += examine_array_line(f.ref, a.verbose, a.verbose ? devices : std::vector<std::string>{});
    all.push_back({{"array_uuid", f.ref.array_uuid_text()},
                   {"name", f.ref.name},
                   {"metadata", f.ref.metadata_major == 0 ? std::string("0.90") : fmt::format("1.{}", f.ref.metadata_minor)},
                   {"raid_level", layout::level_name(f.ref.level)},
                   {"raid_devices", f.ref.raid_disks},
                   {"mdadm_name", mdadm_array_name(f.ref, "")},
                   {"devices", devices},
                   {"line", examine_array_line(f.ref, false)}});
  }
  if (a.json) std::printf("%s\n", all.dump(2).c_str());
  else std::fputs(text.c_str(), stdout);
  return 0;
}

}  // namespace

int cmd_examine(const Args& a) {
  if (a.scan) return examine_scan(a);
  if (a.members.empty()) return usage_error("--examine needs at least one MEMBER (or --scan)");
  nlohmann::json all = nlohmann::json::array();
  std::string text;
  for (const std::string& path : a.members) {
    auto s = recovery::scan({path}, recovery::ScanOptions{});
    if (!s.is_ok()) return fail(s.status());
    if (s->members.empty()) {
      // What a plain probe says (no superblock, or why the one there does not decode).
      auto pm = engine::open_and_probe(path, false);
      return fail(pm.is_ok() ? Status(Err::not_found, path + ": no md superblock found") : pm.status());
    }
    for (const std::string& w : s->warnings) std::fprintf(stderr, "umd: %s\n", w.c_str());
    const bool whole_found = s->members.front().path == path;
    if (!whole_found && !a.json) {
      if (auto t = table_of(path)) text += table_text(path, *t);
    }
    for (const engine::ProbedMember& pm : s->members) {
      if (a.json) all.push_back(examine_json(pm));
      else text += examine_text(pm, engine::local_host_name());
    }
  }
  if (a.json) std::printf("%s\n", all.dump(2).c_str());
  else std::fputs(text.c_str(), stdout);
  return 0;
}

}  // namespace umd::cli
