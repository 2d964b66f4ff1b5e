// --assemble: start the daemon that holds and serves the array (daemon/daemon.h).
#include <filesystem>

#include "cli/commands.h"
#include "daemon/daemon.h"
#include "daemon/runtime_dir.h"

namespace umd::cli {

int cmd_assemble(const Args& a) {
  Status name_ok = daemon::check_array_name(a.array_name);
  if (!name_ok.is_ok()) return usage_error(name_ok.message());
  if (a.members.empty()) return usage_error("--assemble needs at least one MEMBER after the array NAME");
  daemon::DaemonOptions opts;
  opts.name = a.array_name;
  opts.members = a.members;
  opts.foreground = a.foreground;
  opts.array.read_only = a.readonly;
  opts.array.force = a.force;
  opts.array.run = a.run;
  if (a.bitmap && *a.bitmap != "internal" && *a.bitmap != "none") {
    if (a.bitmap->find('/') == std::string::npos) {
      return usage_error("--assemble --bitmap takes the path of a bitmap file (with a '/')");
    }
    std::error_code bec;
    opts.array.bitmap_file = std::filesystem::absolute(*a.bitmap, bec).lexically_normal().string();
  }
  if (a.fuse) {  // the daemon leaves our cwd: an absolute path
    std::error_code ec;
    auto abs = std::filesystem::absolute(*a.fuse, ec);
    opts.fuse_dir = ec ? *a.fuse : abs.lexically_normal().string();
    while (opts.fuse_dir.size() > 1 && opts.fuse_dir.back() == '/') opts.fuse_dir.pop_back();
  }
  for (const std::string& text : a.serve) {
    auto spec = daemon::parse_serve_spec(text);
    if (!spec.is_ok()) return usage_error(spec.status().message());
    opts.serves.push_back(*spec);
  }
  return daemon::run_assemble(opts);
}

}  // namespace umd::cli
