#include "cli/monitor_events.h"

#include <fmt/format.h>

#include <map>

#include "cli/sync_progress.h"

namespace umd::cli {
namespace {

using nlohmann::json;

// md's disk state bits, as far as the monitor cares.
constexpr int kSync = 1;
constexpr int kFaulty = 2;

std::map<std::string, int> member_bits(const json& array) {
  std::map<std::string, int> out;
  for (const json& m : array.value("members", json::array())) {
    const std::string state = m.value("state", "");
    if (state == "removed") continue;  // left out at assembly: not in the array
    int bits = 0;
    if (state.find("faulty") != std::string::npos) bits |= kFaulty;
    else if (m.value("slot", -1) >= 0 && state.find("sync") != std::string::npos) bits |= kSync;
    out[m.value("path", "")] = bits;
  }
  return out;
}

}  // namespace

std::string event_line(const MonitorEvent& e) {
  std::string out = "Event: " + e.event + ", Array: " + e.array;
  if (!e.member.empty()) out += ", Member: " + e.member;
  if (!e.info.empty()) out += ", Info: " + e.info;
  return out;
}

ArrayWatch scanned_watch(const std::string& name) {
  ArrayWatch w;
  w.name = name;
  w.from_scan = true;
  w.err = 1;
  return w;
}

std::vector<MonitorEvent> monitor_look(ArrayWatch& w, const std::optional<json>& array, const LookOptions& o) {
  std::vector<MonitorEvent> ev;
  auto raise = [&](std::string event, std::string member = "", std::string info = "") {
    ev.push_back({std::move(event), w.name, std::move(member), std::move(info)});
  };
  if (o.test) raise("TestMessage");
  if (!array.has_value()) {
    if (w.err == 0) raise("DeviceDisappeared");
    w.err++;
    return ev;
  }
  const json& a = *array;
  const int level = a.value("level", 0);
  if (level == 0 || level == -1) {
    if (w.err == 0 && !w.from_scan) raise("DeviceDisappeared", "", "Wrong-Level");
    w.err++;
    return ev;
  }
  bool new_array = false;
  if (w.err > 0) {
    w.err = 0;
    w.percent = kPercentNone;
    new_array = true;
    raise("NewArray");
  }
  const bool degraded = a.value("degraded", false);
  const bool first = !w.last.has_value() || new_array;
  if (degraded && first) raise("DegradedArray");
  // umd's addition to mdadm: newly degraded, reported after the member events that made it so.
  const bool became_degraded = degraded && !first && !w.last->value("degraded", false);

  const int pct = sync_percent(a);
  const unsigned inc = o.increment ? o.increment : 20;
  if (w.percent < 0 && w.percent != kPercentUnknown && pct >= 0) raise("RebuildStarted");
  if (w.percent >= 0 && pct >= 0 && unsigned(pct) / inc > unsigned(w.percent) / inc) {
    const unsigned step = unsigned(pct) / inc * inc;
    raise(step == 0 ? "RebuildStarted" : fmt::format("Rebuild{:02}", step));
  }
  if (pct < 0 && w.percent >= 0) {
    const uint64_t mismatches = a.value("mismatch_cnt", uint64_t(0));
    raise("RebuildFinished", "",
          mismatches ? fmt::format("mismatches found: {} (on raid level {})", mismatches, level) : "");
  }
  w.percent = pct;

  if (w.last.has_value() && !new_array) {
    const auto before = member_bits(*w.last);
    const auto now = member_bits(a);
    std::map<std::string, std::pair<int, int>> all;  // path -> (before, now); -1: absent
    for (auto& [p, b] : before) all[p] = {b, -1};
    for (auto& [p, b] : now) {
      auto it = all.find(p);
      if (it == all.end()) all[p] = {-1, b};
      else it->second.second = b;
    }
    for (auto& [path, states] : all) {
      const int old_bits = states.first < 0 ? 0 : states.first;
      const int new_bits = states.second < 0 ? 0 : states.second;
      const int change = old_bits ^ new_bits;
      if (change == 0) continue;
      if (old_bits & change & kSync) {
        raise("Fail", path);
      } else if ((new_bits & kFaulty) && states.first >= 0) {
        raise("FailSpare", path);
      } else if (new_bits & change & kSync) {
        raise("SpareActive", path);
      }
    }
  }
  if (became_degraded) raise("DegradedArray");
  w.last = a;
  return ev;
}

}  // namespace umd::cli
