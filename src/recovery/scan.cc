#include "recovery/scan.h"

#include <fmt/format.h>

#include <algorithm>

#include "format/mdadm_conf.h"
#include "io/member_spec.h"

namespace umd::recovery {
namespace {

io::OpenOptions open_options(const ScanOptions& opts) {
  io::OpenOptions oo;
  oo.read_only = !opts.writable;
  oo.direct = false;
  oo.overlay_dir = opts.overlay_dir;
  return oo;
}

// Probes one spec. Ok(nullopt) when there is no superblock; a superblock that does not
// decode becomes a warning.
Result<std::optional<engine::ProbedMember>> probe_one(const std::string& spec, const ScanOptions& opts,
                                                       std::vector<std::string>* warnings) {
  UMD_ASSIGN_OR_RETURN(auto dev, io::open_member(spec, open_options(opts)));
  auto pm = engine::probe_member(std::move(dev));
  if (pm.is_ok()) return std::optional<engine::ProbedMember>(std::move(pm).value());
  if (opts.require_superblock) return pm.status();
  if (pm.status().code() == Err::not_found) return std::optional<engine::ProbedMember>();
  if (pm.status().code() == Err::io) return pm.status();
  warnings->push_back(pm.status().message() + "; skipped");
  return std::optional<engine::ProbedMember>();
}

bool same_member(const MemberInfo& a, const MemberInfo& b) {
  return a.array_uuid == b.array_uuid && a.dev_number == b.dev_number && a.device_uuid == b.device_uuid &&
         a.events == b.events;
}

}  // namespace

std::string uuid_hex(const MemberInfo& m) {
  std::string t = format_uuid_mdadm(m.array_uuid, m.metadata_major);
  t.erase(std::remove(t.begin(), t.end(), ':'), t.end());
  return t;
}

std::string Selector::text() const {
  std::string s;
  if (uuid) s += "--uuid=" + *uuid;
  if (name) s += (s.empty() ? "" : " ") + std::string("--name=") + *name;
  if (super_minor) s += (s.empty() ? "" : " ") + fmt::format("super-minor={}", *super_minor);
  return s;
}

bool matches(const MemberInfo& m, const Selector& sel) {
  if (sel.uuid && uuid_hex(m) != *sel.uuid) return false;
  if (sel.name) {
    const size_t colon = m.name.find(':');
    const bool whole = m.name == *sel.name;
    const bool after_host = colon != std::string::npos && m.name.substr(colon + 1) == *sel.name;
    if (m.metadata_major == 0 || (!whole && !after_host)) return false;
  }
  if (sel.super_minor && (m.metadata_major != 0 || m.preferred_minor != *sel.super_minor)) return false;
  return true;
}

Result<ScanResult> scan(const std::vector<std::string>& paths, const ScanOptions& opts) {
  ScanResult out;
  for (const std::string& path : paths) {
    UMD_ASSIGN_OR_RETURN(io::MemberSpec spec, io::parse_member_spec(path));
    // What the whole PATH's probe warns about is said only when no partition holds a
    // member: a partition's end-of-device superblock seen from the whole disk says it
    // lives elsewhere, and that is no news.
    std::vector<std::string> whole_warnings;
    UMD_ASSIGN_OR_RETURN(auto whole, probe_one(path, opts, &whole_warnings));
    const bool whole_found = whole.has_value();
    const size_t whole_at = out.members.size();
    bool whole_kept = whole_found;
    if (whole) out.members.push_back(std::move(*whole));
    if (spec.partition != 0 || !opts.search_partitions) {
      out.warnings.insert(out.warnings.end(), whole_warnings.begin(), whole_warnings.end());
      continue;
    }
    auto parts = io::partition_specs(path);
    if (!parts.is_ok()) {
      if (whole_found) continue;  // the array's own data looks like a table
      return parts.status();
    }
    const size_t before_parts = out.members.size();
    for (const std::string& p : *parts) {
      UMD_ASSIGN_OR_RETURN(auto pm, probe_one(p, opts, &out.warnings));
      if (!pm) continue;
      // A 0.90 or 1.0 superblock sits at the end: the last partition's can also be found
      // from the whole disk. The same member seen twice is the partition (as mdadm).
      if (whole_kept && same_member(out.members[whole_at].info, pm->info)) {
        out.members.erase(out.members.begin() + long(whole_at));
        whole_kept = false;
      }
      out.members.push_back(std::move(*pm));
    }
    if (out.members.size() == before_parts) {
      out.warnings.insert(out.warnings.end(), whole_warnings.begin(), whole_warnings.end());
    }
  }
  return out;
}

std::vector<FoundArray> group_arrays(const ScanResult& s) {
  std::vector<FoundArray> arrays;
  for (size_t i = 0; i < s.members.size(); i++) {
    const MemberInfo& mi = s.members[i].info;
    auto it = std::find_if(arrays.begin(), arrays.end(),
                           [&](const FoundArray& a) { return a.ref.array_uuid == mi.array_uuid; });
    if (it == arrays.end()) {
      arrays.push_back({mi, {i}});
    } else {
      it->members.push_back(i);
      if (mi.events > it->ref.events) it->ref = mi;
    }
  }
  return arrays;
}

Result<std::vector<engine::ProbedMember>> take_array(ScanResult&& s, const Selector& sel) {
  std::vector<engine::ProbedMember> picked;
  std::vector<std::string> uuids;
  for (engine::ProbedMember& m : s.members) {
    if (!matches(m.info, sel)) continue;
    const std::string u = m.info.array_uuid_text();
    if (std::find(uuids.begin(), uuids.end(), u) == uuids.end()) uuids.push_back(u);
    picked.push_back(std::move(m));
  }
  if (picked.empty()) {
    return Result<std::vector<engine::ProbedMember>>(Err::not_found,
                                                     fmt::format("no member of an array with {} found", sel.text()));
  }
  if (uuids.size() > 1) {
    std::string list;
    for (const auto& u : uuids) list += (list.empty() ? "" : ", ") + u;
    return Result<std::vector<engine::ProbedMember>>(
        Err::invalid, fmt::format("{} matches {} arrays ({}); pick one with --uuid", sel.text(), uuids.size(), list));
  }
  return picked;
}

}  // namespace umd::recovery
