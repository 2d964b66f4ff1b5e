#include "cli/scan_sources.h"

#include <glob.h>

#include <filesystem>
#include <fstream>
#include <sstream>

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

std::vector<std::string> member_specs(const recovery::ScanResult& s, const recovery::FoundArray& f) {
  std::vector<std::string> out;
  for (size_t i : f.members) out.push_back(s.members[i].path);
  return out;
}

}  // namespace umd::cli
