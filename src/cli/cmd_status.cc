// --status: every running array in the runtime base, laid out like /proc/mdstat (the
// kernel's md_seq_show and each personality's status line); --json for the details.
// Runtime directories whose daemon is gone are removed on the way.
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/sync_progress.h"
#include "daemon/control_protocol.h"
#include "daemon/runtime_dir.h"

namespace umd::cli {
namespace {

using nlohmann::json;

const char* const kPersonalities[] = {"linear", "raid0", "raid1", "raid10", "raid6", "raid5", "raid4"};

std::string basename_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// raid10's copies as mdstat says them, from mdadm's layout word ("n2", "f2", "o2",
// or "near=2,far=2[,offset]").
std::string raid10_copies(const std::string& layout) {
  unsigned near = 1, far = 1;
  bool offset = false;
  if (layout.size() >= 2 && (layout[0] == 'n' || layout[0] == 'f' || layout[0] == 'o') &&
      std::isdigit((unsigned char)layout[1])) {
    unsigned k = unsigned(std::stoul(layout.substr(1)));
    if (layout[0] == 'n') near = k;
    else far = k;
    offset = layout[0] == 'o';
  } else {
    if (auto p = layout.find("near="); p != std::string::npos) near = unsigned(std::stoul(layout.substr(p + 5)));
    if (auto p = layout.find("far="); p != std::string::npos) far = unsigned(std::stoul(layout.substr(p + 4)));
    offset = layout.find("offset") != std::string::npos;
  }
  std::string out;
  if (near > 1) out += fmt::format(" {} near-copies", near);
  if (far > 1) out += fmt::format(" {} {}-copies", far, offset ? "offset" : "far");
  return out;
}

std::string mdstat_entry(const std::string& name, const json& a) {
  // Members left out at assembly (stale, foreign) are not part of the running array.
  json members = json::array();
  for (const json& m : a.at("members")) {
    if (m.value("state", "") != "removed") members.push_back(m);
  }
  const int level = a.value("level", 0);
  const unsigned raid_disks = a.value("raid_disks", 0u);
  const unsigned chunk = a.value("chunk_kib", 0u);
  std::string out = name + " : active";
  if (a.value("read_only", false)) out += " (read-only)";
  out += " " + a.value("raid_level", std::string("unknown"));
  std::string slots(raid_disks, '_');
  unsigned up = 0;
  // The kernel lists members newest first (each is added at the head of the list).
  for (size_t i = members.size(); i-- > 0;) {
    const json& m = members[i];
    const int slot = m.value("slot", -1);
    const std::string state = m.value("state", "");
    const bool faulty = state.find("faulty") != std::string::npos;
    std::string member_name = m.value("name", std::string());
    if (member_name.empty()) member_name = basename_of(m.value("path", ""));
    out += fmt::format(" {}[{}]", member_name, slot >= 0 ? unsigned(slot) : raid_disks + unsigned(i));
    if (faulty) {
      out += "(F)";
      continue;
    }
    if (slot < 0) out += "(S)";
    if (state == "replacement") out += "(R)";
    if (slot >= 0 && unsigned(slot) < raid_disks && state.find("sync") != std::string::npos) {
      if (slots[slot] == '_') up++;
      slots[slot] = 'U';
    }
  }
  out += "\n";
  out += fmt::format("      {} blocks", a.value("array_sectors", uint64_t(0)) / 2);
  const std::string version = a.value("version", "");
  if (!version.empty() && version != "0.90") out += " super " + version;
  const std::string status = fmt::format(" [{}/{}] [{}]", raid_disks, up, slots);
  switch (level) {
    case -1: out += fmt::format(" {}k rounding", chunk); break;
    case 0: out += fmt::format(" {}k chunks", chunk); break;
    case 1: out += status; break;
    case 4:
    case 5:
    case 6:
      out += fmt::format(" level {}, {}k chunk, algorithm {}", level, chunk, a.value("layout_number", 0)) + status;
      break;
    case 10: out += fmt::format(" {}K chunks", chunk) + raid10_copies(a.value("layout", "")) + status; break;
    default: break;
  }
  out += "\n";
  // Levels with a sync thread get the progress line (md's status_resync).
  if (level == 1 || level == 4 || level == 5 || level == 6 || level == 10) {
    const std::string progress = mdstat_progress(a);
    if (!progress.empty()) out += "      " + progress + "\n";
  }
  return out + "\n";
}

}  // namespace

int cmd_status(const Args& a) {
  if (!a.members.empty()) return usage_error("--status takes no arguments");
  json arrays = json::array();
  std::string text = "Personalities :";
  for (const char* p : kPersonalities) text += fmt::format(" [{}]", p);
  text += "\n";
  for (const std::string& name : daemon::list_runtime_names()) {
    const pid_t pid = daemon::holder_pid(name);
    if (pid == 0) {
      daemon::remove_if_stale(name);  // its daemon is gone
      continue;
    }
    auto r = daemon::control_call(name, {{"op", "detail"}}, std::chrono::seconds(10));
    if (!r.is_ok() || !r->contains("array")) {
      // Starting up, or not answering: say so rather than hide it.
      text += name + " : inactive\n\n";
      arrays.push_back({{"name", name}, {"pid", pid},
                        {"error", r.is_ok() ? std::string("no detail") : r.status().message()}});
      continue;
    }
    json entry = *r;
    entry.erase("ok");
    text += mdstat_entry(name, entry["array"]);
    arrays.push_back(std::move(entry));
  }
  text += "unused devices: <none>\n";
  if (a.json) {
    json out = {{"personalities", json::array()}, {"arrays", arrays}};
    for (const char* p : kPersonalities) out["personalities"].push_back(p);
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::fputs(text.c_str(), stdout);
  }
  return 0;
}

}  // namespace umd::cli
