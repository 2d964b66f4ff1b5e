// --assemble: start the daemon that holds and serves the array (daemon/daemon.h).
//   --assemble NAME MEMBER...                the members given
//   --assemble NAME --uuid=U|--name=N PATH... that array's members among the PATHs and
//                                             their partitions (recovery/scan.h)
//   --assemble --scan [PATH...]               every array found, named as mdadm names
//                                             them; with ARRAY lines in the config, those
//   --overlay DIR                             member writes go to DIR, never to the PATHs
//   --assemble NAME --build --level=L ... MEMBER...   no superblocks: served read-only
#include <unistd.h>

#include <filesystem>

#include "cli/commands.h"
#include "cli/scan_sources.h"
#include "daemon/daemon.h"
#include "daemon/runtime_dir.h"
#include "format/mdadm_conf.h"
#include "recovery/built_served_array.h"

namespace umd::cli {
namespace {

// The options every daemon of this command gets; a usage error as a Status.
Result<daemon::DaemonOptions> daemon_options(const Args& a) {
  daemon::DaemonOptions opts;
  opts.foreground = a.foreground;
  opts.array.read_only = a.readonly;
  opts.array.freeze_reshape = a.freeze_reshape;
  opts.array.force = a.force;
  opts.array.run = a.run;
  if (a.overlay) opts.array.overlay_dir = absolute_path(*a.overlay);
  if (a.backup_file) opts.array.backup_file = absolute_path(*a.backup_file);
  if (a.bitmap && *a.bitmap != "internal" && *a.bitmap != "none") {
    if (a.bitmap->find('/') == std::string::npos) {
      return Result<daemon::DaemonOptions>(Err::invalid, "--assemble --bitmap takes the path of a bitmap file (with a '/')");
    }
    opts.array.bitmap_file = absolute_path(*a.bitmap);
  }
  if (a.fuse) {  // the daemon leaves our cwd: an absolute path
    opts.fuse_dir = absolute_path(*a.fuse);
    while (opts.fuse_dir.size() > 1 && opts.fuse_dir.back() == '/') opts.fuse_dir.pop_back();
  }
  for (const std::string& text : a.serve) {
    UMD_ASSIGN_OR_RETURN(auto spec, daemon::parse_serve_spec(text));
    opts.serves.push_back(spec);
  }
  return opts;
}

recovery::Selector selector_of_line(const ConfArray& l) {
  recovery::Selector sel;
  sel.uuid = l.uuid;
  sel.name = l.name;
  sel.super_minor = l.super_minor;
  return sel;
}

// The members of found array f that an ARRAY line's devices= allows (all without one).
std::vector<std::string> allowed(const std::vector<std::string>& specs, const ConfArray& l) {
  if (l.devices.empty()) return specs;
  std::vector<std::string> out;
  for (const std::string& s : specs) {
    for (const std::string& d : l.devices) {
      if (s == d || absolute_path(s) == absolute_path(d)) {
        out.push_back(s);
        break;
      }
    }
  }
  return out;
}

int assemble_scan(const Args& a, daemon::DaemonOptions base) {
  if (!a.serve.empty() || a.fuse || a.foreground) {
    return usage_error("--assemble --scan starts one daemon per array: --serve, --fuse and --foreground go with --assemble NAME");
  }
  auto conf = load_config(a);
  if (!conf.is_ok()) return fail(conf.status());
  const Sources src = scan_sources(a, *conf);
  recovery::ScanOptions so;
  so.search_partitions = src.search_partitions;
  so.overlay_dir = base.array.overlay_dir;
  auto s = recovery::scan(src.paths, so);
  if (!s.is_ok()) return fail(s.status());
  for (const std::string& w : s->warnings) std::fprintf(stderr, "umd: %s\n", w.c_str());
  const auto arrays = recovery::group_arrays(*s);
  struct Plan {
    std::string name;
    std::vector<std::string> members;
  };
  std::vector<Plan> plans;
  std::vector<std::string> taken;
  auto unique_name = [&](std::string n) {
    if (std::find(taken.begin(), taken.end(), n) != taken.end()) {
      for (int i = 0;; i++) {
        const std::string c = n + "_" + std::to_string(i);
        if (std::find(taken.begin(), taken.end(), c) == taken.end()) {
          n = c;
          break;
        }
      }
    }
    taken.push_back(n);
    return n;
  };
  int next_minor = 127;  // mdadm numbers nameless arrays down from md127
  if (!conf->arrays.empty()) {
    // The config lists the arrays: those, by its names, from the members found.
    for (const ConfArray& l : conf->arrays) {
      if (l.devname == "<ignore>") continue;
      const recovery::Selector sel = selector_of_line(l);
      const recovery::FoundArray* f = nullptr;
      for (const auto& fa : arrays) {
        if (recovery::matches(fa.ref, sel)) f = &fa;
      }
      if (f == nullptr) {
        std::fprintf(stderr, "umd: %s:%d: no members found for %s\n", a.config.value_or(kDefaultConfig).c_str(), l.line,
                     l.devname.empty() ? sel.text().c_str() : l.devname.c_str());
        continue;
      }
      std::string name = array_name_of_devname(l.devname);
      if (name.empty()) name = mdadm_array_name(f->ref, "md" + std::to_string(next_minor--));
      plans.push_back({unique_name(name), allowed(member_specs(*s, *f), l)});
    }
  } else {
    for (const auto& f : arrays) {
      plans.push_back({unique_name(mdadm_array_name(f.ref, "md" + std::to_string(next_minor--))), member_specs(*s, f)});
    }
  }
  if (plans.empty()) return fail(Status(Err::not_found, "--assemble --scan: no md arrays found"));
  s->members.clear();  // each daemon opens its own members (and overlays)
  int rc = 0;
  for (const Plan& p : plans) {
    if (!daemon::check_array_name(p.name).is_ok()) {
      std::fprintf(stderr, "umd: cannot name an array \"%s\"; skipped\n", p.name.c_str());
      rc = 1;
      continue;
    }
    if (daemon::holder_pid(p.name) != 0) {
      std::fprintf(stderr, "umd: %s is already assembled; skipped\n", p.name.c_str());
      continue;
    }
    daemon::DaemonOptions opts = base;
    opts.name = p.name;
    opts.members = p.members;
    // run_assemble forks: the daemon returns here too once it has stopped, and must not
    // go on to start the next array.
    const pid_t me = ::getpid();
    const int r = daemon::run_assemble(opts);
    if (::getpid() != me) return r;
    if (r != 0) rc = 1;
  }
  return rc;
}

}  // namespace

int cmd_assemble(const Args& a) {
  auto base = daemon_options(a);
  if (!base.is_ok()) return usage_error(base.status().message());
  if (a.scan) return assemble_scan(a, std::move(base).value());
  Status name_ok = daemon::check_array_name(a.array_name);
  if (!name_ok.is_ok()) return usage_error(name_ok.message());
  if (a.members.empty()) return usage_error("--assemble needs at least one MEMBER after the array NAME");
  daemon::DaemonOptions opts = std::move(base).value();
  opts.name = a.array_name;
  opts.members = a.members;
  if (a.build) {  // no superblocks: served read-only, as described
    if (a.scan || a.uuid || a.name) return usage_error("--build takes its MEMBERs in slot order, not --scan/--uuid/--name");
    auto spec = build_spec_of(a);
    if (!spec.is_ok()) return usage_error(spec.status().message());
    opts.array.read_only = true;
    opts.make_array = [name = a.array_name, spec = *spec] { return recovery::serve_built_array(name, spec); };
    return daemon::run_assemble(opts);
  }
  auto sel = selector_of(a);
  if (!sel.is_ok()) return usage_error(sel.status().message());
  if (!sel->empty()) {
    recovery::ScanOptions so;
    so.overlay_dir = opts.array.overlay_dir;
    auto s = recovery::scan(a.members, so);
    if (!s.is_ok()) return fail(s.status());
    auto picked = recovery::take_array(std::move(s).value(), *sel);
    if (!picked.is_ok()) return fail(picked.status());
    opts.members.clear();
    for (const auto& pm : *picked) opts.members.push_back(pm.path);
  }
  return daemon::run_assemble(opts);
}

}  // namespace umd::cli
