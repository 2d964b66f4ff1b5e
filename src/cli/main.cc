// umd: the command line. Parses mdadm-style modes and options, then hands over to the
// mode's command. Errors are one line on stderr; see ../shared/CLI.md for exit codes.
#include <cstdio>
#include <string>

#include "cli/args.h"
#include "cli/cmd_examine_bitmap.h"
#include "cli/commands.h"

namespace umd::cli {

int fail(const Status& s) {
  std::fprintf(stderr, "umd: %s\n", s.message().c_str());
  return 1;
}

int usage_error(const std::string& message) {
  std::fprintf(stderr, "umd: %s\n", message.c_str());
  return 2;
}

}  // namespace umd::cli

int main(int argc, char** argv) {
  using namespace umd::cli;
  bool exit_now = false;
  auto args = parse_args(argc, argv, &exit_now);
  if (!args.is_ok()) return usage_error(args.status().message());
  if (exit_now) return 0;
  switch (args->mode) {
    case Mode::create: return cmd_create(*args);
    case Mode::examine: return cmd_examine(*args);
    case Mode::examine_bitmap: return cmd_examine_bitmap(args->members, args->json);
    case Mode::zero_superblock: return cmd_zero_superblock(*args);
    case Mode::dump: return cmd_dump(*args);
    case Mode::assemble: return cmd_assemble(*args);
    case Mode::stop: return cmd_stop(*args);
    case Mode::detail: return cmd_detail(*args);
    case Mode::status: return cmd_status(*args);
    case Mode::manage: return cmd_manage(*args);
    case Mode::action: return cmd_action(*args);
    case Mode::attr: return cmd_attr(*args);
    case Mode::monitor: return cmd_monitor(*args);
    case Mode::grow: return cmd_grow(*args);
    default: break;
  }
  return fail(umd::Status(umd::Err::unsupported, "this mode is not implemented yet"));
}
