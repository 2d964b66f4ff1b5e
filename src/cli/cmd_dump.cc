// --dump: assemble read-only (degraded where redundancy allows) and write the array's
// contents out, to --output or to standard output. The members are the MEMBERs given;
// with --uuid/--name, the members of that array found among the PATHs and their
// partitions; with --build, the MEMBERs in slot order without superblocks
// (recovery/build.h). --overlay DIR reads through the overlays an --assemble --overlay
// left there. --backup-file F (an array cut off inside an in-place reshape's critical
// section): the sections F holds are read from F, as --assemble --backup-file would
// restore them (the same Grow_restart checks: this array's, recent, still needed), and
// nothing is written to the members or to F.
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "array/array_reader.h"
#include "cli/commands.h"
#include "cli/scan_sources.h"
#include "format/backup_super.h"
#include "overseer/backup_file.h"
#include "recovery/build.h"
#include "util/aligned_buffer.h"
#include "util/units.h"

namespace umd::cli {
namespace {

Status write_all(int fd, const uint8_t* p, size_t n, const std::string& what) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Status::from_errno(errno, "writing " + what);
    }
    p += w;
    n -= size_t(w);
  }
  return Status::ok();
}

// Source: engine::Personality, or engine::ArrayReader (which reads an array stopped
// mid-reshape through both geometries); both have array_sectors() and read().
template <class Source>
int write_out(const Args& a, Source& source) {
  int fd = STDOUT_FILENO;
  std::string what = "standard output";
  if (a.output && *a.output != "-") {
    what = *a.output;
    fd = ::open(a.output->c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return fail(Status::from_errno(errno, "opening " + what));
  }
  const uint64_t total = source.array_sectors();
  constexpr uint64_t kStep = 2048;  // 1 MiB
  AlignedBuffer buf(kStep * 512);
  Status st;
  for (uint64_t s = 0; s < total && st.is_ok(); s += kStep) {
    const uint64_t n = std::min(kStep, total - s);
    st = source.read(s, n, buf.data());
    if (st.is_ok()) st = write_all(fd, buf.data(), n * 512, what);
  }
  if (fd != STDOUT_FILENO && ::close(fd) != 0 && st.is_ok()) st = Status::from_errno(errno, "closing " + what);
  if (!st.is_ok()) return fail(st);
  return 0;
}

std::string overlay_of(const Args& a) { return a.overlay ? absolute_path(*a.overlay) : ""; }

// An ArrayReader with the sections of a backup file laid over what it reads.
struct WithBackup {
  engine::ArrayReader& reader;
  std::vector<std::pair<uint64_t, std::vector<uint8_t>>> parts;  // array sector, bytes

  uint64_t array_sectors() const { return reader.array_sectors(); }
  Status read(uint64_t sector, uint64_t n, uint8_t* out) {
    UMD_TRY(reader.read(sector, n, out));
    for (const auto& [lo, data] : parts) {
      const uint64_t hi = lo + data.size() / 512, a = std::max(lo, sector), b = std::min(hi, sector + n);
      if (a < b) std::memcpy(out + (a - sector) * 512, data.data() + (a - lo) * 512, (b - a) * 512);
    }
    return Status::ok();
  }
};

// The parts of `path` that --assemble --backup-file would restore into this array.
Result<std::vector<std::pair<uint64_t, std::vector<uint8_t>>>> backup_parts(const engine::ArrayReader& r,
                                                                            const std::string& path) {
  const std::string what = "--backup-file=" + path;
  if (!r.set.reshape) return Status(Err::invalid, what + ": the superblocks record no reshape; nothing to restore");
  BackupRestartState st;
  st.array_uuid = r.set.ref.array_uuid;
  st.array_utime = r.set.ref.utime;
  st.reshape_progress = r.set.reshape->position;
  st.increasing = !r.set.reshape->backwards;
  st.allow_old = std::getenv("MDADM_GROW_ALLOW_OLD") != nullptr;
  auto plan = overseer::plan_restore(path, st);
  if (!plan.is_ok()) {
    return plan.status().code() == Err::invalid ? plan.status().with_context(what + ": not this reshape's backup")
                                                : plan.status();
  }
  if (!plan->needed) {
    std::fprintf(stderr, "umd: %s: nothing in it is needed at array sector %llu; read as the members are\n",
                 what.c_str(), static_cast<unsigned long long>(st.reshape_progress));
  }
  for (const auto& [lo, data] : plan->parts) {
    std::fprintf(stderr, "umd: %s: array sectors %llu..%llu read from it\n", what.c_str(),
                 static_cast<unsigned long long>(lo), static_cast<unsigned long long>(lo + data.size() / 512));
  }
  return std::move(plan->parts);
}

int dump_build(const Args& a) {
  auto spec = build_spec_of(a);
  if (!spec.is_ok()) return usage_error(spec.status().message());
  auto built = recovery::build_array(*spec);
  if (!built.is_ok()) return fail(built.status());
  return write_out(a, *built->personality);
}

}  // namespace

int cmd_dump(const Args& a) {
  if (a.members.empty()) return usage_error("--dump needs at least one MEMBER");
  if (a.build) return dump_build(a);
  auto sel = selector_of(a);
  if (!sel.is_ok()) return usage_error(sel.status().message());
  recovery::ScanOptions so;
  so.overlay_dir = overlay_of(a);
  so.search_partitions = !sel->empty();
  so.require_superblock = sel->empty();
  auto found = recovery::scan(a.members, so);
  if (!found.is_ok()) return fail(found.status());
  for (const std::string& w : found->warnings) std::fprintf(stderr, "umd: %s\n", w.c_str());
  std::vector<engine::ProbedMember> members;
  if (sel->empty()) {
    members = std::move(found->members);
  } else {
    auto picked = recovery::take_array(std::move(found).value(), *sel);
    if (!picked.is_ok()) return fail(picked.status());
    members = std::move(picked).value();
  }
  engine::GatherOptions opts;
  opts.force = a.force;
  auto reader = engine::open_array_read_only(std::move(members), opts);
  if (!reader.is_ok()) return fail(reader.status());
  for (const std::string& w : reader->set.warnings) std::fprintf(stderr, "umd: %s\n", w.c_str());
  if (a.backup_file) {
    auto parts = backup_parts(*reader, absolute_path(*a.backup_file));
    if (!parts.is_ok()) return fail(parts.status());
    WithBackup src{*reader, std::move(parts).value()};
    return write_out(a, src);
  }
  return write_out(a, *reader);
}

}  // namespace umd::cli
