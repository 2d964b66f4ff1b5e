// --detail NAME: what the daemon holding NAME says about the array, laid out like
// `mdadm --detail`, plus where it is served and the NBD counters; --json for the raw reply.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "layout/layout_names.h"
#include "cli/sync_progress.h"
#include "daemon/control_protocol.h"
#include "daemon/runtime_dir.h"
#include "format/mdadm_conf.h"
#include "util/units.h"

namespace umd::cli {
namespace {

using nlohmann::json;

bool is_faulty(const json& m) { return m.value("state", "").find("faulty") != std::string::npos; }
// In a slot and in sync (md's In_sync): "active sync". A spare being rebuilt into a slot
// is not, nor is a replacement being copied.
bool is_in_sync(const json& m) {
  return m.value("slot", -1) >= 0 && !is_faulty(m) && m.value("state", "").find("sync") != std::string::npos;
}
bool in_slot(const json& m) { return m.value("slot", -1) >= 0 && !is_faulty(m); }

std::string detail_text(const std::string& name, const json& r) {
  const json& a = r.at("array");
  std::string out = name + ":\n";
  auto line = [&](const char* key, const std::string& value) { out += fmt::format("{:>18} : {}\n", key, value); };
  // Members left out at assembly (stale, foreign) are not part of the running array.
  json members = json::array();
  for (const json& m : a.at("members")) {
    if (m.value("state", "") != "removed") members.push_back(m);
  }
  const uint64_t array_sectors = a.value("array_sectors", uint64_t(0));
  const uint64_t component = a.value("component_sectors", uint64_t(0));
  const int level = a.value("level", 0);
  // md's counts (get_array_info): active = in sync; working = not faulty; failed =
  // faulty members still in the array; spare = working but not in sync (a spare being
  // rebuilt counts here, as in mdadm).
  size_t active = 0, working = 0, failed = 0;
  for (const json& m : members) {
    active += is_in_sync(m);
    working += !is_faulty(m);
    failed += is_faulty(m);
  }
  const size_t spare = working - active;
  const std::string action = a.value("sync_action", std::string("idle"));
  const bool syncing = sync_running(a);
  const bool pending = !syncing && a.contains("resync_offset") && a["resync_offset"].is_number();

  line("Version", a.value("version", ""));
  line("Raid Level", a.value("raid_level", ""));
  line("Array Size", fmt::format("{}{}", array_sectors / 2, mdadm_human_size(array_sectors)));
  if (level != 0 && level != -1) {
    line("Used Dev Size", fmt::format("{}{}", component / 2, mdadm_human_size(component)));
  }
  line("Raid Devices", std::to_string(a.value("raid_disks", 0u)));
  line("Total Devices", std::to_string(members.size()));
  out += "\n";
  std::string state = a.value("state", "");
  if (a.value("degraded", false)) state += ", degraded";
  if (syncing) state += detail_state_suffix(action);
  if (pending) state += ", resyncing (PENDING)";  // mdadm reads mdstat's "resync=PENDING"
  if (a.value("read_only", false) && state.find("readonly") == std::string::npos) state += " (read-only)";
  line("State", state);
  line("Active Devices", std::to_string(active));
  line("Working Devices", std::to_string(working));
  line("Failed Devices", std::to_string(failed));
  line("Spare Devices", std::to_string(spare));
  out += "\n";
  if (!a.value("layout", "").empty()) line("Layout", a.value("layout", ""));
  if (level != 1 && a.value("chunk_kib", 0u) != 0) line("Chunk Size", fmt::format("{}K", a.value("chunk_kib", 0u)));
  out += "\n";
  if (syncing) {
    line((detail_status_kind(action) + " Status").c_str(), fmt::format("{}% complete", sync_percent(a)));
    out += "\n";
  }
  if (a.contains("reshape") && a["reshape"].is_object()) {
    // mdadm's lines for a reshape (Detail.c). Moving, the sync line above gave its status;
    // held where it stopped, it is "frozen".
    const json& r = a["reshape"];
    const unsigned disks = a.value("raid_disks", 0u);
    const int delta = r.value("delta_disks", 0);
    if (!r.value("moving", false)) line("Reshape Status", fmt::format("{}% complete (frozen)", r.value("percent", 0)));
    if (delta != 0) line("Delta Devices", fmt::format("{}, ({}->{})", delta, int(disks) - delta, disks));
    if (r.value("new_level", level) != level) line("New Level", layout::level_name(r.value("new_level", level)));
    if (r.value("new_layout", "") != a.value("layout", "") && !r.value("new_layout", "").empty()) {
      line("New Layout", r.value("new_layout", ""));
    }
    if (r.value("new_chunk_kib", 0u) != a.value("chunk_kib", 0u)) {
      line("New Chunksize", fmt::format("{}K", r.value("new_chunk_kib", 0u)));
    }
    out += "\n";
  }
  line("UUID", a.value("uuid", ""));
  line("Events", std::to_string(a.value("events", uint64_t(0))));
  out += "\n";

  // Slots in order (a missing one as "removed"), then spares and faulty members.
  out += "    Number   Major   Minor   RaidDevice State\n";
  const unsigned raid_disks = a.value("raid_disks", 0u);
  auto row = [&](const std::string& num, const json* m, const std::string& raid_device, const std::string& st) {
    unsigned maj = m ? m->value("major", 0u) : 0, min = m ? m->value("minor", 0u) : 0;
    std::string path = m ? m->value("path", "") : "";
    std::string l = fmt::format("   {:>5}   {:>5}    {:>5}    {:>5}      {:<13} {}", num, maj, min, raid_device, st, path);
    out += l.substr(0, l.find_last_not_of(' ') + 1) + "\n";
  };
  unsigned number = raid_disks;
  for (unsigned s = 0; s < raid_disks; s++) {
    bool any = false;
    for (const json& m : members) {  // the member in the slot, then a replacement for it
      if (m.value("slot", -1) != int(s) || is_faulty(m)) continue;
      row(std::to_string(any ? number++ : s), &m, std::to_string(s), m.value("state", ""));
      any = true;
    }
    if (!any) row("-", nullptr, std::to_string(s), "removed");
  }
  for (const json& m : members) {
    if (in_slot(m)) continue;
    row(std::to_string(number++), &m, "-", m.value("state", ""));
  }

  const json& nbd = r.value("nbd", json::array());
  if (!nbd.empty()) {
    out += "\n    Served at\n";
    for (const json& e : nbd) {
      const json& s = e.value("stats", json::object());
      out += fmt::format("       {}\n", e.value("uri", ""));
      out += fmt::format(
          "          connections {} ({} open), reads {} ({} bytes), writes {} ({} bytes), flushes {}, "
          "trims {}, errors {}\n",
          s.value("connections_total", 0ull), s.value("connections_open", 0ull), s.value("reads", 0ull),
          s.value("bytes_read", 0ull), s.value("writes", 0ull), s.value("bytes_written", 0ull),
          s.value("flushes", 0ull), s.value("trims", 0ull), s.value("errors", 0ull));
    }
  }
  if (r.contains("fuse") && r["fuse"].is_string()) {
    out += fmt::format("\n    Mounted (FUSE) at\n       {}\n", r["fuse"].get<std::string>());
  }
  out += fmt::format("\n    Daemon pid {}\n", r.value("pid", 0));
  return out;
}

}  // namespace

// --detail --scan: one ARRAY line per running array, as mdadm --detail --scan.
int detail_scan(const Args& a) {
  if (!a.members.empty()) return usage_error("--detail --scan takes no NAME");
  json all = json::array();
  for (const std::string& name : daemon::list_runtime_names()) {
    if (daemon::holder_pid(name) == 0) continue;
    auto r = daemon::control_call(name, {{"op", "detail"}}, std::chrono::seconds(30));
    if (!r.is_ok() || !r->contains("array")) continue;  // stopped meanwhile
    const json& d = (*r)["array"];
    const std::string version = d.value("version", "");
    std::string line = "ARRAY " + devname_of_array_name(name) + " metadata=" + version;
    const std::string set_name = d.value("set_name", "");
    if (version != "0.90" && !set_name.empty()) line += " name=" + conf_quote(set_name);
    line += " UUID=" + d.value("uuid", "");
    if (a.json) all.push_back({{"name", name}, {"line", line}});
    else std::printf("%s\n", line.c_str());
  }
  if (a.json) std::printf("%s\n", all.dump(2).c_str());
  return 0;
}

int cmd_detail(const Args& a) {
  if (a.scan) return detail_scan(a);
  Status name_ok = daemon::check_array_name(a.array_name);
  if (!name_ok.is_ok()) return usage_error(name_ok.message());
  if (!a.members.empty()) return usage_error("--detail takes only the array NAME");
  if (daemon::holder_pid(a.array_name) == 0) {
    daemon::remove_if_stale(a.array_name);
    return fail(Status(Err::not_found, a.array_name + " is not assembled"));
  }
  auto r = daemon::control_call(a.array_name, {{"op", "detail"}}, std::chrono::seconds(30));
  if (!r.is_ok()) return fail(r.status());
  if (!r->contains("array") || !(*r)["array"].is_object()) {
    return fail(Status(Err::corrupt, "the daemon of " + a.array_name + " sent a detail without \"array\""));
  }
  if (a.json) {
    json out = *r;
    out.erase("ok");
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::fputs(detail_text(a.array_name, *r).c_str(), stdout);
  return 0;
}

}  // namespace umd::cli
