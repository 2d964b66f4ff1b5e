// The command line, parsed: mdadm's modes and long options (../shared/CLI.md).
// Parsing only; each mode's work lives in its own cmd_*.cc.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "util/status.h"

namespace umd::cli {

enum class Mode { none, create, examine, examine_bitmap, zero_superblock, dump, assemble, stop,
                  detail, status, manage, action, attr, grow, monitor };

struct Args {
  Mode mode = Mode::none;
  std::string array_name;            // NAME for create/assemble/...
  std::vector<std::string> members;  // MEMBER... (positional)
  bool json = false;
  bool verbose = false;

  // --create
  std::optional<std::string> level;
  std::optional<unsigned> raid_devices;
  std::optional<unsigned> spare_devices;
  std::optional<std::string> chunk;
  std::optional<std::string> layout;
  std::optional<std::string> metadata;
  std::optional<std::string> bitmap;
  std::optional<std::string> bitmap_chunk;
  std::optional<std::string> size;
  std::optional<std::string> array_size;  // --grow --array-size=N|max
  std::optional<std::string> name;   // --name: the array name stored in the superblock
  bool assume_clean = false;
  bool force = false;
  bool run = false;

  // --dump
  std::optional<std::string> output;

  // Finding arrays (--examine/--assemble/--detail/--stop --scan, --uuid, --name), and
  // arrays without superblocks (--build, with --level, --raid-devices, --chunk, --layout)
  std::optional<std::string> uuid;       // --uuid: pick one array among many PATHs
  std::optional<std::string> config;     // --config FILE (mdadm.conf syntax)
  std::optional<std::string> overlay;    // --overlay DIR: member writes go to DIR
  bool build = false;
  std::optional<std::string> data_offset;

  // --assemble
  std::vector<std::string> serve;  // --serve SPEC, repeatable
  std::optional<std::string> fuse;  // --fuse DIR
  bool foreground = false;
  bool readonly = false;
  bool freeze_reshape = false;  // --assemble --freeze-reshape
  bool grow_continue = false;   // --grow --continue
  std::optional<std::string> backup_file;  // --grow/--assemble/--dump --backup-file=F (mdadm's)

  // --manage: in command-line order. action: fail, remove, add, re-add, replace.
  struct ManageOp {
    std::string action;
    std::string member;
    std::string with;  // --replace M --with M2
  };
  std::vector<ManageOp> manage;

  // --monitor
  std::optional<std::string> program;  // --program/--alert CMD
  bool oneshot = false;
  bool test = false;
  bool scan = false;                    // --scan: every array found (or running); monitor's default
  std::optional<double> delay;          // seconds; default 60
  std::optional<unsigned> increment;    // RebuildNN step in percent; default 20
};

// Takes --fail/--remove/--add/--re-add/--replace/--with (and their --opt=VALUE forms) out
// of argl, in order. Each takes one or more values (`--add d3 d4`), up to the next
// option. Usage errors: an action without a member, --with not after --replace.
Result<std::vector<Args::ManageOp>> extract_manage_ops(std::vector<std::string>* argl);

// Parses argv. Usage errors come back as Err::invalid with one line naming the problem;
// --help and --version print and set *exit_now.
//
// --manage's actions keep their order (`--fail d1 --remove d1`), so they are taken out of
// argv before CLI11 sees it (args_manage.cc); `umd NAME --fail M` without a mode is
// --manage too, as in mdadm.
Result<Args> parse_args(int argc, char** argv, bool* exit_now);

}  // namespace umd::cli
