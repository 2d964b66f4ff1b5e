#include "cli/sync_progress.h"

#include <fmt/format.h>

namespace umd::cli {

using nlohmann::json;

unsigned sync_per_mille(uint64_t pos, uint64_t end) {
  if (pos > end) pos = end;
  return unsigned((pos >> 10) * 1000 / ((end >> 10) + 1));
}

bool sync_running(const json& a) {
  const std::string action = a.value("sync_action", std::string("idle"));
  return action != "idle" && action != "frozen" && a.value("sync_end", uint64_t(0)) > 0;
}

std::string mdstat_sync_word(const std::string& action) {
  if (action == "check") return "check";
  if (action == "resync" || action == "repair") return "resync";
  if (action == "reshape") return "reshape";
  return "recovery";
}

namespace {

// Where the run is now: md's mdstat counts curr_resync (live), not sync_completed.
uint64_t done_of(const json& a) { return a.value("sync_done", a.value("sync_pos", uint64_t(0))); }

}  // namespace

std::string mdstat_progress(const json& a) {
  if (!sync_running(a)) {
    const json& off = a.contains("resync_offset") ? a["resync_offset"] : json(nullptr);
    return off.is_number() ? "resync=PENDING" : "";
  }
  const uint64_t end = a.value("sync_end", uint64_t(0));
  const uint64_t pos = std::min(done_of(a), end);
  const unsigned pm = sync_per_mille(pos, end);
  const unsigned x = pm / 50;
  std::string bar = "[" + std::string(x, '=') + ">" + std::string(20 - std::min(x, 20u), '.') + "] ";
  // finish: the time left at the current speed, as md prints it (minutes and tenths).
  const uint64_t speed = a.value("sync_speed_kibs", uint64_t(0));
  const uint64_t left_kib = (end - pos) / 2;
  const uint64_t rt = left_kib / (speed ? speed : 1);
  return bar + fmt::format(" {} ={:3}.{}% ({}/{}) finish={}.{}min speed={}K/sec",
                           mdstat_sync_word(a.value("sync_action", std::string())), pm / 10, pm % 10, pos / 2,
                           end / 2, rt / 60, (rt % 60) / 6, speed);
}

int sync_percent(const json& a) {
  if (!sync_running(a)) return -1;
  return int(sync_per_mille(done_of(a), a.value("sync_end", uint64_t(0))) / 10);
}

std::string detail_status_kind(const std::string& action) {
  if (action == "recover") return "Rebuild";
  if (action == "check") return "Check";
  if (action == "reshape") return "Reshape";
  return "Resync";
}

std::string detail_state_suffix(const std::string& action) {
  if (action == "recover") return ", recovering";
  if (action == "check") return ", checking";
  if (action == "reshape") return ", reshaping";
  return ", resyncing";
}

}  // namespace umd::cli
