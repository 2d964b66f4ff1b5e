#include "cli/scan_sources.h"

#include <glob.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "util/units.h"

namespace umd::cli {
namespace {

std::vector<std::string> proc_partitions() {
  std::vector<std::string> out;
  std::ifstream f("/proc/partitions");
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream ss(line);
    std::string major, minor, blocks, name;
    if (!(ss >> major >> minor >> blocks >> name) || major == "major") continue;
    out.push_back("/dev/" + name);
  }
  return out;
}

}  // namespace

std::string absolute_path(const std::string& p) {
  std::error_code ec;
  auto abs = std::filesystem::absolute(p, ec);
  return ec ? p : abs.lexically_normal().string();
}

Result<MdadmConf> load_config(const Args& a) {
  const std::string file = a.config.value_or(kDefaultConfig);
  std::ifstream f(file);
  if (!f) {
    if (!a.config) return MdadmConf{};
    return Result<MdadmConf>(Err::not_found, "--config " + file + ": cannot be read");
  }
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_mdadm_conf(ss.str(), file);
}

Sources scan_sources(const Args& a, const MdadmConf& conf) {
  if (!a.members.empty()) return {a.members, true};
  if (conf.devices.empty()) return {proc_partitions(), false};
  Sources src;
  std::vector<std::string>& out = src.paths;
  for (const std::string& w : conf.devices) {
    if (w == "partitions") {
      for (auto& p : proc_partitions()) out.push_back(std::move(p));
      src.search_partitions = false;
      continue;
    }
    if (w == "containers") continue;  // no external metadata in umd
    glob_t g{};
    if (::glob(w.c_str(), GLOB_NOCHECK, nullptr, &g) == 0) {
      for (size_t i = 0; i < g.gl_pathc; i++) out.push_back(g.gl_pathv[i]);
    }
    ::globfree(&g);
  }
  return src;
}

Result<recovery::Selector> selector_of(const Args& a) {
  recovery::Selector sel;
  if (a.uuid) {
    auto u = normalize_uuid(*a.uuid);
    if (!u.is_ok()) return u.status().with_context("--uuid");
    sel.uuid = *u;
  }
  if (a.name) sel.name = *a.name;
  return sel;
}

Result<recovery::BuildSpec> build_spec_of(const Args& a) {
  recovery::BuildSpec spec;
  if (!a.level) return Result<recovery::BuildSpec>(Err::invalid, "--build needs --level");
  if (!a.raid_devices) return Result<recovery::BuildSpec>(Err::invalid, "--build needs --raid-devices");
  spec.level = *a.level;
  spec.raid_devices = *a.raid_devices;
  spec.layout = a.layout;
  for (const std::string& m : a.members) spec.members.push_back(m == "missing" ? m : absolute_path(m));
  if (a.overlay) spec.overlay_dir = absolute_path(*a.overlay);
  auto size_of = [](const std::optional<std::string>& v, const char* opt) -> Result<std::optional<uint64_t>> {
    if (!v) return std::optional<uint64_t>();
    auto n = parse_size_kib_default(*v);
    if (!n.is_ok()) return n.status().with_context(opt);
    return std::optional<uint64_t>(*n);
  };
  UMD_ASSIGN_OR_RETURN(spec.chunk_bytes, size_of(a.chunk, "--chunk"));
  UMD_ASSIGN_OR_RETURN(auto off, size_of(a.data_offset, "--data-offset"));
  spec.data_offset_bytes = off.value_or(0);
  UMD_ASSIGN_OR_RETURN(spec.size_bytes, size_of(a.size, "--size"));
  return spec;
}

std::vector<std::string> member_specs(const recovery::ScanResult& s, const recovery::FoundArray& f) {
  std::vector<std::string> out;
  for (size_t i : f.members) out.push_back(s.members[i].path);
  return out;
}

}  // namespace umd::cli
