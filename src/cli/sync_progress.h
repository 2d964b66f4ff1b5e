// The sync thread's progress as md reports it, from a detail's "array" object
// (daemon/served_array.h): /proc/mdstat's progress line, mdadm --detail's "Rebuild
// Status", and mdadm --monitor's percent. Pure functions, shared by --status, --detail
// and --monitor so they agree.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace umd::cli {

// md's per-mille of pos/end as status_resync computes it ((pos>>10)*1000/((end>>10)+1)).
unsigned sync_per_mille(uint64_t pos, uint64_t end);

// True while a sync runs: sync_action is not idle/frozen and sync_end > 0.
bool sync_running(const nlohmann::json& array);

// The word mdstat prints for the running action: "resync" (also for repair, as the
// kernel does: MD_RECOVERY_SYNC without MD_RECOVERY_CHECK), "recovery", "check",
// "reshape".
std::string mdstat_sync_word(const std::string& sync_action);

// mdstat's line under the array's status line, without the leading indent:
// "[====>................]  recovery = 22.4% (14592/65024) finish=0.3min speed=40960K/sec"
// while a sync runs; "resync=PENDING" when idle with a resync_offset; "" otherwise.
std::string mdstat_progress(const nlohmann::json& array);

// mdadm's percent: per-mille / 10 while a sync runs; -1 (RESYNC_NONE) otherwise.
int sync_percent(const nlohmann::json& array);

// mdadm --detail's "<Kind> Status" word for the running action: "Rebuild" (recover),
// "Resync" (resync, repair), "Check", "Reshape"; and State's suffix: ", recovering",
// ", resyncing", ", checking", ", reshaping".
std::string detail_status_kind(const std::string& sync_action);
std::string detail_state_suffix(const std::string& sync_action);

}  // namespace umd::cli
