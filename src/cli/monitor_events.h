// What `umd --monitor` reports, as a pure function of successive looks at an array (each
// look: the "array" object of the daemon's detail reply, or nothing when the daemon is
// gone). The rules are mdadm's check_array() (Monitor.c), keyed by member path instead of
// md's disk number:
//
//   TestMessage        with --test, at the first look at each array (before the rest)
//   DeviceDisappeared  no answer, when the previous look had one (or at the first look at
//                      a NAMEd array); a raid0/linear NAMEd array gets it once with info
//                      "Wrong-Level" (nothing to monitor there)
//   NewArray           an answer after failed looks; every array found by scanning gets it
//                      at its first look, as mdadm --scan does
//   DegradedArray      at the first look (or the first after NewArray) when degraded; umd
//                      also reports it when a later look finds the array newly degraded
//   RebuildStarted     a sync (resync, recovery, check, repair) was not running and is
//   RebuildNN          the sync's percent crossed a multiple of --increment (default 20):
//                      NN is that multiple, two digits (Rebuild20, Rebuild40, ...)
//   RebuildFinished    the sync stopped running; info "mismatches found: N (on raid level
//                      L)" when mismatch_cnt is not 0
//   Fail               a member that was in sync ("active sync") no longer is (faulty,
//                      or gone)
//   FailSpare          a member that was not in sync (a spare being rebuilt) became faulty
//   SpareActive        a member that was not in sync became in sync (rebuild done)
// Member events need two successive answers, the later one not a NewArray.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace umd::cli {

struct MonitorEvent {
  std::string event;   // "Fail", "Rebuild40", ...
  std::string array;   // "md0"
  std::string member;  // a member's path (Fail, FailSpare, SpareActive), else ""
  std::string info;    // RebuildFinished's mismatches, DeviceDisappeared's "Wrong-Level"
  bool operator==(const MonitorEvent&) const = default;
};

// "Event: Fail, Array: md0, Member: /img/d1.img" (", Info: ..." when there is info).
std::string event_line(const MonitorEvent& e);

inline constexpr int kPercentUnknown = -2;  // mdadm's RESYNC_UNKNOWN: not looked yet
inline constexpr int kPercentNone = -1;     // RESYNC_NONE: no sync running

// What the monitor remembers of one array between looks (mdadm's struct state).
struct ArrayWatch {
  std::string name;
  bool from_scan = false;                  // found by scanning, not named
  std::optional<nlohmann::json> last;      // the last answer's "array" object
  int err = 0;                             // looks without an answer since the last one
  int percent = kPercentUnknown;
};

// An array found by scanning: mdadm starts it as an error, so its first look is NewArray.
ArrayWatch scanned_watch(const std::string& name);

struct LookOptions {
  bool test = false;       // report TestMessage first
  unsigned increment = 20;
};

// One look: updates w and returns the events in the order mdadm raises them.
std::vector<MonitorEvent> monitor_look(ArrayWatch& w, const std::optional<nlohmann::json>& array,
                                       const LookOptions& o);

}  // namespace umd::cli
