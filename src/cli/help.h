// What `umd --help` and `umd --MODE --help` print (help.cc).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "cli/args.h"

namespace umd::cli {

// Every mode: one line and an example each.
std::string general_help();
// One mode: its usage, its options (descriptions from `app`), an example.
std::string mode_help(const CLI::App& app, Mode mode);

}  // namespace umd::cli
