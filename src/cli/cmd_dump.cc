// --dump: assemble read-only (degraded where redundancy allows) and write the array's
// contents out, to --output or to standard output.
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "cli/commands.h"
#include "array/array_reader.h"
#include "util/aligned_buffer.h"

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

}  // namespace

int cmd_dump(const Args& a) {
  if (a.members.empty()) return usage_error("--dump needs at least one MEMBER");
  engine::GatherOptions opts;
  opts.force = a.force;
  auto reader = engine::open_array_read_only(a.members, opts);
  if (!reader.is_ok()) return fail(reader.status());
  for (const std::string& w : reader->set.warnings) std::fprintf(stderr, "umd: %s\n", w.c_str());
  int fd = STDOUT_FILENO;
  std::string what = "standard output";
  if (a.output && *a.output != "-") {
    what = *a.output;
    fd = ::open(a.output->c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return fail(Status::from_errno(errno, "opening " + what));
  }
  const uint64_t total = reader->personality->array_sectors();
  constexpr uint64_t kStep = 2048;  // 1 MiB
  AlignedBuffer buf(kStep * 512);
  Status st;
  for (uint64_t s = 0; s < total && st.is_ok(); s += kStep) {
    const uint64_t n = std::min(kStep, total - s);
    st = reader->personality->read(s, n, buf.data());
    if (st.is_ok()) st = write_all(fd, buf.data(), n * 512, what);
  }
  if (fd != STDOUT_FILENO && ::close(fd) != 0 && st.is_ok()) st = Status::from_errno(errno, "closing " + what);
  if (!st.is_ok()) return fail(st);
  return 0;
}

}  // namespace umd::cli
