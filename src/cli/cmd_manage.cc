// --manage NAME --fail M --remove M --add M --re-add M --replace M [--with M2], and
// --action NAME ACTION: requests to the daemon holding NAME (control_protocol.h), one per
// action, in command-line order; the first refusal stops there (exit 1).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iterator>

#include "cli/commands.h"
#include "daemon/control_protocol.h"
#include "daemon/runtime_dir.h"
#include "array/array.h"

namespace umd::cli {
namespace {

using nlohmann::json;

// The daemon's cwd is not ours: a path that names a file becomes absolute. A bare name
// that is no file here ("d1.img", "dev-d1.img") goes as it is, for the daemon to match
// against its members' names.
std::string member_arg(const std::string& m, bool must_be_file) {
  std::error_code ec;
  if (!must_be_file && m.find('/') == std::string::npos && !std::filesystem::exists(m, ec)) return m;
  auto abs = std::filesystem::absolute(m, ec);
  return ec ? m : abs.lexically_normal().string();
}

}  // namespace

// Refuses with exit 1 unless a daemon holds NAME.
int check_assembled(const std::string& name) {
  if (daemon::holder_pid(name) == 0) {
    daemon::remove_if_stale(name);
    return fail(Status(Err::not_found, name + " is not assembled"));
  }
  return 0;
}

int fail_for(const std::string& name, const Status& s) {
  if (s.message().find(name) != std::string::npos) return fail(s);
  return fail(Status(s.code(), name + ": " + s.message()));
}

int cmd_manage(const Args& a) {
  Status name_ok = daemon::check_array_name(a.array_name);
  if (!name_ok.is_ok()) return usage_error(name_ok.message());
  if (a.manage.empty()) return usage_error("--manage needs an action: --fail, --remove, --add, --re-add or --replace");
  if (!a.members.empty()) {
    return usage_error("unexpected argument \"" + a.members.front() + "\" (members follow --fail, --add, ...)");
  }
  if (int rc = check_assembled(a.array_name)) return rc;
  for (const Args::ManageOp& op : a.manage) {
    const bool adds = op.action == "add" || op.action == "re-add";
    json req = {{"op", "manage"}, {"action", op.action}, {"member", member_arg(op.member, adds)}};
    if (!op.with.empty()) req["with"] = member_arg(op.with, true);
    auto r = daemon::control_call(a.array_name, req, std::chrono::seconds(60));
    if (!r.is_ok()) return fail_for(a.array_name, r.status());
    if (a.verbose) std::fprintf(stderr, "umd: %s: --%s %s done\n", a.array_name.c_str(), op.action.c_str(), op.member.c_str());
  }
  return 0;
}

int cmd_action(const Args& a) {
  Status name_ok = daemon::check_array_name(a.array_name);
  if (!name_ok.is_ok()) return usage_error(name_ok.message());
  if (a.members.size() != 1) {
    return usage_error("--action NAME takes one action: check, repair, resync, recover, idle or frozen");
  }
  const std::string& action = a.members.front();
  if (std::find(std::begin(engine::kSyncActions), std::end(engine::kSyncActions), action) ==
      std::end(engine::kSyncActions)) {
    return usage_error("unknown action \"" + action + "\": use check, repair, resync, recover, idle or frozen");
  }
  if (int rc = check_assembled(a.array_name)) return rc;
  auto r = daemon::control_call(a.array_name, {{"op", "action"}, {"action", action}}, std::chrono::seconds(60));
  if (!r.is_ok()) return fail_for(a.array_name, r.status());
  return 0;
}

}  // namespace umd::cli
