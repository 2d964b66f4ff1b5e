// --grow NAME: mdadm --grow on a running array.
//  - --bitmap=none|internal|lockless|FILE adds or removes the write-intent bitmap.
//  - --raid-devices=N, --chunk=C, --layout=L (together or apart) start a reshape that the
//    array's sync thread moves while it serves (array/array_reshape.cc says which); the
//    command returns once the superblocks record it, as mdadm does; --detail and --status
//    show its progress.
//  - --level=L changes the level in place where md can without moving data (raid1 <->
//    raid5, raid4 <-> raid5 <-> raid6, raid0 <-> raid4/5/10: array/array_takeover.cc);
//    with --layout=preserve where mdadm would otherwise restripe; --force converts with too
//    few spares (degraded).
//  - --backup-file=F (with --raid-devices, --chunk, --layout of raid4/5/6): the data stays
//    where it is and the reshape rewrites it in place, each section first saved in F in
//    mdadm's format by the daemon's overseer (overseer/reshape_overseer.h), as mdadm does
//    when it is given one. F must not exist (mdadm creates it O_EXCL); it is removed when
//    the reshape no longer needs it. After a crash, --assemble --backup-file=F restores it.
//  - --continue resumes a recorded reshape that is held (--assemble --freeze-reshape).
//  - --size=max|N changes each member's space (a grown part is resynced), --array-size=N|max
//    the size clients see (array/array_size.cc).
#include <chrono>
#include <filesystem>
#include <tuple>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/scan_sources.h"
#include "daemon/control_protocol.h"
#include "daemon/runtime_dir.h"
#include "util/units.h"

namespace umd::cli {

int cmd_grow(const Args& a) {
  Status name_ok = daemon::check_array_name(a.array_name);
  if (!name_ok.is_ok()) return usage_error(name_ok.message());
  if (a.backup_file && !(a.raid_devices || a.chunk || a.layout || a.level)) {
    return usage_error("--backup-file goes with --raid-devices, --chunk, --layout or --level (a reshape)");
  }
  if (a.grow_continue) {
    // mdadm --grow --continue: the recorded reshape moves again (after --freeze-reshape,
    // or a freeze); one umd cannot move says why.
    if (a.raid_devices || a.chunk || a.layout || a.level || a.bitmap || a.size || a.array_size) {
      return usage_error("--grow --continue takes no other change");
    }
    if (int rc = check_assembled(a.array_name)) return rc;
    auto d = daemon::control_call(a.array_name, {{"op", "detail"}}, std::chrono::seconds(30));
    if (!d.is_ok()) return fail_for(a.array_name, d.status());
    const nlohmann::json& arr = (*d)["array"];
    if (!arr.contains("reshape") || arr["reshape"].is_null()) {
      return fail(Status(Err::invalid, a.array_name + ": no reshape is recorded to continue"));
    }
    auto r = daemon::control_call(a.array_name, {{"op", "action"}, {"action", "reshape"}}, std::chrono::seconds(30));
    if (!r.is_ok()) return fail_for(a.array_name, r.status());
    return 0;
  }
  if (a.size || a.array_size) {
    if (a.raid_devices || a.chunk || a.layout || a.level || a.bitmap) {
      return usage_error("--grow: change the size and the shape in two commands");
    }
    if (!a.members.empty()) return usage_error("--grow NAME: unexpected \"" + a.members.front() + "\"");
    nlohmann::json req{{"op", "grow"}};
    for (auto [opt, value, key] : {std::tuple{"--size", &a.size, "size_kib"},
                                   std::tuple{"--array-size", &a.array_size, "array_size_kib"}}) {
      if (!*value) continue;
      if (**value == "max") {
        req[key] = "max";
        continue;
      }
      auto k = parse_size_kib_default(**value);
      if (!k.is_ok()) return usage_error(std::string(opt) + ": " + k.status().message());
      req[key] = *k / 1024;
    }
    if (int rc = check_assembled(a.array_name)) return rc;
    auto r = daemon::control_call(a.array_name, req, std::chrono::seconds(120));
    if (!r.is_ok()) return fail_for(a.array_name, r.status());
    return 0;
  }
  if (a.raid_devices || a.chunk || a.layout || a.level) {
    if (a.bitmap) return usage_error("--grow: change the shape and the bitmap in two commands");
    if (!a.members.empty()) return usage_error("--grow NAME: unexpected \"" + a.members.front() + "\"");
    nlohmann::json req{{"op", "grow"}};
    if (a.raid_devices) req["raid_devices"] = *a.raid_devices;
    if (a.chunk) {
      auto c = parse_size_kib_default(*a.chunk);
      if (!c.is_ok()) return usage_error("--chunk: " + c.status().message());
      req["chunk_kib"] = *c / 1024;
    }
    if (a.layout) req["layout"] = *a.layout;
    if (a.level) req["level"] = *a.level;
    if (a.force) req["force"] = true;
    if (a.backup_file) req["backup_file"] = absolute_path(*a.backup_file);
    if (int rc = check_assembled(a.array_name)) return rc;
    auto r = daemon::control_call(a.array_name, req, std::chrono::seconds(120));
    if (!r.is_ok()) return fail_for(a.array_name, r.status());
    return 0;
  }
  if (!a.bitmap) return usage_error("--grow NAME needs --bitmap=none|internal|FILE");
  if (!a.members.empty()) return usage_error("--grow NAME --bitmap=...: unexpected \"" + a.members.front() + "\"");
  std::string kind = *a.bitmap;
  if (kind.find('/') != std::string::npos) {
    std::error_code ec;
    kind = std::filesystem::absolute(kind, ec).lexically_normal().string();
  } else if (kind != "none" && kind != "internal" && kind != "lockless") {
    return usage_error("--bitmap=" + kind + ": none, internal, lockless, or a file path (with a '/')");
  }
  if (int rc = check_assembled(a.array_name)) return rc;
  auto r = daemon::control_call(a.array_name, {{"op", "grow"}, {"bitmap", kind}}, std::chrono::seconds(120));
  if (!r.is_ok()) return fail_for(a.array_name, r.status());
  return 0;
}

}  // namespace umd::cli
