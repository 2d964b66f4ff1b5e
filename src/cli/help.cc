// `umd --help` and `umd --MODE --help`: the modes with one line and an example each, and
// each mode's usage and options (their descriptions come from the CLI11 options, so the
// help cannot drift from what parses).
#include "cli/help.h"

#include <fmt/format.h>

#include <array>

namespace umd::cli {
namespace {

struct ModeHelp {
  Mode mode;
  const char* flag;     // as written on the command line
  const char* what;     // one line
  const char* usage;    // the mode's synopsis (several lines)
  const char* example;
  std::vector<const char*> options;  // long names, in the order shown
};

const std::vector<ModeHelp>& modes() {
  static const std::vector<ModeHelp> kHelp = {
      {Mode::create, "--create", "make a new array: write md superblocks on the members",
       "umd --create NAME --level=L --raid-devices=N [options] MEMBER...   ('missing' for an absent member)",
       "umd --create md0 --level=5 --raid-devices=3 --chunk=64K d0.img d1.img d2.img",
       {"--level", "--raid-devices", "--spare-devices", "--chunk", "--layout", "--metadata", "--bitmap",
        "--bitmap-chunk", "--size", "--name", "--assume-clean", "--force", "--run", "--json"}},
      {Mode::examine, "--examine", "print members' superblocks (a disk image: its partitions' too), or ARRAY lines",
       "umd --examine MEMBER...\numd --examine --scan [--verbose] [PATH...]   (mdadm.conf ARRAY lines)",
       "umd --examine --scan disk0.img disk1.img disk2.img",
       {"--scan", "--verbose", "--config", "--json"}},
      {Mode::examine_bitmap, "--examine-bitmap", "print a write-intent bitmap (on a member, or a bitmap file)",
       "umd --examine-bitmap MEMBER|FILE", "umd -X d0.img", {"--json"}},
      {Mode::zero_superblock, "--zero-superblock", "erase the md superblocks of members",
       "umd --zero-superblock MEMBER...", "umd --zero-superblock disk0.img:p5", {}},
      {Mode::dump, "--dump", "read an array (degraded is fine) and write its contents out; never writes a member",
       "umd --dump MEMBER... [--output FILE] [--backup-file=F]\numd --dump --uuid=U|--name=N PATH... [--output FILE]\n"
       "umd --dump --build --level=L --raid-devices=N --chunk=C --layout=L --data-offset=SIZE MEMBER...",
       "umd --dump --uuid=0998c0a7:36d3b6aa:0ac5c83c:c60d9156 disk*.img --output array.img",
       {"--output", "--uuid", "--name", "--overlay", "--force", "--build", "--level", "--raid-devices", "--chunk",
        "--layout", "--data-offset", "--size", "--backup-file"}},
      {Mode::assemble, "--assemble", "start a daemon that holds the array and serves it over NBD",
       "umd --assemble NAME MEMBER... [options]\numd --assemble NAME --uuid=U|--name=N PATH...\n"
       "umd --assemble --scan [PATH...]   (every array found, or the config's ARRAY lines)",
       "umd --assemble --scan --overlay /tmp/ov disk*.img",
       {"--scan", "--uuid", "--name", "--config", "--overlay", "--run", "--readonly", "--freeze-reshape", "--force",
        "--serve", "--fuse", "--foreground", "--bitmap"}},
      {Mode::stop, "--stop", "stop an array cleanly (drain, flush, clean superblocks)", "umd --stop NAME | --scan",
       "umd --stop md0", {"--scan"}},
      {Mode::detail, "--detail", "describe a running array, as mdadm --detail", "umd --detail NAME | --scan",
       "umd --detail md0", {"--scan", "--json"}},
      {Mode::status, "--status", "every running array, as /proc/mdstat", "umd --status", "umd --status", {"--json"}},
      {Mode::manage, "--manage", "fail, remove, add, re-add or replace members of a running array",
       "umd --manage NAME --fail M | --remove M | --add M | --re-add M | --replace M [--with M2] ...\n"
       "  (in order; `umd NAME --fail M` is --manage too)",
       "umd --manage md0 --fail d1.img --remove d1.img --add d3.img", {"--verbose"}},
      {Mode::action, "--action", "start or stop a sync action (md's sync_action)",
       "umd --action NAME check|repair|resync|recover|idle|frozen", "umd --action md0 check", {}},
      {Mode::attr, "--attr", "read or write an attribute (md's sysfs names)",
       "umd --attr NAME [ATTR [VALUE]]   (a VALUE starting with '-' after \"--\")",
       "umd --attr md0 sync_speed_max 50000", {"--json"}},
      {Mode::grow, "--grow",
       "change a running array: its bitmap, its shape (a reshape that moves while it serves), or its level",
       "umd --grow NAME --bitmap=none|internal|lockless|FILE\numd --grow NAME [--raid-devices=N] [--chunk=C] "
       "[--layout=L]   (raid4/5/6; more disks need spares)\numd --grow NAME --level=L [--layout=preserve] [--force]"
       "   (in place: 1<->5, 4<->5<->6, 0<->4/5/10)\numd --grow NAME --size=max|S | --array-size=max|S",
       "umd --grow md0 --raid-devices=5",
       {"--bitmap", "--raid-devices", "--level", "--chunk", "--layout", "--size", "--array-size", "--force"}},
      {Mode::monitor, "--monitor", "watch arrays and report md's events",
       "umd --monitor [NAME...] [--program=CMD] [--oneshot] [--delay=S]",
       "umd --monitor --program=/usr/local/bin/md-event --delay=5",
       {"--scan", "--program", "--oneshot", "--test", "--delay", "--increment"}},
  };
  return kHelp;
}

std::string option_line(const CLI::App& app, const char* long_name) {
  const CLI::Option* o = nullptr;
  try {
    o = app.get_option(long_name);
  } catch (const CLI::OptionNotFound&) {
    return "";
  }
  std::string names;
  for (const std::string& s : o->get_snames()) names += "-" + s + ", ";
  names += long_name;
  if (!o->get_type_name().empty()) names += " " + o->get_type_name();  // flags have none
  return fmt::format("  {:<28} {}\n", names, o->get_description());
}

}  // namespace

std::string general_help() {
  std::string o =
      "umd: Linux md software RAID in userspace (mdadm's language; arrays served over NBD)\n\n"
      "Usage: umd MODE [options] [NAME] [MEMBER...]      umd MODE --help: that mode's options\n\n"
      "MEMBER is an image file or block device, or a partition of one: disk0.img:p5.\n\nModes:\n";
  for (const ModeHelp& m : modes()) {
    o += fmt::format("  {:<18} {}\n  {:<18}   e.g. {}\n", m.flag, m.what, "", m.example);
  }
  o += "\n  -h, --help         this help (with a mode: that mode's)\n  -V, --version      umd's version\n";
  return o;
}

std::string mode_help(const CLI::App& app, Mode mode) {
  for (const ModeHelp& m : modes()) {
    if (m.mode != mode) continue;
    std::string o = fmt::format("umd {}: {}\n\nUsage:\n", m.flag, m.what);
    std::string usage = m.usage;
    size_t start = 0;
    while (start < usage.size()) {
      size_t nl = usage.find('\n', start);
      o += "  " + usage.substr(start, nl == std::string::npos ? std::string::npos : nl - start) + "\n";
      if (nl == std::string::npos) break;
      start = nl + 1;
    }
    if (!m.options.empty()) {
      o += "\nOptions:\n";
      for (const char* opt : m.options) o += option_line(app, opt);
    }
    o += fmt::format("\nExample:\n  {}\n", m.example);
    return o;
  }
  return general_help();
}

}  // namespace umd::cli
