#include "cli/args.h"

#include "cli/help.h"

#include <CLI/CLI.hpp>
#include <array>
#include <cstring>
#include <iostream>

namespace umd::cli {
namespace {

struct ModeFlag {
  const char* names;  // CLI11 option names
  const char* alias;  // subcommand alias: `umd create ...`
  Mode mode;
  bool takes_name;    // the mode's first argument is an array NAME
};

constexpr std::array<ModeFlag, 14> kModes = {{
    {"-C,--create", "create", Mode::create, true},
    {"-E,--examine", "examine", Mode::examine, false},
    {"-X,--examine-bitmap", "examine-bitmap", Mode::examine_bitmap, false},
    {"--zero-superblock", "zero-superblock", Mode::zero_superblock, false},
    {"--dump", "dump", Mode::dump, false},
    {"-A,--assemble", "assemble", Mode::assemble, true},
    {"-S,--stop", "stop", Mode::stop, true},
    {"-D,--detail", "detail", Mode::detail, true},
    {"--status", "status", Mode::status, false},
    {"--manage", "manage", Mode::manage, true},
    {"--action", "action", Mode::action, true},
    {"--attr", "attr", Mode::attr, true},
    {"-G,--grow", "grow", Mode::grow, true},
    {"-F,--monitor", "monitor", Mode::monitor, false},
}};

}  // namespace

Result<Args> parse_args(int argc, char** argv, bool* exit_now) {
  *exit_now = false;
  std::vector<std::string> argl(argv + 1, argv + argc);
  // `umd create md0 ...` is `umd --create md0 ...`.
  if (!argl.empty()) {
    for (const auto& m : kModes) {
      if (argl[0] == m.alias) {
        argl[0] = std::string("--") + m.alias;
        break;
      }
    }
  }

  Args a;
  UMD_ASSIGN_OR_RETURN(a.manage, extract_manage_ops(&argl));
  CLI::App app{"umd: Linux md software RAID in userspace", "umd"};
  app.set_version_flag("-V,--version", "umd 0.1 (md superblocks 0.90, 1.0, 1.1, 1.2)");
  app.set_help_flag("-h,--help", "Show this help");

  std::array<bool, kModes.size()> mode_set{};
  for (size_t i = 0; i < kModes.size(); i++) {
    app.add_flag(kModes[i].names, mode_set[i], kModes[i].alias);
  }
  app.add_option("args", a.members, "NAME and/or MEMBER...");

  app.add_flag("--json", a.json, "Print JSON");
  app.add_flag("-v,--verbose", a.verbose, "More detail");
  app.add_option("-l,--level", a.level, "RAID level: linear, 0, 1, 4, 5, 6, 10");
  app.add_option("-n,--raid-devices", a.raid_devices, "Number of active members");
  app.add_option("-x,--spare-devices", a.spare_devices, "Number of spares");
  app.add_option("-c,--chunk", a.chunk, "Chunk size (K if no suffix)");
  app.add_option("-p,--layout,--parity", a.layout, "Layout (left-symmetric, n2, ...)");
  app.add_option("-e,--metadata", a.metadata, "Superblock version: 1.2, 1.1, 1.0, 0.90");
  app.add_option("-b,--bitmap", a.bitmap, "Write-intent bitmap: none, internal, lockless, FILE");
  app.add_option("--bitmap-chunk", a.bitmap_chunk, "Bitmap chunk size");
  app.add_option("-z,--size", a.size, "Space used on each member (K if no suffix; --grow: or max)");
  app.add_option("--array-size", a.array_size, "--grow: the size clients see (K if no suffix, or max)");
  app.add_option("-N,--name", a.name, "--create: the name stored in the superblock; --assemble/--dump: pick that array");
  app.add_flag("--assume-clean", a.assume_clean, "Members are known to be in sync");
  app.add_flag("-f,--force", a.force, "Override checks");
  app.add_flag("-R,--run", a.run, "Start even if degraded");
  app.add_option("-o,--output", a.output, "Where --dump writes the array's contents");
  app.add_option("-u,--uuid", a.uuid, "--assemble/--dump: the array among the PATHs whose UUID this is");
  app.add_option("--config", a.config, "mdadm.conf-style DEVICE and ARRAY lines (default /etc/umd/umd.conf)");
  app.add_option("--overlay", a.overlay, "--assemble/--dump: member writes go to copy-on-write files in DIR");
  app.add_flag("-B,--build", a.build, "--assemble/--dump: an array without superblocks, from --level, --raid-devices, ...");
  app.add_option("--data-offset", a.data_offset, "--build: where the data starts on each member (K if no suffix)");
  app.add_option("--serve", a.serve, "Serve the array: nbd:unix:PATH or nbd:tcp:HOST:PORT (repeatable)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->allow_extra_args(false);
  app.add_flag("--foreground", a.foreground, "--assemble: stay in the foreground instead of daemonizing");
  app.add_flag("--readonly", a.readonly, "--assemble: serve the array read-only");
  app.add_flag("--continue", a.grow_continue, "--grow: resume the reshape the superblocks record");
  app.add_option("--backup-file", a.backup_file,
                 "--grow: reshape in place, backing each section up to this file first; --assemble: restore "
                 "an in-place reshape's critical section from it (mdadm's format); --dump: read that section "
                 "from it, writing nothing");
  app.add_flag("--freeze-reshape", a.freeze_reshape,
               "--assemble: a reshape under way stays where it stopped (sync_action frozen) until resumed");
  app.add_option("--fuse", a.fuse, "--assemble: mount DIR with DIR/data (the array) and DIR/md/* (attributes)");
  // --manage's --fail/--remove/--add/--re-add/--replace/--with: extract_manage_ops (args_manage.cc).
  app.footer(
      "--manage NAME --fail M | --remove M | --add M | --re-add M | --replace M [--with M2] ...\n"
      "  (in order; `umd NAME --fail M` is --manage too)\n"
      "--action NAME check|repair|resync|recover|idle|frozen\n"
      "--attr NAME [ATTR [VALUE]]   (a VALUE starting with '-' after \"--\")");
  app.add_option("--program,--alert", a.program, "--monitor: run CMD EVENT ARRAY [MEMBER] for each event");
  app.add_flag("--oneshot", a.oneshot, "--monitor: look once, report, exit");
  app.add_flag("-t,--test", a.test, "--monitor: a TestMessage event for each array at start");
  app.add_flag("-s,--scan", a.scan, "--examine/--assemble: every array found; --detail/--stop/--monitor: every running one");
  app.add_option("-d,--delay", a.delay, "--monitor: seconds between looks (default 60)");
  app.add_option("--increment", a.increment, "--monitor: RebuildNN every N percent (default 20)");

  std::vector<std::string> rev(argl.rbegin(), argl.rend());
  try {
    app.parse(rev);
  } catch (const CLI::CallForHelp&) {
    // With a mode (`umd --create --help`, `umd create -h`): that mode's options.
    const ModeFlag* asked = nullptr;
    for (const std::string& w : argl) {
      for (const auto& m : kModes) {
        std::string names = m.names;
        size_t start = 0;
        while (start <= names.size()) {
          const size_t comma = names.find(',', start);
          if (names.substr(start, comma == std::string::npos ? std::string::npos : comma - start) == w) asked = &m;
          if (comma == std::string::npos) break;
          start = comma + 1;
        }
      }
      if (asked) break;
    }
    std::cout << (asked ? mode_help(app, asked->mode) : general_help());
    *exit_now = true;
    return a;
  } catch (const CLI::CallForVersion&) {
    std::cout << "umd 0.1\n";
    *exit_now = true;
    return a;
  } catch (const CLI::ParseError& e) {
    std::string what = e.what();
    return Result<Args>(Err::invalid, what);
  }

  int modes = 0;
  const ModeFlag* chosen = nullptr;
  for (size_t i = 0; i < kModes.size(); i++) {
    if (mode_set[i]) {
      modes++;
      chosen = &kModes[i];
    }
  }
  if (modes == 0 && !a.manage.empty()) {  // mdadm's `umd NAME --fail M`
    for (const auto& m : kModes) {
      if (m.mode == Mode::manage) chosen = &m;
    }
    modes = 1;
  }
  if (modes == 0) {
    return Result<Args>(Err::invalid, "no mode given: use --create, --examine, --dump, ... (see --help)");
  }
  if (modes > 1) return Result<Args>(Err::invalid, "more than one mode given");
  a.mode = chosen->mode;
  const bool scan_without_name = a.scan && (a.mode == Mode::assemble || a.mode == Mode::stop || a.mode == Mode::detail);
  if (chosen->takes_name && !scan_without_name) {
    if (a.members.empty()) {
      return Result<Args>(Err::invalid, std::string("--") + chosen->alias + " needs an array NAME");
    }
    a.array_name = a.members.front();
    a.members.erase(a.members.begin());
  }

  // Options that belong to one mode are refused elsewhere, so a typo is not ignored.
  auto only_for = [&](bool present, const char* opt, std::initializer_list<Mode> modes_ok) -> Status {
    if (!present) return Status::ok();
    for (Mode m : modes_ok) {
      if (a.mode == m) return Status::ok();
    }
    return Status(Err::invalid, std::string(opt) + " is not valid with --" + chosen->alias);
  };
  const bool build = a.build && (a.mode == Mode::dump || a.mode == Mode::assemble);
  UMD_TRY(only_for(a.build, "--build", {Mode::dump, Mode::assemble}));
  const std::initializer_list<Mode> create_grow = {Mode::create, Mode::grow};
  for (auto [present, opt] : std::initializer_list<std::pair<bool, const char*>>{
           {a.level.has_value(), "--level"},
           {a.raid_devices.has_value(), "--raid-devices"},
           {a.chunk.has_value(), "--chunk"},
           {a.layout.has_value(), "--layout"}}) {
    if (!build) UMD_TRY(only_for(present, opt, create_grow));
  }
  if (!build) UMD_TRY(only_for(a.size.has_value(), "--size", create_grow));
  UMD_TRY(only_for(a.array_size.has_value(), "--array-size", {Mode::grow}));
  if (!build && a.data_offset) return Result<Args>(Err::invalid, "--data-offset goes with --build");
  UMD_TRY(only_for(a.uuid.has_value(), "--uuid", {Mode::assemble, Mode::dump}));
  UMD_TRY(only_for(a.overlay.has_value(), "--overlay", {Mode::assemble, Mode::dump}));
  UMD_TRY(only_for(a.config.has_value(), "--config", {Mode::assemble, Mode::examine}));
  UMD_TRY(only_for(a.name.has_value(), "--name", {Mode::create, Mode::assemble, Mode::dump}));
  // --assemble --bitmap=FILE names the file that holds the array's bitmap (as mdadm).
  UMD_TRY(only_for(a.bitmap.has_value(), "--bitmap", {Mode::create, Mode::grow, Mode::assemble}));
  for (auto [present, opt] : std::initializer_list<std::pair<bool, const char*>>{
           {a.spare_devices.has_value(), "--spare-devices"},
           {a.metadata.has_value(), "--metadata"},
           {a.bitmap_chunk.has_value(), "--bitmap-chunk"},
           {a.assume_clean, "--assume-clean"}}) {
    UMD_TRY(only_for(present, opt, {Mode::create}));
  }
  UMD_TRY(only_for(a.output.has_value(), "--output", {Mode::dump}));
  UMD_TRY(only_for(a.run, "--run", {Mode::create, Mode::assemble}));
  UMD_TRY(only_for(!a.serve.empty(), "--serve", {Mode::assemble}));
  UMD_TRY(only_for(a.foreground, "--foreground", {Mode::assemble}));
  UMD_TRY(only_for(a.readonly, "--readonly", {Mode::assemble}));
  UMD_TRY(only_for(a.freeze_reshape, "--freeze-reshape", {Mode::assemble}));
  UMD_TRY(only_for(a.grow_continue, "--continue", {Mode::grow}));
  UMD_TRY(only_for(a.backup_file.has_value(), "--backup-file", {Mode::grow, Mode::assemble, Mode::dump}));
  UMD_TRY(only_for(a.fuse.has_value(), "--fuse", {Mode::assemble}));
  if (!a.manage.empty()) UMD_TRY(only_for(true, ("--" + a.manage.front().action).c_str(), {Mode::manage}));
  for (auto [present, opt] : std::initializer_list<std::pair<bool, const char*>>{
           {a.program.has_value(), "--program"},
           {a.oneshot, "--oneshot"},
           {a.test, "--test"},
           {a.delay.has_value(), "--delay"},
           {a.increment.has_value(), "--increment"}}) {
    UMD_TRY(only_for(present, opt, {Mode::monitor}));
  }
  UMD_TRY(only_for(a.scan, "--scan", {Mode::monitor, Mode::examine, Mode::assemble, Mode::detail, Mode::stop}));
  if (a.delay && !(*a.delay > 0)) return Result<Args>(Err::invalid, "--delay must be a positive number of seconds");
  if (a.increment && (*a.increment == 0 || *a.increment > 99)) {
    return Result<Args>(Err::invalid, "--increment must be a percentage between 1 and 99");
  }
  return a;
}

}  // namespace umd::cli
