// --monitor [NAME...] [--program CMD] [--oneshot] [--delay S] [--test] [--increment N]:
// mdadm's monitor over the daemons. Every --delay seconds (default 60) it asks each
// array's daemon for its detail and reports what changed (monitor_events.h): a line on
// stdout ("Event: Fail, Array: md0, Member: /img/d1.img"), a syslog(3) message (ident
// "umd", mdadm's wording and priorities), and with --program a run of CMD EVENT ARRAY
// [MEMBER|INFO], waited for. Without NAMEs it watches every array with a runtime
// directory and picks up new ones as they appear (raid0/linear are skipped, as mdadm
// does). --oneshot looks once and exits. Like mdadm, it also exits once no watched array
// answers (all stopped), with status 0.
#include <spawn.h>
#include <sys/wait.h>
#include <syslog.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "cli/commands.h"
#include "cli/monitor_events.h"
#include "daemon/control_protocol.h"
#include "daemon/runtime_dir.h"

extern char** environ;

namespace umd::cli {
namespace {

using nlohmann::json;

std::optional<json> look_at(const std::string& name) {
  auto r = daemon::control_call(name, {{"op", "detail"}}, std::chrono::seconds(10));
  if (!r.is_ok() || !r->contains("array") || !(*r)["array"].is_object()) return std::nullopt;
  return (*r)["array"];
}

int syslog_priority(const std::string& event) {
  if (event.rfind("Fail", 0) == 0 || event.rfind("Degrade", 0) == 0 || event == "DeviceDisappeared") return LOG_CRIT;
  if (event.rfind("Rebuild", 0) == 0) return LOG_WARNING;
  return LOG_INFO;
}

void run_program(const std::string& program, const MonitorEvent& e) {
  const std::string extra = !e.member.empty() ? e.member : e.info;
  std::vector<std::string> args = {program, e.event, e.array};
  if (!extra.empty()) args.push_back(extra);
  std::vector<char*> argv;
  for (std::string& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, program.c_str(), nullptr, nullptr, argv.data(), environ);
  if (rc != 0) {
    std::fprintf(stderr, "umd: --program %s: %s\n", program.c_str(), std::strerror(rc));
    return;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

void report(const Args& a, const MonitorEvent& e) {
  std::printf("%s\n", event_line(e).c_str());
  std::fflush(stdout);
  if (!e.member.empty()) {
    ::syslog(syslog_priority(e.event), "%s event detected on md device %s, component device %s", e.event.c_str(),
             e.array.c_str(), e.member.c_str());
  } else if (!e.info.empty()) {
    ::syslog(syslog_priority(e.event), "%s event detected on md device %s: %s", e.event.c_str(), e.array.c_str(),
             e.info.c_str());
  } else {
    ::syslog(syslog_priority(e.event), "%s event detected on md device %s", e.event.c_str(), e.array.c_str());
  }
  if (a.program) run_program(*a.program, e);
}

}  // namespace

int cmd_monitor(const Args& a) {
  for (const std::string& name : a.members) {
    Status ok = daemon::check_array_name(name);
    if (!ok.is_ok()) return usage_error(ok.message());
  }
  if (a.scan && !a.members.empty()) return usage_error("--scan watches every array: give it no NAME");
  const bool scan = a.members.empty();
  LookOptions opts;
  opts.increment = a.increment.value_or(20);
  const auto delay = std::chrono::duration<double>(a.delay.value_or(60.0));

  std::vector<ArrayWatch> watches;
  for (const std::string& name : a.members) {
    ArrayWatch w;
    w.name = name;
    watches.push_back(std::move(w));
  }
  ::openlog("umd", LOG_PID, LOG_DAEMON);
  bool first_round = true;
  for (;;) {
    opts.test = a.test && first_round;
    for (ArrayWatch& w : watches) {
      for (const MonitorEvent& e : monitor_look(w, look_at(w.name), opts)) report(a, e);
    }
    if (scan) {
      // Forget what went away long ago (mdadm: more than 5 failed looks); pick up new ones.
      std::erase_if(watches, [](const ArrayWatch& w) { return w.from_scan && w.err > 5; });
      for (const std::string& name : daemon::list_runtime_names()) {
        if (std::any_of(watches.begin(), watches.end(), [&](const ArrayWatch& w) { return w.name == name; })) continue;
        if (daemon::holder_pid(name) == 0) continue;
        auto detail = look_at(name);
        if (!detail) continue;
        const int level = detail->value("level", 0);
        if (level == 0 || level == -1) continue;  // nothing to monitor there
        ArrayWatch w = scanned_watch(name);
        for (const MonitorEvent& e : monitor_look(w, detail, opts)) report(a, e);
        watches.push_back(std::move(w));
      }
    }
    first_round = false;
    if (a.oneshot) break;
    if (std::none_of(watches.begin(), watches.end(), [](const ArrayWatch& w) { return w.err == 0; })) break;
    std::this_thread::sleep_for(delay);
  }
  ::closelog();
  return 0;
}

}  // namespace umd::cli
