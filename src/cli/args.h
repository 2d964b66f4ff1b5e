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
  std::optional<std::string> name;   // --name: the array name stored in the superblock
  bool assume_clean = false;
  bool force = false;
  bool run = false;

  // --dump
  std::optional<std::string> output;

  // --assemble
  std::vector<std::string> serve;  // --serve SPEC, repeatable
  bool foreground = false;
  bool readonly = false;
};

// Parses argv. Usage errors come back as Err::invalid with one line naming the problem;
// --help and --version print and set *exit_now.
Result<Args> parse_args(int argc, char** argv, bool* exit_now);

}  // namespace umd::cli
