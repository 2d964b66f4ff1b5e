// --grow NAME --bitmap=none|internal|FILE: adds or removes the write-intent bitmap of a
// running array (mdadm --grow --bitmap). Reshapes (--raid-devices, --level, --chunk,
// --layout, --size) are on the roadmap and refused here with a clear message.
#include <chrono>
#include <filesystem>

#include "cli/commands.h"
#include "daemon/control_protocol.h"
#include "daemon/runtime_dir.h"

namespace umd::cli {

int cmd_grow(const Args& a) {
  Status name_ok = daemon::check_array_name(a.array_name);
  if (!name_ok.is_ok()) return usage_error(name_ok.message());
  if (a.raid_devices || a.level || a.chunk || a.layout || a.size) {
    return fail(Status(Err::unsupported, "--grow: reshaping (--raid-devices, --level, --chunk, --layout, --size) is "
                                         "not supported yet; only --bitmap"));
  }
  if (!a.bitmap) return usage_error("--grow NAME needs --bitmap=none|internal|FILE");
  if (!a.members.empty()) return usage_error("--grow NAME --bitmap=...: unexpected \"" + a.members.front() + "\"");
  std::string kind = *a.bitmap;
  if (kind.find('/') != std::string::npos) {
    std::error_code ec;
    kind = std::filesystem::absolute(kind, ec).lexically_normal().string();
  } else if (kind != "none" && kind != "internal" && kind != "lockless") {
    return usage_error("--bitmap=" + kind + ": none, internal, lockless, or a file path (with a '/')");
  }
  if (int rc = check_assembled(a.array_name)) return rc;
  auto r = daemon::control_call(a.array_name, {{"op", "grow"}, {"bitmap", kind}}, std::chrono::seconds(120));
  if (!r.is_ok()) return fail_for(a.array_name, r.status());
  return 0;
}

}  // namespace umd::cli
